// Sign-in: username/password with inline errors, one-click demo accounts in the embedded demo; on a
// remote server, one "Sign in with your browser" button (the shell opens the browser and waits).
import * as api from "../api";
import { h, mount } from "../dom";
import { roleLabel } from "../format";
import { browserSignInErrorText } from "../remote";
import type { DemoAccount, ServiceStatus, User } from "../types";

export interface SignInOptions {
  statusP: Promise<ServiceStatus | null>;
  message?: string;
  onSignedIn: (u: User) => void;
  /** Opens the Servers screen ("Change server"). */
  onServers?: () => void;
}

/** "Server: <name> · Change server" under the sign-in title. */
function serverLine(status: ServiceStatus | null, o: SignInOptions): HTMLElement | null {
  if (!o.onServers) return null;
  return h(
    "p",
    { class: "server-line", "data-testid": "server-line" },
    h("span", null, "Server: ", h("strong", null, status?.server_name || (status?.mode === "remote" ? "remote server" : "This computer (demo)"))),
    " · ",
    h("button", { type: "button", class: "link", "data-testid": "change-server", onclick: () => o.onServers?.() }, "Change server"),
  );
}

export function renderSignIn(root: HTMLElement, o: SignInOptions): void {
  document.title = "Portico";
  void o.statusP.then(
    (status) => (status?.mode === "remote" ? renderRemoteSignIn(root, status, o) : renderPasswordSignIn(root, status, o)),
    () => renderPasswordSignIn(root, null, o),
  );
}

