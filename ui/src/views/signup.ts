// "Create a developer account" (services started with --allow-signup): the account may only register
// apps and ask practices to approve them. Checked as the service checks it; then signed in as it.
import * as api from "../api";
import { openDialog } from "../dialog";
import { h } from "../dom";
import { toast } from "../toast";
import type { Signup, User } from "../types";
import { checkSignup, type SignupField } from "../signupRules";

export function openSignup(onSignedIn: (u: User) => void): void {
  const d = openDialog({ title: "Create a developer account", size: "medium", testid: "signup-dialog" });
  const inputs: Record<SignupField, HTMLInputElement> = {
    username: h("input", { id: "signup-username", autocomplete: "username", autocapitalize: "none", spellcheck: "false" }),
    given_name: h("input", { id: "signup-given", autocomplete: "given-name" }),
    family_name: h("input", { id: "signup-family", autocomplete: "family-name" }),
    email: h("input", { id: "signup-email", type: "email", autocomplete: "email" }),
    company: h("input", { id: "signup-company", autocomplete: "organization" }),
    password: h("input", { id: "signup-password", type: "password", autocomplete: "new-password" }),
  };
  const errors = {} as Record<SignupField, HTMLElement>;
  const field = (k: SignupField, label: string, hint?: string, optional = false) => {
    const input = inputs[k];
    errors[k] = h("p", { class: "field-error", id: `${input.id}-error`, "aria-live": "polite", "data-testid": `${input.id}-error` });
    const hintEl = hint ? h("p", { class: "hint", id: `${input.id}-hint` }, hint) : null;
    if (hint) input.setAttribute("aria-describedby", `${input.id}-hint`);
    input.addEventListener("input", () => {
      errors[k].textContent = "";
      input.removeAttribute("aria-invalid");
    });
    return h("div", { class: "field" }, h("label", { for: input.id }, label, optional ? h("span", { class: "muted" }, " (optional)") : null), hintEl, input, errors[k]);
  };
  const formErr = h("p", { class: "form-error", role: "alert", "data-testid": "signup-error" });
  const submit = h("button", { type: "submit", class: "primary", form: "signup-form", "data-testid": "create-account" }, "Create account");
  let busy = false;
  const form = h(
    "form",
    {
      id: "signup-form",
      novalidate: true,
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (busy) return;
        formErr.textContent = "";
        const raw = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value])) as unknown as Signup;
        const check = checkSignup(raw);
        for (const k of Object.keys(inputs) as SignupField[]) {
          const msg = check.ok ? "" : (check.errors[k] ?? "");
          errors[k].textContent = msg;
          if (msg) {
            inputs[k].setAttribute("aria-invalid", "true");
            inputs[k].setAttribute("aria-describedby", [`${inputs[k].id}-hint`, `${inputs[k].id}-error`].filter((id) => document.getElementById(id)).join(" "));
          } else inputs[k].removeAttribute("aria-invalid");
        }
        if (!check.ok) {
          const first = (Object.keys(inputs) as SignupField[]).find((k) => check.errors[k]);
          if (first) inputs[first].focus();
          return;
        }
        busy = true;
        submit.disabled = true;
        submit.textContent = "Creating…";
        try {
          const user = await api.signUp(check.value);
          d.close();
          // onSignedIn clears what was on the sign-in screen; the welcome comes after.
          onSignedIn(user);
          toast(`Welcome, ${user.display_name}. Register your first app under Developer → Apps.`);
        } catch (err) {
          const ae = api.toApiError(err);
          busy = false;
          submit.disabled = false;
          submit.textContent = "Create account";
          if (ae.code === "conflict") {
            errors.username.textContent = `${ae.message || "That username is taken."} Choose another.`;
            inputs.username.focus();
          } else if (ae.code === "forbidden") formErr.textContent = "This service does not allow new developer accounts.";
          else if (ae.code === "too_many_requests") formErr.textContent = "Too many attempts from this computer. Wait a minute and try again.";
          else formErr.textContent = ae.message;
        }
      },
    },
    h("p", { class: "muted" }, "For people who build apps that connect to Portico. The account can register apps and ask practices to approve them; it sees no health data."),
    field("username", "Username", "3–64 lowercase letters, digits, “.”, “_” or “-”."),
    h("div", { class: "field-row" }, field("given_name", "Given name"), field("family_name", "Family name")),
    field("email", "Email"),
    field("company", "Company", undefined, true),
    field("password", "Password", "At least 8 characters."),
    formErr,
  );
  d.body.append(form);
  d.footer.append(h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, "Cancel"), submit);
}
