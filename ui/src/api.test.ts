import { afterEach, describe, expect, it } from "vitest";
import * as api from "./api";

afterEach(() => api.setInvoke(async () => null));

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
});
