// "New app credential" / "New API key": a name (checked as the server does) and an optional note.
import * as api from "../api";
import type { Ctx } from "../app";
import { openDialog } from "../dialog";
import { h } from "../dom";
import { APP_LABELS, showOnce, type ShowOnceLabels } from "../showOnce";
import { toast } from "../toast";
import type { CredentialKind } from "../types";
import { checkCredentialName } from "../validation";

export interface NewCredentialOptions {
  ctx: Ctx;
  kind: CredentialKind;
  title: string;
  nameId: string; // "credential-name" or "key-name"
  noteId?: string; // "credential-note"
  submitTestId: string;
  submitLabel: string;
  placeholder: string;
  hint: string;
  labels?: ShowOnceLabels;
  onDone: () => void;
}

export function openNewCredential(o: NewCredentialOptions): void {
  const name = h("input", { id: o.nameId, name: "name", autocomplete: "off", maxlength: 200, placeholder: o.placeholder, "aria-describedby": `${o.nameId}-hint` });
  const nameErr = h("p", { class: "field-error", id: `${o.nameId}-error`, "data-testid": "name-error", "aria-live": "polite" });
  const note = o.noteId ? h("textarea", { id: o.noteId, name: "note", rows: 2, maxlength: 500 }) : null;
  const formErr = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": o.submitTestId, form: `${o.nameId}-form` }, o.submitLabel);

  const showNameError = (msg: string) => {
    nameErr.textContent = msg;
    if (msg) {
      name.setAttribute("aria-invalid", "true");
      name.setAttribute("aria-describedby", `${o.nameId}-hint ${o.nameId}-error`);
    } else {
      name.removeAttribute("aria-invalid");
      name.setAttribute("aria-describedby", `${o.nameId}-hint`);
    }
  };
  name.addEventListener("input", () => {
    if (nameErr.textContent) {
      const c = checkCredentialName(name.value);
      showNameError(c.ok ? "" : c.error);
    }
  });

  let busy = false;
  const form = h(
    "form",
    {
      id: `${o.nameId}-form`,
      novalidate: true,
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (busy) return;
        formErr.textContent = "";
        const check = checkCredentialName(name.value);
        if (!check.ok) {
          showNameError(check.error);
          name.focus();
          return;
        }
        showNameError("");
        busy = true;
        submit.disabled = true;
        try {
          const noteText = note?.value.trim() || null;
          const issued = await api.createCredential({ kind: o.kind, name: check.name, note: noteText });
          d.close();
          toast(`“${check.name}” was created. Copy its secret now.`);
          o.onDone();
          await showOnce(issued, o.labels ?? APP_LABELS);
          o.onDone();
        } catch (err) {
          const ae = api.toApiError(err);
          busy = false;
          submit.disabled = false;
          if (ae.code === "conflict" || ae.code === "invalid_input" || ae.code === "payload_too_large") {
            showNameError(ae.code === "conflict" ? `${ae.message || "That name is already in use."} Choose another name.` : ae.message);
            name.focus();
          } else if (ae.code === "unauthenticated") {
            d.close();
            o.ctx.fail(ae, "Could not create");
          } else {
            formErr.textContent = ae.message;
            toast(`Could not create “${check.name}”: ${ae.message}`, "error");
          }
        }
      },
    },
    h(
      "div",
      { class: "field" },
      h("label", { for: o.nameId }, "Name"),
      h("p", { class: "hint", id: `${o.nameId}-hint` }, o.hint),
      name,
      nameErr,
    ),
    note
      ? h("div", { class: "field" }, h("label", { for: o.noteId! }, "Note ", h("span", { class: "muted" }, "(optional)")), note)
      : null,
    formErr,
  );

  const d = openDialog({ title: o.title, size: "small", testid: "new-credential-dialog" });
  d.body.append(form);
  d.footer.append(h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, "Cancel"), submit);
}
