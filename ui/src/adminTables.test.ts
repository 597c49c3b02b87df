// The administrator's Users and staff-keys tables: pages asked of the service, sort headers that toggle, a
// search whose slower, older answer never replaces a newer one, empty states that say what to do, the edit
// dialog's save and its errors, and a revoke that asks first.
import { afterEach, describe, expect, it, vi } from "vitest";
import * as api from "./api";
import type { Ctx } from "./app";
import type { Page, StaffKey, User } from "./types";
import { pagedTable, rangeText } from "./views/pagedTable";
import { staffKeysTable } from "./views/staffKeysTable";
import { usersTable } from "./views/usersTable";

const flush = async (n = 6) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};
const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector<T>(sel)!;
const $$ = (sel: string, root: ParentNode = document) => Array.from(root.querySelectorAll<HTMLElement>(sel));
const tid = (id: string) => `[data-testid="${id}"]`;
const last = <T>(list: T[]): T => list[list.length - 1];

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((a) => (resolve = a));
  return { promise, resolve };
}

const PRACTICES = [
  { id: 1, name: "Riverside" },
  { id: 2, name: "Hillcrest" },
];
const person = (i: number, over: Partial<User> = {}): User => ({
  id: i,
  username: `user${i}`,
  display_name: `Person ${i}`,
  roles: ["nurse"],
  practices: [PRACTICES[0]],
  patient_id: null,
  last_sign_in_at: null,
  ...over,
});
/** 5,200 people, paged as the service would (by id; the order is the service's business). */
function pageOf(query: Record<string, unknown>, total = 5200): Page<User> {
  const offset = Number(query.offset ?? 0);
  const limit = Number(query.limit ?? 25);
  const items = Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, i) => person(offset + i + 1));
  return { items, total, offset, limit };
}

function setup(answer: (cmd: string, args: Record<string, unknown>) => unknown) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  api.setInvoke(async (cmd, args = {}) => {
    calls.push({ cmd, args });
    return answer(cmd, args);
  });
  const fail = vi.fn((e: unknown) => api.toApiError(e));
  const ctx = { user: person(99, { roles: ["administrator"], practices: PRACTICES }), fail, connection: { online: true, status: null } } as unknown as Ctx;
  const queries = (cmd: string) => calls.filter((c) => c.cmd === cmd).map((c) => c.args.query as Record<string, unknown>);
  return { calls, ctx, fail, queries };
}

const usernames = () => $$(`${tid("user-row")}`).map((r) => r.dataset.username);
const typeSearch = (input: HTMLInputElement, text: string) => {
  input.value = text;
  input.dispatchEvent(new Event("input"));
};

afterEach(async () => {
  vi.useRealTimers();
  document.body.innerHTML = "";
  // A table's paint is measured two frames after its rows are mounted: let those frames pass, so no
  // measurement of this test's tables lands in the next test's calls.
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
});

describe("rangeText", () => {
  it("says which rows of how many", () => {
    expect(rangeText(0, 25, 5200)).toBe("1–25 of 5,200");
    expect(rangeText(5175, 25, 5200)).toBe("5,176–5,200 of 5,200");
    expect(rangeText(0, 0, 0)).toBe("0 of 0");
  });
});

