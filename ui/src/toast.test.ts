import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import { confirmDialog, openDialog } from "./dialog";
import { MAX_VISIBLE, OUTCOME_MS, clearToasts, ensureToastRegion, toast } from "./toast";

const texts = () => Array.from(document.querySelectorAll('[data-testid="toast"]'), (e) => e.textContent);
const items = () => Array.from(document.querySelectorAll<HTMLElement>(".toast"));
const itemWith = (text: string) => items().find((e) => e.querySelector('[data-testid="toast"]')?.textContent === text)!;

/** jsdom has no layout: give a toast a box so the pointer can be over it. */
function giveBox(el: HTMLElement, r = { left: 700, top: 600, width: 400, height: 40 }) {
  el.getBoundingClientRect = () =>
    ({ ...r, right: r.left + r.width, bottom: r.top + r.height, x: r.left, y: r.top, toJSON: () => r }) as DOMRect;
}
const movePointer = (x: number, y: number) => document.dispatchEvent(new MouseEvent("mousemove", { clientX: x, clientY: y, bubbles: true }));

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  clearToasts();
  movePointer(-1, -1);
  document.body.innerHTML = "";
  vi.useRealTimers();
});

describe("outcome toasts", () => {
  it("success and info stay at least 6 s, then leave by themselves", () => {
    toast("'Phone health app' was created");
    toast("You are signed out.", "info");
    vi.advanceTimersByTime(6000);
    expect(texts()).toEqual(["'Phone health app' was created", "You are signed out."]);
    vi.advanceTimersByTime(OUTCOME_MS - 6000);
    expect(texts()).toEqual([]);
    expect(OUTCOME_MS).toBeGreaterThanOrEqual(6000);
    expect(OUTCOME_MS).toBeLessThanOrEqual(8000);
  });

  it("sit in a polite status region that exists before the first toast", () => {
    const region = ensureToastRegion();
    const status = region.querySelector('[role="status"]')!;
    expect(status.getAttribute("aria-live")).toBe("polite");
    toast("Roles saved for Ana.");
    expect(itemWith("Roles saved for Ana.").closest('[role="status"]')).toBe(status);
    expect(itemWith("Roles saved for Ana.").closest('[role="alert"]')).toBeNull();
  });

  it("wait while the pointer is over one, and take only the time left once it moves away", () => {
    toast("Roles saved for Ana.");
    giveBox(itemWith("Roles saved for Ana."));
    vi.advanceTimersByTime(3000);
    movePointer(800, 620);
    vi.advanceTimersByTime(60_000);
    expect(texts()).toEqual(["Roles saved for Ana."]);
    movePointer(100, 100);
    vi.advanceTimersByTime(OUTCOME_MS - 3000 - 1);
    expect(texts()).toEqual(["Roles saved for Ana."]);
    vi.advanceTimersByTime(1);
    expect(texts()).toEqual([]);
  });

  it("wait while focus is in one (its dismiss button), and leave after focus moves on", () => {
    const outside = document.body.appendChild(document.createElement("button"));
    outside.focus();
    toast("“Phone app” is enabled again.");
    vi.advanceTimersByTime(2000);
    itemWith("“Phone app” is enabled again.").querySelector<HTMLElement>("button")!.focus();
    vi.advanceTimersByTime(60_000);
    expect(texts()).toEqual(["“Phone app” is enabled again."]);
    outside.focus();
    vi.advanceTimersByTime(OUTCOME_MS - 2000 - 1);
    expect(texts()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(texts()).toEqual([]);
  });
});

describe("error toasts", () => {
  it("stay until dismissed, announced as an alert, with a named dismiss button", () => {
    toast("Could not save the app: Name is taken", "error");
    vi.advanceTimersByTime(10 * 60_000);
    expect(texts()).toEqual(["Could not save the app: Name is taken"]);
    const el = itemWith("Could not save the app: Name is taken");
    expect(el.closest('[role="alert"]')).not.toBeNull();
    const dismiss = el.querySelector<HTMLButtonElement>("button")!;
    expect(dismiss.type).toBe("button");
    expect(dismiss.getAttribute("aria-label")).toBe("Dismiss error");
    dismiss.click();
    expect(texts()).toEqual([]);
  });

  it("Escape on a focused toast dismisses it and focus goes back where it was", () => {
    const outside = document.body.appendChild(document.createElement("button"));
    outside.focus();
    toast("Could not copy: denied", "error");
    const dismiss = itemWith("Could not copy: denied").querySelector<HTMLElement>("button")!;
    dismiss.focus();
    dismiss.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(texts()).toEqual([]);
    expect(document.activeElement).toBe(outside);
  });
});

describe("the stack", () => {
  it(`shows at most ${MAX_VISIBLE}; older outcomes leave first, errors stay`, () => {
    expect(MAX_VISIBLE).toBe(4);
    toast("one");
    toast("Could not copy: denied", "error");
    toast("two", "info");
    toast("three");
    toast("four");
    expect(texts()).toEqual(["Could not copy: denied", "two", "three", "four"]);
    toast("five");
    expect(texts()).toEqual(["Could not copy: denied", "three", "four", "five"]);
  });

  it("when only errors are left, the oldest error gives way to the newest toast", () => {
    for (const n of [1, 2, 3, 4]) toast(`error ${n}`, "error");
    toast("saved");
    expect(texts()).toEqual(["error 2", "error 3", "error 4", "saved"]);
  });

  it("a repeat of the newest toast counts up instead of stacking, and gets its full time again", () => {
    toast("Sent: Delete “App 1”.");
    vi.advanceTimersByTime(5000);
    toast("Sent: Delete “App 1”.");
    toast("Sent: Delete “App 1”.");
    expect(texts()).toEqual(["Sent: Delete “App 1”."]);
    expect(document.querySelector('[data-testid="toast-count"]')!.textContent).toBe("×3");
    vi.advanceTimersByTime(OUTCOME_MS - 1);
    expect(texts()).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(texts()).toEqual([]);
  });

  it("only consecutive repeats of the same kind collapse", () => {
    toast("A");
    toast("B");
    toast("A");
    toast("A", "error");
    expect(texts()).toEqual(["A", "A", "B", "A"]); // errors list first, then outcomes
    expect(Array.from(document.querySelectorAll<HTMLElement>('[data-testid="toast-count"]')).every((c) => c.hidden)).toBe(true);
  });

  it("clearToasts removes every toast, errors too, and the next toast stands alone", () => {
    toast("'Phone health app' was created");
    toast("Could not copy: denied", "error");
    clearToasts();
    expect(texts()).toEqual([]);
    toast("You are signed out.", "info");
    expect(texts()).toEqual(["You are signed out."]);
    vi.advanceTimersByTime(OUTCOME_MS);
    expect(texts()).toEqual([]);
  });
});

describe("while a dialog is open", () => {
  const region = () => document.querySelector<HTMLElement>('[data-testid="toasts"]')!;

  it("the stack moves to the top of the window until the last dialog closes", async () => {
    toast("“Phone app” was created. Copy its secret now.");
    expect(region().classList.contains("over-dialog")).toBe(false);
    const d = openDialog({ title: "Phone app" });
    expect(region().classList.contains("over-dialog")).toBe(true);
    const answer = confirmDialog({ title: "Close?", message: "Sure?", confirmLabel: "Close" });
    document.querySelector<HTMLElement>('[data-testid="confirm-dialog"] [data-testid="cancel"]')!.click();
    await answer;
    expect(region().classList.contains("over-dialog")).toBe(true); // the first dialog is still open
    d.close();
    expect(region().classList.contains("over-dialog")).toBe(false);
  });

  it("a stack first made while a dialog is open starts at the top", () => {
    const d = openDialog({ title: "Servers" });
    toast("Could not switch", "error");
    expect(region().classList.contains("over-dialog")).toBe(true);
    d.close();
    expect(region().classList.contains("over-dialog")).toBe(false);
  });

  it("the stylesheet puts .over-dialog at the top and the usual stack at the bottom", () => {
    const css = readFileSync(`${process.cwd()}/src/styles.css`, "utf8");
    const rule = (sel: string) => css.match(new RegExp(`^${sel.replace(/\./g, "\\.")} \\{([^}]*)\\}`, "m"))?.[1] ?? "";
    expect(rule(".toasts")).toMatch(/bottom: 16px/);
    expect(rule(".toasts.over-dialog")).toMatch(/top: 16px/);
    expect(rule(".toasts.over-dialog")).toMatch(/bottom: auto/);
  });
});
