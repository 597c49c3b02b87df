// The developer sign-up form's rules, as the service applies them to users (Username::parse, the
// password length of hash_password); kept apart from the DOM so they are unit-tested.
import type { Signup } from "./types";
import { checkCredentialName, rustTrim } from "./validation";

export type SignupField = "username" | "given_name" | "family_name" | "email" | "company" | "password";
export type SignupCheck = { ok: true; value: Signup } | { ok: false; errors: Partial<Record<SignupField, string>> };

export function checkSignup(raw: Signup): SignupCheck {
  const errors: Partial<Record<SignupField, string>> = {};
  const username = rustTrim(raw.username);
  if (!/^[a-z0-9._-]{3,64}$/.test(username)) errors.username = "Use 3–64 lowercase letters, digits, “.”, “_” or “-”.";
  const name = (k: "given_name" | "family_name", what: string) => {
    const c = checkCredentialName(raw[k]);
    if (!c.ok) errors[k] = rustTrim(raw[k]) ? c.error.replace("The name", `The ${what}`) : `Enter your ${what}.`;
    return c.ok ? c.name : "";
  };
  const given = name("given_name", "given name");
  const family = name("family_name", "family name");
  const email = rustTrim(raw.email);
  // Deliberately loose: one @, something on each side, a dot in the domain. The mailbox is not verified.
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254) errors.email = "Enter an email address such as ada@example.com.";
  const company = rustTrim(raw.company);
  if (company) {
    const c = checkCredentialName(company);
    if (!c.ok) errors.company = c.error.replace("The name", "The company");
  }
  const length = Array.from(raw.password).length;
  if (length < 8 || length > 256) errors.password = "A password needs 8 to 256 characters.";
  if (Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, value: { username, given_name: given, family_name: family, email, company, password: raw.password } };
}
