import { afterEach, describe, expect, it, vi } from "vitest";
import * as api from "./api";
import type { Ctx } from "./app";
import { exportSection } from "./views/exportHistory";

function ctx(online = true): Ctx {
  return {
    user: { id: 1, username: "patient", display_name: "Reyna", roles: ["patient"], practices: [], patient_id: "p1" },
    status: null,
    connection: { online, status: null },
    getStatus: async () => null,
    fail: (e: unknown) => api.toApiError(e),
    setBadge: () => undefined,
  } as unknown as Ctx;
}

afterEach(() => {
  api.setInvoke(async () => null);
  document.body.innerHTML = "";
});

describe("export of the access history", () => {
  it.each([
    ["export-csv", "csv", "/home/p/Downloads/portico-access-history-2026-12-04.csv"],
    ["export-fhir", "fhir", "/home/p/Downloads/portico-access-history-2026-12-04.fhir.json"],
  ])("%s asks the shell for %s and says where the file went", async (testid, format, path) => {
    const calls: [string, unknown][] = [];
    api.setInvoke(async (cmd, args) => {
      calls.push([cmd, args]);
      return { path, bytes: 10 };
    });
    const el = document.body.appendChild(exportSection(ctx()));
    el.querySelector<HTMLButtonElement>(`[data-testid="${testid}"]`)!.click();
    await vi.waitFor(() => expect(el.querySelector('[data-testid="export-status"]')!.textContent).toBe(`Saved to ${path}`));
    expect(calls.filter(([c]) => c === "export_access_history")).toEqual([["export_access_history", { format }]]);
  });

  it("is disabled offline with the reason, and a failure says what happened instead of 'saved'", async () => {
    const off = document.body.appendChild(exportSection(ctx(false)));
    const b = off.querySelector<HTMLButtonElement>('[data-testid="export-csv"]')!;
    expect(b.disabled).toBe(true);
    expect(b.title).toMatch(/Needs the server/);

    const failures: string[] = [];
    const c = ctx();
    c.fail = (e: unknown, what: string) => {
      failures.push(`${what}: ${api.toApiError(e).message}`);
      return api.toApiError(e);
    };
    api.setInvoke(async () => Promise.reject({ code: "forbidden", message: "Only a patient has an access history." }));
    const el = document.body.appendChild(exportSection(c));
    el.querySelector<HTMLButtonElement>('[data-testid="export-fhir"]')!.click();
    await vi.waitFor(() => expect(failures).toEqual(["Could not export your access history: Only a patient has an access history."]));
    expect(el.querySelector('[data-testid="export-status"]')!.textContent).toBe("");
    expect(el.querySelector<HTMLButtonElement>('[data-testid="export-fhir"]')!.disabled).toBe(false);
  });
});
