// Revocation receipts: for each deleted app, when it was cut off, how many tokens died with it, and the
// first request it made afterwards (which was refused): proof that the cut-off worked.
import * as api from "../api";
import type { Ctx } from "../app";
import { h, mount } from "../dom";
import { describeEvent, formatWeekdayTime } from "../format";
import type { RevocationReceipt } from "../types";

export function receiptSentence(r: RevocationReceipt): string {
  const tokens = r.tokens_revoked === 1 ? "1 access token" : `${r.tokens_revoked} access tokens`;
  const cut = `Deleted ${formatWeekdayTime(r.deleted_at)}; ${tokens} stopped working at once.`;
  const after = r.first_refused
    ? ` Its next attempt, ${formatWeekdayTime(r.first_refused.at)}, ${describeEvent(r.first_refused)}.`
    : " It has not tried again since; it would be refused.";
  return cut + after;
}

/** A quiet section under the list; hidden while there is nothing to show. */
export function receiptsSection(ctx: Ctx): { el: HTMLElement; refresh: () => Promise<void> } {
  const list = h("ul", { class: "receipts" });
  const el = h(
    "section",
    { class: "receipts-section", "aria-labelledby": "receipts-title", hidden: true, "data-testid": "receipts" },
    h("h2", { id: "receipts-title" }, "Recently deleted"),
    h("p", { class: "muted small" }, "What happened when you cut these apps off."),
    list,
  );
  const refresh = async () => {
    try {
      const all = await api.receipts();
      el.hidden = all.length === 0;
      mount(
        list,
        ...all.map((r) =>
          h("li", { class: "receipt", "data-testid": "receipt", "data-name": r.name }, h("strong", null, r.name), " — ", receiptSentence(r)),
        ),
      );
    } catch (e) {
      ctx.fail(e, "Could not load the deleted apps", false);
    }
  };
  return { el, refresh };
}
