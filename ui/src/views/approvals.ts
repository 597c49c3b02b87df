// Administrators: requests to approve third-party apps for their practices. Pending first, each with the
// app's details; approve, deny (with a reason) or withdraw an approval (with a reason).
import * as api from "../api";
import type { Ctx } from "../app";
import { APPROVAL_LABEL, AUTH_LABEL, PLATFORM_LABEL, pendingCount, reasonProblem, scopeList, sortApprovals } from "../apps";
import { waitingForApproval, waitingTag } from "../connection";
import { openDialog } from "../dialog";
import { emptyBlock, errorBlock, h, loadingBlock, mount } from "../dom";
import { formatDateTime } from "../format";
import { toast } from "../toast";
import type { App, Approval } from "../types";
import { approvalChip } from "./apps";
import { externalLink } from "./connected";

/** An approval as the administrator's list carries it: the request plus, when the service sends them, the app's details. */
type Request = Approval & Partial<Pick<App, "description" | "homepage" | "privacy_policy" | "app_type" | "platform" | "client_auth" | "redirect_uris" | "scopes" | "owner">> & {
  developer?: string;
  app?: App;
};

export function render(el: HTMLElement, ctx: Ctx): void {
  const box = h("div", { class: "card-list", role: "region", "aria-label": "App approval requests", "aria-live": "polite" });
  el.append(
    h(
      "div",
      { class: "page-head" },
      h("div", null, h("h1", null, "App approvals"), h("p", { class: "muted" }, "Third-party apps reach your practice's data only once you approve them, and only what each person consents to. Withdrawing stops them at their next request.")),
    ),
    box,
  );
  const load = async () => {
    try {
      const list = sortApprovals((await api.approvals()) as Request[]);
      ctx.setBadge("approvals", pendingCount(list));
      if (!list.length) return mount(box, emptyBlock("No requests", "When a developer asks one of your practices to approve an app, the request appears here."));
      mount(box, ...list.map((r) => requestCard(r, ctx, () => void load())));
    } catch (e) {
      const err = ctx.fail(e, "Could not load the approval requests", false);
      mount(box, errorBlock(`The requests could not be loaded: ${err.message}`, () => void load()));
    }
  };
  mount(box, loadingBlock("Loading requests…"));
  void load();
}

function fact(label: string, value: Node | string | null | undefined): HTMLElement | null {
  if (value === null || value === undefined || value === "") return null;
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, value));
}

function requestCard(r: Request, ctx: Ctx, refresh: () => void): HTMLElement {
  // The details live on the approval itself or on a nested app, whichever the service sends.
  const app = r.app;
  const d = {
    description: r.description ?? app?.description,
    homepage: r.homepage ?? app?.homepage ?? null,
    privacy: r.privacy_policy ?? app?.privacy_policy ?? null,
    type: r.app_type ?? app?.app_type,
    platform: r.platform ?? app?.platform,
    auth: r.client_auth ?? app?.client_auth,
    redirects: r.redirect_uris ?? app?.redirect_uris ?? [],
    scopes: r.scopes ?? app?.scopes ?? "",
    developer: r.developer ?? r.owner ?? app?.owner ?? r.requested_by,
  };
  const actions = h("div", { class: "card-actions" });
  if (r.status === "pending" || r.status === "denied" || r.status === "withdrawn") {
    actions.append(
      h("button", { type: "button", class: "primary small", "data-testid": "approve", onclick: () => void decide(r, "approved", ctx, refresh) }, r.status === "pending" ? "Approve" : "Approve after all"),
    );
  }
  if (r.status === "pending") {
    actions.append(h("button", { type: "button", class: "danger small", "data-testid": "deny", onclick: () => void decide(r, "denied", ctx, refresh) }, "Deny"));
  }
  if (r.status === "approved") {
    actions.append(h("button", { type: "button", class: "danger small", "data-testid": "withdraw", onclick: () => void decide(r, "withdrawn", ctx, refresh) }, "Withdraw approval"));
  }
  return h(
    "article",
    { class: `card credential approval-card${r.status === "pending" ? " pending" : ""}`, "data-testid": "approval-request", "data-app": r.app_name, "data-status": r.status, "aria-label": `${r.app_name} for ${r.practice_name}` },
    h("header", { class: "card-head" }, h("h3", null, r.app_name), h("span", { class: "badges" }, waitingTag(waitingForApproval(ctx.connection, r.app_id, r.practice_id)), approvalChip(r.status, APPROVAL_LABEL[r.status] ?? r.status, r.reason))),
    d.description ? h("p", { class: "note" }, d.description) : null,
    h(
      "dl",
      { class: "facts" },
      fact("Practice", r.practice_name),
      fact("Developer", d.developer),
      fact("Type", d.type === "system" ? "System (backend service, no person signs in)" : d.type === "patient" ? "Patient-facing (people sign in and consent)" : undefined),
      fact("Runs as", d.platform ? (PLATFORM_LABEL[d.platform] ?? d.platform) : undefined),
      fact("Client authentication", d.auth ? (AUTH_LABEL[d.auth] ?? d.auth) : undefined),
      fact("Homepage", d.homepage ? externalLink(d.homepage, ctx) : undefined),
      fact("Privacy policy", d.privacy ? externalLink(d.privacy, ctx) : "none given"),
      fact("Redirect URIs", d.redirects.length ? h("span", { class: "uri-list" }, ...d.redirects.map((u) => h("code", null, u))) : undefined),
      fact("Scopes", d.scopes ? h("span", { class: "chips" }, ...scopeList(d.scopes).map((s) => h("code", { class: "chip static" }, s))) : undefined),
      fact("Client ID", h("code", null, r.client_id)),
      fact("Requested", `${formatDateTime(r.requested_at)} by ${r.requested_by}`),
      r.decided_at ? fact("Decided", `${formatDateTime(r.decided_at)}${r.decided_by ? ` by ${r.decided_by}` : ""}`) : null,
      fact("Reason", r.reason),
    ),
    actions,
  );
}

