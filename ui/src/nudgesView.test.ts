// The "Needs attention" card: its one-click actions call the ordinary credential change, and "Dismiss for
// now" is remembered; the area's badge follows what is shown.
import { afterEach, describe, expect, it, vi } from "vitest";
import * as api from "./api";
import type { Ctx } from "./app";
import type { Nudge } from "./types";
import { nudgesSection, practiceNudgesSection } from "./views/nudges";

const flush = async (n = 6) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

const nudge = (over: Partial<Nudge>): Nudge => ({
  credential_id: "k1",
  name: "Nightly export",
  credential_kind: "developer",
  kind: "unused",
  detail: "Not used for 61 days",
  last_used: null,
  valid_to: null,
  owner: "ben",
  owner_name: "Ben",
  ...over,
});

function setup(list: Nudge[], o: { area?: "developer" | "provider" | "connected"; areas?: string[]; ackFails?: boolean } = {}) {
  const calls: { cmd: string; args?: Record<string, unknown> }[] = [];
  let current = list;
  api.setInvoke(async (cmd, args) => {
    calls.push({ cmd, args });
    if (cmd === "nudges") return current;
    if (cmd === "update_credential") {
      current = current.filter((n) => n.credential_id !== (args as { id: string }).id);
      return {};
    }
    if (cmd === "acknowledge_access_change") {
      if (o.ackFails) throw { code: "offline", message: "Acknowledging a change needs the server, which cannot be reached right now." };
      const id = (args as { noticeId: number }).noticeId;
      const n = current.find((x) => x.notice_id === id)!;
      current = current.filter((x) => x !== n);
      return { notice_id: id, credential_id: n.credential_id, acknowledged_at: "2030-01-01T00:00:00Z" };
    }
    return null;
  });
  const setBadge = vi.fn();
  const onChange = vi.fn();
  const errors: string[] = [];
  const ctx = {
    setBadge,
    areas: o.areas,
    fail: (e: unknown, what: string) => {
      const err = api.toApiError(e);
      errors.push(`${what}: ${err.message}`);
      return err;
    },
    connection: { online: true, status: null },
  } as unknown as Ctx;
  const section = nudgesSection({ ctx, area: o.area ?? "developer", onChange });
  document.body.append(section.el);
  const q = (sel: string) => Array.from(section.el.querySelectorAll<HTMLElement>(sel));
  return { calls, setBadge, onChange, q, errors, section };
}

const change = (over: Partial<Nudge>): Nudge =>
  nudge({
    kind: "access_changed",
    credential_id: "p1",
    name: "Ward round",
    credential_kind: "provider",
    detail: "No longer reaches Reyna Ziemann since your practices changed on 3 Dec 2026",
    notice_id: 41,
    changed_at: "2026-12-03T09:00:00Z",
    ...over,
  });

afterEach(() => {
  document.body.innerHTML = "";
  localStorage.clear();
});

describe("Needs attention", () => {
  it("deactivates from the nudge, then shows the empty state and clears the badge", async () => {
    const t = setup([nudge({}), nudge({ credential_id: "p1", credential_kind: "provider" })]);
    await flush();
    expect(t.q('[data-testid="nudge"]')).toHaveLength(1); // the provider key is another page's
    expect(t.setBadge).toHaveBeenLastCalledWith("developer", 1);
    t.q('[data-testid="nudge-deactivate"]')[0].click();
    await flush();
    expect(t.calls.find((c) => c.cmd === "update_credential")?.args).toEqual({ id: "k1", change: { active: false } });
    expect(t.onChange).toHaveBeenCalled();
    expect(t.q('[data-testid="nudge"]')).toHaveLength(0);
    expect(t.q(".empty-title")[0]?.textContent).toBe("Nothing needs attention.");
    expect(t.section.el.classList.contains("calm")).toBe(true);
    expect(t.setBadge).toHaveBeenLastCalledWith("developer", 0);
  });

  it("extends an expiring key by 90 days from its end date", async () => {
    const t = setup([nudge({ kind: "expires_soon", valid_to: "2030-01-10T00:00:00Z", detail: "Expires in 3 days" })]);
    await flush();
    t.q('[data-testid="nudge-extend"]')[0].click();
    await flush();
    expect(t.calls.find((c) => c.cmd === "update_credential")?.args).toEqual({ id: "k1", change: { valid_to: "2030-04-10T00:00:00.000Z" } });
  });

  it("dismisses for now without changing the key, and remembers it", async () => {
    const t = setup([nudge({})]);
    await flush();
    t.q('[data-testid="nudge-dismiss"]')[0].click();
    await flush();
    expect(t.calls.some((c) => c.cmd === "update_credential")).toBe(false);
    expect(t.q('[data-testid="nudge"]')).toHaveLength(0);
    expect(t.setBadge).toHaveBeenLastCalledWith("developer", 0);
    const again = setup([nudge({})]);
    await flush();
    expect(again.q('[data-testid="nudge"]')).toHaveLength(0);
  });
});

