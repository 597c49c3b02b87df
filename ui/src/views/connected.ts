// "Connected apps": the SMART apps a person authorized in a browser (grants), beside their credentials.
// Same Preview, History and Revoke as credentials (a grant's id is a credential id), plus its end date.
import * as api from "../api";
import type { Ctx } from "../app";
import { grantEndProblem } from "../apps";
import { NEEDS_SERVER, needsServer, waitingFor, waitingTag } from "../connection";
import { confirmDialog, openDialog } from "../dialog";
import { emptyBlock, errorBlock, h, icon, loadingBlock, mount } from "../dom";
import { formatDate, formatDateTime, formatRelative } from "../format";
import { toast } from "../toast";
import type { ConnectedApp } from "../types";

/** A link that opens in the system browser: the Portico window itself never navigates away. */
export function externalLink(url: string, ctx: Ctx, text: string = url): HTMLElement {
  return h(
    "a",
    {
      href: url,
      class: "external",
      rel: "noopener noreferrer",
      onclick: (e: Event) => {
        e.preventDefault();
        api.openExternal(url).catch((err) => ctx.fail(err, "Could not open the link"));
      },
    },
    text,
  );
}

function fact(label: string, value: Node | string | null): HTMLElement | null {
  if (value === null) return null;
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, value));
}

function sampleButton(ctx: Ctx): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      class: "secondary",
      "data-testid": "try-sample-app",
      onclick: async () => {
        try {
          await api.openSampleApp();
          toast("The sample app opened in your browser. Sign in there with your Portico account.", "info");
        } catch (e) {
          ctx.fail(e, "Could not open the sample app");
        }
      },
    },
    "Try a sample app",
  );
}

export function connectedAppsSection(ctx: Ctx, o: { heading?: boolean; staff?: boolean; onChange?: () => void } = {}): { el: HTMLElement; refresh: () => Promise<void> } {
  const list = h("div", { class: "card-list", role: "region", "aria-label": "Connected apps", "aria-live": "polite", "aria-busy": "true" });
  const emptyText = o.staff
    ? "When you sign in to a SMART app with your Portico account and allow it, it shows up here. You can see what it reaches, when it looked, and disconnect it."
    : "Apps connect when you sign in to them with your Portico account and allow what they may see, in your browser. They show up here: you can see what each one reaches, when it looked, and disconnect it at any time.";
  let generation = 0;
  const refresh = async () => {
    const mine = ++generation;
    list.setAttribute("aria-busy", "true");
    try {
      const [apps, features] = await Promise.all([api.connectedApps(), api.serviceFeatures().catch(() => null)]);
      if (mine !== generation) return;
      const sorted = apps.sort((a, b) => Date.parse(b.since) - Date.parse(a.since));
      if (!sorted.length) {
        mount(list, emptyBlock("No connected apps", emptyText, features?.sample_app_url ? sampleButton(ctx) : undefined));
      } else mount(list, ...sorted.map((a) => connectedCard(a, ctx, () => void refresh())));
      o.onChange?.();
    } catch (e) {
      if (mine !== generation) return;
      const err = ctx.fail(e, "Could not load your connected apps", false);
      mount(list, errorBlock(`Connected apps could not be loaded: ${err.message}`, () => void refresh()));
    } finally {
      if (mine === generation) list.setAttribute("aria-busy", "false");
    }
  };
  mount(list, loadingBlock("Loading connected apps…"));
  void refresh();
  const el = h(
    "section",
    { class: "connected-section", "aria-labelledby": "connected-title" },
    o.heading === false
      ? null
      : h(
          "div",
          { class: "page-head second" },
          h("div", null, h("h2", { id: "connected-title" }, "Connected apps"), h("p", { class: "muted" }, "Apps you allowed in your browser with “Sign in with Portico”. Each reaches only what you allowed, until the date you set.")),
        ),
    list,
  );
  return { el, refresh };
}

