import { afterEach, describe, expect, it } from "vitest";
import * as api from "./api";

afterEach(() => {
  api.setInvoke(async () => null);
  api.onConnectionError(null);
});

describe("api", () => {
  it("passes camelCase args to the command", async () => {
    const calls: unknown[] = [];
    api.setInvoke(async (cmd, args) => (calls.push([cmd, args]), null));
    await api.regenerateCredential("c1", 600);
    await api.setRoles(3, ["nurse", "developer"]);
    await api.copyText("x", true);
    expect(calls).toEqual([
      ["regenerate_credential", { id: "c1", graceSeconds: 600 }],
      ["set_roles", { userId: 3, roles: ["nurse", "developer"] }],
      ["copy_text", { text: "x", secret: true }],
    ]);
  });

  it.each([
    [{ code: "conflict", message: "Name in use" }, "conflict", "Name in use"],
    ['{"code":"forbidden","message":"No"}', "forbidden", "No"],
    ["plain failure", "internal", "plain failure"],
    [new Error("boom"), "internal", "boom"],
    [undefined, "internal", "Something went wrong."],
    [{ code: "unavailable" }, "unavailable", "Something went wrong."],
  ])("normalises rejection %j", async (rejection, code, message) => {
    api.setInvoke(async () => {
      throw rejection;
    });
    const err = await api.listCredentials().catch((e) => e);
    expect(err).toBeInstanceOf(api.ApiError);
    expect([err.code, err.message]).toEqual([code, message]);
  });

  it("calls the remote-mode commands with their argument names", async () => {
    const calls: unknown[] = [];
    api.setInvoke(async (cmd, args) => (calls.push([cmd, args]), null));
    await api.servers();
    await api.addServer("https://portico.clinic.example");
    await api.removeServer("srv-2");
    await api.switchServer("srv-2");
    await api.signInBrowser();
    await api.cancelSignIn();
    await api.connectionStatus();
    await api.syncNow();
    await api.cancelOutbox(7);
    await api.dismissOutcomes();
    expect(calls).toEqual([
      ["servers", undefined],
      ["add_server", { url: "https://portico.clinic.example" }],
      ["remove_server", { id: "srv-2" }],
      ["switch_server", { id: "srv-2" }],
      ["sign_in_browser", undefined],
      ["cancel_sign_in", undefined],
      ["connection_status", undefined],
      ["sync_now", undefined],
      ["cancel_outbox", { id: 7 }],
      ["dismiss_outcomes", undefined],
    ]);
  });

  it("keeps the queued and offline codes and their messages", async () => {
    api.setInvoke(async () => {
      throw { code: "queued", message: "Offline: “Delete Phone app” will be sent when the server is back." };
    });
    const queued = await api.deleteCredential("c1").catch((e) => e);
    expect([queued.code, queued.message]).toEqual(["queued", "Offline: “Delete Phone app” will be sent when the server is back."]);
    expect(api.isConnectionError(queued)).toBe(true);
    expect(api.queuedText(queued)).toBe("Waiting to send: “Delete Phone app” will be sent when the server is back.");
    api.setInvoke(async () => {
      throw '{"code":"offline","message":"Needs the server."}';
    });
    const offline = await api.createCredential({ kind: "patient_app", name: "x" }).catch((e) => e);
    expect(offline.code).toBe("offline");
    expect(api.isConnectionError(offline)).toBe(true);
    expect(api.isConnectionError({ code: "conflict", message: "x" })).toBe(false);
  });

  it("tells the connection listener about unavailable, queued and offline, but not about other errors or its own sync calls", async () => {
    const seen: string[] = [];
    api.onConnectionError((err, cmd) => seen.push(`${cmd}:${err.code}`));
    const rejectWith = (code: string) =>
      api.setInvoke(async () => {
        throw { code, message: "m" };
      });
    rejectWith("queued");
    await api.deleteApp("a1").catch(() => undefined);
    rejectWith("offline");
    await api.registerApp({} as never).catch(() => undefined);
    rejectWith("unavailable");
    await api.listCredentials().catch(() => undefined);
    await api.syncNow().catch(() => undefined);
    await api.connectionStatus().catch(() => undefined);
    rejectWith("conflict");
    await api.listCredentials().catch(() => undefined);
    expect(seen).toEqual(["delete_app:queued", "register_app:offline", "list_credentials:unavailable"]);
  });
});