describe("Needs attention: access changes", () => {
  it("says what changed and offers “Got it” first, then Deactivate, but no dismissal", async () => {
    const t = setup([change({})], { area: "provider", areas: ["provider"] });
    await flush();
    const item = t.q('[data-testid="nudge"]')[0];
    expect(item.dataset.kind).toBe("access_changed");
    expect(item.textContent).toContain("Ward round — No longer reaches Reyna Ziemann since your practices changed on 3 Dec 2026.");
    expect(item.getAttribute("aria-label")).toBe(
      "“Ward round”: No longer reaches Reyna Ziemann since your practices changed on 3 Dec 2026. Keep it as it is, or deactivate it?",
    );
    expect(Array.from(item.querySelectorAll("button"), (b) => b.textContent)).toEqual(["Got it", "Deactivate"]);
    expect(item.querySelector('[data-testid="nudge-ack"]')!.className).toContain("primary");
    expect(item.querySelector('[data-testid="nudge-deactivate"]')!.className).toContain("secondary");
    expect(t.setBadge).toHaveBeenLastCalledWith("provider", 1);
  });

  it("“Got it” acknowledges the notice on the server, leaves the key alone and clears the badge", async () => {
    const t = setup([change({}), change({ notice_id: 42, detail: "Can no longer create records since your roles changed on 4 Dec 2026" })], {
      area: "provider",
      areas: ["provider"],
    });
    await flush();
    expect(t.setBadge).toHaveBeenLastCalledWith("provider", 2);
    t.q('[data-testid="nudge-ack"]')[0].click();
    await flush();
    expect(t.calls.filter((c) => c.cmd === "acknowledge_access_change").map((c) => c.args)).toEqual([{ noticeId: 41 }]);
    expect(t.calls.some((c) => c.cmd === "update_credential")).toBe(false);
    expect(t.onChange).not.toHaveBeenCalled();
    expect(t.q('[data-testid="nudge"]').map((n) => n.textContent)).toEqual([expect.stringContaining("Can no longer create records")]);
    expect(t.setBadge).toHaveBeenLastCalledWith("provider", 1);
    expect(localStorage.length).toBe(0); // told to the server, not remembered here
  });

  it("keeps the notice when the server cannot be told, and says so", async () => {
    const t = setup([change({})], { area: "provider", areas: ["provider"], ackFails: true });
    await flush();
    t.q('[data-testid="nudge-ack"]')[0].click();
    await flush();
    expect(t.errors).toEqual(["Could not note that you saw the change to “Ward round”: Acknowledging a change needs the server, which cannot be reached right now."]);
    expect(t.q('[data-testid="nudge"]')).toHaveLength(1);
    expect(t.setBadge).toHaveBeenLastCalledWith("provider", 1);
  });

  it("deactivates the key from its notice", async () => {
    const t = setup([change({})], { area: "provider", areas: ["provider"] });
    await flush();
    t.q('[data-testid="nudge-deactivate"]')[0].click();
    await flush();
    expect(t.calls.find((c) => c.cmd === "update_credential")?.args).toEqual({ id: "p1", change: { active: false } });
    expect(t.onChange).toHaveBeenCalled();
    expect(t.q('[data-testid="nudge"]')).toHaveLength(0);
  });

  it("shows a change to a key of an area the person no longer has on an area they do have", async () => {
    const lost = change({ detail: "Reaches no one any more since your roles changed on 3 Dec 2026: it needs the provider role" });
    const unused = nudge({ credential_id: "p2", credential_kind: "provider" });
    const t = setup([lost, unused], { area: "developer", areas: ["users", "developer", "connected"] });
    await flush();
    expect(t.q('[data-testid="nudge"]').map((n) => n.dataset.credentialId)).toEqual(["p1"]); // the unused provider key waits for its own area
    expect(t.setBadge).toHaveBeenLastCalledWith("developer", 1);
    const other = setup([lost], { area: "connected", areas: ["users", "developer", "connected"] });
    await flush();
    expect(other.q('[data-testid="nudge"]')).toHaveLength(0); // once is enough
    expect(other.setBadge).toHaveBeenLastCalledWith("connected", 0);
  });
});

