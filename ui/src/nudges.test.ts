import { describe, expect, it } from "vitest";
import { badgeCounts, dismissNudge, extendedValidTo, isDismissed, nudgeActions, nudgeArea, nudgeHome, nudgeKey, nudgeText, STORAGE_KEY, visibleNudges, type KeyValueStore } from "./nudges";
import type { Nudge } from "./types";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const DAY = 86_400_000;

const nudge = (over: Partial<Nudge>): Nudge => ({
  credential_id: "c1",
  name: "Nightly export",
  credential_kind: "developer",
  kind: "unused",
  detail: "Not used for 61 days",
  days: 61,
  last_used: "2026-10-01T09:00:00Z",
  valid_to: null,
  owner: "developer",
  owner_name: "Dev Developer",
  ...over,
});

function memory(): KeyValueStore & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v) };
}

describe("nudge text and actions", () => {
  it.each([
    ["unused", "developer", "“Nightly export”: Not used for 61 days. Deactivate it?", ["deactivate", "dismiss"]],
    ["expires_soon", "developer", "“Nightly export”: Not used for 61 days. Extend it, or let it end?", ["extend", "deactivate", "dismiss"]],
    ["expired", "provider", "“Nightly export”: Not used for 61 days. It reaches nothing now: extend or deactivate it.", ["extend", "deactivate", "dismiss"]],
    ["owner_left_practice", "provider", "“Nightly export”: Not used for 61 days. Review its patients or deactivate it.", ["deactivate", "dismiss"]],
    ["expires_soon", "connected_app", "“Nightly export”: Not used for 61 days. Extend it, or let it end?", ["deactivate", "dismiss"]],
    ["access_changed", "provider", "“Nightly export”: Not used for 61 days. Keep it as it is, or deactivate it?", ["ack", "deactivate"]],
    ["access_changed", "patient_app", "“Nightly export”: Not used for 61 days. Keep it as it is, or deactivate it?", ["ack", "deactivate"]],
  ] as const)("%s of a %s key", (kind, credential_kind, text, actions) => {
    const n = nudge({ kind, credential_kind });
    expect(nudgeText(n)).toBe(text);
    expect(nudgeActions(n)).toEqual(actions);
  });

  it("extends by 90 days from the valid-to date, or from now once it passed", () => {
    expect(extendedValidTo({ valid_to: "2026-12-10T00:00:00Z" }, NOW)).toBe("2027-03-10T00:00:00.000Z");
    expect(extendedValidTo({ valid_to: "2026-11-01T00:00:00Z" }, NOW)).toBe(new Date(NOW + 90 * DAY).toISOString());
    expect(extendedValidTo({ valid_to: null }, NOW)).toBe(new Date(NOW + 90 * DAY).toISOString());
  });
});

describe("dismissal memory", () => {
  it("hides one credential's one kind for a week, then shows it again", () => {
    const store = memory();
    const unused = nudge({});
    const expiring = nudge({ kind: "expires_soon" });
    const other = nudge({ credential_id: "c2" });
    dismissNudge(store, unused, NOW);
    expect(isDismissed(store, unused, NOW + 6 * DAY)).toBe(true);
    expect(visibleNudges([unused, expiring, other], store, NOW + DAY)).toEqual([expiring, other]);
    expect(isDismissed(store, unused, NOW + 7 * DAY)).toBe(false);
  });

  it("forgets expired dismissals and survives garbage in storage", () => {
    const store = memory();
    dismissNudge(store, nudge({ credential_id: "old" }), NOW - 30 * DAY);
    dismissNudge(store, nudge({}), NOW);
    expect(Object.keys(JSON.parse(store.map.get(STORAGE_KEY)!))).toEqual(["c1:unused"]);
    store.map.set(STORAGE_KEY, "not json");
    expect(isDismissed(store, nudge({}), NOW)).toBe(false);
    dismissNudge(store, nudge({}), NOW);
    expect(isDismissed(store, nudge({}), NOW)).toBe(true);
  });
});

describe("badge counts", () => {
  it("counts visible nudges on the area that lists the credential", () => {
    const store = memory();
    const list = [
      nudge({ credential_id: "d1" }),
      nudge({ credential_id: "d2", kind: "expires_soon" }),
      nudge({ credential_id: "p1", credential_kind: "provider" }),
      nudge({ credential_id: "a1", credential_kind: "patient_app" }),
      nudge({ credential_id: "g1", credential_kind: "connected_app" }),
    ];
    dismissNudge(store, list[1], NOW);
    // A staff member's own connected app counts on "Connected apps"; a patient's on "My apps".
    const counts = badgeCounts(list, ["developer", "provider", "connected"], store, NOW);
    expect(Object.fromEntries(counts)).toEqual({ developer: 1, provider: 1, connected: 1 });
    expect(Object.fromEntries(badgeCounts(list, ["apps"], store, NOW))).toEqual({ apps: 2 });
    expect(nudgeArea("backend_app", ["apps", "developer"])).toBeNull();
  });

  it("counts access changes too, each notice on its own, none of them dismissed by another's dismissal", () => {
    const store = memory();
    const list = [
      nudge({ credential_id: "p1", credential_kind: "provider", kind: "access_changed", notice_id: 7 }),
      nudge({ credential_id: "p1", credential_kind: "provider", kind: "access_changed", notice_id: 8 }),
      nudge({ credential_id: "p1", credential_kind: "provider" }),
    ];
    expect(nudgeKey(list[0])).toBe("p1:access_changed:7");
    expect(nudgeKey(list[2])).toBe("p1:unused");
    dismissNudge(store, list[0], NOW);
    expect(visibleNudges(list, store, NOW)).toEqual([list[1], list[2]]);
    expect(Object.fromEntries(badgeCounts(list, ["provider"], store, NOW))).toEqual({ provider: 2 });
  });
});

describe("where a nudge is shown", () => {
  it.each([
    ["a developer key, developer area", "developer", "unused", ["apps", "developer"], "developer"],
    ["a provider key's change, provider area", "provider", "access_changed", ["developer", "provider"], "provider"],
    ["a provider key's change after the provider role went", "provider", "access_changed", ["users", "developer", "connected"], "developer"],
    ["the same for a nurse, whose only home is Connected apps", "provider", "access_changed", ["connected"], "connected"],
    ["a patient's app after the patient role went", "patient_app", "access_changed", ["connected"], "connected"],
    ["but a standing nudge stays with its own area", "provider", "unused", ["developer", "connected"], null],
    ["no home at all", "developer", "access_changed", ["users", "approvals"], null],
    ["a staff member's connected app", "connected_app", "expires_soon", ["connected", "developer"], "connected"],
    ["a patient's connected app", "connected_app", "expires_soon", ["apps"], "apps"],
  ] as const)("%s", (_, credential_kind, kind, areas, home) => {
    expect(nudgeHome({ credential_kind, kind }, areas)).toBe(home);
  });
});
