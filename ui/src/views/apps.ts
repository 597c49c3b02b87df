// Developer area, "Apps": third-party SMART apps the developer registered, their approvals per practice,
// and the register / edit / rotate / disable / delete / request-approval actions.
import * as api from "../api";
import type { Ctx } from "../app";
import {
  APPROVAL_LABEL,
  AUTH_LABEL,
  PLATFORM_LABEL,
  approvalTone,
  checkAppForm,
  clientAuthsFor,
  commonScopes,
  platformsFor,
  scopeList,
  searchPractices,
  toggleScope,
  type AppFormErrors,
  type AppFormField,
  type AppFormInput,
} from "../apps";
import { NEEDS_SERVER, needsServer, waitingFor, waitingTag } from "../connection";
import { confirmDialog, openDialog } from "../dialog";
import { emptyBlock, errorBlock, h, icon, loadingBlock, mount, nextId } from "../dom";
import { formatDateTime } from "../format";
import { showOnce } from "../showOnce";
import { toast } from "../toast";
import type { App, AppType, AppUpdate, ClientAuth, IssuedAppSecret, Platform, Practice } from "../types";

export function appsPanel(ctx: Ctx): HTMLElement {
  const list = h("div", { class: "card-list", role: "region", "aria-label": "Registered apps", "aria-live": "polite", "aria-busy": "true" });
  const registerButton = () =>
    needsServer(
      ctx.connection,
      h("button", { type: "button", class: "primary", "data-testid": "register-app", onclick: () => openAppForm(ctx, null, () => void refresh()) }, icon("plus"), "Register an app"),
      NEEDS_SERVER.registerApp,
    );
  let generation = 0;
  const refresh = async () => {
    const mine = ++generation;
    list.setAttribute("aria-busy", "true");
    try {
      const apps = (await api.listApps()).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      if (mine !== generation) return;
      if (!apps.length) {
        const b = registerButton();
        b.dataset.testid = "register-app-empty";
        mount(list, emptyBlock("No apps registered yet", "Register a SMART app, then ask a practice to approve it. Patients can connect it once a practice has approved it.", b));
      } else mount(list, ...apps.map((a) => appCard(a, ctx, () => void refresh())));
    } catch (e) {
      if (mine !== generation) return;
      const err = ctx.fail(e, "Could not load your apps", false);
      mount(list, errorBlock(`Your apps could not be loaded: ${err.message}`, () => void refresh()));
    } finally {
      if (mine === generation) list.setAttribute("aria-busy", "false");
    }
  };
  mount(list, loadingBlock("Loading your apps…"));
  void refresh();
  return h(
    "div",
    null,
    h("div", { class: "panel-head" }, h("div", null, h("h2", null, "Apps"), h("p", { class: "muted small" }, "SMART apps that people sign in to and consent to, approved per practice.")), registerButton()),
    list,
  );
}

const TYPE_LABEL: Record<AppType, string> = { patient: "Patient-facing", system: "System (backend)" };

function fact(label: string, value: Node | string | null): HTMLElement | null {
  if (value === null) return null;
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, value));
}

export function approvalChip(status: string, text: string, reason: string | null): HTMLElement {
  return h(
    "span",
    { class: `badge ${approvalTone(status)}`, "data-testid": "approval-chip", "data-status": status, title: reason ?? undefined },
    text,
  );
}

