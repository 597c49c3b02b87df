// Provider "Manage FHIR API": multi-patient keys with a validity window, Active/Inactive and a patient list.
import * as api from "../api";
import type { Ctx } from "../app";
import { NEEDS_SERVER, needsServer } from "../connection";
import { openDialog } from "../dialog";
import { h, icon } from "../dom";
import { PROVIDER_LABELS, showOnce } from "../showOnce";
import { toast } from "../toast";
import type { Credential } from "../types";
import { checkProviderKey, utcToLocalInput } from "../validation";
import { credentialList } from "./credentials";
import { nudgesSection } from "./nudges";
import { patientChip, patientPicker } from "./patientPicker";

export function render(el: HTMLElement, ctx: Ctx): void {
  const newButton = () =>
    needsServer(
      ctx.connection,
      h("button", { type: "button", class: "primary", "data-testid": "new-provider-key", onclick: () => openKeyForm(ctx, null, () => void list.refresh()) }, icon("plus"), "New key"),
      NEEDS_SERVER.newSecret,
    );
  const list = credentialList({
    ctx,
    kinds: ["provider"],
    label: "Provider keys",
    keyWords: true,
    labels: PROVIDER_LABELS,
    emptyTitle: "No keys yet",
    emptyText: "A key gives a system access to the patients you choose, within a time window you set.",
    newButton,
    extras: (c) => providerExtras(c, ctx, () => void list.refresh()),
  });
  const attention = nudgesSection({ ctx, area: "provider", onChange: () => void list.refresh() });
  el.append(
    h(
      "div",
      { class: "page-head" },
      h("div", null, h("h1", null, "Manage FHIR API"), h("p", { class: "muted" }, "Keys for systems that read the records of chosen patients. Outside their window or while inactive they are refused.")),
      newButton(),
    ),
    attention.el,
    list.el,
  );
}

function providerExtras(c: Credential, ctx: Ctx, refresh: () => void): HTMLElement[] {
  const on = c.status === "active";
  const toggle = h(
    "button",
    {
      type: "button",
      role: "switch",
      class: `switch${on ? " on" : ""}`,
      "aria-checked": String(on),
      "data-testid": "toggle-active",
      "aria-label": `${c.name} active`,
      onclick: async () => {
        toggle.disabled = true;
        try {
          const updated = await api.updateCredential(c.id, { active: !on });
          toast(`“${c.name}” is now ${updated.status === "active" ? "active" : "inactive"}.`);
        } catch (e) {
          ctx.fail(e, `Could not change “${c.name}”`);
        }
        refresh();
      },
    },
    h("span", { class: "knob", "aria-hidden": "true" }),
  );
  return [
    h(
      "div",
      { class: "patients-line" },
      h("span", { class: "muted small" }, `${c.patients.length} ${c.patients.length === 1 ? "patient" : "patients"}:`),
      ...c.patients.slice(0, 8).map(patientChip),
      c.patients.length > 8 ? h("span", { class: "muted small" }, `+${c.patients.length - 8} more`) : null,
    ),
    h(
      "div",
      { class: "active-line" },
      toggle,
      h("span", null, on ? "Active" : "Inactive"),
      h("button", { type: "button", class: "link small", "data-testid": "edit-key", onclick: () => openKeyForm(ctx, c, refresh) }, "Edit window and patients"),
    ),
  ];
}

