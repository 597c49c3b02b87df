// Servers (settings): the embedded demo service and any remote clinic servers. Add one by address (its
// name, or why it can't be used, appears under the field), switch to it, or remove it.
import * as api from "../api";
import { confirmDialog, openDialog } from "../dialog";
import { errorBlock, h, loadingBlock, mount } from "../dom";
import { addServerErrorText, checkServerUrl } from "../remote";
import { toast } from "../toast";
import type { ServerEntry, ServiceStatus } from "../types";

export interface ServersOptions {
  status: ServiceStatus | null;
  /** After switch_server: the shell shows home or the sign-in screen of that server. */
  onSwitched: (s: ServiceStatus) => void;
}

export function openServers(o: ServersOptions): void {
  const d = openDialog({ title: "Servers", size: "medium", testid: "servers-dialog", initialFocus: () => input });
  const list = h("ul", { class: "server-list", "aria-label": "Servers", "aria-busy": "true" });
  const listSlot = h("div", { "aria-live": "polite" }, loadingBlock("Loading servers…"));

  const input = h("input", {
    id: "server-url",
    name: "server-url",
    type: "url",
    inputmode: "url",
    autocomplete: "url",
    autocapitalize: "none",
    spellcheck: "false",
    placeholder: "https://portico.clinic.example",
    "aria-describedby": "server-url-hint",
    "data-testid": "server-url",
  });
  const err = h("p", { class: "field-error", id: "server-url-error", role: "alert", "data-testid": "add-server-error" });
  const added = h("div", { class: "server-added", role: "status", "aria-live": "polite", "data-testid": "add-server-result" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "add-server" }, "Add server");
  let busy = false;

  const setError = (msg: string) => {
    err.textContent = msg;
    if (msg) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "server-url-hint server-url-error");
    } else {
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", "server-url-hint");
    }
  };

  const switchTo = async (s: ServerEntry, button: HTMLButtonElement) => {
    button.disabled = true;
    button.textContent = "Switching…";
    try {
      const status = await api.switchServer(s.id);
      d.close();
      // onSwitched clears the last server's toasts first; this one is about the new server.
      o.onSwitched(status);
      toast(`Now using “${status.server_name || s.name}”.`, "info");
    } catch (e) {
      const ae = api.toApiError(e);
      button.disabled = false;
      button.textContent = "Switch";
      added.classList.add("error");
      mount(added, h("p", { class: "form-error", role: "alert" }, `Could not switch to “${s.name}”: ${ae.message}`));
    }
  };

  const remove = async (s: ServerEntry) => {
    const ok = await confirmDialog({
      title: `Remove “${s.name}”?`,
      message: `Portico forgets this server, its saved sign-in and what it showed you. Actions still waiting to be sent to it are dropped. You can add it again later.`,
      confirmLabel: "Remove",
      danger: true,
    });
    if (!ok) return;
    try {
      await api.removeServer(s.id);
      toast(`“${s.name}” was removed.`, "info");
      await load();
      input.focus();
    } catch (e) {
      added.classList.add("error");
      mount(added, h("p", { class: "form-error", role: "alert" }, `Could not remove “${s.name}”: ${api.toApiError(e).message}`));
    }
  };

  const row = (s: ServerEntry) => {
    const switchButton = h(
      "button",
      { type: "button", class: "secondary small", "data-testid": "switch-server", "aria-label": `Switch to ${s.name}` },
      "Switch",
    );
    switchButton.addEventListener("click", () => void switchTo(s, switchButton));
    return h(
      "li",
      { class: `server-row${s.current ? " current" : ""}`, "data-testid": "server", "data-id": s.id, "aria-current": s.current ? "true" : undefined },
      h(
        "div",
        { class: "server-id" },
        h("span", { class: "server-name" }, s.name, s.current ? h("span", { class: "badge ok", "data-testid": "current-server" }, "Current") : null),
        s.url ? h("code", { class: "server-url" }, s.url) : h("span", { class: "muted small" }, "Runs inside this app, with synthetic demo data"),
        h("span", { class: "muted small", "data-testid": "signed-in-as" }, s.signed_in_as ? `Signed in as ${s.signed_in_as}` : "Not signed in"),
      ),
      h(
        "div",
        { class: "server-actions" },
        s.current ? null : switchButton,
        s.kind === "remote"
          ? h(
              "button",
              {
                type: "button",
                class: "icon-button danger-text",
                "data-testid": "remove-server",
                "aria-label": `Remove ${s.name}`,
                disabled: s.current,
                title: s.current ? "Switch to another server first." : "Remove",
                onclick: () => void remove(s),
              },
              "Remove",
            )
          : null,
      ),
    );
  };

  async function load(): Promise<void> {
    list.setAttribute("aria-busy", "true");
    try {
      const all = await api.servers();
      mount(list, ...all.map(row));
      mount(listSlot, list);
    } catch (e) {
      mount(listSlot, errorBlock(`The servers could not be loaded: ${api.toApiError(e).message}`, () => void load()));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  const form = h(
    "form",
    {
      class: "add-server",
      novalidate: true,
      "aria-labelledby": "add-server-title",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (busy) return;
        mount(added);
        added.classList.remove("error");
        const check = checkServerUrl(input.value);
        if ("error" in check) {
          setError(check.error);
          input.focus();
          return;
        }
        setError("");
        busy = true;
        submit.disabled = true;
        mount(submit, h("span", { class: "spinner", "aria-hidden": "true" }), "Checking…");
        try {
          const s = await api.addServer(check.url);
          input.value = "";
          await load();
          const go = h("button", { type: "button", class: "primary small", "data-testid": "switch-to-added" }, `Switch to ${s.name}`);
          go.addEventListener("click", () => void switchTo(s, go));
          mount(
            added,
            h("p", null, "Added ", h("strong", null, s.name), s.url ? h("span", null, " (", h("code", null, s.url), ")") : null, ". Switch to it to sign in."),
            go,
          );
          go.focus();
        } catch (ex) {
          setError(addServerErrorText(api.toApiError(ex)));
          input.focus();
        } finally {
          busy = false;
          submit.disabled = false;
          mount(submit, "Add server");
        }
      },
    },
    h("h3", { id: "add-server-title" }, "Add a server"),
    h(
      "div",
      { class: "field" },
      h("label", { for: "server-url" }, "Server address"),
      h("p", { class: "hint", id: "server-url-hint" }, "The address your clinic gave you. Portico checks that a Portico server answers there before adding it."),
      h("div", { class: "add-server-row" }, input, submit),
      err,
    ),
    added,
  );
  input.addEventListener("input", () => setError(""));

  if (o.status?.keychain_label) {
    d.body.append(h("p", { class: "notice", "data-testid": "keychain-label" }, h("strong", null, "Where your sign-in is kept: "), o.status.keychain_label));
  }
  d.body.append(listSlot, form);
  d.footer.append(h("button", { type: "button", class: "secondary", "data-testid": "close-servers", onclick: () => d.close() }, "Close"));
  void load();
}