function appCard(a: App, ctx: Ctx, refresh: () => void): HTMLElement {
  const usesSecret = a.client_auth === "client_secret_basic" || a.client_auth === "client_secret_post";
  const approvals = a.approvals.length
    ? h(
        "ul",
        { class: "approval-list", "aria-label": "Approvals" },
        ...a.approvals.map((p) =>
          h(
            "li",
            { "data-testid": "approval", "data-practice": p.practice_name },
            h("span", { class: "approval-practice" }, p.practice_name),
            approvalChip(p.status, APPROVAL_LABEL[p.status] ?? p.status, p.reason),
            p.reason ? h("span", { class: "muted small" }, `“${p.reason}”`) : null,
            h("span", { class: "muted small" }, p.decided_at ? `${p.decided_by ?? ""} · ${formatDateTime(p.decided_at)}` : `asked ${formatDateTime(p.requested_at)}`),
          ),
        ),
      )
    : h("p", { class: "muted small" }, "No practice has been asked yet. Until one approves it, no one can connect this app.");
  const card = h(
    "article",
    { class: "card credential app-card", "data-testid": "app-card", "data-name": a.name, "data-id": a.id, "aria-label": a.name },
    h(
      "header",
      { class: "card-head" },
      h("h3", null, a.name),
      h(
        "span",
        { class: "badges" },
        waitingTag(waitingFor(ctx.connection, [a.id])),
        h("span", { class: `badge ${a.active ? "ok" : "off"}`, "data-testid": "status" }, a.active ? "Active" : "Disabled"),
        h("span", { class: "badge" }, TYPE_LABEL[a.app_type] ?? a.app_type),
      ),
    ),
    a.description ? h("p", { class: "note" }, a.description) : null,
    h(
      "dl",
      { class: "facts" },
      fact("Client ID", h("code", { "data-testid": "app-client-id" }, a.client_id)),
      fact("Runs as", PLATFORM_LABEL[a.platform] ?? a.platform),
      fact("Client authentication", AUTH_LABEL[a.client_auth] ?? a.client_auth),
      a.secret_hint ? fact("Secret", h("code", { title: "Only a hint: the secret itself is never shown again" }, a.secret_hint)) : null,
      a.previous_secret_valid_until && Date.parse(a.previous_secret_valid_until) > Date.now() ? fact("Old secret works until", formatDateTime(a.previous_secret_valid_until)) : null,
      a.redirect_uris.length ? fact("Redirect URIs", h("span", { class: "uri-list" }, ...a.redirect_uris.map((u) => h("code", null, u)))) : null,
      a.jwks_url ? fact("JWKS URL", h("code", null, a.jwks_url)) : a.jwks ? fact("JWKS", "inline") : null,
      fact("Scopes", h("span", { class: "chips" }, ...scopeList(a.scopes).map((s) => h("code", { class: "chip static" }, s)))),
      fact("Connected people", String(a.connected_users)),
      fact("Registered", formatDateTime(a.created_at)),
    ),
    h("div", { class: "approvals" }, h("h4", null, "Approvals"), approvals),
    h(
      "div",
      { class: "card-actions" },
      needsServer(ctx.connection, h("button", { type: "button", class: "secondary small", "data-testid": "request-approval", disabled: !a.active, onclick: () => openRequestApproval(a, ctx, refresh) }, "Request approval"), NEEDS_SERVER.requestApproval),
      needsServer(ctx.connection, h("button", { type: "button", class: "secondary small", "data-testid": "edit-app", onclick: () => openAppForm(ctx, a, refresh) }, "Edit"), NEEDS_SERVER.editApp),
      usesSecret ? needsServer(ctx.connection, h("button", { type: "button", class: "secondary small", "data-testid": "rotate-secret", onclick: () => void rotate(a, ctx, refresh) }, icon("refresh"), "Rotate secret"), NEEDS_SERVER.rotate) : null,
      needsServer(
        ctx.connection,
        h("button", { type: "button", class: "secondary small", "data-testid": a.active ? "disable-app" : "enable-app", onclick: () => void setActive(a, !a.active, ctx, refresh) }, a.active ? "Disable" : "Enable"),
        NEEDS_SERVER.editApp,
      ),
      h("button", { type: "button", class: "icon-button danger-text", "data-testid": "delete-app", "aria-label": `Delete ${a.name}`, title: "Delete", onclick: () => void remove(a, ctx, refresh) }, icon("trash")),
    ),
  );
  return card;
}

/** After register or rotate: the show-once dialog when there is a secret, otherwise the details to configure the app. */
async function showIssued(issued: IssuedAppSecret, ctx: Ctx): Promise<void> {
  if (issued.client_secret) {
    await showOnce(issued, { title: `“${issued.app.name}” is registered`, clientId: "Client ID", clientSecret: "Client secret" });
    return;
  }
  void ctx;
  await new Promise<void>((resolve) => {
    const d = openDialog({ title: `“${issued.app.name}” is registered`, size: "medium", testid: "app-details", onClosed: resolve });
    const row = (label: string, value: string, testid: string) =>
      h(
        "div",
        { class: "secret-row" },
        h("div", { class: "secret-label" }, label),
        h(
          "div",
          { class: "secret-value" },
          h("code", { class: "value", "data-testid": testid }, value),
          h(
            "button",
            {
              type: "button",
              class: "secondary small",
              "aria-label": `Copy ${label}`,
              onclick: async () => {
                try {
                  await api.copyText(value, false);
                  toast(`${label} copied.`, "info");
                } catch (e) {
                  toast(`Could not copy: ${api.toApiError(e).message}`, "error");
                }
              },
            },
            icon("copy"),
            "Copy",
          ),
        ),
      );
    d.body.append(
      h("p", null, issued.app.client_auth === "none" ? "A public client has no secret: it proves itself with PKCE at every sign-in." : "This app signs its token requests with its private key; Portico holds only the public keys."),
      h(
        "div",
        { class: "secret-grid" },
        row("Client ID", issued.app.client_id, "client-id"),
        row("Authorize URL", issued.authorize_url, "authorize-url"),
        row("Token URL", issued.token_url, "token-url"),
        row("FHIR base URL", issued.fhir_base_url, "fhir-base-url"),
      ),
    );
    d.footer.append(h("button", { type: "button", class: "primary", "data-testid": "done", onclick: () => d.close() }, "Done"));
  });
}

