// Developer area: API keys (generate, list, delete) and documentation from the live CapabilityStatement.
import * as api from "../api";
import type { Ctx } from "../app";
import { NEEDS_SERVER, needsServer } from "../connection";
import { append, emptyBlock, errorBlock, h, icon, loadingBlock, mount } from "../dom";
import { PROVIDER_LABELS } from "../showOnce";
import { toast } from "../toast";
import type { FhirJson, ServiceStatus } from "../types";
import { appsPanel } from "./apps";
import { credentialList } from "./credentials";
import { openNewCredential } from "./newCredential";
import { nudgesSection } from "./nudges";

export function render(el: HTMLElement, ctx: Ctx): void {
  // API keys reach the developer's practices, so only staff developers have them; an app developer
  // (a sign-up account) registers apps and reads the documentation.
  const staffDeveloper = ctx.user.roles.includes("developer");
  const tabs = [
    ...(staffDeveloper ? [{ id: "keys", label: "API keys", build: () => keysPanel(ctx) }] : []),
    { id: "apps", label: "Apps", build: () => appsPanel(ctx) },
    { id: "docs", label: "API documentation", build: () => docsPanel(ctx) },
  ];
  const tablist = h("div", { class: "subtabs", role: "tablist", "aria-label": "Developer" });
  const panel = h("div", { class: "tabpanel", role: "tabpanel", tabindex: "0" });
  const buttons: HTMLButtonElement[] = [];
  const select = (i: number, focus = false) => {
    buttons.forEach((b, j) => {
      b.setAttribute("aria-selected", String(i === j));
      b.tabIndex = i === j ? 0 : -1;
      b.classList.toggle("active", i === j);
    });
    panel.setAttribute("aria-labelledby", buttons[i].id);
    mount(panel, tabs[i].build());
    if (focus) buttons[i].focus();
  };
  tabs.forEach((t, i) => {
    const b = h("button", { type: "button", role: "tab", id: `tab-${t.id}`, "data-testid": `tab-${t.id}`, "aria-controls": "dev-panel", onclick: () => select(i) }, t.label);
    b.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        select((i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length, true);
      }
    });
    buttons.push(b);
    tablist.append(b);
  });
  panel.id = "dev-panel";
  el.append(
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "Developer"), h("p", { class: "muted" }, staffDeveloper ? "Keys reach exactly the practices you can reach, checked at every request. Apps reach what people consent to, in practices that approved them." : "Register SMART apps and ask practices to approve them. Apps reach what people consent to, checked at every request."))),
    tablist,
    panel,
  );
  select(0);
}

function keysPanel(ctx: Ctx): HTMLElement {
  const newButton = () =>
    needsServer(ctx.connection, h(
      "button",
      {
        type: "button",
        class: "primary",
        "data-testid": "new-key",
        onclick: () =>
          openNewCredential({
            ctx,
            kind: "developer",
            title: "New API key",
            nameId: "key-name",
            submitTestId: "create-key",
            submitLabel: "Generate key",
            placeholder: "Reporting script",
            hint: "What will use this key? 1–100 characters. Keys do not expire unless you set a window.",
            labels: { ...PROVIDER_LABELS, title: "Your new API key" },
            onDone: () => void list.refresh(),
          }),
      },
      icon("plus"),
      "New API key",
    ), NEEDS_SERVER.newSecret);
  const list = credentialList({
    ctx,
    kinds: ["developer"],
    label: "API keys",
    keyWords: true,
    labels: { ...PROVIDER_LABELS, title: "Your new API key" },
    emptyTitle: "No API keys yet",
    emptyText: "Generate as many keys as you need, one per script or integration.",
    newButton,
  });
  const attention = nudgesSection({ ctx, area: "developer", onChange: () => void list.refresh() });
  return h("div", null, h("div", { class: "panel-head" }, h("h2", null, "API keys"), newButton()), attention.el, list.el);
}

function copyButton(text: () => string, label: string): HTMLButtonElement {
  const b = h(
    "button",
    {
      type: "button",
      class: "secondary small",
      "aria-label": `Copy ${label}`,
      onclick: async () => {
        try {
          await api.copyText(text(), false);
          toast(`${label} copied.`, "info");
        } catch (e) {
          toast(`Could not copy: ${api.toApiError(e).message}`, "error");
        }
      },
    },
    icon("copy"),
    "Copy",
  );
  return b;
}

function example(title: string, code: string, testid?: string): HTMLElement {
  return h(
    "div",
    { class: "example" },
    h("div", { class: "example-head" }, h("span", null, title), copyButton(() => code, title)),
    h("pre", { class: "code", "data-testid": testid, tabindex: "0" }, code),
  );
}

const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

export function tokenExample(status: Pick<ServiceStatus, "token_url">): string {
  return [
    `curl -s -X POST ${q(status.token_url)} \\`,
    `  -u "$ACCESS_KEY_ID:$SECRET_ACCESS_KEY" \\`,
    `  -H 'Content-Type: application/x-www-form-urlencoded' \\`,
    `  -d grant_type=client_credentials`,
  ].join("\n");
}

export function searchExample(fhirBase: string, type: string, param?: { name: string; type?: string }): string {
  const base = fhirBase.replace(/\/+$/, "");
  const sample: Record<string, string> = { date: "ge2020-01-01", token: "active", string: "smith", reference: "Patient/example", number: "1", quantity: "5", uri: "http://example.org" };
  let query = "_count=10";
  if (param) {
    const v = param.name === "_id" ? "example" : param.name === "category" ? "vital-signs" : param.name === "code" ? "http://loinc.org|29463-7" : sample[param.type ?? ""] ?? "example";
    query = `${encodeURIComponent(param.name)}=${v.replace(/\|/g, "%7C")}&_count=10`;
  }
  return [`curl -s ${q(`${base}/${type}?${query}`)} \\`, `  -H "Authorization: Bearer $TOKEN" \\`, `  -H 'Accept: application/fhir+json'`].join("\n");
}

