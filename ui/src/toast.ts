// Toasts for every outcome. Outcomes (success, info) leave by themselves after OUTCOME_MS, paused while the
// pointer is over a toast or focus is in one; errors stay until dismissed. Two live regions that exist before
// any toast is added carry them to screen readers: outcomes in a polite role=status list, errors in a
// role=alert list. At most MAX_VISIBLE at once (older outcomes leave first), a repeat of the newest toast
// counts up instead of stacking, and clearToasts() empties the stack when the signed-in person changes.
// While a modal dialog is open the stack sits at the top of the window, clear of the dialog's footer.
import { h, icon } from "./dom";

export type ToastKind = "success" | "error" | "info";

/** How long an outcome toast stays on screen (a WebDriver test reads it right after the action). */
export const OUTCOME_MS = 7000;
/** At most this many toasts at once. */
export const MAX_VISIBLE = 4;

interface Item {
  el: HTMLElement;
  text: string;
  kind: ToastKind;
  count: number;
  textEl: HTMLElement;
  countEl: HTMLElement;
  /** Outcomes only: time left on screen, counted down only while not paused. */
  remaining: number;
  timer: number | null;
  startedAt: number;
}

let wrap: HTMLElement | null = null;
let outcomes: HTMLElement;
let errors: HTMLElement;
/** Oldest first, both kinds. */
let items: Item[] = [];
let hovered = false;
let focused = false;
let overDialog = false;
let pointer: { x: number; y: number } | null = null;
/** Where focus was before it entered the toasts, to put it back when its toast leaves. */
let returnFocus: HTMLElement | null = null;

const isOutcome = (k: ToastKind) => k !== "error";

/** Creates the (persistent) toast region; call early so its live regions exist before the first toast. */
export function ensureToastRegion(): HTMLElement {
  if (wrap && document.body.contains(wrap)) return wrap;
  for (const it of items) stopTimer(it);
  items = [];
  hovered = focused = false;
  errors = h("div", { class: "toast-list errors", role: "alert", "aria-live": "assertive", "aria-atomic": "false", "aria-relevant": "additions text" });
  outcomes = h("div", { class: "toast-list outcomes", role: "status", "aria-live": "polite", "aria-atomic": "false", "aria-relevant": "additions text" });
  wrap = h("section", { class: `toasts${overDialog ? " over-dialog" : ""}`, "aria-label": "Notifications", "data-testid": "toasts" }, errors, outcomes);
  wrap.addEventListener("focusin", (e) => {
    const from = e.relatedTarget;
    if (from instanceof HTMLElement && !wrap?.contains(from)) returnFocus = from;
    focused = true;
    syncPause();
  });
  wrap.addEventListener("focusout", (e) => {
    const to = e.relatedTarget;
    focused = to instanceof Node && !!wrap?.contains(to);
    syncPause();
  });
  wrap.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const it = items.find((i) => i.el.contains(e.target as Node));
    if (it) {
      e.preventDefault();
      e.stopPropagation();
      remove(it);
    }
  });
  document.body.appendChild(wrap);
  return wrap;
}

// The toasts let clicks through to what is under them (only the dismiss button catches them), so hover is
// found from the pointer's position rather than from mouseenter/mouseleave.
function onPointerMove(e: PointerEvent | MouseEvent): void {
  pointer = { x: e.clientX, y: e.clientY };
  updateHover();
}
function onPointerOut(e: MouseEvent): void {
  if (e.relatedTarget === null) {
    pointer = null; // left the window
    updateHover();
  }
}
if (typeof document !== "undefined") {
  document.addEventListener("pointermove", onPointerMove, { capture: true, passive: true });
  document.addEventListener("mousemove", onPointerMove, { capture: true, passive: true });
  document.addEventListener("mouseout", onPointerOut, { capture: true, passive: true });
}

function updateHover(): void {
  const p = pointer;
  const now =
    !!p &&
    items.some((it) => {
      const r = it.el.getBoundingClientRect();
      return p.x >= r.left && p.x <= r.right && p.y >= r.top && p.y <= r.bottom && r.width > 0 && r.height > 0;
    });
  if (now !== hovered) {
    hovered = now;
    syncPause();
  }
}

function paused(): boolean {
  return hovered || focused;
}

function startTimer(it: Item): void {
  if (!isOutcome(it.kind) || it.timer !== null || paused()) return;
  it.startedAt = Date.now();
  it.timer = window.setTimeout(() => {
    it.timer = null;
    remove(it);
  }, it.remaining);
}

function stopTimer(it: Item): void {
  if (it.timer === null) return;
  window.clearTimeout(it.timer);
  it.timer = null;
  it.remaining = Math.max(0, it.remaining - (Date.now() - it.startedAt));
}

function syncPause(): void {
  for (const it of items) {
    if (paused()) stopTimer(it);
    else startTimer(it);
  }
  wrap?.classList.toggle("paused", paused());
}

function remove(it: Item): void {
  const i = items.indexOf(it);
  if (i < 0) return;
  stopTimer(it);
  items.splice(i, 1);
  const hadFocus = it.el.contains(document.activeElement);
  it.el.remove();
  if (hadFocus) {
    // Keep the keyboard user in place: the next toast's dismiss button, else where they came from.
    const next = items[Math.min(i, items.length - 1)]?.el.querySelector<HTMLElement>("button");
    const back = returnFocus && document.body.contains(returnFocus) ? returnFocus : document.getElementById("main");
    focused = !!next;
    (next ?? back)?.focus();
  }
  updateHover();
  syncPause();
}

export function toast(message: string, kind: ToastKind = "success"): void {
  ensureToastRegion();
  const last = items[items.length - 1];
  if (last && last.text === message && last.kind === kind) {
    // The same news again: count it on the toast already shown, and give it its full time again.
    last.count += 1;
    last.countEl.textContent = `×${last.count}`;
    last.countEl.hidden = false;
    last.textEl.textContent = message; // a new text node, so a screen reader hears it again
    stopTimer(last);
    last.remaining = OUTCOME_MS;
    startTimer(last);
    return;
  }
  const textEl = h("span", { "data-testid": "toast", class: "toast-text" }, message);
  const countEl = h("span", { class: "toast-count", "data-testid": "toast-count", "aria-hidden": "true", hidden: true });
  const el = h("div", { class: `toast ${kind}`, "data-kind": kind }, textEl, countEl);
  const it: Item = { el, text: message, kind, count: 1, textEl, countEl, remaining: OUTCOME_MS, timer: null, startedAt: 0 };
  el.append(
    h(
      "button",
      { type: "button", class: "icon-button", "aria-label": kind === "error" ? "Dismiss error" : "Dismiss notification", "data-testid": "toast-dismiss", onclick: () => remove(it) },
      icon("close"),
    ),
  );
  items.push(it);
  (isOutcome(kind) ? outcomes : errors).appendChild(el);
  // A short stack: older outcomes give way first, then the oldest error.
  while (items.length > MAX_VISIBLE) {
    const older = items.slice(0, -1);
    remove(older.find((x) => isOutcome(x.kind)) ?? older[0]);
  }
  startTimer(it);
}

/** Removes every toast at once: on sign-out, a switch of server, a session that ended. */
export function clearToasts(): void {
  for (const it of [...items]) remove(it);
}

/** dialog.ts calls this as the first modal opens and the last closes: the stack moves to the top meanwhile. */
export function setDialogOpen(open: boolean): void {
  overDialog = open;
  wrap?.classList.toggle("over-dialog", open);
}
