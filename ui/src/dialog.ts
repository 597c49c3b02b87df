// Modal dialogs: focus moves in, Tab stays inside, Escape asks to close, focus returns to the opener.
import { focusableIn, h, icon, nextId } from "./dom";
import { setDialogOpen } from "./toast";

export interface DialogOptions {
  title: string;
  /** Called on Escape, the × button or a backdrop click; default closes. */
  onRequestClose?: (close: () => void) => void;
  /** Called once after the dialog is removed. */
  onClosed?: () => void;
  size?: "small" | "medium" | "large";
  testid?: string;
  /** Element to focus first; default the first field or button in the body. */
  initialFocus?: () => HTMLElement | null;
  description?: string;
}

export interface DialogHandle {
  root: HTMLElement;
  body: HTMLElement;
  footer: HTMLElement;
  titleEl: HTMLElement;
  close: () => void;
  requestClose: () => void;
}

const stack: DialogHandle[] = [];

export function openDialog(opts: DialogOptions): DialogHandle {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = nextId("dialog-title");
  const descId = opts.description ? nextId("dialog-desc") : null;
  const titleEl = h("h2", { id: titleId, class: "dialog-title" }, opts.title);
  const body = h("div", { class: "dialog-body" });
  const footer = h("div", { class: "dialog-footer" });
  let closed = false;

  const close = () => {
    if (closed) return;
    closed = true;
    document.removeEventListener("keydown", onKey, true);
    backdrop.remove();
    const i = stack.indexOf(handle);
    if (i >= 0) stack.splice(i, 1);
    if (stack.length === 0) {
      document.getElementById("app")?.removeAttribute("aria-hidden");
      setDialogOpen(false);
    }
    if (opener && document.body.contains(opener)) opener.focus();
    else {
      const top = stack[stack.length - 1];
      if (top) focusableIn(top.root)[0]?.focus();
    }
    opts.onClosed?.();
  };
  const requestClose = () => {
    if (closed) return;
    if (opts.onRequestClose) opts.onRequestClose(close);
    else close();
  };

  const dialog = h(
    "div",
    {
      class: `dialog ${opts.size ?? "medium"}`,
      role: "dialog",
      "aria-modal": "true",
      "aria-labelledby": titleId,
      "aria-describedby": descId,
      "data-testid": opts.testid,
      tabindex: "-1",
    },
    h(
      "div",
      { class: "dialog-header" },
      titleEl,
      h("button", { type: "button", class: "icon-button", "aria-label": "Close", "data-testid": "dialog-close", onclick: requestClose }, icon("close")),
    ),
    opts.description ? h("p", { id: descId, class: "dialog-desc" }, opts.description) : null,
    body,
    footer,
  );
  const backdrop = h("div", { class: "backdrop" }, dialog);
  backdrop.addEventListener("mousedown", (e) => {
    if (e.target === backdrop) requestClose();
  });

  const handle: DialogHandle = { root: dialog, body, footer, titleEl, close, requestClose };

  function onKey(e: KeyboardEvent) {
    if (stack[stack.length - 1] !== handle) return;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      requestClose();
    } else if (e.key === "Tab") {
      const items = focusableIn(dialog);
      if (items.length === 0) {
        e.preventDefault();
        dialog.focus();
        return;
      }
      const first = items[0];
      const last = items[items.length - 1];
      const active = document.activeElement;
      if (e.shiftKey && (active === first || active === dialog || !dialog.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !dialog.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    }
  }

  document.addEventListener("keydown", onKey, true);
  document.body.appendChild(backdrop);
  document.getElementById("app")?.setAttribute("aria-hidden", "true");
  stack.push(handle);
  // Toasts move to the top of the window while a dialog is open, so none covers its footer buttons.
  setDialogOpen(true);

  // Focus after the caller has filled body and footer.
  queueMicrotask(() => {
    if (closed) return;
    const target = opts.initialFocus?.() ?? body.querySelector<HTMLElement>("input, select, textarea") ?? focusableIn(body)[0] ?? focusableIn(footer)[0];
    (target ?? dialog).focus();
  });
  return handle;
}

export interface ConfirmOptions {
  title: string;
  message: string | Node;
  confirmLabel: string;
  danger?: boolean;
  cancelLabel?: string;
  /** Extra content (e.g. a grace-period select) placed under the message. */
  extra?: HTMLElement;
}

/** Resolves true on confirm, false on cancel / Escape / ×. */
export function confirmDialog(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let result = false;
    const d = openDialog({
      title: o.title,
      size: "small",
      testid: "confirm-dialog",
      onClosed: () => resolve(result),
      initialFocus: () => d.footer.querySelector<HTMLElement>('[data-testid="cancel"]'),
    });
    d.body.append(typeof o.message === "string" ? h("p", null, o.message) : o.message);
    if (o.extra) d.body.append(o.extra);
    d.footer.append(
      h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, o.cancelLabel ?? "Cancel"),
      h(
        "button",
        {
          type: "button",
          class: o.danger ? "danger" : "primary",
          "data-testid": "confirm",
          onclick: () => {
            result = true;
            d.close();
          },
        },
        o.confirmLabel,
      ),
    );
  });
}
