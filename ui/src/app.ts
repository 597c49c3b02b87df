// The shell of the UI: sign-in or the signed-in home with one tab per area the user's roles open.
import * as api from "./api";
import { ConnectionBar, SyncLoop, syncedText, type ConnectionView } from "./connection";
import { h, mount } from "./dom";
import { roleLabel } from "./format";
import { clearToasts, ensureToastRegion, toast } from "./toast";
import type { ConnectionStatus, ServiceStatus, User } from "./types";
import { renderSignIn } from "./views/signin";

export interface Ctx {
  user: User;
  status: ServiceStatus | null;
  /** Remote mode: whether the server answers and what waits in the outbox; always online when embedded. */
  connection: ConnectionView;
  /** Re-reads the service status (URLs for docs and examples). */
  getStatus: () => Promise<ServiceStatus | null>;
  /** Handles an error from any command: a lost session goes back to sign-in, everything else is a toast. */
  fail: (e: unknown, what: string, toastIt?: boolean) => api.ApiError;
  /** Sets the count shown on an area's tab (0 hides it), e.g. pending app approvals. */
  setBadge: (area: Area["id"], count: number) => void;
  /** The areas this person's roles open (ids), e.g. to place a nudge whose own area they no longer have. */
  areas?: readonly Area["id"][];
}

export interface Area {
  id: "apps" | "users" | "approvals" | "developer" | "provider" | "connected";
  label: string;
  /** Any of these roles opens the area. */
  roles: string[];
  /** Not shown to a user who has any of these roles (they find the same thing in another area). */
  unless?: string[];
  load: () => Promise<{ render: (el: HTMLElement, ctx: Ctx) => void }>;
}

const STAFF = ["administrator", "provider", "developer", "nurse", "front_desk"];

// Areas load on demand so the sign-in screen needs only this small entry chunk.
const AREAS: Area[] = [
  { id: "apps", label: "My apps", roles: ["patient"], load: () => import("./views/patient") },
  { id: "users", label: "Users", roles: ["administrator"], load: () => import("./views/admin") },
  { id: "approvals", label: "App approvals", roles: ["administrator"], load: () => import("./views/approvals") },
  { id: "developer", label: "Developer", roles: ["developer", "app_developer"], load: () => import("./views/developer") },
  { id: "provider", label: "Manage FHIR API", roles: ["provider"], load: () => import("./views/provider") },
  // Staff who authorized an app themselves (user/ scopes); patients see theirs under "My apps".
  { id: "connected", label: "Connected apps", roles: STAFF, unless: ["patient"], load: () => import("./views/connectedPage") },
];

/** Home areas whose tab counts the person's nudges (as `NUDGE_AREAS` in ./nudges, which loads on demand). */
const NUDGE_AREAS: readonly string[] = ["apps", "developer", "provider", "connected"];

export function areasFor(roles: string[]): Area[] {
  return AREAS.filter((a) => a.roles.some((r) => roles.includes(r)) && !(a.unless ?? []).some((r) => roles.includes(r)));
}


let root: HTMLElement;
let status: ServiceStatus | null = null;
/** Runs only while signed in to a remote server. */
let syncLoop: SyncLoop | null = null;

function stopSync(): void {
  syncLoop?.stop();
  syncLoop = null;
  api.onConnectionError(null);
}
let statusPromise: Promise<ServiceStatus | null> | null = null;
/** Counts sign-ins and sign-outs: an answer that comes back after the person changed is no longer theirs to show. */
let session = 0;

function loadStatus(): Promise<ServiceStatus | null> {
  if (!statusPromise) {
    statusPromise = api.serviceStatus().then(
      (s) => {
        // The service starts in the background; until it is ready its URLs are unknown, so ask again later.
        if (!s.ready) statusPromise = null;
        return (status = s);
      },
      () => {
        statusPromise = null;
        return null;
      },
    );
  }
  return statusPromise;
}

export async function startApp(el: HTMLElement): Promise<void> {
  root = el;
  ensureToastRegion(); // its live regions must exist before the first toast for a screen reader to hear it
  const statusP = loadStatus();
  let user: User | null = null;
  try {
    user = await api.restoreSession();
  } catch {
    user = null; // no keychain entry or an expired session: sign in again
  }
  if (user) {
    await showHome(user);
    void api.uiReady("home").catch(() => undefined);
  } else {
    showSignIn(statusP);
    void api.uiReady("sign-in").catch(() => undefined);
  }
}

