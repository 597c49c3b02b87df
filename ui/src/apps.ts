// Rules of an app registration as the service applies them (portico-domain `app.rs` and the management
// API's checks), so the form shows mistakes before a round trip; and the scope helper. No DOM here.
// The service stays the authority: its invalid_input messages are shown the same way.

import type { AppType, ClientAuth, NewApp, Platform } from "./types";
import { checkCredentialName, rustTrim } from "./validation";

export const MAX_REDIRECT_URIS = 20;
export const MAX_JWKS_BYTES = 64 * 1024;

/** Where each type of app may run: a patient-facing app on the web, natively or in a browser; a system app as a service. */
export function platformsFor(type: AppType): Platform[] {
  return type === "system" ? ["service"] : ["web", "native", "browser"];
}

/**
 * How an app on a platform may authenticate. A web server keeps a secret or a key; native and browser apps
 * are public clients (PKCE only: anything they hold can be read out of them); a system app only signs
 * assertions with its key (a secret is never accepted for it).
 */
export function clientAuthsFor(type: AppType, platform: Platform): ClientAuth[] {
  if (type === "system" || platform === "service") return ["private_key_jwt"];
  if (platform === "web") return ["client_secret_basic", "client_secret_post", "private_key_jwt"];
  return ["none"];
}

export const PLATFORM_LABEL: Record<Platform, string> = {
  web: "Web server (confidential)",
  native: "Native or mobile (public)",
  browser: "Browser only (public)",
  service: "Backend service",
};

export const AUTH_LABEL: Record<ClientAuth, string> = {
  none: "None: public client with PKCE",
  client_secret_basic: "Client secret, HTTP Basic",
  client_secret_post: "Client secret in the form body",
  private_key_jwt: "Private key JWT (signed assertion)",
};

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const SPACE_OR_CONTROL = /[\s\u0000-\u001F\u007F-\u009F]/u;

/** The host of `//host[:port]/...`, lower-cased, brackets kept for IPv6; null when there is none or userinfo. */
function hostOf(rest: string): string | null {
  if (!rest.startsWith("//")) return null;
  const authority = rest.slice(2).split(/[/?]/)[0];
  if (authority.includes("@")) return null;
  const host = authority.startsWith("[") ? authority.slice(0, authority.indexOf("]") + 1) : authority.split(":")[0];
  return host.toLowerCase();
}

/** Mirrors `check_redirect_uri`: null when fine, else why not (RFC 8252: https, loopback http, or a private-use scheme). */
export function redirectUriProblem(uri: string): string | null {
  if (uri.length === 0 || uri.length > 2000) return "must be 1 to 2000 characters";
  if (SPACE_OR_CONTROL.test(uri)) return "must not contain spaces or control characters";
  if (uri.includes("#")) return "must not contain a fragment (#)";
  const colon = uri.indexOf(":");
  if (colon < 0) return "is not an absolute URI";
  const scheme = uri.slice(0, colon).toLowerCase();
  const rest = uri.slice(colon + 1);
  if (scheme === "https") return hostOf(rest) ? null : "has no host";
  if (scheme === "http") {
    const host = hostOf(rest);
    return host && LOOPBACK.has(host) ? null : "http is allowed only on 127.0.0.1, localhost or [::1]; use https";
  }
  if (scheme.includes(".") && /^[a-z][a-z0-9.+-]*$/.test(scheme)) return null;
  return "use https, http on a loopback address, or a private-use scheme such as com.example.app:/callback";
}

/** Mirrors `check_web_url`: homepage, privacy policy and JWKS URL are https (http only on loopback). */
export function webUrlOk(url: string): boolean {
  const colon = url.indexOf(":");
  if (colon < 0 || url.length > 2000 || SPACE_OR_CONTROL.test(url)) return false;
  const scheme = url.slice(0, colon).toLowerCase();
  const host = hostOf(url.slice(colon + 1));
  if (scheme === "https") return !!host;
  if (scheme === "http") return !!host && LOOPBACK.has(host);
  return false;
}

