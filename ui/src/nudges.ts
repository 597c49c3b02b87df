// Nudges that keep access tidy: which to show (dismissed ones wait), what each says and offers, which tab
// counts it. Pure apart from the storage handed in (localStorage in the app, a map in tests).
import type { Nudge } from "./types";

/** "Dismiss for now" hides a nudge for this long; then it comes back if still true. */
export const DISMISS_DAYS = 7;
/** "Extend by 90 days": from the current valid-to date, or from now when that is already past. */
export const EXTEND_DAYS = 90;
export const STORAGE_KEY = "portico.nudges.dismissed";
const DAY = 86_400_000;

export type NudgeAction = "extend" | "deactivate" | "dismiss" | "ack";

/** Home areas with a "Needs attention" card, in the order a notice without a home of its own falls back to. */
export const NUDGE_AREAS: readonly string[] = ["developer", "provider", "apps", "connected"];

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** One dismissal per credential and kind: dismissing "unused" does not hide a later "expires soon". (Each
 * access-change notice is its own, and is acknowledged on the server rather than dismissed here.) */
export function nudgeKey(n: Pick<Nudge, "credential_id" | "kind" | "notice_id">): string {
  return n.notice_id == null ? `${n.credential_id}:${n.kind}` : `${n.credential_id}:${n.kind}:${n.notice_id}`;
}

function dismissals(store: KeyValueStore): Record<string, number> {
  try {
    const v: unknown = JSON.parse(store.getItem(STORAGE_KEY) ?? "{}");
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, number>) : {};
  } catch {
    return {};
  }
}

/** Remembers "not now" for this nudge until `DISMISS_DAYS` from `now`; forgets dismissals that ran out. */
export function dismissNudge(store: KeyValueStore, n: Pick<Nudge, "credential_id" | "kind" | "notice_id">, now: number): void {
  const kept = Object.fromEntries(Object.entries(dismissals(store)).filter(([, until]) => typeof until === "number" && until > now));
  kept[nudgeKey(n)] = now + DISMISS_DAYS * DAY;
  try {
    store.setItem(STORAGE_KEY, JSON.stringify(kept));
  } catch {
    // storage full or refused: the nudge simply stays
  }
}

export function isDismissed(store: KeyValueStore, n: Pick<Nudge, "credential_id" | "kind" | "notice_id">, now: number): boolean {
  const until = dismissals(store)[nudgeKey(n)];
  return typeof until === "number" && until > now;
}

export function visibleNudges(list: Nudge[] | null | undefined, store: KeyValueStore, now: number): Nudge[] {
  return (list ?? []).filter((n) => !isDismissed(store, n, now));
}

/** The question a nudge asks, after its finding. */
export function nudgeQuestion(n: Pick<Nudge, "kind">): string {
  switch (n.kind) {
    case "unused":
      return "Deactivate it?";
    case "expires_soon":
      return "Extend it, or let it end?";
    case "expired":
      return "It reaches nothing now: extend or deactivate it.";
    case "owner_left_practice":
      return "Review its patients or deactivate it.";
    case "access_changed":
      return "Keep it as it is, or deactivate it?";
  }
}

/** One line for a screen reader and a toast: "“Nightly export”: Not used for 61 days. Deactivate it?" */
export function nudgeText(n: Pick<Nudge, "name" | "detail" | "kind">): string {
  return `“${n.name}”: ${n.detail}. ${nudgeQuestion(n)}`;
}

/** The one-click actions a nudge offers, the most useful first. Grants are extended on their own page. An
 * access change is news rather than a standing problem: "Got it" (told to the server) or deactivate. */
export function nudgeActions(n: Pick<Nudge, "kind" | "credential_kind">): NudgeAction[] {
  if (n.kind === "access_changed") return ["ack", "deactivate"];
  const extendable = n.credential_kind !== "connected_app" && (n.kind === "expires_soon" || n.kind === "expired");
  return [...(extendable ? (["extend"] as const) : []), "deactivate", "dismiss"];
}

/** The valid-to date "Extend by 90 days" sets. */
export function extendedValidTo(n: Pick<Nudge, "valid_to">, now: number): string {
  const from = n.valid_to ? Math.max(Date.parse(n.valid_to), now) : now;
  return new Date(from + EXTEND_DAYS * DAY).toISOString();
}

/** Which area's tab shows a nudge about a credential of this kind (null: none of the person's areas). A
 * connected app is a patient's under "My apps", or a staff member's under "Connected apps". */
export function nudgeArea(kind: Nudge["credential_kind"], areas: readonly string[]): string | null {
  if (kind === "connected_app") return areas.includes("apps") ? "apps" : areas.includes("connected") ? "connected" : null;
  const want = kind === "patient_app" ? "apps" : kind === "developer" ? "developer" : kind === "provider" ? "provider" : null;
  return want && areas.includes(want) ? want : null;
}

/** Where a nudge is shown: its credential's area, or, for an access change whose credential's area the
 * person no longer has (the role that opened it was taken away), the first home area they still have. */
export function nudgeHome(n: Pick<Nudge, "kind" | "credential_kind">, areas: readonly string[]): string | null {
  const own = nudgeArea(n.credential_kind, areas);
  if (own || n.kind !== "access_changed") return own;
  return NUDGE_AREAS.find((a) => areas.includes(a)) ?? null;
}

/** The badge count per area: visible nudges only. */
export function badgeCounts(list: Nudge[] | null | undefined, areas: readonly string[], store: KeyValueStore, now: number): Map<string, number> {
  const counts = new Map<string, number>(areas.map((a) => [a, 0]));
  for (const n of visibleNudges(list, store, now)) {
    const a = nudgeHome(n, areas);
    if (a) counts.set(a, (counts.get(a) ?? 0) + 1);
  }
  return counts;
}

/** localStorage when there is one (not in every test environment). */
export function browserStore(): KeyValueStore {
  try {
    if (typeof localStorage !== "undefined") return localStorage;
  } catch {
    // storage disabled
  }
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v) };
}
