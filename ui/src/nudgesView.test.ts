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

function setup(list: Nudge[]) {
  const calls: { cmd: string; args?: Record<string, unknown> }[] = [];
  let current = list;
  api.setInvoke(async (cmd, args) => {
    calls.push({ cmd, args });
    if (cmd === "nudges") return current;
    if (cmd === "update_credential") {
      current = current.filter((n) => n.credential_id !== (args as { id: string }).id);
      return {};
    }
    return null;
  });
  const setBadge = vi.fn();
  const onChange = vi.fn();
  const ctx = { setBadge, fail: (e: unknown) => api.toApiError(e), connection: { online: true, status: null } } as unknown as Ctx;
  const section = nudgesSection({ ctx, area: "developer", kinds: ["developer"], onChange });
  document.body.append(section.el);
  const q = (sel: string) => Array.from(section.el.querySelectorAll<HTMLElement>(sel));
  return { calls, setBadge, onChange, q, section };
}

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
});