function openKeyForm(ctx: Ctx, existing: Credential | null, refresh: () => void): void {
  const name = h("input", { id: "provider-key-name", autocomplete: "off", value: existing?.name ?? "", placeholder: "Care coordination system", disabled: !!existing });
  const nameErr = h("p", { class: "field-error", "data-testid": "name-error", "aria-live": "polite" });
  const from = h("input", { id: "valid-from", type: "datetime-local", value: utcToLocalInput(existing?.valid_from ?? null) });
  const to = h("input", { id: "valid-to", type: "datetime-local", value: utcToLocalInput(existing?.valid_to ?? null) });
  const fromErr = h("p", { class: "field-error", "aria-live": "polite" });
  const toErr = h("p", { class: "field-error", "aria-live": "polite" });
  const active = h("input", { id: "provider-key-active", type: "checkbox", checked: existing ? existing.status === "active" : true });
  const picker = patientPicker(existing?.patients ?? []);
  const formErr = h("p", { class: "form-error", role: "alert" });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const submit = h(
    "button",
    { type: "submit", class: "primary", form: "provider-key-form", "data-testid": existing ? "save-provider-key" : "create-provider-key" },
    existing ? "Save" : "Create key",
  );

  let busy = false;
  const form = h(
    "form",
    {
      id: "provider-key-form",
      novalidate: true,
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (busy) return;
        const check = checkProviderKey({ name: name.value, validFrom: from.value, validTo: to.value, patients: picker.chosen(), active: active.checked });
        nameErr.textContent = "";
        fromErr.textContent = "";
        toErr.textContent = "";
        picker.error.textContent = "";
        formErr.textContent = "";
        if (!check.ok) {
          const er = check.errors;
          nameErr.textContent = er.name ?? "";
          fromErr.textContent = er.validFrom ?? "";
          toErr.textContent = er.validTo ?? "";
          picker.error.textContent = er.patients ?? "";
          (er.name ? name : er.validFrom ? from : er.validTo ? to : picker.input).focus();
          return;
        }
        busy = true;
        submit.disabled = true;
        const v = check.value;
        try {
          if (existing) {
            await api.updateCredential(existing.id, { valid_from: v.valid_from, valid_to: v.valid_to, patients: v.patients, active: v.active });
            d.close();
            toast(`“${existing.name}” was saved.`);
            refresh();
          } else {
            const issued = await api.createCredential({ kind: "provider", name: v.name, valid_from: v.valid_from, valid_to: v.valid_to, patients: v.patients, active: v.active });
            d.close();
            toast(`Key “${v.name}” was created. Copy its secret access key now.`);
            refresh();
            await showOnce(issued, PROVIDER_LABELS);
            refresh();
          }
        } catch (err) {
          const ae = api.toApiError(err);
          busy = false;
          submit.disabled = false;
          if (ae.code === "conflict") {
            nameErr.textContent = `${ae.message || "That name is already in use."} Choose another name.`;
            name.focus();
          } else if (ae.code === "invalid_input") {
            formErr.textContent = ae.message;
          } else if (ae.code === "unauthenticated" || ae.code === "queued") {
            // queued: the change waits in the outbox; the card shows "Waiting to send" until the server confirms.
            d.close();
            ctx.fail(ae, "Could not save");
            refresh();
          } else {
            formErr.textContent = ae.message;
            toast(`Could not save the key: ${ae.message}`, "error");
          }
        }
      },
    },
    h("div", { class: "field" }, h("label", { for: "provider-key-name" }, "Name"), name, nameErr),
    h(
      "div",
      { class: "field-row" },
      h("div", { class: "field" }, h("label", { for: "valid-from" }, "Valid from ", h("span", { class: "muted" }, "(optional)")), from, fromErr),
      h("div", { class: "field" }, h("label", { for: "valid-to" }, "Valid to ", h("span", { class: "muted" }, "(optional)")), to, toErr),
    ),
    h("p", { class: "hint" }, `Times are in your time zone (${zone}) and stored in UTC.`),
    h("div", { class: "field" }, h("label", { class: "check", for: "provider-key-active" }, active, "Active")),
    picker.el,
    formErr,
  );
  const d = openDialog({ title: existing ? `Edit “${existing.name}”` : "New provider key", size: "medium", testid: "provider-key-dialog", initialFocus: () => (existing ? from : name) });
  d.body.append(form);
  d.footer.append(h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, "Cancel"), submit);
}