function showSignIn(statusP: Promise<ServiceStatus | null>, message?: string) {
  stopSync();
  session += 1;
  // A session that ended: what was on screen belonged to it.
  if (message) clearToasts();
  const onSignedIn = (u: User) => {
    // The next person starts with a clean screen (no "You are signed out." from before); toasts about
    // the sign-in itself (signup's welcome) are shown after this call.
    clearToasts();
    void showHome(u);
  };
  renderSignIn(root, { statusP, message, onSignedIn, onServers: () => void openServersScreen() });
}

/** The Servers screen, from the sign-in screen or the signed-in header. */
async function openServersScreen(): Promise<void> {
  const { openServers } = await import("./views/servers");
  openServers({ status: status ?? (await loadStatus()), onSwitched: (s) => void afterSwitch(s) });
}

/** switch_server changed lists, sign-in and keychain entry: start over on that server. */
async function afterSwitch(s: ServiceStatus): Promise<void> {
  stopSync();
  session += 1;
  // Another server, another person: nothing on screen is theirs. Runs before the first await, so the
  // Servers dialog's "Now using …" toast, shown right after onSwitched returns, stays.
  clearToasts();
  status = s;
  statusPromise = s.ready ? Promise.resolve(s) : null;
  let user: User | null = null;
  try {
    user = await api.restoreSession();
  } catch {
    user = null;
  }
  if (user) await showHome(user);
  else showSignIn(loadStatus());
}

async function signOut() {
  stopSync();
  session += 1;
  // The person's toasts leave with them, and anything that arrived while signing out too.
  clearToasts();
  let local: string | null = null;
  try {
    await api.signOut();
  } catch (e) {
    // Even if the shell could not reach the service, forget the session locally.
    local = `Signed out locally: ${api.toApiError(e).message}`;
  }
  showSignIn(loadStatus());
  clearToasts();
  if (local) toast(local, "info");
  toast("You are signed out.", "info");
}

