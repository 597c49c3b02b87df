// Client-side checks that mirror the server's, so people see mistakes before a round trip.
// The server stays the authority: its invalid_input / conflict errors are shown the same way.

export const NAME_MAX = 100;

// Control characters (C0, DEL, C1) and the invisible bidi / zero-width format characters
// that could make two names look alike or reorder text.
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;
const FORMAT = /[\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/;

// Rust's str::trim strips Unicode White_Space, which differs from JS trim(): JS also strips U+FEFF
// (a format character the server rejects) and does not strip U+0085 (which Rust does).
const WS = "\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
const EDGE_WS = new RegExp(`^[${WS}]+|[${WS}]+$`, "g");
export function rustTrim(s: string): string {
  return s.replace(EDGE_WS, "");
}

export type NameCheck = { ok: true; name: string } | { ok: false; error: string };

/** Validates a credential or key name: trimmed, 1–100 characters, nothing invisible. */
export function checkCredentialName(raw: string): NameCheck {
  const name = rustTrim(raw);
  if (name.length === 0) return { ok: false, error: "Enter a name, for example “Phone health app”." };
  // Count code points, not UTF-16 units, as the server (Rust chars) does.
  const length = Array.from(name).length;
  if (length > NAME_MAX) return { ok: false, error: `Use at most ${NAME_MAX} characters (this one has ${length}).` };
  if (CONTROL.test(name)) return { ok: false, error: "The name contains a control character (such as a line break or tab)." };
  if (FORMAT.test(name)) return { ok: false, error: "The name contains an invisible formatting character. Retype it without copying." };
  return { ok: true, name };
}

/** Converts a `datetime-local` value ("2024-03-12T10:02") in the user's zone to RFC 3339 UTC. */
export function localInputToUtc(value: string): string | null {
  if (!value) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return null;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0);
  if (isNaN(d.getTime())) return null;
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The reverse of localInputToUtc, for filling an input from a stored UTC time. */
export function utcToLocalInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export interface ProviderKeyInput {
  name: string;
  validFrom: string; // datetime-local value or ""
  validTo: string; // datetime-local value or ""
  patients: string[];
  active: boolean;
}

export interface ProviderKeyErrors {
  name?: string;
  validFrom?: string;
  validTo?: string;
  patients?: string;
}

export type ProviderKeyCheck =
  | {
      ok: true;
      value: { name: string; valid_from: string | null; valid_to: string | null; patients: string[]; active: boolean };
    }
  | { ok: false; errors: ProviderKeyErrors };

/** Validates the provider "Manage FHIR API" form: a valid name, a sane window, at least one patient. */
export function checkProviderKey(input: ProviderKeyInput): ProviderKeyCheck {
  const errors: ProviderKeyErrors = {};
  const name = checkCredentialName(input.name);
  if (!name.ok) errors.name = name.error;
  const from = input.validFrom ? localInputToUtc(input.validFrom) : null;
  const to = input.validTo ? localInputToUtc(input.validTo) : null;
  if (input.validFrom && !from) errors.validFrom = "Enter a valid date and time.";
  if (input.validTo && !to) errors.validTo = "Enter a valid date and time.";
  if (from && to && Date.parse(to) <= Date.parse(from)) errors.validTo = "“Valid to” must be after “valid from”.";
  const patients = Array.from(new Set(input.patients.filter((p) => p.trim() !== "")));
  if (patients.length === 0) errors.patients = "Choose at least one patient.";
  if (Object.keys(errors).length > 0 || !name.ok) return { ok: false, errors };
  return { ok: true, value: { name: name.name, valid_from: from, valid_to: to, patients, active: input.active } };
}
