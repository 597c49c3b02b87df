// Words for remote mode: checking a server address before asking the shell, and turning the shell's error
// codes (add_server, sign_in_browser) into sentences a person can act on. Pure; tested.
import type { ApiError } from "./api";

export type UrlCheck = { url: string } | { error: string };

/** "it expired" → "it expired." (a server's message followed by our own sentence). */
const stop = (m: string) => (/[.!?…]$/.test(m.trim()) ? m.trim() : `${m.trim()}.`);

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** "portico.clinic.example" → "https://portico.clinic.example"; plain http only for this computer. */
export function checkServerUrl(text: string): UrlCheck {
  const raw = text.trim();
  if (!raw) return { error: "Enter the server's address, for example https://portico.clinic.example." };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return { error: "That is not a web address. Use the form https://portico.clinic.example." };
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return { error: "Use an address that starts with https://." };
  if (!u.hostname || /\s/.test(raw)) return { error: "That is not a web address. Use the form https://portico.clinic.example." };
  if (u.protocol === "http:" && !LOOPBACK.has(u.hostname)) {
    return { error: "Use https://: health data must not travel unencrypted. (Plain http:// works only for this computer.)" };
  }
  if (u.username || u.password) return { error: "Leave the user name and password out of the address: you sign in through your browser." };
  const path = u.pathname.replace(/\/+$/, "");
  return { url: `${u.protocol}//${u.host}${path}` };
}

/** Why adding a server failed, in words (shown inline under the address field). */
export function addServerErrorText(err: Pick<ApiError, "code" | "message">): string {
  switch (err.code) {
    case "certificate":
      return `The server's certificate can't be trusted${err.message ? `: ${stop(err.message)}` : "."} Portico did not connect. Check the address, or ask the clinic's IT team.`;
    case "unreachable":
    case "unavailable":
      return "Nothing answered at that address. Check the address and your internet connection, then try again.";
    case "not_portico":
      return "Something answered at that address, but it isn't a Portico server. Check the address with your clinic.";
    case "invalid_input":
      return err.message || "That address can't be used.";
    default:
      return err.message || "The server could not be added.";
  }
}

/** Why the browser sign-in did not finish, in words. */
export function browserSignInErrorText(err: Pick<ApiError, "code" | "message">, serverName: string): string {
  switch (err.code) {
    case "cancelled":
      return "Sign-in was cancelled. You can start again when you are ready.";
    case "timeout":
      return "The browser didn't come back in time. Try again and finish signing in within a few minutes.";
    case "access_denied":
      return `${serverName} did not allow the sign-in${err.message ? `: ${stop(err.message)}` : "."}`;
    case "unavailable":
    case "unreachable":
      return `${serverName} can't be reached right now. Check your internet connection and try again.`;
    case "certificate":
      return `The server's certificate can't be trusted${err.message ? `: ${stop(err.message)}` : "."} Portico did not sign in.`;
    default:
      return err.message || "Sign-in did not finish.";
  }
}