async function showHome(user: User, initial?: Area["id"]) {
  document.title = "Portico";
  const areas = areasFor(user.roles);
  stopSync();
  const mine = ++session;
  const st = status ?? (await loadStatus());
  let initialConnection: ConnectionStatus | null = null;
  if (st?.mode === "remote") initialConnection = await api.connectionStatus().catch(() => null);
  const remote = st?.mode === "remote" || initialConnection?.mode === "remote";
  const ctx: Ctx = {
    user,
    areas: areas.map((a) => a.id),
    status: st,
    connection: { online: true, status: null },
    getStatus: async () => (ctx.status = await loadStatus()),
    fail: (e, what, toastIt = true) => {
      const err = api.toApiError(e);
      // An answer to the previous person's request: not news for whoever is on screen now.
      if (mine !== session) return err;
      if (err.code === "unauthenticated") {
        showSignIn(loadStatus(), "Your session has ended. Please sign in again.");
      } else if (err.code === "queued") {
        // Not done yet: the card keeps its place with a "Waiting to send" tag until the server confirms.
        if (toastIt) toast(api.queuedText(err), "info");
      } else if (toastIt) {
        toast(`${what}: ${err.message}`, "error");
      }
      return err;
    },
    setBadge: (area, count) => {
      const badge = buttons.get(area)?.querySelector<HTMLElement>(".tab-badge");
      if (!badge) return;
      badge.textContent = count > 0 ? String(count) : "";
      badge.hidden = count <= 0;
      // Said in words inside the tab (not as an aria-label), so its accessible name still starts with what it shows.
      const words = buttons.get(area)?.querySelector<HTMLElement>(".tab-badge-words");
      const what = area === "approvals" ? "pending" : "need attention";
      if (words) words.textContent = count > 0 ? ` (${count} ${what})` : "";
    },
  };

  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const nav = h("nav", { class: "tabs", "aria-label": "Areas" });
  const buttons = new Map<string, HTMLButtonElement>();
  let current: Area["id"] | null = null;

  // The approvals badge is news on any screen, so it is counted at once (and after each sync that changed something).
  const countApprovals = () => {
    if (!areas.some((a) => a.id === "approvals")) return;
    void import("./apps").then(({ pendingCount }) =>
      api.approvals().then(
        (list) => ctx.setBadge("approvals", pendingCount(list)),
        () => undefined, // no badge is better than an error toast on every sign-in
      ),
    );
  };

  // Nudges are counted on each home area's tab at once, so a stale or expiring key is seen from anywhere.
  const countNudges = () => {
    const ids = areas.map((a) => a.id).filter((id) => NUDGE_AREAS.includes(id));
    if (!ids.length) return;
    void import("./nudges").then(({ badgeCounts, browserStore }) =>
      api.nudges().then(
        (list) => {
          if (mine !== session) return;
          for (const [area, n] of badgeCounts(list, ids, browserStore(), Date.now())) ctx.setBadge(area as Area["id"], n);
        },
        () => undefined, // as with approvals: no badge rather than an error toast
      ),
    );
  };

  const bar = new ConnectionBar({
    retry: () => void syncLoop?.kick(),
    cancel: (id) =>
      void api
        .cancelOutbox(id)
        .then(() => api.connectionStatus())
        .then((next) => syncLoop?.accept(next))
        .catch((e) => ctx.fail(e, "Could not cancel")),
    dismiss: () =>
      void api
        .dismissOutcomes()
        .then(() => api.connectionStatus())
        .then((next) => syncLoop?.accept(next))
        .catch((e) => ctx.fail(e, "Could not dismiss")),
  });

  const select = async (area: Area, focus: boolean) => {
    current = area.id;
    for (const [id, b] of buttons) {
      const on = id === area.id;
      b.classList.toggle("active", on);
      if (on) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    mount(main, h("div", { class: "state loading" }, "Loading…"));
    try {
      const mod = await area.load();
      if (current !== area.id) return;
      mount(main);
      mod.render(main, ctx);
      if (focus) main.focus();
    } catch (e) {
      mount(main, h("div", { class: "state error", role: "alert" }, `This area could not be loaded: ${String(e)}`));
    }
  };

  for (const a of areas) {
    const b = h(
      "button",
      { type: "button", class: "tab", "data-testid": `nav-${a.id}`, onclick: () => void select(a, true) },
      a.label,
      a.id === "approvals" || NUDGE_AREAS.includes(a.id)
        ? [h("span", { class: "tab-badge", "data-testid": `${a.id}-badge`, hidden: true, "aria-hidden": "true" }), h("span", { class: "sr-only tab-badge-words" })]
        : null,
    );
    buttons.set(a.id, b);
    nav.append(b);
  }

  // "· synced 10:42" beside the server's name while online; the banner says it when offline.
  const syncedLine = h("span", { class: "muted", "data-testid": "last-synced" });
  const header = h(
    "header",
    { class: "topbar" },
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "P"), "Portico"),
    nav,
    h(
      "div",
      { class: "who" },
      h(
        "div",
        { class: "who-text" },
        h("span", { class: "who-name", "data-testid": "user-name" }, user.display_name),
        h("span", { class: "who-roles", "data-testid": "user-roles" }, user.roles.map(roleLabel).join(" · ") || "No roles"),
        remote && st?.server_name
          ? h("span", { class: "who-server" }, h("span", { "data-testid": "server-name" }, st.server_name), syncedLine)
          : null,
      ),
      h(
        "button",
        { type: "button", class: "secondary small", "data-testid": "servers", title: st?.server_name ? `Server: ${st.server_name}` : undefined, onclick: () => void openServersScreen() },
        "Servers",
      ),
      h("button", { type: "button", class: "secondary small", "data-testid": "sign-out", onclick: () => void signOut() }, "Sign out"),
    ),
  );

  mount(root, header, bar.el, main);

  if (remote) {
    const loop = new SyncLoop({
      syncNow: api.syncNow,
      setBusy: (b) => bar.setBusy(b),
      apply: (next, decision) => {
        if (mine !== session) return;
        ctx.connection.online = next.online;
        ctx.connection.status = next;
        if (decision.redrawBar) bar.update(next);
        const synced = syncedText(next);
        syncedLine.textContent = synced ? ` · ${synced}` : "";
        for (const t of decision.toasts) toast(t.text, t.kind);
        if (decision.rerender && current) {
          const area = areas.find((a) => a.id === current);
          const hadFocus = main.contains(document.activeElement);
          if (area) void select(area, false).then(() => hadFocus && !main.contains(document.activeElement) && main.focus());
          countApprovals();
          countNudges();
        }
      },
    });
    syncLoop = loop;
    loop.start(null);
    if (initialConnection) loop.accept(initialConnection);
    // Right after an action is queued or the server did not answer: find out at once what is true now.
    api.onConnectionError(() => void loop.kick());
  }
  if (areas.length === 0) {
    mount(
      main,
      h(
        "div",
        { class: "state empty" },
        h("p", { class: "empty-title" }, `Welcome, ${user.display_name}`),
        h("p", { class: "muted" }, "Your roles do not include an area to manage here yet. An administrator can give you the Developer role."),
      ),
    );
    return;
  }
  countApprovals();
  countNudges();
  const first = areas.find((a) => a.id === initial) ?? areas[0];
  await select(first, false);
}
