// Toasts for every outcome; the region is aria-live polite so screen readers announce them.
import { h, icon } from "./dom";

let region: HTMLElement | null = null;

function ensureRegion(): HTMLElement {
  if (region && document.body.contains(region)) return region;
  region = h("div", { class: "toasts", role: "status", "aria-live": "polite", "aria-atomic": "false" });
  document.body.appendChild(region);
  return region;
}

const MAX_VISIBLE = 3;

export type ToastKind = "success" | "error" | "info";

export function toast(message: string, kind: ToastKind = "success"): void {
  const r = ensureRegion();
  const item = h(
    "div",
    { class: `toast ${kind}` },
    h("span", { "data-testid": "toast", class: "toast-text" }, message),
    h("button", { type: "button", class: "icon-button", "aria-label": "Dismiss notification", onclick: () => item.remove() }, icon("close")),
  );
  r.appendChild(item);
  // A short stack: older news gives way, so toasts never pile up over the page.
  while (r.children.length > MAX_VISIBLE) r.firstElementChild?.remove();
  window.setTimeout(() => item.remove(), kind === "error" ? 12000 : 6000);
}
