// Administrators: the people of their practices as a table the service searches, filters, sorts and pages
// (hundreds of staff, thousands of patient users), and a dialog to change one person's roles and practices.
import * as api from "../api";
import type { Ctx } from "../app";
import { NEEDS_SERVER, needsServer } from "../connection";
import { openDialog } from "../dialog";
import { append, h } from "../dom";
import { formatDateTime, formatRelative, roleLabel } from "../format";
import { toast } from "../toast";
import { ROLES, type Practice, type User } from "../types";
import { pagedTable, type PagedTable } from "./pagedTable";

/** "3 days ago" with the exact time on hover, or "Never". */
export function lastSignIn(iso: string | null | undefined): HTMLElement {
  if (!iso) return h("span", { class: "muted" }, "Never");
  return h("time", { datetime: iso, title: formatDateTime(iso) }, formatRelative(iso));
}

function practicesCell(u: User): Node {
  if (u.practices.length) return h("span", null, u.practices.map((p) => p.name).join(", "));
  if (u.patient_of?.length) return h("span", { class: "muted" }, `Patient of ${u.patient_of.map((p) => p.name).join(", ")}`);
  return h("span", { class: "muted" }, "None yet");
}

/**
 * The Users table. `practices` are the administrator's own: the practice filter and the practices a person
 * can be given (memberships elsewhere are theirs to keep).
 */
export function usersTable(ctx: Ctx, practices: Practice[]): PagedTable {
  const t: PagedTable = pagedTable<User>({
    testid: "users-table",
    caption: "Users",
    noun: ["user", "users"],
    searchLabel: "Search",
    searchPlaceholder: "Name or username",
    filters: [
      { param: "role", label: "Role", anyLabel: "All roles", options: ROLES.map((r) => ({ value: r, label: roleLabel(r) })) },
      ...(practices.length
        ? [{ param: "practice", label: "Practice", anyLabel: "All practices", options: practices.map((p) => ({ value: String(p.id), label: p.name })), parse: Number }]
        : []),
    ],
    sort: "name",
    dir: "asc",
    fetch: (q) => api.users(q),
    rowAttrs: (u) => ({ "data-testid": "user-row", "data-username": u.username, "data-user-id": String(u.id) }),
    emptyTitle: "No users yet",
    emptyText: "People appear here once they have an account in one of your practices.",
    timing: "users_table",
    onError: (e) => ctx.fail(e, "Could not load users", false).message,
    columns: [
      {
        id: "name",
        label: "Name",
        sort: "name",
        rowHeader: true,
        cell: (u) => h("span", { class: "cell-stack" }, h("span", { class: "cell-main" }, u.display_name), h("span", { class: "cell-sub when-narrow muted" }, `@${u.username}`)),
      },
      { id: "username", label: "Username", sort: "username", optional: true, cell: (u) => h("span", { class: "mono-ish" }, u.username) },
      { id: "roles", label: "Roles", cell: (u) => (u.roles.length ? u.roles.map(roleLabel).join(" · ") : h("span", { class: "muted" }, "No roles")) },
      { id: "practices", label: "Practices", cell: practicesCell },
      { id: "last-sign-in", label: "Last sign-in", sort: "last_sign_in", firstDir: "desc", cell: (u) => lastSignIn(u.last_sign_in_at) },
      {
        id: "actions",
        label: "Actions",
        hiddenLabel: true,
        cell: (u) =>
          needsServer(
            ctx.connection,
            h(
              "button",
              { type: "button", class: "secondary small", "data-testid": "edit-user", "aria-label": `Edit ${u.display_name}`, onclick: () => editUser(u, ctx, practices, () => void t.reload()) },
              "Edit",
            ),
            NEEDS_SERVER.access,
          ),
      },
    ],
  });
  return t;
}

const sameSet = <T>(a: T[], b: Set<T>) => a.length === b.size && a.every((x) => b.has(x));

