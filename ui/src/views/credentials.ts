// Credential cards and lists shared by the patient, developer and provider areas.
import * as api from "../api";
import type { Ctx } from "../app";
import { NEEDS_SERVER, needsServer, waitingFor, waitingTag } from "../connection";
import { confirmDialog } from "../dialog";
import { emptyBlock, errorBlock, h, icon, loadingBlock, mount, remount } from "../dom";
import { formatDateTime, formatRelative } from "../format";
import { APP_LABELS, showOnce, type ShowOnceLabels } from "../showOnce";
import { toast } from "../toast";
import type { Credential } from "../types";

export function validityWord(c: Credential, now = Date.now()): string | null {
  if (c.usable) return null;
  if (c.valid_to && Date.parse(c.valid_to) <= now) return "expired";
  if (c.valid_from && Date.parse(c.valid_from) > now) return "not yet valid";
  return null; // inactive: the status badge says it
}

export function statusBadges(c: Credential): HTMLElement {
  const word = validityWord(c);
  return h(
    "span",
    { class: "badges" },
    h("span", { class: `badge ${c.status === "active" ? "ok" : "off"}`, "data-testid": "status" }, c.status === "active" ? "Active" : "Inactive"),
    word ? h("span", { class: "badge warn" }, word) : null,
  );
}

/** Puts the "Waiting to send" tag first among a card's badges. */
export function withWaiting(badges: HTMLElement, tag: HTMLElement | null): HTMLElement {
  if (tag) badges.prepend(tag);
  return badges;
}

function fact(label: string, value: Node | string | null): HTMLElement | null {
  if (value === null) return null;
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, value));
}

export interface CardOptions {
  ctx: Ctx;
  labels?: ShowOnceLabels;
  refresh: () => void;
  /** Extra facts and controls (provider: patients, window, active toggle). */
  extras?: (c: Credential) => Array<HTMLElement | null>;
  /** Show the owner (administrator lists). */
  showOwner?: boolean;
  keyWords?: boolean; // "Access key id" wording for provider/developer keys
}

export function credentialCard(c: Credential, o: CardOptions): HTMLElement {
  const lastUsed = c.last_used_at
    ? h("span", { title: formatDateTime(c.last_used_at) }, `${formatRelative(c.last_used_at)} (${formatDateTime(c.last_used_at)})`)
    : h("span", { class: "muted" }, "never used");
  const card = h(
    "article",
    { class: "card credential", "data-testid": "credential-card", "data-name": c.name, "data-id": c.id, "aria-label": c.name },
    h("header", { class: "card-head" }, h("h3", null, c.name), withWaiting(statusBadges(c), waitingTag(waitingFor(o.ctx.connection, [c.id])))),
    c.note ? h("p", { class: "note" }, c.note) : null,
    h(
      "dl",
      { class: "facts" },
      fact("Can reach", c.reach),
      fact("Created", formatDateTime(c.created_at)),
      fact("Last used", lastUsed),
      o.showOwner ? fact("Owner", c.owner) : null,
      o.keyWords ? fact("Access key id", h("code", null, c.client_id)) : fact("Client ID", h("code", null, c.client_id)),
      fact(o.keyWords ? "Secret access key" : "Secret", h("code", { title: "Only a hint: the secret itself is never shown again" }, c.secret_hint)),
      c.valid_from ? fact("Valid from", formatDateTime(c.valid_from)) : null,
      c.valid_to ? fact(Date.parse(c.valid_to) <= Date.now() ? "Expired" : "Expires", formatDateTime(c.valid_to)) : null,
      c.previous_secret_valid_until && Date.parse(c.previous_secret_valid_until) > Date.now()
        ? fact("Old secret works until", formatDateTime(c.previous_secret_valid_until))
        : null,
    ),
    ...(o.extras ? o.extras(c) : []),
  );
  const actions = h(
    "div",
    { class: "card-actions" },
    h("button", { type: "button", class: "secondary small", "data-testid": "preview", onclick: () => void openPreviewFor(c, o.ctx) }, icon("eye"), "Preview"),
    h("button", { type: "button", class: "secondary small", "data-testid": "history", onclick: () => void openHistoryFor(c, o.ctx) }, "History"),
    needsServer(
      o.ctx.connection,
      h("button", { type: "button", class: "secondary small", "data-testid": "regenerate", onclick: () => void regenerate(c, o) }, icon("refresh"), "Regenerate"),
      NEEDS_SERVER.regenerate,
    ),
    h(
      "button",
      { type: "button", class: "icon-button danger-text", "data-testid": "delete", "aria-label": `Delete ${c.name}`, title: "Delete", onclick: () => void remove(c, o) },
      icon("trash"),
    ),
  );
  card.append(actions);
  return card;
}

