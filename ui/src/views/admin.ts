// Administrators: roles and practice memberships of every user, and the staff keys of their practices.
import * as api from "../api";
import type { Ctx } from "../app";
import { roleLabel } from "../format";
import { emptyBlock, errorBlock, h, loadingBlock, mount } from "../dom";
import { toast } from "../toast";
import { ROLES, type Practice, type User } from "../types";
import { credentialCard, remove } from "./credentials";
import { practiceNudgesSection } from "./nudges";

export function render(el: HTMLElement, ctx: Ctx): void {
  const usersBox = h("div", { class: "user-list", "aria-busy": "true" });
  const keysBox = h("div", { class: "card-list" });
  el.append(
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "Users"), h("p", { class: "muted" }, "Tick roles and practices, then save the row. Developer combines with any other role."))),
    usersBox,
    practiceNudgesSection(ctx, () => void loadKeys()),
    h("div", { class: "page-head second" }, h("div", null, h("h2", null, "Staff keys"), h("p", { class: "muted" }, "Developer and provider keys of your practices. Revoking one stops it at once."))),
    keysBox,
  );

  const loadUsers = async () => {
    mount(usersBox, loadingBlock("Loading users…"));
    try {
      const [list, practices] = await Promise.all([api.users(), api.practices()]);
      if (!list.length) return mount(usersBox, emptyBlock("No users yet"));
      mount(usersBox, ...list.sort((a, b) => a.display_name.localeCompare(b.display_name)).map((u) => userRow(u, practices, ctx)));
    } catch (e) {
      const err = ctx.fail(e, "Could not load users", false);
      mount(usersBox, errorBlock(`Users could not be loaded: ${err.message}`, () => void loadUsers()));
    } finally {
      usersBox.setAttribute("aria-busy", "false");
    }
  };

  const loadKeys = async () => {
    mount(keysBox, loadingBlock("Loading staff keys…"));
    try {
      const keys = (await api.staffCredentials()).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
      if (!keys.length) return mount(keysBox, emptyBlock("No staff keys", "Developers and providers of your practices have not created any keys."));
      mount(
        keysBox,
        ...keys.map((k) => {
          const card = credentialCard(k, { ctx, refresh: () => void loadKeys(), showOwner: true, keyWords: true });
          // Administrators revoke; regenerating someone else's secret is not theirs to do.
          const actions = card.querySelector(".card-actions")!;
          actions.querySelector('[data-testid="regenerate"]')?.remove();
          const del = actions.querySelector('[data-testid="delete"]');
          const revoke = h(
            "button",
            { type: "button", class: "danger small", "data-testid": "revoke", "aria-label": `Revoke ${k.name}`, onclick: () => void remove(k, { ctx, refresh: () => void loadKeys() }, "Revoke") },
            "Revoke",
          );
          del?.replaceWith(revoke);
          return card;
        }),
      );
    } catch (e) {
      const err = ctx.fail(e, "Could not load staff keys", false);
      mount(keysBox, errorBlock(`Staff keys could not be loaded: ${err.message}`, () => void loadKeys()));
    }
  };
  void loadUsers();
  void loadKeys();
}

function userRow(u: User, practices: Practice[], ctx: Ctx): HTMLElement {
  let saved = { roles: new Set(u.roles), practices: new Set(u.practices.map((p) => p.id)) };
  const rowId = `user-${u.id}`;
  const roleBoxes = ROLES.map((r) => {
    const id = `${rowId}-role-${r}`;
    const cb = h("input", { type: "checkbox", id, value: r, checked: u.roles.includes(r), "data-testid": `role-${r}` });
    return { r, cb, el: h("label", { class: "check", for: id }, cb, roleLabel(r)) };
  });
  const practiceBoxes = practices.map((p) => {
    const id = `${rowId}-practice-${p.id}`;
    const cb = h("input", { type: "checkbox", id, value: String(p.id), checked: u.practices.some((x) => x.id === p.id), "data-testid": `practice-${p.id}` });
    return { p, cb, el: h("label", { class: "check", for: id }, cb, p.name) };
  });
  const msg = h("span", { class: "row-msg", "aria-live": "polite" });
  const save = h("button", { type: "button", class: "primary small", "data-testid": "save-roles", disabled: true, "aria-label": `Save changes for ${u.display_name}` }, "Save");

  const current = () => ({
    roles: roleBoxes.filter((b) => b.cb.checked).map((b) => b.r as string),
    practices: practiceBoxes.filter((b) => b.cb.checked).map((b) => b.p.id),
  });
  const dirty = () => {
    const c = current();
    const rolesChanged = c.roles.length !== saved.roles.size || c.roles.some((r) => !saved.roles.has(r));
    const practicesChanged = c.practices.length !== saved.practices.size || c.practices.some((p) => !saved.practices.has(p));
    return { rolesChanged, practicesChanged };
  };
  const update = () => {
    const d = dirty();
    save.disabled = !(d.rolesChanged || d.practicesChanged);
    msg.textContent = save.disabled ? "" : "Unsaved changes";
    row.classList.toggle("dirty", !save.disabled);
  };

  save.addEventListener("click", async () => {
    const d = dirty();
    const c = current();
    save.disabled = true;
    msg.textContent = "Saving…";
    try {
      let user = u;
      if (d.rolesChanged) user = await api.setRoles(u.id, c.roles);
      if (d.practicesChanged) user = await api.setPractices(u.id, c.practices);
      saved = { roles: new Set(user.roles), practices: new Set(user.practices.map((p) => p.id)) };
      for (const b of roleBoxes) b.cb.checked = saved.roles.has(b.r);
      for (const b of practiceBoxes) b.cb.checked = saved.practices.has(b.p.id);
      rolesText.textContent = user.roles.map(roleLabel).join(" · ") || "No roles";
      update();
      msg.textContent = "Saved";
      toast(`${d.rolesChanged ? "Roles" : "Practices"}${d.rolesChanged && d.practicesChanged ? " and practices" : ""} saved for ${u.display_name}.`);
    } catch (e) {
      const err = ctx.fail(e, `Could not save ${u.display_name}`);
      msg.textContent = err.message;
      msg.classList.add("error-text");
      save.disabled = false;
    }
  });

  const rolesText = h("span", { class: "muted small" }, u.roles.map(roleLabel).join(" · ") || "No roles");
  const row = h(
    "div",
    { class: "card user-row", "data-testid": "user-row", "data-username": u.username, role: "group", "aria-label": u.display_name },
    h("div", { class: "user-id" }, h("strong", null, u.display_name), h("span", { class: "muted small" }, `@${u.username}`), rolesText),
    h(
      "div",
      { class: "user-edit" },
      h("fieldset", null, h("legend", null, "Roles"), h("div", { class: "checks" }, ...roleBoxes.map((b) => b.el))),
      practices.length ? h("fieldset", null, h("legend", null, "Practices"), h("div", { class: "checks" }, ...practiceBoxes.map((b) => b.el))) : null,
    ),
    h("div", { class: "user-save" }, save, msg),
  );
  row.addEventListener("change", () => {
    msg.classList.remove("error-text");
    update();
  });
  return row;
}