/** The dialog that changes one person's roles and their memberships among the administrator's practices. */
export function editUser(u: User, ctx: Ctx, practices: Practice[], onSaved: () => void): void {
  // What the service last confirmed: a save that half succeeded (roles, not practices) is not sent twice.
  const saved = { roles: new Set(u.roles), practices: new Set(u.practices.map((p) => p.id)) };
  const d = openDialog({ title: `Edit ${u.display_name}`, testid: "edit-user-dialog", description: `@${u.username}` });
  const roleBoxes = ROLES.map((r) => {
    const id = `edit-user-role-${r}`;
    const cb = h("input", { type: "checkbox", id, value: r, checked: saved.roles.has(r), "data-testid": `role-${r}` });
    return { r: r as string, cb, el: h("label", { class: "check", for: id }, cb, roleLabel(r)) };
  });
  const practiceBoxes = practices.map((p) => {
    const id = `edit-user-practice-${p.id}`;
    const cb = h("input", { type: "checkbox", id, value: String(p.id), checked: saved.practices.has(p.id), "data-testid": `practice-${p.id}` });
    return { p, cb, el: h("label", { class: "check", for: id }, cb, p.name) };
  });
  const elsewhere = u.practices.filter((p) => !practices.some((x) => x.id === p.id));
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "edit-user-error" });
  append(d.body, [
    h(
      "fieldset",
      { class: "field" },
      h("legend", null, "Roles"),
      h("div", { class: "checks" }, ...roleBoxes.map((b) => b.el)),
      h("p", { class: "hint" }, "Developer combines with any other role."),
    ),
    practiceBoxes.length
      ? h(
          "fieldset",
          { class: "field" },
          h("legend", null, "Practices"),
          h("div", { class: "checks" }, ...practiceBoxes.map((b) => b.el)),
          elsewhere.length ? h("p", { class: "hint" }, `Also a member of ${elsewhere.map((p) => p.name).join(", ")} (not yours to change).`) : null,
        )
      : null,
    u.patient_of?.length ? h("p", { class: "hint" }, `Patient of ${u.patient_of.map((p) => p.name).join(", ")}.`) : null,
    error,
  ]);
  const save = h("button", { type: "button", class: "primary", "data-testid": "save-user" }, "Save");
  const cancel = h("button", { type: "button", class: "secondary", "data-testid": "cancel", onclick: () => d.close() }, "Cancel");
  d.footer.append(cancel, save);
  d.body.addEventListener("change", () => (error.textContent = ""));

  save.addEventListener("click", async () => {
    const roles = roleBoxes.filter((b) => b.cb.checked).map((b) => b.r);
    const chosen = practiceBoxes.filter((b) => b.cb.checked).map((b) => b.p.id);
    const rolesChanged = !sameSet(roles, saved.roles);
    const practicesChanged = !sameSet(chosen, saved.practices);
    if (!rolesChanged && !practicesChanged) {
      d.close();
      return;
    }
    save.disabled = cancel.disabled = true;
    save.textContent = "Saving…";
    error.textContent = "";
    try {
      if (rolesChanged) {
        const after = await api.setRoles(u.id, roles);
        saved.roles = new Set(after.roles);
      }
      if (practicesChanged) {
        const after = await api.setPractices(u.id, chosen);
        saved.practices = new Set(after.practices.map((p) => p.id));
      }
      d.close();
      const what = rolesChanged && practicesChanged ? "Roles and practices" : rolesChanged ? "Roles" : "Practices";
      toast(`${what} saved for ${u.display_name}.`);
      onSaved();
    } catch (e) {
      const err = ctx.fail(e, `Could not save ${u.display_name}`, false);
      error.textContent = err.message;
      save.disabled = cancel.disabled = false;
      save.textContent = "Save";
      // Whatever did go through is shown in the table behind the dialog.
      if (!sameSet(u.roles, saved.roles)) onSaved();
    }
  });
}