async function rotate(a: App, ctx: Ctx, refresh: () => void) {
  const select = h(
    "select",
    { id: "app-grace" },
    h("option", { value: "0" }, "Stop working now"),
    h("option", { value: "60" }, "Keep working for 1 hour"),
    h("option", { value: "1440" }, "Keep working for 24 hours"),
    h("option", { value: "10080" }, "Keep working for 7 days"),
  );
  const ok = await confirmDialog({
    title: `Rotate the secret of “${a.name}”?`,
    message: "A new secret replaces the old one. The client ID, approvals and connected people stay; your server needs the new secret.",
    confirmLabel: "Rotate secret",
    extra: h("div", { class: "field" }, h("label", { for: "app-grace" }, "The old secret"), select),
  });
  if (!ok) return;
  const grace = Number(select.value);
  try {
    const issued = await api.rotateAppSecret(a.id, grace > 0 ? grace : null);
    toast(`New secret for “${a.name}”${grace > 0 ? "; the old one still works for a while" : "; the old one no longer works"}.`);
    refresh();
    await showIssued(issued, ctx);
  } catch (e) {
    ctx.fail(e, `Could not rotate the secret of “${a.name}”`);
  }
  refresh();
}

async function setActive(a: App, active: boolean, ctx: Ctx, refresh: () => void) {
  if (!active) {
    const ok = await confirmDialog({
      title: `Disable “${a.name}”?`,
      message: "Its tokens stop working on their next request and no one can connect it, until you enable it again. Approvals and connections stay.",
      confirmLabel: "Disable",
      danger: true,
    });
    if (!ok) return;
  }
  try {
    await api.updateApp(a.id, { active });
    toast(active ? `“${a.name}” is enabled again.` : `“${a.name}” is disabled.`);
  } catch (e) {
    ctx.fail(e, `Could not ${active ? "enable" : "disable"} “${a.name}”`);
  }
  refresh();
}

async function remove(a: App, ctx: Ctx, refresh: () => void) {
  const ok = await confirmDialog({
    title: `Delete “${a.name}”?`,
    message: `Every connection to it ends at once (${a.connected_users} ${a.connected_users === 1 ? "person" : "people"}) and its tokens stop working. This cannot be undone.`,
    confirmLabel: "Delete app",
    danger: true,
  });
  if (!ok) return;
  try {
    const r = await api.deleteApp(a.id);
    toast(`“${a.name}” was deleted; ${r.revoked_grants} ${r.revoked_grants === 1 ? "connection" : "connections"} ended.`);
  } catch (e) {
    ctx.fail(e, `Could not delete “${a.name}”`);
  }
  refresh();
}