describe("Keys to review", () => {
  it("lists the practice's keys with owner, key and reason, and asks again for another number of days", async () => {
    const asked: unknown[] = [];
    api.setInvoke(async (cmd, args) => {
      if (cmd !== "practice_nudges") return null;
      asked.push((args as { unusedDays: number }).unusedDays);
      return asked.length === 1 ? [nudge({ owner_name: "Dev Developer", detail: "Never used since it was created 75 days ago" })] : [];
    });
    const ctx = { fail: (e: unknown) => api.toApiError(e) } as unknown as Ctx;
    const el = practiceNudgesSection(ctx);
    document.body.append(el);
    await flush();
    const row = el.querySelector<HTMLElement>('[data-testid="practice-nudge"]')!;
    expect(Array.from(row.querySelectorAll("td"), (td) => td.textContent).slice(0, 2)).toEqual(["Dev Developer", "Nightly export"]);
    expect(row.textContent).toContain("Never used since it was created 75 days ago");
    const select = el.querySelector<HTMLSelectElement>('[data-testid="practice-nudges-days"]')!;
    select.value = "90";
    select.dispatchEvent(new Event("change"));
    await flush();
    expect(asked).toEqual([60, 90]);
    expect(el.querySelector(".empty-title")?.textContent).toBe("No keys to review");
  });

  it("lists access changes with whether the owner has seen them, and offers Revoke only where it may", async () => {
    const calls: string[] = [];
    api.setInvoke(async (cmd) => {
      calls.push(cmd);
      if (cmd === "practice_nudges")
        return [
          change({ owner: "pat", owner_name: "Pat Provider", detail: "No longer reaches 2 of its patients since Pat Provider's practices changed on 3 Dec 2026", acknowledged_at: new Date().toISOString(), revocable: false }),
          change({ credential_id: "d1", credential_kind: "developer", name: "Lab sync", owner_name: "Dev Developer", detail: "Can no longer create, update or delete records since Dev Developer's roles changed on 3 Dec 2026", acknowledged_at: null }),
        ];
      return null;
    });
    const ctx = { fail: (e: unknown) => api.toApiError(e) } as unknown as Ctx;
    const el = practiceNudgesSection(ctx);
    document.body.append(el);
    await flush();
    const rows = Array.from(el.querySelectorAll<HTMLElement>('[data-testid="practice-nudge"]'));
    expect(rows.map((r) => r.dataset.kind)).toEqual(["access_changed", "access_changed"]);
    expect(rows[0].querySelectorAll("td")[3].textContent).toMatch(/^No longer reaches 2 of its patients since Pat Provider's practices changed on 3 Dec 2026 · seen by Pat Provider /);
    expect(rows[1].querySelector('[data-testid="practice-nudge-seen"]')).toBeNull();
    // Its owner left this administrator's practices: listed, but not theirs to revoke.
    expect(rows[0].querySelector('[data-testid="practice-nudge-revoke"]')).toBeNull();
    expect(rows[0].querySelector('[data-testid="practice-nudge-not-ours"]')?.textContent).toBe("Its owner left your practices");
    expect(rows[1].querySelector('[data-testid="practice-nudge-revoke"]')?.getAttribute("aria-label")).toBe("Revoke Lab sync of Dev Developer");
  });
});
