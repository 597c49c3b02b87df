import { describe, expect, it } from "vitest";
import { addServerErrorText, browserSignInErrorText, checkServerUrl } from "./remote";

describe("checkServerUrl", () => {
  it.each([
    ["https://portico.clinic.example", "https://portico.clinic.example"],
    ["  portico.clinic.example/ ", "https://portico.clinic.example"],
    ["https://clinic.example:8443/portico/", "https://clinic.example:8443/portico"],
    ["http://127.0.0.1:43117", "http://127.0.0.1:43117"],
    ["http://localhost:8080", "http://localhost:8080"],
  ])("accepts %j as %j", (text, url) => expect(checkServerUrl(text)).toEqual({ url }));

  it.each([
    ["", "Enter the server's address"],
    ["http://portico.clinic.example", "Use https://"],
    ["ftp://clinic.example", "starts with https://"],
    ["https://bob:pw@clinic.example", "Leave the user name and password out"],
    ["not a url", "not a web address"],
  ])("refuses %j", (text, words) => {
    const r = checkServerUrl(text);
    expect("error" in r && r.error).toContain(words);
  });
});

describe("addServerErrorText", () => {
  it("puts the certificate problem in the sentence", () => {
    expect(addServerErrorText({ code: "certificate", message: "it expired on 1 March 2024" })).toBe(
      "The server's certificate can't be trusted: it expired on 1 March 2024. Portico did not connect. Check the address, or ask the clinic's IT team.",
    );
  });
  it.each([
    ["unreachable", "Nothing answered at that address"],
    ["not_portico", "isn't a Portico server"],
  ])("%s", (code, words) => expect(addServerErrorText({ code, message: "x" })).toContain(words));
  it("passes invalid_input's own message on", () => expect(addServerErrorText({ code: "invalid_input", message: "The address must use https." })).toBe("The address must use https."));
});

describe("browserSignInErrorText", () => {
  it.each([
    ["cancelled", "", "Sign-in was cancelled."],
    ["timeout", "", "didn't come back in time"],
    ["access_denied", "Your account is locked.", "Riverside Clinic did not allow the sign-in: Your account is locked."],
    ["unavailable", "", "Riverside Clinic can't be reached right now"],
    ["certificate", "self-signed", "certificate can't be trusted: self-signed"],
    ["internal", "Something odd", "Something odd"],
  ])("%s", (code, message, words) => expect(browserSignInErrorText({ code, message }, "Riverside Clinic")).toContain(words));
});
