import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ConnectionBar,
  SyncLoop,
  bannerText,
  syncedText,
  clockTime,
  decideSync,
  needsServer,
  outcomeText,
  renderOutbox,
  waitingFor,
  waitingForApproval,
  waitingTag,
} from "./connection";
import { h } from "./dom";
import type { ConnectionStatus, OutboxEntry } from "./types";

const UTC = { locale: "en-GB", timeZone: "UTC" };
const NOW = Date.parse("2024-03-12T11:00:00Z");

function entry(id: number, p: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    id,
    action: { kind: "delete_credential", id: `cred-${id}` },
    description: `Delete “App ${id}”`,
    target: `cred-${id}`,
    state: "pending",
    reason: null,
    queued_at: "2024-03-12T10:40:00Z",
    finished_at: null,
    attempts: 0,
    ...p,
  };
}

function status(p: Partial<ConnectionStatus> = {}): ConnectionStatus {
  return { mode: "remote", online: true, offline_since: null, last_synced: "2024-03-12T10:41:00Z", waiting: [], outcomes: [], changes: [], ...p };
}

describe("clockTime", () => {
  it("shows only the time today and the date on another day", () => {
    expect(clockTime("2024-03-12T10:42:00Z", NOW, UTC)).toBe("10:42");
    expect(clockTime("2024-03-11T23:05:00Z", NOW, UTC)).toBe("11 Mar 23:05");
  });
});

describe("bannerText", () => {
  it("says since when, what is shown and that changes are queued", () => {
    expect(bannerText(status({ online: false, offline_since: "2024-03-12T10:42:00Z" }), NOW, UTC)).toBe(
      "Offline since 10:42 — showing what you last saw (last synced 10:41). Changes that can wait are queued.",
    );
  });
  it("copes with unknown times", () => {
    expect(bannerText(status({ online: false, last_synced: null }), NOW, UTC)).toBe(
      "Offline — showing what you last saw (not synced yet). Changes that can wait are queued.",
    );
  });
  it("is null online, in embedded mode and without a status", () => {
    expect(bannerText(status({ online: true }), NOW, UTC)).toBeNull();
    expect(bannerText(status({ mode: "embedded", online: false }), NOW, UTC)).toBeNull();
    expect(bannerText(null)).toBeNull();
  });
});

describe("syncedText", () => {
  it("says when the lists last came from the server, online in remote mode only", () => {
    expect(syncedText(status({ online: true }), NOW, UTC)).toBe("synced 10:41");
    expect(syncedText(status({ online: false }), NOW, UTC)).toBeNull();
    expect(syncedText(status({ mode: "embedded", online: true }), NOW, UTC)).toBeNull();
    expect(syncedText(status({ online: true, last_synced: null }), NOW, UTC)).toBeNull();
    expect(syncedText(null)).toBeNull();
  });
});

describe("outcomeText", () => {
  it.each([
    [entry(1, { state: "done" }), "Done"],
    [entry(1, { state: "already_done" }), "Already done on the server"],
    [entry(1, { state: "refused", reason: "You no longer manage this app." }), "Refused: You no longer manage this app."],
    [entry(1, { state: "refused", reason: null }), "Refused: the server gave no reason"],
    [entry(1, { state: "sending" }), "Sending…"],
    [entry(1, { state: "pending" }), "Waiting to send"],
  ])("%#", (e, text) => expect(outcomeText(e)).toBe(text));
});

describe("waiting to send tags", () => {
  const conn = { online: false, status: status({ online: false, waiting: [entry(1), entry(2, { target: "grant-9", state: "sending" }), entry(3, { action: { kind: "decide_approval", app_id: "app-5", practice_id: 2 }, target: "app-5" })] }) };

  it("matches the outbox target against the card's id", () => {
    expect(waitingFor(conn, ["cred-1"])?.id).toBe(1);
    expect(waitingFor(conn, ["grant-9"])?.id).toBe(2);
    expect(waitingFor(conn, ["cred-7"])).toBeNull();
    expect(waitingFor({ online: true, status: null }, ["cred-1"])).toBeNull();
  });

  it("matches an approval decision by app and practice, not by app alone", () => {
    expect(waitingForApproval(conn, "app-5", 2)?.id).toBe(3);
    expect(waitingForApproval(conn, "app-5", 1)).toBeNull();
  });

  it("renders a tag only while something waits", () => {
    expect(waitingTag(null)).toBeNull();
    expect(waitingTag(waitingFor(conn, ["cred-1"]))?.textContent).toBe("Waiting to send");
    expect(waitingTag(waitingFor(conn, ["grant-9"]))?.textContent).toBe("Sending…");
  });
});