describe("Users table", () => {
  it("asks the service for the first page, then pages forward and back", async () => {
    const t = setup((cmd, a) => (cmd === "users" ? pageOf(a.query as Record<string, unknown>) : null));
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    expect(t.queries("users")).toEqual([{ sort: "name", dir: "asc", offset: 0, limit: 25 }]);
    expect(usernames()).toHaveLength(25);
    expect($(tid("users-table-range")).textContent).toBe("1–25 of 5,200");
    expect($<HTMLButtonElement>(tid("users-table-prev")).disabled).toBe(true);
    // The row shows name, username, roles, practices and "Never" for no sign-in.
    const first = $(tid("user-row"));
    expect(Array.from(first.children, (c) => c.textContent)).toEqual(["Person 1@user1", "user1", "Nurse", "Riverside", "Never", "Edit"]);
    expect(first.firstElementChild!.tagName).toBe("TH");

    $(tid("users-table-next")).click();
    await table.settled();
    expect(last(t.queries("users"))).toMatchObject({ offset: 25, limit: 25 });
    expect($(tid("users-table-range")).textContent).toBe("26–50 of 5,200");
    expect(usernames()[0]).toBe("user26");
    $(tid("users-table-prev")).click();
    await table.settled();
    expect(last(t.queries("users"))).toMatchObject({ offset: 0 });
  });

  it("disables Next on the last page", async () => {
    const t = setup((cmd, a) => (cmd === "users" ? pageOf(a.query as Record<string, unknown>, 30) : null));
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    $(tid("users-table-next")).click();
    await table.settled();
    expect($(tid("users-table-range")).textContent).toBe("26–30 of 30");
    expect($<HTMLButtonElement>(tid("users-table-next")).disabled).toBe(true);
    expect($<HTMLButtonElement>(tid("users-table-prev")).disabled).toBe(false);
  });

  it("toggles the sort of a column, starts dates newest first, and goes back to the first page", async () => {
    const t = setup((cmd, a) => (cmd === "users" ? pageOf(a.query as Record<string, unknown>) : null));
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    const th = (id: string) => $(`th.col-${id}`);
    expect(th("name").getAttribute("aria-sort")).toBe("ascending");
    expect(th("username").hasAttribute("aria-sort")).toBe(false);
    expect(th("roles").querySelector("button")).toBeNull();

    $(tid("users-table-next")).click();
    await table.settled();
    $(tid("users-table-sort-name")).click();
    await table.settled();
    expect(last(t.queries("users"))).toMatchObject({ sort: "name", dir: "desc", offset: 0 });
    expect(th("name").getAttribute("aria-sort")).toBe("descending");

    $(tid("users-table-sort-last-sign-in")).click();
    await table.settled();
    expect(last(t.queries("users"))).toMatchObject({ sort: "last_sign_in", dir: "desc", offset: 0 });
    expect(th("last-sign-in").getAttribute("aria-sort")).toBe("descending");
    expect(th("name").hasAttribute("aria-sort")).toBe(false);
    $(tid("users-table-sort-last-sign-in")).click();
    await table.settled();
    expect(last(t.queries("users"))).toMatchObject({ sort: "last_sign_in", dir: "asc" });

    $(tid("users-table-sort-username")).click();
    await table.settled();
    expect(last(t.queries("users"))).toMatchObject({ sort: "username", dir: "asc" });
  });

  it("filters by role and practice, and says how to show everyone when nobody matches", async () => {
    const t = setup((cmd, a) => {
      const q = a.query as Record<string, unknown>;
      return cmd === "users" ? pageOf(q, q.practice === 2 ? 0 : 5200) : null;
    });
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    const role = $<HTMLSelectElement>(tid("users-table-filter-role"));
    role.value = "developer";
    role.dispatchEvent(new Event("change"));
    await table.settled();
    expect(last(t.queries("users"))).toMatchObject({ role: "developer", offset: 0 });
    const practice = $<HTMLSelectElement>(tid("users-table-filter-practice"));
    practice.value = "2";
    practice.dispatchEvent(new Event("change"));
    await table.settled();
    expect(last(t.queries("users"))).toMatchObject({ role: "developer", practice: 2 });
    expect($(".empty-title").textContent).toBe("No users match these filters");
    $(tid("users-table-clear-filters")).click();
    await table.settled();
    expect(last(t.queries("users"))).toEqual({ sort: "name", dir: "asc", offset: 0, limit: 25 });
    expect(role.value).toBe("");
  });

  it("waits for typing to pause before searching", async () => {
    vi.useFakeTimers();
    const t = setup((cmd, a) => (cmd === "users" ? pageOf(a.query as Record<string, unknown>) : null));
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await vi.advanceTimersByTimeAsync(0);
    const input = $<HTMLInputElement>(tid("users-table-search"));
    for (const text of ["a", "an", "ana"]) {
      typeSearch(input, text);
      await vi.advanceTimersByTimeAsync(60);
    }
    expect(t.queries("users")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(150);
    expect(t.queries("users")).toHaveLength(2);
    expect(t.queries("users")[1]).toMatchObject({ q: "ana", offset: 0 });
  });

  it("never lets an older, slower answer replace the newer search's", async () => {
    const answers = new Map<string, Deferred<Page<User>>>();
    const t = setup((cmd, a) => {
      if (cmd !== "users") return null;
      const q = String((a.query as Record<string, unknown>).q ?? "");
      const d = deferred<Page<User>>();
      answers.set(q, d);
      return d.promise;
    });
    const table = pagedTable<User>({
      testid: "t",
      caption: "People",
      noun: ["person", "people"],
      columns: [{ id: "name", label: "Name", cell: (u) => u.display_name }],
      searchLabel: "Search",
      sort: "name",
      dir: "asc",
      fetch: (q) => api.users(q),
      rowAttrs: (u) => ({ "data-testid": "user-row", "data-username": u.username }),
      emptyTitle: "Nobody",
      onError: (e) => t.fail(e).message,
      debounceMs: 0,
    });
    document.body.append(table.el);
    answers.get("")!.resolve(pageOf({}, 3));
    await table.settled();
    const input = $<HTMLInputElement>(tid("t-search"));
    typeSearch(input, "an");
    await flush();
    typeSearch(input, "ana");
    await flush();
    expect([...answers.keys()]).toEqual(["", "an", "ana"]);
    // The newer search answers first; the older one comes in after it and is dropped.
    answers.get("ana")!.resolve({ items: [person(7, { username: "ana" })], total: 1, offset: 0, limit: 25 });
    await flush();
    answers.get("an")!.resolve({ items: [person(8, { username: "anton" }), person(9, { username: "dana" })], total: 2, offset: 0, limit: 25 });
    await table.settled();
    await flush();
    expect(usernames()).toEqual(["ana"]);
    expect($(tid("t-range")).textContent).toBe("1–1 of 1");
  });

  it("says nobody matches a search and clears it on request", async () => {
    const t = setup((cmd, a) => {
      const q = a.query as Record<string, unknown>;
      return cmd === "users" ? pageOf(q, q.q ? 0 : 40) : null;
    });
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    const input = $<HTMLInputElement>(tid("users-table-search"));
    input.value = "zz";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await table.settled();
    expect($(".empty-title").textContent).toBe("No users match “zz”");
    expect($(tid("users-table-range")).textContent).toBe("0 of 0");
    $(tid("users-table-clear-search")).click();
    await table.settled();
    expect(input.value).toBe("");
    expect(last(t.queries("users"))).not.toHaveProperty("q");
    expect(usernames()).toHaveLength(25);
  });

  it("measures the first page and each search until painted, and reports them", async () => {
    const t = setup((cmd, a) => (cmd === "users" ? pageOf(a.query as Record<string, unknown>) : null));
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    await vi.waitFor(() => expect(table.table.getAttribute("data-render-ms")).not.toBeNull());
    expect(table.table.getAttribute("data-render-reason")).toBe("first");
    const input = $<HTMLInputElement>(tid("users-table-search"));
    input.value = "person";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await table.settled();
    await vi.waitFor(() => expect(table.table.getAttribute("data-render-reason")).toBe("search"));
    expect(table.table.getAttribute("data-render-query")).toBe("person");
    $(tid("users-table-next")).click();
    await table.settled();
    await vi.waitFor(() => expect(table.table.getAttribute("data-render-reason")).toBe("page"));
    const timings = t.calls.filter((c) => c.cmd === "report_timing").map((c) => c.args.name);
    expect(timings).toEqual(["users_table", "users_table"]);
    expect(Number(table.table.getAttribute("data-render-ms"))).toBeGreaterThanOrEqual(0);
  });

  it("edits roles and practices in a dialog, saves only what changed, and reloads the table", async () => {
    const nina = person(4, { username: "nurse", display_name: "Nina Nurse", roles: ["nurse"], practices: [PRACTICES[0]] });
    const t = setup((cmd, a) => {
      if (cmd === "users") return { items: [nina], total: 1, offset: 0, limit: 25 };
      if (cmd === "set_roles") return { ...nina, roles: a.roles };
      if (cmd === "set_practices") return { ...nina, practices: PRACTICES.filter((p) => (a.practices as number[]).includes(p.id)) };
      return null;
    });
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    $(tid("edit-user")).click();
    const dialog = $(tid("edit-user-dialog"));
    expect(dialog.getAttribute("role")).toBe("dialog");
    expect($<HTMLInputElement>(tid("role-nurse"), dialog).checked).toBe(true);
    expect($<HTMLInputElement>(tid("practice-1"), dialog).checked).toBe(true);
    $(tid("role-developer"), dialog).click();
    $(tid("save-user"), dialog).click();
    await flush();
    await table.settled();
    expect(t.calls.find((c) => c.cmd === "set_roles")?.args).toEqual({ userId: 4, roles: ["developer", "nurse"] });
    expect(t.calls.some((c) => c.cmd === "set_practices")).toBe(false);
    expect(document.querySelector(tid("edit-user-dialog"))).toBeNull();
    expect(Array.from(document.querySelectorAll(tid("toast")), (e) => e.textContent).join()).toContain("Roles saved for Nina Nurse.");
    expect(t.queries("users")).toHaveLength(2);

    // Practices alone.
    $(tid("edit-user")).click();
    $(tid("practice-2")).click();
    $(tid("save-user")).click();
    await flush();
    expect(t.calls.find((c) => c.cmd === "set_practices")?.args).toEqual({ userId: 4, practices: [1, 2] });
  });

  it("keeps the dialog open with the service's reason when saving fails", async () => {
    const t = setup((cmd) => {
      if (cmd === "users") return { items: [person(99, { roles: ["administrator"] })], total: 1, offset: 0, limit: 25 };
      if (cmd === "set_roles") throw { code: "invalid_input", message: "you cannot remove your own administrator role" };
      return null;
    });
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    $(tid("edit-user")).click();
    $(tid("role-administrator")).click();
    $(tid("save-user")).click();
    await flush();
    expect($(tid("edit-user-error")).textContent).toBe("you cannot remove your own administrator role");
    expect($<HTMLButtonElement>(tid("save-user")).disabled).toBe(false);
    expect(document.querySelector(tid("edit-user-dialog"))).not.toBeNull();
    // Cancel closes without saving anything more.
    $(tid("cancel")).click();
    expect(document.querySelector(tid("edit-user-dialog"))).toBeNull();
    expect(t.calls.filter((c) => c.cmd === "set_roles")).toHaveLength(1);
  });

  it("shows the service's failure in the table with a way to try again", async () => {
    let failing = true;
    const t = setup((cmd, a) => {
      if (cmd !== "users") return null;
      if (failing) throw { code: "busy", message: "The service is busy." };
      return pageOf(a.query as Record<string, unknown>);
    });
    const table = usersTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    expect($('[role="alert"]').textContent).toContain("The users could not be loaded: The service is busy.");
    failing = false;
    $(tid("retry")).click();
    await table.settled();
    expect(usernames()).toHaveLength(25);
  });
});

describe("Staff keys table", () => {
  const key = (over: Partial<StaffKey>): StaffKey =>
    ({
      id: "k1",
      kind: "developer",
      name: "Nightly export",
      note: null,
      client_id: "pck_dev_1",
      secret_hint: "pcs_dev_…1234",
      status: "active",
      usable: true,
      valid_from: null,
      valid_to: null,
      created_at: "2026-01-01T00:00:00Z",
      created_by: "dev",
      owner: "dev",
      last_used_at: null,
      scope: "",
      patients: [],
      reach: "",
      previous_secret_valid_until: null,
      owner_name: "Dev Developer",
      owner_practices: [PRACTICES[0]],
      ...over,
    }) as StaffKey;

  it("lists keys with owner, kind, practices, last used and end date, and revokes after asking", async () => {
    let keys = [key({}), key({ id: "k2", name: "Study", kind: "provider", valid_to: "2000-01-01T00:00:00Z", usable: false })];
    const t = setup((cmd, a) => {
      if (cmd === "staff_credentials") return { items: keys, total: keys.length, offset: 0, limit: 25 };
      if (cmd === "delete_credential") {
        keys = keys.filter((k) => k.id !== a.id);
        return { id: a.id, deleted_now: true, tokens_revoked: 0, at: "2026-01-01T00:00:00Z" };
      }
      return null;
    });
    const table = staffKeysTable(t.ctx, PRACTICES);
    document.body.append(table.el);
    await table.settled();
    expect(t.queries("staff_credentials")).toEqual([{ sort: "name", dir: "asc", offset: 0, limit: 25 }]);
    const rows = $$(tid("staff-key-row"));
    expect(rows.map((r) => r.dataset.name)).toEqual(["Nightly export", "Study"]);
    const cells = Array.from(rows[0].children, (c) => c.textContent);
    expect(cells.slice(1)).toEqual(["Dev Developer@dev", "Developer", "Riverside", "Never", "No end date", "Revoke"]);
    expect(rows[1].textContent).toContain("Ended");

    const kind = $<HTMLSelectElement>(tid("staff-keys-table-filter-kind"));
    kind.value = "provider";
    kind.dispatchEvent(new Event("change"));
    await table.settled();
    expect(last(t.queries("staff_credentials"))).toMatchObject({ kind: "provider" });
    kind.value = "";
    kind.dispatchEvent(new Event("change"));
    await table.settled();

    $(tid("revoke"), rows[0]).click();
    await flush();
    expect($(tid("confirm-dialog")).textContent).toContain("Revoke “Nightly export”?");
    $(tid("confirm")).click();
    await flush();
    await table.settled();
    expect(t.calls.find((c) => c.cmd === "delete_credential")?.args).toEqual({ id: "k1" });
    expect($$(tid("staff-key-row")).map((r) => r.dataset.name)).toEqual(["Study"]);
  });
});
