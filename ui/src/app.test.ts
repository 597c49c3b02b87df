// The shell clears toasts whenever the person on screen changes: sign-out, a session that ended, another
// server, the next sign-in. What the signed-out person saw never stays over the next person's screen.
import { afterEach, describe, expect, it, vi } from "vitest";
import * as api from "./api";
import { startApp } from "./app";
import { clearToasts, toast } from "./toast";
import type { ServerEntry, ServiceStatus, User } from "./types";

const flush = async (n = 6) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};
const texts = () => Array.from(document.querySelectorAll('[data-testid="toast"]'), (e) => e.textContent);
const click = (testid: string) => document.querySelector<HTMLButtonElement>(`[data-testid="${testid}"]`)!.click();

const STATUS: ServiceStatus = {
  mode: "embedded",
  server_name: "",
  ready: true,
  base_url: "http://127.0.0.1:1",
  fhir_base_url: "http://127.0.0.1:1/fhir",
  token_url: "http://127.0.0.1:1/token",
  keychain: "keyutils",
  keychain_label: "Kernel keyring",
  keychain_message: null,
  startup_ms: 1,
};
const ANA: User = { id: 1, username: "ana", display_name: "Ana Admin", roles: [], practices: [], patient_id: null };
const BEN: User = { ...ANA, id: 2, username: "ben", display_name: "Ben Developer" };

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => ((resolve = a), (reject = b)));
  return { promise, resolve, reject };
}

/** Starts the app signed in as `user`; `answer` overrides single commands. */
async function start(user: User, answer: Record<string, (args?: unknown) => unknown> = {}): Promise<HTMLElement> {
  api.setInvoke(async (cmd, args) => {
    if (answer[cmd]) return answer[cmd](args);
    switch (cmd) {
      case "service_status":
        return STATUS;
      case "restore_session":
        return user;
      case "demo_accounts":
        return [{ username: "ben", display_name: BEN.display_name, roles: [], password: "pw" }];
      case "sign_in":
        return BEN;
      case "service_features":
        return { allow_signup: false, sample_app_url: null };
      case "approvals":
      case "users":
      case "servers":
        return [];
      default:
        return null;
    }
  });
  const root = document.body.appendChild(document.createElement("div"));
  root.id = "app";
  await startApp(root);
  await flush();
  return root;
}

afterEach(() => {
  clearToasts();
  api.setInvoke(async () => null);
  document.body.innerHTML = "";
});