function connectedCard(a: ConnectedApp, ctx: Ctx, refresh: () => void): HTMLElement {
  const subject = { id: a.id, name: a.name, kind: "connected_app" };
  const expired = a.expires_at !== null && Date.parse(a.expires_at) <= Date.now();
  const lastUsed = a.last_used_at
    ? h("span", { title: formatDateTime(a.last_used_at) }, `${formatRelative(a.last_used_at)} (${formatDateTime(a.last_used_at)})`)
    : h("span", { class: "muted" }, "not yet");
  const links = [a.homepage ? externalLink(a.homepage, ctx, "Homepage") : null, a.privacy_policy ? externalLink(a.privacy_policy, ctx, "Privacy policy") : null].filter(
    (x): x is HTMLElement => x !== null,
  );
  const scopes = a.scope_descriptions.length ? a.scope_descriptions : a.scope.split(/\s+/).filter(Boolean);
  return h(
    "article",
    { class: "card credential connected-card", "data-testid": "connected-app", "data-name": a.name, "data-id": a.id, "aria-label": a.name },
    h(
      "header",
      { class: "card-head" },
      h("h3", null, a.name),
      h(
        "span",
        { class: "badges" },
        waitingTag(waitingFor(ctx.connection, [a.id])),
        h("span", { class: `badge ${a.usable ? "ok" : "off"}`, "data-testid": "status" }, a.usable ? "Connected" : expired ? "Ended" : "Paused"),
      ),
    ),
    a.description ? h("p", { class: "note" }, a.description) : null,
    h(
      "dl",
      { class: "facts" },
      fact("By", a.developer),
      links.length ? fact("Links", h("span", { class: "links" }, ...links)) : null,
      fact("May see", h("ul", { class: "scope-words", "data-testid": "scope-descriptions" }, ...scopes.map((s) => h("li", null, s)))),
      fact("Connected since", formatDateTime(a.since)),
      fact("Last used", lastUsed),
      fact(expired ? "Ended" : "Until", a.expires_at ? formatDate(a.expires_at) : "until you disconnect it"),
      fact("Active tokens", `${a.active_tokens}${a.refresh_tokens ? ` (and ${a.refresh_tokens} to renew them)` : ""}`),
      a.approved_by.length ? fact("Approved by", a.approved_by.join(", ")) : null,
      !a.usable && !expired ? fact("Why paused", "The app is disabled or no practice approves it right now. It reaches nothing until that changes.") : null,
    ),
    h(
      "div",
      { class: "card-actions" },
      h(
        "button",
        {
          type: "button",
          class: "secondary small",
          "data-testid": "preview",
          onclick: async () => {
            const t0 = performance.now();
            const { openPreview } = await import("./preview");
            openPreview(subject, ctx, t0);
          },
        },
        icon("eye"),
        "Preview",
      ),
      h(
        "button",
        {
          type: "button",
          class: "secondary small",
          "data-testid": "history",
          onclick: async () => {
            const { openHistory } = await import("./history");
            openHistory(subject, ctx);
          },
        },
        "History",
      ),
      needsServer(
        ctx.connection,
        h("button", { type: "button", class: "secondary small", "data-testid": "extend-grant", onclick: () => openEndDate(a, ctx, refresh) }, "Change end date"),
        NEEDS_SERVER.endDate,
      ),
      h("button", { type: "button", class: "danger small", "data-testid": "revoke", "aria-label": `Revoke ${a.name}`, onclick: () => void revoke(a, ctx, refresh) }, "Revoke"),
    ),
  );
}

async function revoke(a: ConnectedApp, ctx: Ctx, refresh: () => void) {
  const ok = await confirmDialog({
    title: `Revoke “${a.name}”?`,
    message: `${a.name} loses access at once: its tokens and its renewals stop working. Data it already copied stays with it. To use it again, connect it again from the app.`,
    confirmLabel: "Revoke",
    danger: true,
  });
  if (!ok) return;
  try {
    const r = await api.deleteCredential(a.id);
    toast(`'${a.name}' was revoked and no longer has access${r.tokens_revoked ? ` (${r.tokens_revoked} ${r.tokens_revoked === 1 ? "token" : "tokens"} stopped)` : ""}.`);
  } catch (e) {
    ctx.fail(e, `Could not revoke “${a.name}”`);
  }
  refresh();
}

function openEndDate(a: ConnectedApp, ctx: Ctx, refresh: () => void) {
  const d = openDialog({ title: `Until when may “${a.name}” reach your data?`, size: "small", testid: "grant-end-dialog" });
  const toInput = (iso: string) => {
    const t = new Date(iso);
    const p = (n: number) => String(n).padStart(2, "0");
    return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}`;
  };
  const now = Date.now();
  const input = h("input", {
    id: "grant-end",
    type: "date",
    value: a.expires_at ? toInput(a.expires_at) : toInput(new Date(now + 90 * 86400000).toISOString()),
    min: toInput(new Date(now + 86400000).toISOString()),
    max: toInput(new Date(now + 365 * 86400000).toISOString()),
    "aria-describedby": "grant-end-hint",
    "data-testid": "grant-end",
  });
  const err = h("p", { class: "field-error", id: "grant-end-error", "aria-live": "polite" });
  const save = h("button", { type: "button", class: "primary", "data-testid": "save-grant-end" }, "Save");
  save.addEventListener("click", async () => {
    const r = grantEndProblem(input.value);
    if ("error" in r) {
      err.textContent = r.error;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    save.disabled = true;
    try {
      const updated = await api.extendGrant(a.id, { expires_at: r.iso });
      d.close();
      toast(`“${a.name}” may reach your data until ${formatDate(updated.expires_at ?? r.iso)}.`);
      refresh();
    } catch (e) {
      const ae = api.toApiError(e);
      save.disabled = false;
      if (ae.code === "unauthenticated") {
        d.close();
        ctx.fail(ae, "Could not change the end date");
      } else err.textContent = ae.message;
    }
  });
  d.body.append(
    h(
      "div",
      { class: "field" },
      h("label", { for: "grant-end" }, "End date"),
      h("p", { class: "hint", id: "grant-end-hint" }, "Access ends at the end of that day, at most one year ahead. You can revoke it earlier at any time."),
      input,
      err,
    ),
  );
  d.footer.append(h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, "Cancel"), save);
}
