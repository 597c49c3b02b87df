// Staff: the SMART apps they authorized themselves (user/ scopes), with the same controls patients have, and
// the apps their practices approved (what can reach their patients' data once a person allows it).
import * as api from "../api";
import type { Ctx } from "../app";
import { emptyBlock, errorBlock, h, loadingBlock, mount } from "../dom";
import { formatDate } from "../format";
import type { Approval } from "../types";
import { approvalChip } from "./apps";
import { connectedAppsSection } from "./connected";
import { nudgesSection } from "./nudges";

type Approved = Approval & { scopes?: string; owner?: string; description?: string };

function approvedCard(a: Approved): HTMLElement {
  const row = (label: string, value: string | null | undefined) =>
    value ? h("div", { class: "fact" }, h("dt", null, label), h("dd", null, value)) : null;
  return h(
    "article",
    { class: "card credential", "data-testid": "practice-app", "aria-label": `${a.app_name}, approved for ${a.practice_name}` },
    h("header", { class: "card-head" }, h("h3", null, a.app_name), h("span", { class: "badges" }, approvalChip("approved", "Approved", null))),
    a.description ? h("p", { class: "note" }, a.description) : null,
    h(
      "dl",
      { class: "facts" },
      row("Practice", a.practice_name),
      row("Developer", a.owner ?? a.requested_by),
      row("May ask for", a.scopes ?? null),
      row("Approved", a.decided_at ? `${formatDate(a.decided_at)}${a.decided_by ? ` by ${a.decided_by}` : ""}` : null),
    ),
  );
}

function practiceAppsSection(ctx: Ctx): HTMLElement {
  const list = h("div", { class: "card-list", role: "region", "aria-label": "Apps approved for your practice", "aria-busy": "true" });
  const load = async () => {
    try {
      const approved = (await api.approvals()).filter((a) => a.status === "approved") as Approved[];
      mount(
        list,
        ...(approved.length
          ? approved.map(approvedCard)
          : [emptyBlock("No app is approved for your practice", "An administrator approves the apps that may ask for your patients' data.")]),
      );
    } catch (e) {
      const err = ctx.fail(e, "Could not load your practice's apps", false);
      mount(list, errorBlock(`Your practice's apps could not be loaded: ${err.message}`, () => void load()));
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  };
  mount(list, loadingBlock("Loading your practice's apps…"));
  void load();
  return h(
    "section",
    { class: "connected-section", "aria-labelledby": "practice-apps-title" },
    h(
      "div",
      { class: "page-head second" },
      h("div", null, h("h2", { id: "practice-apps-title" }, "Apps approved for your practice"), h("p", { class: "muted" }, "These apps may ask for your practice's data; each one gets only what the person signing in allows.")),
    ),
    list,
  );
}

export function render(el: HTMLElement, ctx: Ctx): void {
  const section = connectedAppsSection(ctx, { heading: false, staff: true });
  // The apps' own nudges, and notices about keys of an area this person no longer has (see nudgeHome).
  const attention = nudgesSection({ ctx, area: "connected", onChange: () => void section.refresh() });
  el.append(
    h(
      "div",
      { class: "page-head" },
      h("div", null, h("h1", { id: "connected-title" }, "Connected apps"), h("p", { class: "muted" }, "Apps you allowed with “Sign in with Portico”. Each reaches what you allowed and your role permits, until the date you set.")),
    ),
    attention.el,
    section.el,
    practiceAppsSection(ctx),
  );
}
