// Remote mode: the offline banner, the outbox panel, "Waiting to send" tags, buttons that need the server,
// and the sync loop. The words and decisions are pure functions (tested); the shell (app.ts) wires them up.
// The UI never says an action took effect before the server confirmed it: a queued action shows as
// "Waiting to send" on its card until an outcome comes back.
import { h, mount } from "./dom";
import type { TimeOptions } from "./format";
import type { ConnectionStatus, OutboxEntry } from "./types";
import type { ToastKind } from "./toast";

/** What views read: whether the server answers right now, and the last status (null in embedded mode). */
export interface ConnectionView {
  online: boolean;
  status: ConnectionStatus | null;
}

export const ALWAYS_ONLINE: ConnectionView = { online: true, status: null };

// ---- words ----

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function fmt(opts: Intl.DateTimeFormatOptions, o: TimeOptions): Intl.DateTimeFormat {
  const key = JSON.stringify([opts, o.locale, o.timeZone]);
  let f = fmtCache.get(key);
  if (!f) fmtCache.set(key, (f = new Intl.DateTimeFormat(o.locale, { ...opts, timeZone: o.timeZone })));
  return f;
}

/** "10:42" today, "3 Mar 10:42" on another day (local time). */
export function clockTime(iso: string, now: number = Date.now(), o: TimeOptions = {}): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  const day = fmt({ year: "numeric", month: "2-digit", day: "2-digit" }, o);
  const time = fmt({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" }, o).format(d);
  if (day.format(d) === day.format(new Date(now))) return time;
  return `${fmt({ day: "numeric", month: "short" }, o).format(d)} ${time}`;
}

/** The banner's sentence, or null when there is nothing to say (online, or the embedded service). */
export function bannerText(s: ConnectionStatus | null, now: number = Date.now(), o: TimeOptions = {}): string | null {
  if (!s || s.mode !== "remote" || s.online) return null;
  const since = s.offline_since ? `Offline since ${clockTime(s.offline_since, now, o)}` : "Offline";
  const synced = s.last_synced ? `last synced ${clockTime(s.last_synced, now, o)}` : "not synced yet";
  return `${since} — showing what you last saw (${synced}). Changes that can wait are queued.`;
}

/** The header's quiet line while online in remote mode: when the lists last came from the server. */
export function syncedText(s: ConnectionStatus | null, now: number = Date.now(), o: TimeOptions = {}): string | null {
  if (!s || s.mode !== "remote" || !s.online || !s.last_synced) return null;
  return `synced ${clockTime(s.last_synced, now, o)}`;
}

/** How a finished (or waiting) outbox entry ended, in words. */
export function outcomeText(e: OutboxEntry): string {
  switch (e.state) {
    case "done":
      return "Done";
    case "already_done":
      return "Already done on the server";
    case "refused":
      return `Refused: ${e.reason?.trim() || "the server gave no reason"}`;
    case "sending":
      return "Sending…";
    default:
      return "Waiting to send";
  }
}

export function outcomeTone(e: OutboxEntry): "ok" | "danger" | "warn" {
  return e.state === "refused" ? "danger" : e.state === "done" || e.state === "already_done" ? "ok" : "warn";
}

// ---- "Waiting to send" on cards ----

/** The waiting outbox entry about one of these ids (a credential, grant or app id), if any. */
export function waitingFor(conn: ConnectionView | null | undefined, ids: string[], matchAction?: (a: OutboxEntry["action"]) => boolean): OutboxEntry | null {
  const waiting = conn?.status?.waiting ?? [];
  return waiting.find((e) => ids.includes(e.target) || (matchAction ? matchAction(e.action) : false)) ?? null;
}

/** For an approval decision: the target may be "app:practice" or the action may carry both ids. */
export function waitingForApproval(conn: ConnectionView | null | undefined, appId: string, practiceId: number): OutboxEntry | null {
  return waitingFor(conn, [`${appId}:${practiceId}`, `${appId}/${practiceId}`], (a) => a.kind === "decide_approval" && String(a.app_id) === appId && Number(a.practice_id) === practiceId);
}

/** The badge a card shows while an action about it waits in the outbox (null otherwise). */
export function waitingTag(entry: OutboxEntry | null): HTMLElement | null {
  if (!entry) return null;
  return h(
    "span",
    { class: "badge waiting", "data-testid": "waiting-tag", title: `${entry.description}: ${entry.state === "sending" ? "sending now" : "will be sent when the server is back"}` },
    entry.state === "sending" ? "Sending…" : "Waiting to send",
  );
}

// ---- buttons that need the server ----

export const NEEDS_SERVER = {
  newSecret: "Needs the server: a new secret is shown only once.",
  regenerate: "Needs the server: the new secret is shown only once.",
  registerApp: "Needs the server: the app's secret is shown only once.",
  rotate: "Needs the server: the new secret is shown only once.",
  requestApproval: "Needs the server: the practice is asked right away.",
  editApp: "Needs the server: changes to an app can't wait.",
  endDate: "Needs the server: the end date changes at once.",
  access: "Needs the server: access changes take effect at once.",
  export: "Needs the server: the export is made from the whole history, which only the server has.",
} as const;

/**
 * Offline, disables a button whose action needs the server and says why: the reason in its title and a
 * short visible note inside it (a disabled button can't be focused, so a title alone would be hidden).
 */
export function needsServer<T extends HTMLButtonElement>(conn: ConnectionView | null | undefined, button: T, reason: string): T {
  if (!conn || conn.online) return button;
  button.disabled = true;
  button.title = reason;
  button.dataset.needsServer = "true";
  button.append(h("span", { class: "needs-server-note", "data-testid": "needs-server" }, "needs the server"));
  button.setAttribute("aria-description", reason);
  return button;
}

// ---- when to re-render ----

export interface SyncDecision {
  /** Re-render the current area so lists (and tags) refresh. */
  rerender: boolean;
  /** The banner / outbox panel need updating. */
  redrawBar: boolean;
  toasts: Array<{ text: string; kind: ToastKind }>;
}

const sameEntries = (a: OutboxEntry[], b: OutboxEntry[]) => a.length === b.length && a.every((x, i) => x.id === b[i].id && x.state === b[i].state);
const quoteList = (es: OutboxEntry[]) => es.map((e) => e.description).join("; ");

/** Compares the previous status with the one just received: what to redraw and what to announce. */
export function decideSync(prev: ConnectionStatus | null, next: ConnectionStatus): SyncDecision {
  const toasts: SyncDecision["toasts"] = next.changes.map((text) => ({ text, kind: "info" as const }));
  if (!prev) return { rerender: next.changes.length > 0, redrawBar: true, toasts };
  const flipped = prev.online !== next.online;
  const waitingChanged = !sameEntries(prev.waiting, next.waiting);
  const outcomesChanged = !sameEntries(prev.outcomes, next.outcomes);
  const fresh = next.outcomes.filter((o) => !prev.outcomes.some((p) => p.id === o.id));
  const sent = fresh.filter((o) => o.state === "done" || o.state === "already_done");
  const refused = fresh.filter((o) => o.state === "refused");
  if (flipped && next.online) {
    toasts.push({ text: sent.length ? `Back online. Sent: ${quoteList(sent)}.` : "Back online.", kind: "success" });
  } else if (sent.length) {
    toasts.push({ text: `Sent: ${quoteList(sent)}.`, kind: "success" });
  }
  for (const r of refused) toasts.push({ text: `Not done: ${r.description} — ${outcomeText(r)}`, kind: "error" });
  const rerender = flipped || waitingChanged || outcomesChanged || next.changes.length > 0;
  const redrawBar = rerender || prev.offline_since !== next.offline_since || prev.last_synced !== next.last_synced;
  return { rerender, redrawBar, toasts };
}

// ---- the banner and the outbox panel ----

export interface BarHandlers {
  retry: () => void;
  cancel: (id: number) => void;
  dismiss: () => void;
}

/** The outbox panel: what waits (each with Cancel) and what finished (with Dismiss); null when empty. */
export function renderOutbox(s: ConnectionStatus | null, on: Pick<BarHandlers, "cancel" | "dismiss">, now: number = Date.now(), o: TimeOptions = {}): HTMLElement | null {
  if (!s || (!s.waiting.length && !s.outcomes.length)) return null;
  const waiting = s.waiting.length
    ? h(
        "div",
        { class: "outbox-group" },
        h("h2", { id: "outbox-waiting-title" }, `Waiting to send (${s.waiting.length})`),
        h(
          "ul",
          { class: "outbox-list", "aria-labelledby": "outbox-waiting-title" },
          ...s.waiting.map((e) =>
            h(
              "li",
              { class: `outbox-entry ${e.state}`, "data-testid": "outbox-waiting", "data-id": String(e.id), "data-target": e.target },
              h("span", { class: "outbox-desc" }, e.description),
              h("span", { class: `badge ${outcomeTone(e)}` }, outcomeText(e)),
              h("span", { class: "muted small" }, `queued ${clockTime(e.queued_at, now, o)}${e.attempts > 0 ? ` · ${e.attempts} ${e.attempts === 1 ? "try" : "tries"}` : ""}`),
              h(
                "button",
                {
                  type: "button",
                  class: "secondary small",
                  "data-testid": "outbox-cancel",
                  "aria-label": `Cancel ${e.description}`,
                  disabled: e.state === "sending",
                  title: e.state === "sending" ? "Being sent now: it can no longer be cancelled." : undefined,
                  onclick: () => on.cancel(e.id),
                },
                "Cancel",
              ),
            ),
          ),
        ),
      )
    : null;
  const finished = s.outcomes.length
    ? h(
        "div",
        { class: "outbox-group" },
        h(
          "div",
          { class: "outbox-head" },
          h("h2", { id: "outbox-done-title" }, "Sent while you were away"),
          h("button", { type: "button", class: "secondary small", "data-testid": "outbox-dismiss", onclick: () => on.dismiss() }, "Dismiss"),
        ),
        h(
          "ul",
          { class: "outbox-list", "aria-labelledby": "outbox-done-title" },
          ...s.outcomes.map((e) =>
            h(
              "li",
              { class: `outbox-entry ${e.state}`, "data-testid": "outbox-outcome", "data-state": e.state },
              h("span", { class: "outbox-desc" }, e.description),
              h("span", { class: `badge ${outcomeTone(e)}` }, outcomeText(e)),
              e.finished_at ? h("span", { class: "muted small" }, clockTime(e.finished_at, now, o)) : null,
            ),
          ),
        ),
      )
    : null;
  return h("section", { class: "outbox", "aria-label": "Outbox", "data-testid": "outbox" }, waiting, finished);
}

/** The strip under the header: the offline banner (a live region kept in place) and the outbox panel. */
export class ConnectionBar {
  readonly el: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly text: HTMLElement;
  private readonly retryButton: HTMLButtonElement;
  private readonly outbox: HTMLElement;

  constructor(private readonly on: BarHandlers) {
    this.text = h("span", { class: "offline-text", "data-testid": "offline-text" });
    this.retryButton = h("button", { type: "button", class: "secondary small", "data-testid": "sync-now", onclick: () => this.on.retry() }, "Try again");
    this.banner = h(
      "div",
      { class: "offline-banner", role: "status", "aria-live": "polite", "data-testid": "offline-banner", hidden: true },
      h("span", { class: "offline-dot", "aria-hidden": "true" }),
      this.text,
      this.retryButton,
    );
    this.outbox = h("div", { class: "outbox-slot" });
    this.el = h("div", { class: "connection-bar" }, this.banner, this.outbox);
  }

  update(s: ConnectionStatus | null, now: number = Date.now()): void {
    const text = bannerText(s, now);
    this.banner.hidden = text === null;
    if ((this.text.textContent ?? "") !== (text ?? "")) this.text.textContent = text ?? "";
    const panel = renderOutbox(s, this.on, now);
    if (panel) mount(this.outbox, panel);
    else mount(this.outbox);
  }

  setBusy(busy: boolean): void {
    this.retryButton.disabled = busy;
    this.retryButton.textContent = busy ? "Trying…" : "Try again";
  }
}

// ---- the sync loop ----

export interface SyncLoopDeps {
  syncNow: () => Promise<ConnectionStatus>;
  /** Called with every status received and what to do about it. */
  apply: (next: ConnectionStatus, decision: SyncDecision) => void;
  setBusy?: (busy: boolean) => void;
  intervalMs?: number;
  win?: Pick<Window, "addEventListener" | "removeEventListener" | "setInterval" | "clearInterval">;
  doc?: Pick<Document, "visibilityState">;
}

/**
 * sync_now on window focus, every minute while the window is visible, and on demand (after an
 * "unavailable"/"queued" error or "Try again"). Calls never overlap: a request during a sync runs once after it.
 */
export class SyncLoop {
  private prev: ConnectionStatus | null = null;
  private timer: number | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private readonly onFocus = () => void this.kick();

  constructor(private readonly deps: SyncLoopDeps) {}

  get status(): ConnectionStatus | null {
    return this.prev;
  }

  start(initial: ConnectionStatus | null): void {
    this.prev = initial;
    this.stopped = false;
    const win = this.deps.win ?? window;
    const doc = this.deps.doc ?? document;
    win.addEventListener("focus", this.onFocus);
    this.timer = win.setInterval(() => {
      if (doc.visibilityState === "visible") void this.kick();
    }, this.deps.intervalMs ?? 60000);
  }

  stop(): void {
    this.stopped = true;
    const win = this.deps.win ?? window;
    win.removeEventListener("focus", this.onFocus);
    if (this.timer !== null) win.clearInterval(this.timer);
    this.timer = null;
  }

  get active(): boolean {
    return !this.stopped;
  }

  /** Takes a status obtained elsewhere (connection_status after Cancel or Dismiss) through the same path. */
  accept(next: ConnectionStatus): void {
    if (this.stopped) return;
    const decision = decideSync(this.prev, next);
    this.prev = next;
    this.deps.apply(next, decision);
  }

  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      this.deps.setBusy?.(true);
      try {
        do {
          this.again = false;
          try {
            const next = await this.deps.syncNow();
            this.accept(next);
          } catch {
            // the shell could not even answer: keep showing the last status; the next tick tries again
          }
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
        this.deps.setBusy?.(false);
      }
    })();
    return this.running;
  }
}