/** Scopes that are not resource scopes but may be asked for. */
export const NON_RESOURCE_SCOPES = ["openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access"];

/**
 * One SMART resource scope: `patient|user|system` / type or `*` . v1 `read|write|*` or v2 letters in `cruds`
 * order, optionally with a granular `?param=value` (SMART v2, e.g. `?category=laboratory`).
 */
export function isResourceScope(scope: string): boolean {
  const m = /^(patient|user|system)\/(\*|[A-Za-z]+)\.([^?]+)(\?.+)?$/.exec(scope);
  if (!m) return false;
  const perms = m[3];
  if (perms !== "read" && perms !== "write" && perms !== "*" && !/^c?r?u?d?s?$/.test(perms)) return false;
  if (perms === "") return false;
  if (m[4] && !/^\?[A-Za-z_][A-Za-z0-9_.:-]*=[^\s&=]+(&[A-Za-z_][A-Za-z0-9_.:-]*=[^\s&=]+)*$/.test(m[4])) return false;
  return true;
}

/** Splits a scope string on whitespace, dropping repeats (first one kept). */
export function scopeList(scopes: string): string[] {
  return Array.from(new Set(scopes.split(/\s+/).filter(Boolean)));
}

/** Adds the scope when absent, removes it when present; the others keep their order. */
export function toggleScope(scopes: string, scope: string): string {
  const list = scopeList(scopes);
  const i = list.indexOf(scope);
  if (i >= 0) list.splice(i, 1);
  else list.push(scope);
  return list.join(" ");
}

/** Null when the scopes suit the app type, else a sentence naming the first problem. */
export function scopesProblem(scopes: string, type: AppType): string | null {
  const list = scopeList(scopes);
  if (list.length === 0) return "Choose at least one scope.";
  for (const s of list) {
    const resource = isResourceScope(s);
    if (!resource && !NON_RESOURCE_SCOPES.includes(s)) return `“${s}” is not a SMART scope.`;
    if (type === "system" && !s.startsWith("system/")) return `A system app asks only for system/ scopes; “${s}” is not one.`;
    if (type === "patient" && s.startsWith("system/")) return `A patient-facing app cannot ask for system/ scopes (“${s}”).`;
  }
  return null;
}

/** Null when the text is a public JWKS (a JSON object with a "keys" array, no private members), else why not. */
export function jwksProblem(text: string): string | null {
  if (new TextEncoder().encode(text).length > MAX_JWKS_BYTES) return "The JWKS is larger than 64 KiB.";
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "The JWKS is not valid JSON.";
  }
  if (!v || typeof v !== "object" || Array.isArray(v) || !Array.isArray((v as { keys?: unknown }).keys)) {
    return "A JWKS is a JSON object with a \"keys\" array.";
  }
  const keys = (v as { keys: unknown[] }).keys;
  if (keys.length === 0) return "The JWKS has no keys.";
  for (const k of keys) {
    if (!k || typeof k !== "object" || Array.isArray(k)) return "Each key in the JWKS is a JSON object.";
    if ("d" in k) return "The JWKS holds a private key (member \"d\"): paste only the public keys.";
  }
  return null;
}

/** The form as typed. */
export interface AppFormInput {
  name: string;
  description: string;
  homepage: string;
  privacyPolicy: string;
  appType: AppType;
  platform: Platform;
  clientAuth: ClientAuth;
  /** One per line. */
  redirectUris: string;
  keySource: "jwks" | "jwks_url";
  jwks: string;
  jwksUrl: string;
  scopes: string;
}

export type AppFormField = "name" | "homepage" | "privacyPolicy" | "platform" | "clientAuth" | "redirectUris" | "jwks" | "jwksUrl" | "scopes";
export type AppFormErrors = Partial<Record<AppFormField, string>>;
export type AppFormCheck = { ok: true; value: NewApp } | { ok: false; errors: AppFormErrors };

