import { describe, expect, it } from "vitest";
import {
  checkAppForm,
  clientAuthsFor,
  grantEndProblem,
  isResourceScope,
  jwksProblem,
  pendingCount,
  platformsFor,
  reasonProblem,
  redirectUriProblem,
  scopesProblem,
  searchPractices,
  sortApprovals,
  toggleScope,
  type AppFormInput,
} from "./apps";

// The same table as portico-domain's `redirect_uris` test, so the form and the service agree.
describe("redirect URIs mirror check_redirect_uri", () => {
  it.each([
    ["https://app.example.com/callback", true],
    ["https://app.example.com:8443/cb?x=1", true],
    ["http://127.0.0.1:5173/callback", true],
    ["http://localhost/cb", true],
    ["http://[::1]:9000/cb", true],
    ["com.example.app:/oauth2redirect", true],
    ["http://app.example.com/callback", false],
    ["http://127.0.0.1.evil.com/cb", false],
    ["http://localhost@evil.com/cb", false],
    ["https://app.example.com/cb#frag", false],
    ["javascript:alert(1)", false],
    ["data:text/html,hi", false],
    ["myapp:/cb", false],
    ["/relative", false],
    ["https:///nohost", false],
    ["https://a.example/ cb", false],
    ["", false],
  ])("%j → %s", (uri, ok) => expect(redirectUriProblem(uri) === null).toBe(ok));
});

const form = (over: Partial<AppFormInput> = {}): AppFormInput => ({
  name: "Sleep Coach",
  description: "",
  homepage: "",
  privacyPolicy: "",
  appType: "patient",
  platform: "web",
  clientAuth: "client_secret_basic",
  redirectUris: "https://a.example/cb",
  keySource: "jwks",
  jwks: "",
  jwksUrl: "",
  scopes: "launch/patient patient/*.rs",
  ...over,
});
const JWKS = JSON.stringify({ keys: [{ kty: "RSA", kid: "k1", n: "xyz", e: "AQAB" }] });

// The combinations of portico-domain's `registrations` test, plus the form's own fields.
describe("the registration form mirrors check_registration", () => {
  it.each<[string, Partial<AppFormInput>, string | null]>([
    ["web + secret", {}, null],
    ["native public", { platform: "native", clientAuth: "none" }, null],
    ["browser public", { platform: "browser", clientAuth: "none" }, null],
    ["web + key", { clientAuth: "private_key_jwt", jwks: JWKS }, null],
    ["web + key by URL", { clientAuth: "private_key_jwt", keySource: "jwks_url", jwksUrl: "https://a.example/jwks.json" }, null],
    ["system service", { appType: "system", platform: "service", clientAuth: "private_key_jwt", jwks: JWKS, redirectUris: "", scopes: "system/*.rs" }, null],
    ["web without secret", { clientAuth: "none" }, "clientAuth"],
    ["no redirect URI", { redirectUris: "  \n " }, "redirectUris"],
    ["key without JWKS", { clientAuth: "private_key_jwt" }, "jwks"],
    ["patient on a service", { platform: "service" }, "platform"],
    ["system with a secret", { appType: "system", platform: "service", clientAuth: "client_secret_basic", redirectUris: "", scopes: "system/*.rs" }, "clientAuth"],
    ["system on the web", { appType: "system", platform: "web", clientAuth: "private_key_jwt", jwks: JWKS, scopes: "system/*.rs" }, "platform"],
    ["http redirect", { redirectUris: "http://a.example/cb" }, "redirectUris"],
    ["21 redirect URIs", { redirectUris: Array.from({ length: 21 }, (_, i) => `https://a.example/${i}`).join("\n") }, "redirectUris"],
    ["empty name", { name: "  " }, "name"],
    ["http homepage", { homepage: "http://a.example" }, "homepage"],
    ["privacy policy not a URL", { privacyPolicy: "our website" }, "privacyPolicy"],
    ["JWKS URL over http", { clientAuth: "private_key_jwt", keySource: "jwks_url", jwksUrl: "http://a.example/jwks" }, "jwksUrl"],
    ["no scopes", { scopes: "" }, "scopes"],
    ["system scope in a patient app", { scopes: "system/*.rs" }, "scopes"],
  ])("%s", (_what, over, field) => {
    const r = checkAppForm(form(over));
    if (field === null) expect(r).toMatchObject({ ok: true });
    else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(Object.keys(r.errors)).toEqual([field]);
    }
  });

  it("gives the service trimmed, de-duplicated values", () => {
    const r = checkAppForm(form({ name: " Sleep Coach ", redirectUris: "https://a.example/cb\r\n\nhttps://a.example/cb\nhttps://b.example/cb ", scopes: " openid  openid patient/*.rs ", homepage: " https://a.example " }));
    expect(r).toEqual({
      ok: true,
      value: {
        name: "Sleep Coach", description: "", homepage: "https://a.example", privacy_policy: null, app_type: "patient",
        platform: "web", client_auth: "client_secret_basic", redirect_uris: ["https://a.example/cb", "https://b.example/cb"],
        jwks: null, jwks_url: null, scopes: "openid patient/*.rs",
      },
    });
  });

  it("sends no keys for an app that does not sign", () => {
    const r = checkAppForm(form({ jwks: JWKS, jwksUrl: "https://a.example/jwks" }));
    expect(r.ok && [r.value.jwks, r.value.jwks_url]).toEqual([null, null]);
  });
});