describe("needsServer", () => {
  it("disables the button offline with the reason in its title and in visible text", () => {
    const b = needsServer({ online: false, status: null }, h("button", null, "New credential"), "Needs the server: a new secret is shown only once.");
    expect(b.disabled).toBe(true);
    expect(b.title).toBe("Needs the server: a new secret is shown only once.");
    expect(b.textContent).toBe("New credentialneeds the server");
  });
  it("leaves it alone online", () => {
    const b = needsServer({ online: true, status: null }, h("button", null, "New credential"), "x");
    expect([b.disabled, b.title, b.textContent]).toEqual([false, "", "New credential"]);
  });
});

describe("renderOutbox", () => {
  const noop = { cancel: () => undefined, dismiss: () => undefined };

  it("is absent when nothing waits or finished", () => {
    expect(renderOutbox(status(), noop)).toBeNull();
    expect(renderOutbox(null, noop)).toBeNull();
  });

  it("lists what waits, in order, each with Cancel (not while sending)", () => {
    const cancel = vi.fn();
    const el = renderOutbox(status({ online: false, waiting: [entry(1), entry(2, { state: "sending", attempts: 2 })] }), { ...noop, cancel }, NOW, UTC)!;
    expect(el.querySelector("h2")?.textContent).toBe("Waiting to send (2)");
    const rows = el.querySelectorAll<HTMLElement>('[data-testid="outbox-waiting"]');
    expect(Array.from(rows).map((r) => r.querySelector(".outbox-desc")?.textContent)).toEqual(["Delete “App 1”", "Delete “App 2”"]);
    expect(rows[1].textContent).toContain("2 tries");
    const buttons = el.querySelectorAll<HTMLButtonElement>('[data-testid="outbox-cancel"]');
    expect([buttons[0].disabled, buttons[1].disabled]).toEqual([false, true]);
    expect(buttons[0].getAttribute("aria-label")).toBe("Cancel Delete “App 1”");
    buttons[0].click();
    expect(cancel).toHaveBeenCalledWith(1);
  });

  it("shows each outcome's state and the refusal reason, with Dismiss", () => {
    const dismiss = vi.fn();
    const el = renderOutbox(
      status({ outcomes: [entry(5, { state: "refused", reason: "Already revoked by an administrator." }), entry(4, { state: "already_done" }), entry(3, { state: "done" })] }),
      { ...noop, dismiss },
      NOW,
      UTC,
    )!;
    expect(el.querySelector('[data-testid="outbox-waiting"]')).toBeNull();
    const states = Array.from(el.querySelectorAll<HTMLElement>('[data-testid="outbox-outcome"]')).map((r) => [r.dataset.state, r.querySelector(".badge")?.textContent]);
    expect(states).toEqual([
      ["refused", "Refused: Already revoked by an administrator."],
      ["already_done", "Already done on the server"],
      ["done", "Done"],
    ]);
    el.querySelector<HTMLButtonElement>('[data-testid="outbox-dismiss"]')!.click();
    expect(dismiss).toHaveBeenCalledOnce();
  });
});

describe("ConnectionBar", () => {
  it("hides the banner online and shows it offline, keeping one live region", () => {
    const bar = new ConnectionBar({ retry: () => undefined, cancel: () => undefined, dismiss: () => undefined });
    bar.update(status());
    const banner = bar.el.querySelector<HTMLElement>('[data-testid="offline-banner"]')!;
    expect(banner.hidden).toBe(true);
    expect(banner.getAttribute("role")).toBe("status");
    bar.update(status({ online: false, waiting: [entry(1)] }));
    expect(bar.el.querySelector('[data-testid="offline-banner"]')).toBe(banner);
    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toContain("Changes that can wait are queued.");
    expect(bar.el.querySelectorAll('[data-testid="outbox-waiting"]').length).toBe(1);
  });
});