/** "Request approval": search the practices by name, pick one, send the request. */
function openRequestApproval(a: App, ctx: Ctx, refresh: () => void): void {
  const d = openDialog({ title: `Ask a practice to approve “${a.name}”`, size: "small", testid: "request-approval-dialog" });
  const search = h("input", { id: "practice-search", type: "search", autocomplete: "off", placeholder: "Practice name", "aria-controls": "practice-options" });
  const options = h("ul", { class: "options", id: "practice-options", role: "listbox", "aria-label": "Practices" });
  const err = h("p", { class: "form-error", role: "alert" });
  const asked = new Map(a.approvals.map((p) => [p.practice_id, p.status]));
  let practices: Practice[] = [];
  let chosen: Practice | null = null;
  const submit = h("button", { type: "button", class: "primary", "data-testid": "send-request", disabled: true }, "Request approval");

  const draw = () => {
    const found = searchPractices(practices, search.value).slice(0, 50);
    if (!found.length) return mount(options, h("li", { class: "muted" }, practices.length ? "No practice matches." : "No practices."));
    mount(
      options,
      ...found.map((p) => {
        const status = asked.get(p.id);
        const selected = chosen?.id === p.id;
        return h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              class: `option${selected ? " selected" : ""}`,
              role: "option",
              "aria-selected": String(selected),
              "data-testid": "practice-option",
              "data-name": p.name,
              onclick: () => {
                chosen = p;
                submit.disabled = false;
                err.textContent = "";
                draw();
              },
            },
            h("span", null, p.name),
            status ? approvalChip(status, APPROVAL_LABEL[status] ?? status, null) : null,
          ),
        );
      }),
    );
  };
  search.addEventListener("input", draw);
  submit.addEventListener("click", async () => {
    if (!chosen) return;
    submit.disabled = true;
    try {
      const r = await api.requestApproval(a.id, chosen.id);
      d.close();
      toast(`Approval of “${a.name}” requested from ${r.practice_name}.`);
      refresh();
    } catch (e) {
      const ae = api.toApiError(e);
      submit.disabled = false;
      if (ae.code === "unauthenticated") {
        d.close();
        ctx.fail(ae, "Could not request approval");
      } else err.textContent = ae.message;
    }
  });
  d.body.append(
    h("p", { class: "muted" }, "An administrator of the practice sees your app's details and approves or denies it. You see the outcome here."),
    h("div", { class: "field" }, h("label", { for: "practice-search" }, "Search practices"), search),
    options,
    err,
  );
  d.footer.append(h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, "Cancel"), submit);
  mount(options, loadingBlock("Loading practices…"));
  api
    .practices()
    .then((ps) => {
      practices = ps.sort((x, y) => x.name.localeCompare(y.name));
      draw();
    })
    .catch((e) => mount(options, errorBlock(`Practices could not be loaded: ${api.toApiError(e).message}`)));
}

