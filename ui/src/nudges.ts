// Nudges that keep access tidy: which to show (dismissed ones wait), what each says and offers, which tab
// counts it. Pure apart from the storage handed in (localStorage in the app, a map in tests).
import type { Nudge } from "./types";

/** "Dismiss for now" hides a nudge for this long; then it comes back if still true. */
export const DISMISS_DAYS = 7;
/** "Extend by 90 days": from the current valid-to date, or from now when that is already past. */
export const EXTEND_DAYS = 90;
export const STORAGE_KEY = "portico.nudges.dismissed";
const DAY = 86_400_000;

export type NudgeAction = "extend" | "deactivate" | "dismiss";

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** One dismissal per credential and kind: dismissing "unused" does not hide a later "expires soon". */
export function nudgeKey(n: Pick<Nudge, "credential_id" | "kind">): string {
  return `${n.credential_id}:${n.kind}`;
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
export function dismissNudge(store: KeyValueStore, n: Pick<Nudge, "credential_id" | "kind">, now: number): void {
  const kept = Object.fromEntries(Object.entries(dismissals(store)).filter(([, until]) => typeof until === "number" && until > now));
  kept[nudgeKey(n)] = now + DISMISS_DAYS * DAY;
  try {
    store.setItem(STORAGE_KEY, JSON.stringify(kept));
  } catch {
    // storage full or refused: the nudge simply stays
  }
}

export function isDismissed(store: KeyValueStore, n: Pick<Nudge, "credential_id" | "kind">, now: number): boolean {
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
  }
}

/** One line for a screen reader and a toast: "“Nightly export”: Not used for 61 days. Deactivate it?" */
export function nudgeText(n: Pick<Nudge, "name" | "detail" | "kind">): string {
  return `“${n.name}”: ${n.detail}. ${nudgeQuestion(n)}`;
}

/** The one-click actions a nudge offers, the most useful first. Grants are extended on their own page. */
export function nudgeActions(n: Pick<Nudge, "kind" | "credential_kind">): NudgeAction[] {
  const extendable = n.credential_kind !== "connected_app" && (n.kind === "expires_soon" || n.kind === "expired");
  return [...(extendable ? (["extend"] as const) : []), "deactivate", "dismiss"];
}

/** The valid-to date "Extend by 90 days" sets. */
export function extendedValidTo(n: Pick<Nudge, "valid_to">, now: number): string {
  const from = n.valid_to ? Math.max(Date.parse(n.valid_to), now) : now;
  return new Date(from + EXTEND_DAYS * DAY).toISOString();
}

/** Which area's tab shows a nudge about a credential of this kind (null: none of the person's areas). */
export function nudgeArea(kind: Nudge["credential_kind"], areas: readonly string[]): string | null {
  const want = kind === "patient_app" || kind === "connected_app" ? "apps" : kind === "developer" ? "developer" : kind === "provider" ? "provider" : null;
  return want && areas.includes(want) ? want : null;
}

/** The badge count per area: visible nudges only. */
export function badgeCounts(list: Nudge[] | null | undefined, areas: readonly string[], store: KeyValueStore, now: number): Map<string, number> {
  const counts = new Map<string, number>(areas.map((a) => [a, 0]));
  for (const n of visibleNudges(list, store, now)) {
    const a = nudgeArea(n.credential_kind, areas);
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
