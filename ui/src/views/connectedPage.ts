// Staff: the SMART apps they authorized themselves (user/ scopes), with the same controls patients have.
import type { Ctx } from "../app";
import { h } from "../dom";
import { connectedAppsSection } from "./connected";

export function render(el: HTMLElement, ctx: Ctx): void {
  const section = connectedAppsSection(ctx, { heading: false, staff: true });
  el.append(
    h(
      "div",
      { class: "page-head" },
      h("div", null, h("h1", { id: "connected-title" }, "Connected apps"), h("p", { class: "muted" }, "Apps you allowed with “Sign in with Portico”. Each reaches what you allowed and your role permits, until the date you set.")),
    ),
    section.el,
  );
}