describe("options offered follow the rules", () => {
  it("limits platforms and client authentication", () => {
    expect(platformsFor("system")).toEqual(["service"]);
    expect(platformsFor("patient")).toEqual(["web", "native", "browser"]);
    expect(clientAuthsFor("system", "service")).toEqual(["private_key_jwt"]);
    expect(clientAuthsFor("patient", "web")).not.toContain("none");
    expect(clientAuthsFor("patient", "native")).toEqual(["none"]);
    expect(clientAuthsFor("patient", "browser")).toEqual(["none"]);
  });
  it("every option offered passes the form check", () => {
    for (const t of ["patient", "system"] as const)
      for (const p of platformsFor(t))
        for (const a of clientAuthsFor(t, p)) {
          const r = checkAppForm(form({ appType: t, platform: p, clientAuth: a, jwks: JWKS, scopes: t === "system" ? "system/*.rs" : "patient/*.rs" }));
          expect(r.ok, `${t} ${p} ${a}`).toBe(true);
        }
  });
});

describe("scopes", () => {
  it.each([
    ["patient/*.rs", true],
    ["patient/Observation.read", true],
    ["user/*.cruds", true],
    ["system/Patient.*", true],
    ["patient/Observation.rs?category=laboratory", true],
    ["patient/Observation.sr", false],
    ["patient/Observation.", false],
    ["patient/Obs-ervation.rs", false],
    ["doctor/*.rs", false],
    ["patient/Observation.rs?category", false],
    ["openid", false],
  ])("%j is a resource scope: %s", (s, ok) => expect(isResourceScope(s)).toBe(ok));

  it.each<[string, "patient" | "system", boolean]>([
    ["launch/patient openid fhirUser offline_access patient/*.rs", "patient", true],
    ["user/*.rs online_access", "patient", true],
    ["system/*.rs", "system", true],
    ["", "patient", false],
    ["patient/*.rs email", "patient", false],
    ["system/*.rs", "patient", false],
    ["system/*.rs openid", "system", false],
    ["patient/*.rs", "system", false],
  ])("%j for a %s app: %s", (s, t, ok) => expect(scopesProblem(s, t) === null).toBe(ok));

  it("the helper toggles one scope and keeps the rest in order", () => {
    expect(toggleScope("openid patient/*.rs", "offline_access")).toBe("openid patient/*.rs offline_access");
    expect(toggleScope("openid  offline_access patient/*.rs", "offline_access")).toBe("openid patient/*.rs");
    expect(toggleScope("", "openid")).toBe("openid");
    expect(toggleScope("openid openid", "fhirUser")).toBe("openid fhirUser");
  });
});

describe("JWKS", () => {
  it.each([
    [JWKS, null],
    ["{", "not valid JSON"],
    ["[]", "\"keys\" array"],
    [JSON.stringify({ keys: [] }), "no keys"],
    [JSON.stringify({ keys: [{ kty: "RSA", n: "x", e: "AQAB", d: "secret" }] }), "private key"],
    [JSON.stringify({ keys: [{ kty: "EC" }], pad: "x".repeat(70000) }), "64 KiB"],
  ])("%#", (text, contains) => {
    const why = jwksProblem(text);
    if (contains === null) expect(why).toBeNull();
    else expect(why).toContain(contains);
  });
});

describe("approvals", () => {
  const a = (status: string, at: string) => ({ status, requested_at: at });
  it("pending first, newest first; the badge counts pending", () => {
    const list = [a("approved", "2025-01-03T00:00:00Z"), a("pending", "2025-01-01T00:00:00Z"), a("denied", "2025-01-05T00:00:00Z"), a("pending", "2025-01-02T00:00:00Z")];
    expect(sortApprovals(list).map((x) => `${x.status} ${x.requested_at.slice(8, 10)}`)).toEqual(["pending 02", "pending 01", "denied 05", "approved 03"]);
    expect(pendingCount(list)).toBe(2);
  });
  it.each<["approved" | "denied" | "withdrawn", string, boolean]>([
    ["approved", "", true],
    ["denied", "", false],
    ["denied", "   ", false],
    ["denied", "No business associate agreement", true],
    ["withdrawn", "", false],
    ["withdrawn", "x".repeat(501), false],
  ])("%s with %j is fine: %s", (status, reason, ok) => expect(reasonProblem(status, reason) === null).toBe(ok));
  it("finds practices by any words of their name", () => {
    const ps = [{ name: "Riverside Family Practice" }, { name: "Hillcrest Cardiology" }, { name: "Clínica Médica" }];
    expect(searchPractices(ps, "family river").map((p) => p.name)).toEqual(["Riverside Family Practice"]);
    expect(searchPractices(ps, "clinica").map((p) => p.name)).toEqual(["Clínica Médica"]);
    expect(searchPractices(ps, "")).toHaveLength(3);
  });
});

describe("grant end date", () => {
  const now = new Date(2025, 0, 15, 12, 0, 0).getTime();
  it("ends at the end of the chosen local day, within a year", () => {
    const r = grantEndProblem("2025-03-01", now);
    expect("iso" in r && new Date(r.iso).getDate()).toBe(1);
    expect(grantEndProblem("2025-01-14", now)).toEqual({ error: "The end date must be in the future." });
    expect(grantEndProblem("2026-03-01", now)).toEqual({ error: "At most one year ahead." });
    expect(grantEndProblem("", now)).toEqual({ error: "Choose a date." });
  });
});
