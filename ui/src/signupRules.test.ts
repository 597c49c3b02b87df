import { describe, expect, it } from "vitest";
import { checkSignup } from "./signupRules";

const ok = { username: "ada.dev", given_name: "Ada", family_name: "Lovelace", email: "ada@example.com", company: "", password: "correct horse" };

describe("developer sign-up mirrors the service's user rules", () => {
  it.each<[string, Partial<typeof ok>, string | null]>([
    ["valid", {}, null],
    ["username too short", { username: "ad" }, "username"],
    ["username with capitals", { username: "Ada" }, "username"],
    ["username 65 long", { username: "a".repeat(65) }, "username"],
    ["username 64 long", { username: "a".repeat(64) }, null],
    ["no given name", { given_name: " " }, "given_name"],
    ["family name with a line break", { family_name: "Love\nlace" }, "family_name"],
    ["email without a domain dot", { email: "ada@example" }, "email"],
    ["email with a space", { email: "ada @example.com" }, "email"],
    ["password of 7", { password: "1234567" }, "password"],
    ["password of 8 emoji", { password: "😀".repeat(8) }, null],
    ["company with a zero-width space", { company: "Acme\u200B" }, "company"],
  ])("%s", (_what, over, field) => {
    const r = checkSignup({ ...ok, ...over });
    if (field === null) expect(r.ok).toBe(true);
    else expect(r.ok === false && Object.keys(r.errors)).toEqual([field]);
  });

  it("trims what the service trims, never the password", () => {
    const r = checkSignup({ ...ok, username: " ada.dev ", given_name: " Ada ", password: " spaced pw " });
    expect(r).toEqual({ ok: true, value: { ...ok, password: " spaced pw " } });
  });
});
