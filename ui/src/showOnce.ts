// The one place a secret is ever displayed: right after create or regenerate.
import * as api from "./api";
import { confirmDialog, openDialog } from "./dialog";
import { h, icon } from "./dom";
import { ShowOnceState, type Field } from "./showOnceState";
import { toast } from "./toast";
import type { IssuedAppSecret, IssuedSecret } from "./types";

export interface ShowOnceLabels {
  title: string;
  clientId: string;
  clientSecret: string;
}

export const APP_LABELS: ShowOnceLabels = { title: "Your app’s credential", clientId: "Client ID", clientSecret: "Client secret" };
export const PROVIDER_LABELS: ShowOnceLabels = { title: "Your new access key", clientId: "Access key id", clientSecret: "Secret access key" };

const TESTID: Record<Field, string> = {
  client_id: "client-id",
  client_secret: "client-secret",
  token_url: "token-url",
  fhir_base_url: "fhir-base-url",
  authorize_url: "authorize-url",
};

/** Opens the dialog; resolves when it is closed (the secret is gone by then). */
export function showOnce(issued: IssuedSecret | IssuedAppSecret, labels: ShowOnceLabels = APP_LABELS, intro?: string): Promise<void> {
  const name = "app" in issued ? issued.app.name : issued.credential.name;
  const state = new ShowOnceState(issued);
  return new Promise((resolve) => {
    const d = openDialog({
      title: labels.title,
      size: "medium",
      testid: "show-once",
      onRequestClose: async (close) => {
        if (state.requestClose() === "close") return finish(close);
        const ok = await confirmDialog({
          title: "Close without copying the secret?",
          message: `The ${labels.clientSecret.toLowerCase()} is shown only now. If you close, you will need to regenerate it to connect “${name}”.`,
          confirmLabel: "Close anyway",
          cancelLabel: "Keep it open",
          danger: true,
        });
        if (ok) finish(close);
      },
      onClosed: () => {
        state.done();
        resolve();
      },
      initialFocus: () => d.body.querySelector<HTMLElement>('[data-testid="copy-client-secret"]'),
    });

    function finish(close: () => void) {
      state.done();
      secretEl.textContent = "";
      qrBox.textContent = "";
      close();
    }

    const copyStatus = h("p", { class: "copy-status", "aria-live": "polite" });
    const row = (field: Field, label: string, extra?: HTMLElement) => {
      const valueEl = h("code", { class: "value", "data-testid": TESTID[field] }, field === "client_secret" ? state.secretText() : state.value(field));
      const copyBtn = h(
        "button",
        {
          type: "button",
          class: "secondary small",
          "data-testid": `copy-${TESTID[field]}`,
          "aria-label": `Copy ${label}`,
          onclick: async () => {
            try {
              await api.copyText(state.value(field), field === "client_secret");
              state.markCopied(field);
              copyBtn.lastChild!.textContent = "Copied";
              copyBtn.classList.add("done");
              copyStatus.textContent =
                field === "client_secret" ? `${label} copied; it leaves the clipboard in 60 seconds.` : `${label} copied.`;
            } catch (e) {
              toast(`Could not copy: ${api.toApiError(e).message}`, "error");
            }
          },
        },
        icon("copy"),
        h("span", null, "Copy"),
      );
      return { valueEl, el: h("div", { class: "secret-row" }, h("div", { class: "secret-label" }, label), h("div", { class: "secret-value" }, valueEl, extra ?? null, copyBtn)) };
    };

    const toggle = h(
      "button",
      {
        type: "button",
        class: "secondary small",
        "data-testid": "toggle-secret",
        "aria-pressed": "false",
        onclick: () => {
          const shown = state.toggleReveal();
          secretEl.textContent = state.secretText();
          toggle.textContent = shown ? "Hide" : "Show";
          toggle.setAttribute("aria-pressed", String(shown));
          toggle.setAttribute("aria-label", `${shown ? "Hide" : "Show"} ${labels.clientSecret}`);
        },
        "aria-label": `Show ${labels.clientSecret}`,
      },
      "Show",
    );

    const idRow = row("client_id", labels.clientId);
    const secretRow = row("client_secret", labels.clientSecret, toggle);
    const secretEl = secretRow.valueEl;
    secretEl.classList.add("secret");

    const qrBox = h("div", { class: "qr", "aria-label": "QR code with the credential details", role: "img", hidden: true });
    const qrToggle = h(
      "button",
      {
        type: "button",
        class: "link",
        "aria-expanded": "false",
        "data-testid": "toggle-qr",
        onclick: async () => {
          const shown = state.toggleQr();
          qrToggle.setAttribute("aria-expanded", String(shown));
          qrToggle.textContent = shown ? "Hide QR code" : "Show QR code";
          if (!shown) {
            qrBox.textContent = "";
            qrBox.hidden = true;
            return;
          }
          qrBox.hidden = false;
          qrBox.textContent = "Drawing…";
          try {
            const QR = await import("qrcode");
            const markup = await QR.toString(state.qrPayload(), { type: "svg", errorCorrectionLevel: "M", margin: 2 });
            if (state.qrShown) qrBox.innerHTML = markup;
          } catch {
            qrBox.textContent = "The QR code could not be drawn.";
          }
        },
      },
      "Show QR code",
    );

    if (intro) d.body.append(h("p", null, intro));
    d.body.append(
      h(
        "p",
        { class: "notice warn" },
        h("strong", null, "Copy the secret now. "),
        `Portico shows it only once; afterwards “${name}” lists just a short hint.`,
      ),
      h(
        "div",
        { class: "secret-grid" },
        idRow.el,
        secretRow.el,
        state.value("authorize_url") ? row("authorize_url", "Authorize URL").el : null,
        row("token_url", "Token URL").el,
        row("fhir_base_url", "FHIR base URL").el,
      ),
      copyStatus,
      h("p", { class: "muted small" }, "Portico clears a copied secret from the clipboard after 60 seconds."),
      h(
        "div",
        { class: "qr-section" },
        qrToggle,
        h("span", { class: "muted small" }, " — for a phone app; it shows the secret, so check who can see your screen."),
        qrBox,
      ),
    );
    d.footer.append(
      h(
        "button",
        { type: "button", class: "primary", "data-testid": "done", onclick: () => finish(d.close) },
        "Done",
      ),
    );
  });
}