describe("toasts when the person changes", () => {
  it("sign-out clears every toast, errors too, before “You are signed out.”", async () => {
    const signedOut = deferred<null>();
    await start(ANA, { sign_out: () => signedOut.promise });
    toast("'Phone health app' was created");
    toast("Could not copy: denied", "error");
    click("sign-out");
    expect(texts()).toEqual([]); // gone at once, not when the service answers
    toast("Could not load users: late answer", "error"); // an answer for Ana arriving meanwhile
    signedOut.resolve(null);
    await flush();
    expect(document.querySelector('[data-testid="demo-ben"]')).not.toBeNull();
    expect(texts()).toEqual(["You are signed out."]);
  });

  it("a sign-out done only locally says so, after the clearing", async () => {
    await start(ANA, {
      sign_out: () => {
        throw { code: "unavailable", message: "The service did not answer" };
      },
    });
    toast("'Phone health app' was created");
    click("sign-out");
    await flush();
    expect(texts()).toEqual(["Signed out locally: The service did not answer", "You are signed out."]);
  });

  it("the next sign-in starts with a clean screen", async () => {
    await start(ANA);
    click("sign-out");
    await flush();
    expect(texts()).toEqual(["You are signed out."]);
    click("demo-ben");
    await flush();
    expect(document.querySelector('[data-testid="user-name"]')?.textContent).toBe("Ben Developer");
    expect(texts()).toEqual([]);
  });

  it("a session that ended clears the toasts and says why on the sign-in screen", async () => {
    const admin = { ...ANA, roles: ["administrator"] };
    const root = await start(admin, {
      users: () => {
        throw { code: "unauthenticated", message: "expired" };
      },
      connected_apps: () => [],
    });
    expect(root.textContent).toContain("Your session has ended");
    // And now the other way round: toasts shown before the session ends do not survive it.
    clearToasts();
    document.body.innerHTML = "";
    const late = deferred<User[]>();
    const root2 = await start(admin, { users: () => late.promise, connected_apps: () => [] });
    toast("Roles saved for Ben.");
    toast("Could not save Ben: denied", "error");
    late.reject({ code: "unauthenticated", message: "expired" });
    await flush();
    expect(root2.textContent).toContain("Your session has ended");
    expect(texts()).toEqual([]);
  });

  it("an answer to the previous person's request does not reach the next screen", async () => {
    const late = deferred<User[]>();
    const root = await start({ ...ANA, roles: ["administrator"] }, { users: () => late.promise, connected_apps: () => [] });
    click("sign-out");
    await flush();
    late.reject({ code: "unauthenticated", message: "expired" });
    await flush();
    expect(root.textContent).not.toContain("Your session has ended");
    expect(texts()).toEqual(["You are signed out."]);
  });

  it("switching servers clears the last server's toasts and keeps “Now using …”", async () => {
    const other: ServerEntry = { id: "srv-2", kind: "remote", url: "https://portico.hillcrest.example", name: "Hillcrest Cardiology", current: false, signed_in_as: null };
    const here: ServerEntry = { id: "embedded", kind: "embedded", url: null, name: "This computer", current: true, signed_in_as: "ana" };
    let restored = 0;
    await start(ANA, {
      servers: () => [here, other],
      switch_server: () => ({ ...STATUS, mode: "remote", server_name: "Hillcrest Cardiology" }),
      restore_session: () => (restored++ === 0 ? ANA : null), // not signed in on Hillcrest yet
      connection_status: () => null,
    });
    toast("'Phone health app' was created");
    toast("Could not copy: denied", "error");
    click("servers");
    // The Servers screen is its own chunk (a dynamic import): wait for it, however slow the machine.
    await vi.waitFor(() => expect(document.querySelector('[data-testid="servers-dialog"]')?.textContent).toContain("Hillcrest Cardiology"), {
      timeout: 10_000,
    });
    document.querySelector<HTMLButtonElement>('[data-testid="server"][data-id="srv-2"] [data-testid="switch-server"]')!.click();
    await flush();
    expect(document.querySelector('[data-testid="sign-out"]')).toBeNull(); // on Hillcrest's sign-in screen
    expect(texts()).toEqual(["Now using “Hillcrest Cardiology”."]);
  });
});

describe("nudge badges", () => {
  afterEach(() => {
    document.body.innerHTML = "";
    localStorage.clear();
  });

  it("counts the person's nudges on the area that lists the key, beside the approvals badge", async () => {
    const dev: User = { ...BEN, roles: ["developer", "administrator"], practices: [{ id: 1, name: "Riverside" }] };
    const nudge = (id: string, kind: string) => ({
      credential_id: id,
      name: id,
      credential_kind: "developer",
      kind,
      detail: "Not used for 61 days",
      last_used: null,
      valid_to: null,
      owner: "ben",
      owner_name: "Ben",
    });
    await start(dev, {
      nudges: () => [nudge("k1", "unused"), nudge("k2", "expires_soon")],
      approvals: () => [{ app_id: "a", practice_id: 1, status: "pending" }],
      practice_nudges: () => [],
      list_credentials: () => [],
      staff_credentials: () => ({ items: [], total: 0, offset: 0, limit: 25 }),
      users: () => ({ items: [], total: 0, offset: 0, limit: 25 }),
      practices: () => [],
    });
    await vi.waitFor(() => expect(document.querySelector('[data-testid="developer-badge"]')?.textContent).toBe("2"));
    const tab = document.querySelector('[data-testid="nav-developer"]');
    expect(tab?.getAttribute("aria-label")).toBeNull();
    expect(tab?.querySelector(".tab-badge-words")?.textContent).toBe(" (2 need attention)");
    await vi.waitFor(() => expect(document.querySelector('[data-testid="approvals-badge"]')?.textContent).toBe("1"));
  });
});