describe("decideSync", () => {
  it("re-renders and says Back online with what was sent when the server comes back", () => {
    const prev = status({ online: false, offline_since: "2024-03-12T10:42:00Z", waiting: [entry(1), entry(2)] });
    const next = status({ online: true, outcomes: [entry(2, { state: "already_done" }), entry(1, { state: "done" })] });
    const d = decideSync(prev, next);
    expect(d.rerender).toBe(true);
    expect(d.toasts).toEqual([{ text: "Back online. Sent: Delete “App 2”; Delete “App 1”.", kind: "success" }]);
  });

  it("announces a refusal as an error", () => {
    const d = decideSync(status({ online: false, waiting: [entry(1)] }), status({ outcomes: [entry(1, { state: "refused", reason: "Not yours." })] }));
    expect(d.toasts).toContainEqual({ text: "Not done: Delete “App 1” — Refused: Not yours.", kind: "error" });
  });

  it("toasts each change from the server and re-renders", () => {
    const d = decideSync(status(), status({ changes: ["“Phone app” was removed on the server"] }));
    expect(d.rerender).toBe(true);
    expect(d.toasts).toEqual([{ text: "“Phone app” was removed on the server", kind: "info" }]);
  });

  it("re-renders when something is queued or cancelled, or the connection drops", () => {
    expect(decideSync(status({ online: false }), status({ online: false, waiting: [entry(1)] })).rerender).toBe(true);
    expect(decideSync(status({ online: false, waiting: [entry(1)] }), status({ online: false })).rerender).toBe(true);
    expect(decideSync(status({ online: false, waiting: [entry(1)] }), status({ online: false, waiting: [entry(1, { state: "sending" })] })).rerender).toBe(true);
    const drop = decideSync(status(), status({ online: false }));
    expect([drop.rerender, drop.toasts]).toEqual([true, []]);
  });

  it("does nothing when nothing changed, but redraws the banner when only the sync time moved", () => {
    const same = decideSync(status({ waiting: [] }), status({ waiting: [] }));
    expect(same).toEqual({ rerender: false, redrawBar: false, toasts: [] });
    const later = decideSync(status(), status({ last_synced: "2024-03-12T10:59:00Z" }));
    expect([later.rerender, later.redrawBar]).toEqual([false, true]);
  });

  it("the first status only toasts its changes", () => {
    const d = decideSync(null, status({ online: false, outcomes: [entry(1, { state: "done" })] }));
    expect(d).toEqual({ rerender: false, redrawBar: true, toasts: [] });
  });
});

describe("SyncLoop", () => {
  afterEach(() => vi.useRealTimers());

  function setup(visibility: DocumentVisibilityState = "visible") {
    vi.useFakeTimers();
    const target = new EventTarget();
    const win = {
      addEventListener: target.addEventListener.bind(target),
      removeEventListener: target.removeEventListener.bind(target),
      setInterval: (fn: () => void, ms: number) => setInterval(fn, ms) as unknown as number,
      clearInterval: (id: number) => clearInterval(id),
    } as unknown as Window;
    const doc = { visibilityState: visibility } as { visibilityState: DocumentVisibilityState };
    const results: ConnectionStatus[] = [];
    const syncNow = vi.fn(async () => results.shift() ?? status());
    const applied: Array<[ConnectionStatus, ReturnType<typeof decideSync>]> = [];
    const loop = new SyncLoop({ syncNow, apply: (n, d) => applied.push([n, d]), win, doc, intervalMs: 60000 });
    return { loop, target, doc, syncNow, applied, results };
  }

  it("syncs on focus and every minute while visible, and stops on stop()", async () => {
    const { loop, target, syncNow } = setup();
    loop.start(status());
    target.dispatchEvent(new Event("focus"));
    await vi.advanceTimersByTimeAsync(0);
    expect(syncNow).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60000);
    expect(syncNow).toHaveBeenCalledTimes(2);
    loop.stop();
    target.dispatchEvent(new Event("focus"));
    await vi.advanceTimersByTimeAsync(120000);
    expect(syncNow).toHaveBeenCalledTimes(2);
  });

  it("does not poll while the window is hidden", async () => {
    const { loop, syncNow } = setup("hidden");
    loop.start(status());
    await vi.advanceTimersByTimeAsync(180000);
    expect(syncNow).not.toHaveBeenCalled();
  });

  it("coalesces kicks during a sync into one more sync, and feeds each result through decideSync", async () => {
    const { loop, syncNow, applied, results } = setup();
    results.push(status({ online: false }), status({ online: true }));
    loop.start(status());
    const a = loop.kick();
    void loop.kick();
    void loop.kick();
    await a;
    await vi.advanceTimersByTimeAsync(0);
    expect(syncNow).toHaveBeenCalledTimes(2);
    expect(applied.map(([n, d]) => [n.online, d.rerender])).toEqual([
      [false, true],
      [true, true],
    ]);
    expect(applied[1][1].toasts[0].text).toBe("Back online.");
  });

  it("keeps the last status when the shell itself fails", async () => {
    const { loop, syncNow, applied } = setup();
    syncNow.mockRejectedValueOnce(new Error("gone"));
    loop.start(status({ online: false }));
    await loop.kick();
    expect(applied).toEqual([]);
    expect(loop.status?.online).toBe(false);
  });
});