/** Checks the whole registration form; on success gives the NewApp the service receives. */
export function checkAppForm(input: AppFormInput): AppFormCheck {
  const errors: AppFormErrors = {};
  const name = checkCredentialName(input.name);
  if (!name.ok) errors.name = name.error.replace("“Phone health app”", "“Sleep Coach”");
  const homepage = rustTrim(input.homepage);
  const privacy = rustTrim(input.privacyPolicy);
  if (homepage && !webUrlOk(homepage)) errors.homepage = "The homepage must be an https URL (http only on 127.0.0.1, localhost or [::1]).";
  if (privacy && !webUrlOk(privacy)) errors.privacyPolicy = "The privacy policy must be an https URL (http only on 127.0.0.1, localhost or [::1]).";
  if (!platformsFor(input.appType).includes(input.platform)) {
    errors.platform = input.appType === "system" ? "A system app runs as a backend service." : "A patient-facing app runs on the web, natively or in a browser.";
  } else if (!clientAuthsFor(input.appType, input.platform).includes(input.clientAuth)) {
    errors.clientAuth =
      input.appType === "system"
        ? "A system app authenticates with private_key_jwt; a secret is never accepted for it."
        : input.platform === "web"
          ? "A web server app can keep a secret: choose a client secret or private_key_jwt."
          : "A native or browser app cannot keep a secret: it is a public client (PKCE).";
  }
  const uris = input.redirectUris.split(/\r?\n/).map((l) => rustTrim(l)).filter(Boolean);
  const uniqueUris = Array.from(new Set(uris));
  if (input.appType === "patient" && uniqueUris.length === 0) errors.redirectUris = "A patient-facing app needs at least one redirect URI.";
  else if (uniqueUris.length > MAX_REDIRECT_URIS) errors.redirectUris = `At most ${MAX_REDIRECT_URIS} redirect URIs.`;
  else {
    for (const u of uniqueUris) {
      const why = redirectUriProblem(u);
      if (why) {
        errors.redirectUris = `Redirect URI “${u.slice(0, 100)}” ${why}.`;
        break;
      }
    }
  }
  let jwks: string | null = null;
  let jwksUrl: string | null = null;
  if (input.clientAuth === "private_key_jwt") {
    if (input.keySource === "jwks") {
      const text = input.jwks.trim();
      if (!text) errors.jwks = "Paste the app's public JWKS, or give a JWKS URL instead.";
      else {
        const why = jwksProblem(text);
        if (why) errors.jwks = why;
        else jwks = text;
      }
    } else {
      const url = rustTrim(input.jwksUrl);
      if (!url) errors.jwksUrl = "Give the URL of the app's JWKS, or paste the JWKS instead.";
      else if (!webUrlOk(url)) errors.jwksUrl = "The JWKS URL must be an https URL (http only on 127.0.0.1, localhost or [::1]).";
      else jwksUrl = url;
    }
  }
  const scopeWhy = scopesProblem(input.scopes, input.appType);
  if (scopeWhy) errors.scopes = scopeWhy;
  if (!name.ok || Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      name: name.name,
      description: input.description.trim(),
      homepage: homepage || null,
      privacy_policy: privacy || null,
      app_type: input.appType,
      platform: input.platform,
      client_auth: input.clientAuth,
      redirect_uris: input.appType === "system" ? [] : uniqueUris,
      jwks,
      jwks_url: jwksUrl,
      scopes: scopeList(input.scopes).join(" "),
    },
  };
}

export interface ScopeSuggestion {
  scope: string;
  text: string;
}