/** Register (existing = null) or edit an app. Type, platform and client authentication are fixed once registered. */
export function openAppForm(ctx: Ctx, existing: App | null, onDone: () => void): void {
  const formId = nextId("app-form");
  const d = openDialog({ title: existing ? `Edit “${existing.name}”` : "Register an app", size: "large", testid: "app-form-dialog" });
  const errs = new Map<AppFormField, HTMLElement>();
  const inputs = new Map<AppFormField, HTMLElement>();
  const field = (key: AppFormField | null, id: string, label: string, control: HTMLElement, hint?: string, optional = false) => {
    const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
    const errEl = h("p", { class: "field-error", id: `${id}-error`, "aria-live": "polite", "data-testid": `${id}-error` });
    if (key) {
      errs.set(key, errEl);
      inputs.set(key, control);
    }
    if (hintEl) control.setAttribute("aria-describedby", `${id}-hint`);
    return h("div", { class: "field" }, h("label", { for: id }, label, optional ? h("span", { class: "muted" }, " (optional)") : null), hintEl, control, errEl);
  };

  const name = h("input", { id: "app-name", autocomplete: "off", maxlength: 200, placeholder: "Sleep Coach", value: existing?.name ?? "" });
  const description = h("textarea", { id: "app-description", rows: 2, maxlength: 2000 });
  description.value = existing?.description ?? "";
  const homepage = h("input", { id: "app-homepage", type: "url", autocomplete: "off", placeholder: "https://sleepcoach.example", value: existing?.homepage ?? "" });
  const privacy = h("input", { id: "app-privacy", type: "url", autocomplete: "off", placeholder: "https://sleepcoach.example/privacy", value: existing?.privacy_policy ?? "" });

  const typeName = nextId("app-type");
  const typeRadio = (t: AppType, label: string, text: string) =>
    h(
      "label",
      { class: "check radio-card" },
      h("input", { type: "radio", name: typeName, value: t, checked: (existing?.app_type ?? "patient") === t, disabled: !!existing, "data-testid": `app-type-${t}` }),
      h("span", null, h("strong", null, label), h("span", { class: "muted small" }, ` ${text}`)),
    );
  const typeSet = h(
    "fieldset",
    { class: "field" },
    h("legend", null, "Type"),
    typeRadio("patient", "Patient-facing", "People sign in and consent (SMART standalone launch)."),
    typeRadio("system", "System", "A backend service with its own key, no person signs in."),
  );
  const platform = h("select", { id: "app-platform", disabled: !!existing });
  const clientAuth = h("select", { id: "app-client-auth", disabled: !!existing });
  const redirects = h("textarea", { id: "app-redirects", rows: 3, spellcheck: "false", placeholder: "https://sleepcoach.example/callback" });
  redirects.value = existing?.redirect_uris.join("\n") ?? "";
  const keyName = nextId("key-source");
  const keyJwks = h("input", { type: "radio", name: keyName, value: "jwks", checked: !existing?.jwks_url });
  const keyUrl = h("input", { type: "radio", name: keyName, value: "jwks_url", checked: !!existing?.jwks_url });
  const jwks = h("textarea", { id: "app-jwks", rows: 4, spellcheck: "false", class: "mono", placeholder: '{"keys": [{"kty": "RSA", "kid": "…", "n": "…", "e": "AQAB"}]}' });
  jwks.value = existing?.jwks ?? "";
  const jwksUrl = h("input", { id: "app-jwks-url", type: "url", autocomplete: "off", placeholder: "https://sleepcoach.example/.well-known/jwks.json", value: existing?.jwks_url ?? "" });
  const scopes = h("input", { id: "app-scopes", autocomplete: "off", spellcheck: "false", class: "mono", value: existing?.scopes ?? "" });
  const helper = h("div", { class: "scope-helper", role: "group", "aria-label": "Common SMART scopes" });
  const formErr = h("p", { class: "form-error", role: "alert" });

  const appType = (): AppType => (typeSet.querySelector<HTMLInputElement>("input:checked")?.value as AppType) ?? "patient";
  const fillSelect = (sel: HTMLSelectElement, values: string[], labels: Record<string, string>, keep: string | undefined) => {
    const prev = keep ?? sel.value;
    mount(sel, ...values.map((v) => h("option", { value: v }, labels[v] ?? v)));
    sel.value = values.includes(prev) ? prev : values[0];
  };
  const drawHelper = () => {
    const current = new Set(scopeList(scopes.value));
    mount(
      helper,
      ...commonScopes(appType()).map((s) => {
        const id = nextId("scope");
        return h(
          "label",
          { class: "check scope-option", for: id },
          h("input", {
            type: "checkbox",
            id,
            checked: current.has(s.scope),
            "data-scope": s.scope,
            onchange: () => {
              scopes.value = toggleScope(scopes.value, s.scope);
              clearError("scopes");
            },
          }),
          h("code", null, s.scope),
          h("span", { class: "muted small" }, s.text),
        );
      }),
    );
  };
  const redirectField = field("redirectUris", "app-redirects", "Redirect URIs", redirects, "One per line, matched exactly. https, http only on 127.0.0.1 / localhost / [::1], or a private-use scheme such as com.example.app:/callback.");
  const keyField = h(
    "fieldset",
    { class: "field" },
    h("legend", null, "Public keys"),
    h("div", { class: "checks" }, h("label", { class: "check" }, keyJwks, "Paste a JWKS"), h("label", { class: "check" }, keyUrl, "JWKS URL")),
    field("jwks", "app-jwks", "JWKS", jwks, "Public keys only. Portico refuses a JWKS with private members."),
    field("jwksUrl", "app-jwks-url", "JWKS URL", jwksUrl, "Fetched with a timeout and cached; re-fetched when a new key id appears."),
  );
  const sync = (initial = false) => {
    const t = appType();
    fillSelect(platform, platformsFor(t), PLATFORM_LABEL, initial ? existing?.platform : undefined);
    const p = platform.value as Platform;
    fillSelect(clientAuth, clientAuthsFor(t, p), AUTH_LABEL, initial ? existing?.client_auth : undefined);
    redirectField.hidden = t === "system";
    const signs = (clientAuth.value as ClientAuth) === "private_key_jwt";
    keyField.hidden = !signs;
    (jwks.closest(".field") as HTMLElement).hidden = !signs || !keyJwks.checked;
    (jwksUrl.closest(".field") as HTMLElement).hidden = !signs || !keyUrl.checked;
    if (!initial) drawHelper();
  };
  typeSet.addEventListener("change", () => sync());
  platform.addEventListener("change", () => sync());
  clientAuth.addEventListener("change", () => sync());
  keyJwks.addEventListener("change", () => sync());
  keyUrl.addEventListener("change", () => sync());
  scopes.addEventListener("input", () => {
    const current = new Set(scopeList(scopes.value));
    for (const cb of Array.from(helper.querySelectorAll<HTMLInputElement>("input[data-scope]"))) cb.checked = current.has(cb.dataset.scope!);
  });

  const clearError = (k: AppFormField) => {
    const e = errs.get(k);
    if (e) e.textContent = "";
    inputs.get(k)?.removeAttribute("aria-invalid");
  };
  const showErrors = (errors: AppFormErrors) => {
    for (const [k, el] of errs) {
      const msg = errors[k] ?? "";
      el.textContent = msg;
      const input = inputs.get(k);
      if (!input) continue;
      if (msg) {
        input.setAttribute("aria-invalid", "true");
        const ids = [`${input.id}-hint`, `${input.id}-error`].filter((id) => document.getElementById(id));
        input.setAttribute("aria-describedby", ids.join(" "));
      } else input.removeAttribute("aria-invalid");
    }
    const first = (Object.keys(errors) as AppFormField[]).map((k) => inputs.get(k)).find(Boolean);
    first?.focus();
  };
  for (const [k, el] of [["name", name], ["homepage", homepage], ["privacyPolicy", privacy], ["redirectUris", redirects], ["jwks", jwks], ["jwksUrl", jwksUrl]] as const) {
    el.addEventListener("input", () => clearError(k));
  }

  const read = (): AppFormInput => ({
    name: name.value,
    description: description.value,
    homepage: homepage.value,
    privacyPolicy: privacy.value,
    appType: appType(),
    platform: platform.value as Platform,
    clientAuth: clientAuth.value as ClientAuth,
    redirectUris: redirects.value,
    keySource: keyUrl.checked ? "jwks_url" : "jwks",
    jwks: jwks.value,
    jwksUrl: jwksUrl.value,
    scopes: scopes.value,
  });

  let busy = false;
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "save-app", form: formId }, existing ? "Save changes" : "Register app");
  const form = h(
    "form",
    {
      id: formId,
      novalidate: true,
      class: "app-form",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (busy) return;
        formErr.textContent = "";
        const check = checkAppForm(read());
        if (!check.ok) return showErrors(check.errors);
        showErrors({});
        busy = true;
        submit.disabled = true;
        try {
          if (existing) {
            const v = check.value;
            const change: AppUpdate = {
              name: v.name,
              description: v.description,
              homepage: v.homepage ?? "",
              privacy_policy: v.privacy_policy ?? "",
              redirect_uris: v.redirect_uris,
              scopes: v.scopes,
            };
            if (v.jwks !== null) change.jwks = v.jwks;
            if (v.jwks_url !== null) change.jwks_url = v.jwks_url;
            await api.updateApp(existing.id, change);
            d.close();
            toast(`“${v.name}” was saved.`);
            onDone();
          } else {
            const issued = await api.registerApp(check.value);
            d.close();
            toast(`“${issued.app.name}” is registered.${issued.client_secret ? " Copy its secret now." : ""}`);
            onDone();
            await showIssued(issued, ctx);
          }
        } catch (err) {
          const ae = api.toApiError(err);
          busy = false;
          submit.disabled = false;
          if (ae.code === "unauthenticated") {
            d.close();
            ctx.fail(ae, "Could not save the app");
          } else if (ae.code === "conflict") {
            showErrors({ name: `${ae.message} Choose another name.` });
          } else {
            formErr.textContent = ae.message;
            toast(`Could not save the app: ${ae.message}`, "error");
          }
        }
      },
    },
    h(
      "div",
      { class: "form-columns" },
      h(
        "div",
        null,
        field("name", "app-name", "Name", name, "What people see on the consent page. 1–100 characters."),
        field(null, "app-description", "Description", description, "What the app does with the data.", true),
        field("homepage", "app-homepage", "Homepage", homepage, undefined, true),
        field("privacyPolicy", "app-privacy", "Privacy policy URL", privacy, undefined, true),
        typeSet,
        field("platform", "app-platform", "Platform", platform, existing ? "Fixed once registered." : undefined),
        field("clientAuth", "app-client-auth", "Client authentication", clientAuth, existing ? "Fixed once registered." : "Limited to what suits the type and platform."),
      ),
      h(
        "div",
        null,
        redirectField,
        keyField,
        field("scopes", "app-scopes", "Scopes", scopes, "Space-separated: the most this app may ask for. People can grant less."),
        helper,
      ),
    ),
    formErr,
  );
  sync(true);
  drawHelper();
  d.body.append(form);
  d.footer.append(h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, "Cancel"), submit);
}