async function openPreviewFor(c: Credential, ctx: Ctx) {
  const t0 = performance.now();
  const { openPreview } = await import("./preview");
  openPreview(c, ctx, t0);
}

async function openHistoryFor(c: Credential, ctx: Ctx) {
  const { openHistory } = await import("./history");
  openHistory(c, ctx);
}

async function regenerate(c: Credential, o: CardOptions) {
  const select = h(
    "select",
    { id: "grace" },
    h("option", { value: "0" }, "Stop working now"),
    h("option", { value: "600" }, "Keep working for 10 minutes"),
    h("option", { value: "3600" }, "Keep working for 1 hour"),
    h("option", { value: "86400" }, "Keep working for 24 hours"),
  );
  const ok = await confirmDialog({
    title: `Regenerate the secret of “${c.name}”?`,
    message: "A new secret replaces the old one. The id, name, access and history stay the same; the app needs the new secret.",
    confirmLabel: "Regenerate",
    extra: h("div", { class: "field" }, h("label", { for: "grace" }, "The old secret and its tokens"), select),
  });
  if (!ok) return;
  const grace = Number(select.value);
  try {
    const issued = await api.regenerateCredential(c.id, grace > 0 ? grace : null);
    toast(`New secret for “${c.name}”${grace > 0 ? "; the old one still works for a while" : "; the old one no longer works"}.`);
    await showOnce(issued, o.labels ?? APP_LABELS);
  } catch (e) {
    o.ctx.fail(e, `Could not regenerate “${c.name}”`);
  }
  o.refresh();
}

export async function remove(c: Pick<Credential, "id" | "name">, o: { ctx: Ctx; refresh: () => void }, verb = "Delete") {
  const ok = await confirmDialog({
    title: `${verb} “${c.name}”?`,
    message: `${c.name} loses access at once. Data it already copied stays with it.`,
    confirmLabel: verb,
    danger: true,
  });
  if (!ok) return;
  try {
    await api.deleteCredential(c.id);
    toast(`'${c.name}' was deleted and no longer has access`);
  } catch (e) {
    o.ctx.fail(e, `Could not delete “${c.name}”`);
  }
  o.refresh();
}

export interface ListOptions extends Omit<CardOptions, "refresh"> {
  kinds: string[];
  emptyTitle: string;
  emptyText?: string;
  newButton: () => HTMLButtonElement;
  source?: () => Promise<Credential[]>;
  label: string;
  /** Called after each reload, e.g. so a page can refresh what depends on the list. */
  onChange?: () => void;
}

/** Reported once per window: when the first credential list was painted (the benchmark's start-up figure). */
let firstListReported = false;

/** A live list: loading, empty (with the create button), error with retry, or cards. */
export function credentialList(o: ListOptions): { el: HTMLElement; refresh: () => Promise<void> } {
  const el = h("div", { class: "card-list", "aria-live": "polite", "aria-busy": "true", "aria-label": o.label, role: "region" });
  let generation = 0;
  const refresh = async () => {
    const mine = ++generation;
    if (!el.firstChild) mount(el, loadingBlock());
    el.setAttribute("aria-busy", "true");
    try {
      const all = await (o.source ?? api.listCredentials)();
      if (mine !== generation) return;
      const list = all.filter((c) => o.kinds.includes(c.kind)).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      if (list.length === 0) {
        // The page head has the primary button; this one gets its own hook so ids stay unique.
        const b = o.newButton();
        b.dataset.testid = `${b.dataset.testid ?? "new"}-empty`;
        remount(el, emptyBlock(o.emptyTitle, o.emptyText, b));
      }
      else remount(el, ...list.map((c) => credentialCard(c, { ...o, refresh: () => void refresh() })));
      o.onChange?.();
      if (!firstListReported) {
        firstListReported = true;
        requestAnimationFrame(() => void api.reportTiming("credential_list", performance.now()).catch(() => undefined));
      }
    } catch (e) {
      if (mine !== generation) return;
      const err = o.ctx.fail(e, "Could not load the list", false);
      mount(el, errorBlock(`The list could not be loaded: ${err.message}`, () => {
        mount(el, loadingBlock());
        void refresh();
      }));
    } finally {
      if (mine === generation) el.setAttribute("aria-busy", "false");
    }
  };
  mount(el, loadingBlock());
  void refresh();
  return { el, refresh };
}