/** Common SMART scopes for the helper list, per app type. */
export function commonScopes(type: AppType): ScopeSuggestion[] {
  if (type === "system") {
    return [
      { scope: "system/*.rs", text: "Read and search everything in approving practices" },
      { scope: "system/Patient.rs", text: "Patients" },
      { scope: "system/Observation.rs", text: "Observations (vitals, labs)" },
      { scope: "system/Condition.rs", text: "Conditions" },
      { scope: "system/MedicationRequest.rs", text: "Medications" },
      { scope: "system/Encounter.rs", text: "Encounters" },
      { scope: "system/*.cruds", text: "Read and write everything (use sparingly)" },
    ];
  }
  return [
    { scope: "launch/patient", text: "Ask which patient at sign-in (standalone launch)" },
    { scope: "openid", text: "Sign-in identity (id_token)" },
    { scope: "fhirUser", text: "Who signed in, as a FHIR resource" },
    { scope: "offline_access", text: "Keep access after the person leaves (refresh token)" },
    { scope: "online_access", text: "Refresh only while the person is signed in" },
    { scope: "patient/*.rs", text: "Read the whole record" },
    { scope: "patient/Patient.rs", text: "Demographics" },
    { scope: "patient/Observation.rs", text: "All observations" },
    { scope: "patient/Observation.rs?category=vital-signs", text: "Vital signs only" },
    { scope: "patient/Observation.rs?category=laboratory", text: "Lab results only" },
    { scope: "patient/Condition.rs", text: "Conditions" },
    { scope: "patient/MedicationRequest.rs", text: "Medications" },
    { scope: "patient/AllergyIntolerance.rs", text: "Allergies" },
    { scope: "patient/Immunization.rs", text: "Immunizations" },
    { scope: "user/*.rs", text: "What the signed-in staff member may read" },
  ];
}

/** The approval status as a chip reads it. */
export const APPROVAL_LABEL: Record<string, string> = {
  pending: "Pending",
  approved: "Approved",
  denied: "Denied",
  withdrawn: "Withdrawn",
};

/** Chip style per status: approved is good news, pending waits, denied and withdrawn stop the app. */
export function approvalTone(status: string): "ok" | "warn" | "danger" {
  return status === "approved" ? "ok" : status === "pending" ? "warn" : "danger";
}

/** A decision that stops an app needs a reason the developer can act on. */
export function reasonProblem(status: "approved" | "denied" | "withdrawn", reason: string): string | null {
  if (status === "approved") return null;
  const r = rustTrim(reason);
  if (!r) return status === "denied" ? "Say why you deny it; the developer sees the reason." : "Say why you withdraw it; the developer sees the reason.";
  if (Array.from(r).length > 500) return "Use at most 500 characters.";
  return null;
}

/** Approvals waiting for a decision: what the navigation badge counts. */
export function pendingCount(list: Array<{ status: string }>): number {
  return list.filter((a) => a.status === "pending").length;
}

/** Pending first, then newest request first. */
export function sortApprovals<T extends { status: string; requested_at: string }>(list: T[]): T[] {
  return list.slice().sort((a, b) => Number(b.status === "pending") - Number(a.status === "pending") || Date.parse(b.requested_at) - Date.parse(a.requested_at));
}

/** Practices whose name contains every word typed, case- and accent-insensitively. */
export function searchPractices<T extends { name: string }>(list: T[], query: string): T[] {
  const fold = (s: string) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  const words = fold(query).split(/\s+/).filter(Boolean);
  return list.filter((p) => words.every((w) => fold(p.name).includes(w)));
}

/**
 * The end date of a grant as typed into a date field ("2025-06-30"), as the end of that day in the user's
 * zone, RFC 3339 UTC; null with an error when it is in the past or more than a year ahead.
 */
export function grantEndProblem(dateValue: string, now: number = Date.now()): { iso: string } | { error: string } {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateValue);
  if (!m) return { error: "Choose a date." };
  const end = new Date(+m[1], +m[2] - 1, +m[3], 23, 59, 59);
  if (isNaN(end.getTime())) return { error: "Choose a date." };
  if (end.getTime() <= now) return { error: "The end date must be in the future." };
  if (end.getTime() > now + 366 * 86400000) return { error: "At most one year ahead." };
  return { iso: end.toISOString().replace(/\.\d{3}Z$/, "Z") };
}