const VERB: Record<"approved" | "denied" | "withdrawn", { title: string; button: string; done: string }> = {
  approved: { title: "Approve", button: "Approve", done: "approved" },
  denied: { title: "Deny", button: "Deny", done: "denied" },
  withdrawn: { title: "Withdraw approval of", button: "Withdraw approval", done: "no longer approved" },
};

/** Approve, or deny / withdraw with a reason the developer will read. */
async function decide(r: Request, status: "approved" | "denied" | "withdrawn", ctx: Ctx, refresh: () => void): Promise<void> {
  const v = VERB[status];
  const d = openDialog({ title: `${v.title} “${r.app_name}” for ${r.practice_name}?`, size: "small", testid: "decide-dialog" });
  const reason = h("textarea", { id: "decision-reason", rows: 3, maxlength: 600, "data-testid": "decision-reason", "aria-describedby": "decision-reason-hint" });
  const reasonErr = h("p", { class: "field-error", id: "decision-reason-error", "aria-live": "polite", "data-testid": "reason-error" });
  const formErr = h("p", { class: "form-error", role: "alert" });
  const needsReason = status !== "approved";
  const message =
    status === "approved"
      ? `People whose records are at ${r.practice_name} can then connect “${r.app_name}”, each deciding what it may see.`
      : status === "denied"
        ? `“${r.app_name}” will not reach ${r.practice_name}'s data. The developer sees your reason.`
        : `Every token of “${r.app_name}” stops reaching ${r.practice_name}'s data at its next request. The developer sees your reason.`;
  d.body.append(
    h("p", null, message),
    h(
      "div",
      { class: "field" },
      h("label", { for: "decision-reason" }, "Reason", needsReason ? null : h("span", { class: "muted" }, " (optional)")),
      h("p", { class: "hint", id: "decision-reason-hint" }, needsReason ? "Required: something the developer can act on." : "Shown to the developer."),
      reason,
      reasonErr,
    ),
    formErr,
  );
  const confirm = h("button", { type: "button", class: status === "approved" ? "primary" : "danger", "data-testid": "confirm-decision" }, v.button);
  reason.addEventListener("input", () => {
    reasonErr.textContent = "";
    reason.removeAttribute("aria-invalid");
  });
  confirm.addEventListener("click", async () => {
    const why = reasonProblem(status, reason.value);
    if (why) {
      reasonErr.textContent = why;
      reason.setAttribute("aria-invalid", "true");
      reason.setAttribute("aria-describedby", "decision-reason-hint decision-reason-error");
      reason.focus();
      return;
    }
    confirm.disabled = true;
    try {
      await api.decideApproval(r.app_id, r.practice_id, status, reason.value.trim() || null);
      d.close();
      toast(`“${r.app_name}” is ${v.done} for ${r.practice_name}.`);
      refresh();
    } catch (e) {
      const ae = api.toApiError(e);
      confirm.disabled = false;
      if (ae.code === "unauthenticated" || ae.code === "queued") {
        // queued: the decision waits in the outbox; the card shows "Waiting to send" until the server confirms.
        d.close();
        ctx.fail(ae, "Could not save the decision");
        if (ae.code === "queued") refresh();
      } else {
        formErr.textContent = ae.message;
        if (ae.code === "invalid_input") reason.focus();
      }
    }
  });
  d.footer.append(h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, "Cancel"), confirm);
}