function docsPanel(ctx: Ctx): HTMLElement {
  const box = h("div", { class: "docs" });
  const load = async () => {
    mount(box, loadingBlock("Reading the CapabilityStatement…"));
    try {
      const [cs, status] = await Promise.all([api.capabilityStatement(), ctx.getStatus()]);
      mount(box, ...renderDocs(cs, status));
    } catch (e) {
      const err = ctx.fail(e, "Could not load the API documentation", false);
      mount(box, errorBlock(`The documentation could not be loaded: ${err.message}`, () => void load()));
    }
  };
  void load();
  return box;
}

/** An endpoint from the CapabilityStatement's SMART oauth-uris extension. */
function oauthUri(rest: FhirJson, name: string): string {
  const ext = (rest?.security?.extension ?? []).find((e: FhirJson) => String(e?.url).endsWith("/oauth-uris"));
  return (ext?.extension ?? []).find((e: FhirJson) => e?.url === name)?.valueUri ?? "";
}

function renderDocs(cs: FhirJson, status: ServiceStatus | null): HTMLElement[] {
  const rest = (cs?.rest ?? []).find((r: FhirJson) => r?.mode === "server") ?? cs?.rest?.[0];
  const resources: FhirJson[] = (rest?.resource ?? []).slice().sort((a: FhirJson, b: FhirJson) => String(a.type).localeCompare(String(b.type)));
  const fhirBase = status?.fhir_base_url || cs?.implementation?.url || "";
  const tokenUrl = status?.token_url || oauthUri(rest, "token");
  const out: HTMLElement[] = [];
  out.push(
    h(
      "section",
      { class: "card docs-intro" },
      h("h2", null, "Getting started"),
      h("dl", { class: "facts" },
        h("div", { class: "fact" }, h("dt", null, "FHIR base URL"), h("dd", null, h("code", { "data-testid": "docs-fhir-base" }, fhirBase || "—"))),
        h("div", { class: "fact" }, h("dt", null, "Token URL"), h("dd", null, h("code", { "data-testid": "docs-token-url" }, tokenUrl || "—"))),
        h("div", { class: "fact" }, h("dt", null, "FHIR version"), h("dd", null, String(cs?.fhirVersion ?? "4.0.1"))),
      ),
      h("p", null, "1. Exchange your access key id and secret for a Bearer token (client credentials, HTTP Basic). The response carries ", h("code", null, "access_token"), " and ", h("code", null, "expires_in"), "."),
      tokenUrl ? example("Request a token", tokenExample({ token_url: tokenUrl }), "example-token") : null,
      h("p", null, "2. Call the FHIR API with the token. Searches return a Bundle; follow its ", h("code", null, "next"), " link for more pages."),
      fhirBase ? example("Search for patients", searchExample(fhirBase, "Patient", { name: "name", type: "string" }), "example-search") : null,
    ),
  );
  if (!resources.length) {
    out.push(emptyBlock("No resource types", "The CapabilityStatement lists no resources."));
    return out;
  }
  const filter = h("input", { id: "docs-filter", type: "search", placeholder: "Filter resource types", "aria-label": "Filter resource types" });
  const list = h("div", { class: "docs-list" });
  const items = resources.map((r) => {
    const params: FhirJson[] = r.searchParam ?? [];
    const interactions: string[] = (r.interaction ?? []).map((i: FhirJson) => i.code).filter(Boolean);
    const details = h(
      "details",
      { class: "card resource-doc", "data-type": r.type },
      h("summary", null, h("strong", null, r.type), h("span", { class: "muted small" }, ` ${params.length} search parameters${interactions.length ? ` · ${interactions.join(", ")}` : ""}`)),
    );
    let filled = false;
    details.addEventListener("toggle", () => {
      if (!details.open || filled) return;
      filled = true; // build the tables only when opened
      append(details, [
        r.documentation ? h("p", null, r.documentation) : null,
        params.length
          ? h(
              "table",
              { class: "params" },
              h("thead", null, h("tr", null, h("th", { scope: "col" }, "Parameter"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Description"))),
              h("tbody", null, ...params.map((p) => h("tr", null, h("td", null, h("code", null, p.name)), h("td", null, p.type ?? ""), h("td", null, p.documentation ?? "")))),
            )
          : h("p", { class: "muted" }, "No search parameters."),
        fhirBase ? example(`Search ${r.type}`, searchExample(fhirBase, r.type, params.find((p) => !String(p.name).startsWith("_")) ?? params[0])) : null,
      ]);
    });
    return details;
  });
  const none = h("p", { class: "muted", role: "status", "data-testid": "docs-none", hidden: true });
  filter.addEventListener("input", () => {
    const f = filter.value.trim().toLowerCase();
    for (const d of items) d.hidden = !!f && !String(d.dataset.type).toLowerCase().includes(f);
    none.hidden = items.some((d) => !d.hidden);
    none.textContent = none.hidden ? "" : `No resource type matches “${filter.value.trim()}”. Clear the filter to see all ${resources.length}.`;
  });
  mount(list, ...items, none);
  out.push(h("section", null, h("div", { class: "panel-head" }, h("h2", null, `Resources (${resources.length})`), filter), list));
  return out;
}