/** Remote server: sign in through the system browser (authorization code + PKCE, loopback redirect). */
function renderRemoteSignIn(root: HTMLElement, status: ServiceStatus, o: SignInOptions): void {
  const name = status.server_name || "the server";
  const start = h("button", { type: "button", class: "primary wide", "data-testid": "sign-in-browser" }, "Sign in with your browser");
  const cancel = h("button", { type: "button", class: "secondary", "data-testid": "cancel-sign-in" }, "Cancel");
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "sign-in-error" });
  const waiting = h(
    "div",
    { class: "browser-wait", role: "status", "aria-live": "polite", "data-testid": "browser-wait", hidden: true },
    h("p", { class: "browser-wait-title" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Continue in your browser…"),
    h("p", { class: "muted small" }, `Portico opened your browser at ${name}. Sign in there and allow Portico; this window continues by itself.`),
    h("div", { class: "progress", "aria-hidden": "true" }, h("span", { class: "progress-bar" })),
    cancel,
  );
  let busy = false;
  const setWaiting = (on: boolean) => {
    busy = on;
    waiting.hidden = !on;
    start.hidden = on;
  };
  start.addEventListener("click", async () => {
    if (busy) return;
    error.textContent = "";
    setWaiting(true);
    cancel.disabled = false;
    cancel.focus();
    try {
      const user = await api.signInBrowser();
      o.onSignedIn(user);
    } catch (e) {
      setWaiting(false);
      error.textContent = browserSignInErrorText(api.toApiError(e), name);
      start.focus();
    }
  });
  cancel.addEventListener("click", () => {
    cancel.disabled = true;
    // sign_in_browser then rejects with "cancelled", which puts the screen back.
    api.cancelSignIn().catch((e) => {
      cancel.disabled = false;
      error.textContent = `Could not cancel: ${api.toApiError(e).message}`;
    });
  });
  mount(
    root,
    h(
      "main",
      { class: "signin" },
      h(
        "div",
        { class: "signin-card", "data-testid": "remote-sign-in" },
        h("div", { class: "brand big" }, h("span", { class: "logo", "aria-hidden": "true" }, "P"), "Portico"),
        h("h1", null, "Sign in"),
        h("p", { class: "server-identity" }, h("strong", { "data-testid": "server-name" }, name), h("code", { class: "server-url", "data-testid": "server-url-shown" }, status.base_url)),
        o.message ? h("p", { class: "notice", role: "status" }, o.message) : null,
        h("p", { class: "muted" }, "You sign in on the clinic's own page in your browser; Portico never sees your password."),
        start,
        waiting,
        error,
        status.keychain_label ? h("p", { class: "muted small keychain-line", "data-testid": "keychain-label" }, `Your sign-in is kept in: ${status.keychain_label}`) : null,
        serverLine(status, o),
      ),
    ),
  );
  start.focus();
}

function renderPasswordSignIn(root: HTMLElement, status: ServiceStatus | null, o: SignInOptions): void {
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const userErr = h("p", { class: "field-error", id: "username-error", "aria-live": "polite" });
  const passErr = h("p", { class: "field-error", id: "password-error", "aria-live": "polite" });
  const formErr = h("p", { class: "form-error", role: "alert", "data-testid": "sign-in-error" });
  const submit = h("button", { type: "submit", class: "primary wide", "data-testid": "sign-in" }, "Sign in");
  const notice = h("div", { class: "notice-slot" });
  const demo = h("div", { class: "demo-slot" });
  const signup = h("div", { class: "signup-slot" });
  let busy = false;

  const setBusy = (b: boolean) => {
    busy = b;
    submit.disabled = b;
    submit.textContent = b ? "Signing in…" : "Sign in";
    for (const btn of Array.from(demo.querySelectorAll("button"))) (btn as HTMLButtonElement).disabled = b;
  };

  const attempt = async (u: string, p: string) => {
    if (busy) return;
    formErr.textContent = "";
    setBusy(true);
    try {
      const user = await api.signIn(u, p);
      o.onSignedIn(user);
    } catch (e) {
      const err = api.toApiError(e);
      setBusy(false);
      formErr.textContent =
        err.code === "unauthenticated" || err.code === "forbidden"
          ? "That username and password do not match. Check them and try again."
          : err.code === "unavailable"
            ? "The Portico service is not reachable right now. Try again in a moment."
            : err.message;
      password.select();
      password.focus();
    }
  };

  const setFieldError = (input: HTMLInputElement, el: HTMLElement, msg: string) => {
    el.textContent = msg;
    if (msg) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", el.id);
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  };

  const form = h(
    "form",
    {
      class: "signin-form",
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        const u = username.value.trim();
        const p = password.value;
        setFieldError(username, userErr, u ? "" : "Enter your username.");
        setFieldError(password, passErr, p ? "" : "Enter your password.");
        if (!u) return username.focus();
        if (!p) return password.focus();
        void attempt(u, p);
      },
    },
    h("div", { class: "field" }, h("label", { for: "username" }, "Username"), username, userErr),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"), password, passErr),
    formErr,
    submit,
  );
  username.addEventListener("input", () => setFieldError(username, userErr, ""));
  password.addEventListener("input", () => setFieldError(password, passErr, ""));

  mount(
    root,
    h(
      "main",
      { class: "signin" },
      h(
        "div",
        { class: "signin-card" },
        h("div", { class: "brand big" }, h("span", { class: "logo", "aria-hidden": "true" }, "P"), "Portico"),
        h("h1", null, "Sign in"),
        h("p", { class: "muted" }, "Decide which apps may see health data."),
        o.message ? h("p", { class: "notice", role: "status" }, o.message) : null,
        notice,
        form,
        signup,
        serverLine(status, o),
      ),
      demo,
    ),
  );
  username.focus();

  if (status && status.keychain === "memory") {
    mount(
      notice,
      h("p", { class: "notice", "data-testid": "keychain-notice" }, status.keychain_message || "No OS keychain: you will be signed out when Portico closes."),
    );
  }

  // Only a service started with --allow-signup offers developer accounts.
  void api
    .serviceFeatures()
    .then((f) => {
      if (!f.allow_signup || !root.contains(signup)) return;
      mount(
        signup,
        h(
          "p",
          { class: "signup-line" },
          "Building an app? ",
          h(
            "button",
            {
              type: "button",
              class: "link",
              "data-testid": "create-developer-account",
              onclick: async () => {
                const { openSignup } = await import("./signup");
                openSignup(o.onSignedIn);
              },
            },
            "Create a developer account",
          ),
        ),
      );
    })
    .catch(() => undefined);

  void api
    .demoAccounts()
    .then((accounts: DemoAccount[]) => {
      if (!accounts.length || !root.contains(demo)) return;
      mount(
        demo,
        h(
          "section",
          { class: "demo-card", "aria-labelledby": "demo-title" },
          h("h2", { id: "demo-title" }, "Demo accounts"),
          h("p", { class: "muted small" }, "Embedded demo with synthetic patients. One click signs in."),
          h(
            "ul",
            { class: "demo-list" },
            ...accounts.map((a) =>
              h(
                "li",
                null,
                h(
                  "button",
                  { type: "button", class: "demo-button", "data-testid": `demo-${a.username}`, disabled: busy, onclick: () => void attempt(a.username, a.password) },
                  h("span", { class: "demo-name" }, a.display_name),
                  h("span", { class: "demo-roles" }, a.roles.map(roleLabel).join(", ") || a.username),
                ),
              ),
            ),
          ),
        ),
      );
    })
    .catch(() => undefined);
}
