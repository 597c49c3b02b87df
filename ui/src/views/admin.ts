// Administrators: the people of their practices (roles and practice memberships, edited in a dialog) and the
// staff keys of their practices, each a table the service searches, filters, sorts and pages.
import type { Ctx } from "../app";
import { h } from "../dom";
import { practiceNudgesSection } from "./nudges";
import { staffKeysTable } from "./staffKeysTable";
import { usersTable } from "./usersTable";

export function render(el: HTMLElement, ctx: Ctx): void {
  // The administrator's own practices: what they may filter by and give people.
  const practices = ctx.user.practices;
  const users = usersTable(ctx, practices);
  const keys = staffKeysTable(ctx, practices);
  el.append(
    h(
      "div",
      { class: "page-head" },
      h("div", null, h("h1", null, "Users"), h("p", { class: "muted" }, "People of your practices, their patients, and new accounts that belong nowhere yet. Edit a person to change their roles and practices.")),
    ),
    users.el,
    practiceNudgesSection(ctx, () => void keys.reload()),
    h(
      "div",
      { class: "page-head second" },
      h("div", null, h("h2", null, "Staff keys"), h("p", { class: "muted" }, "Developer and provider keys of your practices. Revoking one stops it at once.")),
    ),
    keys.el,
  );
}
