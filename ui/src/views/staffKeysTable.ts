// Administrators: the developer and provider keys of their practices as a table the service searches,
// filters, sorts and pages, each with a Revoke button (asks first).
import * as api from "../api";
import type { Ctx } from "../app";
import { waitingFor, waitingTag } from "../connection";
import { h } from "../dom";
import { formatDate, formatDateTime, formatRelative } from "../format";
import type { Practice, StaffKey } from "../types";
import { remove, statusBadges } from "./credentials";
import { pagedTable, type PagedTable } from "./pagedTable";

const KIND_LABEL: Record<string, string> = { developer: "Developer", provider: "Provider" };
const kindLabel = (k: string) => KIND_LABEL[k] ?? k;

function lastUsed(iso: string | null): HTMLElement {
  if (!iso) return h("span", { class: "muted" }, "Never");
  return h("time", { datetime: iso, title: formatDateTime(iso) }, formatRelative(iso));
}

function validTo(iso: string | null): HTMLElement {
  if (!iso) return h("span", { class: "muted" }, "No end date");
  const ended = Date.parse(iso) <= Date.now();
  return h("time", { datetime: iso, title: formatDateTime(iso), class: ended ? "ended" : null }, ended ? `Ended ${formatDate(iso)}` : formatDate(iso));
}

export function staffKeysTable(ctx: Ctx, practices: Practice[]): PagedTable {
  const t: PagedTable = pagedTable<StaffKey>({
    testid: "staff-keys-table",
    caption: "Staff keys",
    noun: ["staff key", "staff keys"],
    searchLabel: "Search keys",
    searchPlaceholder: "Key name or owner",
    filters: [
      { param: "kind", label: "Kind", anyLabel: "All kinds", options: ["developer", "provider"].map((k) => ({ value: k, label: kindLabel(k) })) },
      ...(practices.length
        ? [{ param: "practice", label: "Practice", anyLabel: "All practices", options: practices.map((p) => ({ value: String(p.id), label: p.name })), parse: Number }]
        : []),
    ],
    sort: "name",
    dir: "asc",
    fetch: (q) => api.staffCredentials(q),
    rowAttrs: (k) => ({ "data-testid": "staff-key-row", "data-name": k.name, "data-id": k.id, "data-owner": k.owner }),
    emptyTitle: "No staff keys",
    emptyText: "Developers and providers of your practices have not created any keys.",
    timing: "staff_keys_table",
    onError: (e) => ctx.fail(e, "Could not load staff keys", false).message,
    columns: [
      {
        id: "name",
        label: "Key",
        sort: "name",
        rowHeader: true,
        cell: (k) => {
          const badges = statusBadges(k);
          const tag = waitingTag(waitingFor(ctx.connection, [k.id]));
          if (tag) badges.prepend(tag);
          // Only what is worth a look: an inactive or ended key, or one waiting in the outbox.
          const plain = k.usable && k.status === "active" && !tag;
          return h(
            "span",
            { class: "cell-stack" },
            h("span", { class: "cell-main" }, k.name),
            h("span", { class: "cell-sub when-narrow muted" }, kindLabel(k.kind)),
            plain ? null : badges,
          );
        },
      },
      {
        id: "owner",
        label: "Owner",
        sort: "owner",
        cell: (k) => h("span", { class: "cell-stack" }, h("span", { class: "cell-main" }, k.owner_name || k.owner), h("span", { class: "cell-sub muted" }, `@${k.owner}`)),
      },
      { id: "kind", label: "Kind", optional: true, cell: (k) => kindLabel(k.kind) },
      {
        id: "practices",
        label: "Practices",
        optional: true,
        cell: (k) => (k.owner_practices.length ? k.owner_practices.map((p) => p.name).join(", ") : h("span", { class: "muted" }, "None")),
      },
      { id: "last-used", label: "Last used", sort: "last_used", firstDir: "desc", cell: (k) => lastUsed(k.last_used_at) },
      { id: "valid-to", label: "Valid to", sort: "valid_to", cell: (k) => validTo(k.valid_to) },
      {
        id: "actions",
        label: "Actions",
        hiddenLabel: true,
        cell: (k) =>
          h(
            "button",
            {
              type: "button",
              class: "danger small",
              "data-testid": "revoke",
              "aria-label": `Revoke ${k.name} of ${k.owner_name || k.owner}`,
              onclick: () => void remove(k, { ctx, refresh: () => void t.reload() }, "Revoke"),
            },
            "Revoke",
          ),
      },
    ],
  });
  return t;
}
