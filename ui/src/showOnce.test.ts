// The show-once dialog in a DOM: hooks, masking, copy calls, confirm-on-close and focus return.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as api from "./api";
import { showOnce } from "./showOnce";
import type { IssuedSecret } from "./types";

const SECRET = "pcs_app_Q7v2Lk9XzR4mWc8NfT1bYp6HsJ3dGa5EuK0iVo2rSx";
const issued = (): IssuedSecret => ({
  credential: { name: "Phone health app" } as IssuedSecret["credential"],
  client_id: "pc_app_123",
  client_secret: SECRET,
  token_url: "http://127.0.0.1:1/token",
  fhir_base_url: "http://127.0.0.1:1/fhir",
});
const q = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
const tick = () => new Promise((r) => setTimeout(r, 0));
const escape = () => document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));

let copies: unknown[] = [];
beforeEach(() => {
  document.body.innerHTML = '<div id="app"><button id="opener">New</button></div>';
  copies = [];
  api.setInvoke(async (cmd, args) => (cmd === "copy_text" && copies.push(args), null));
  document.getElementById("opener")!.focus();
});
afterEach(() => {
  document.body.innerHTML = "";
});

describe("show-once dialog", () => {
  it("shows the details with the secret masked, and reveals on demand", async () => {
    void showOnce(issued());
    await tick();
    const dlg = q("show-once")!;
    expect(dlg.getAttribute("role")).toBe("dialog");
    expect(dlg.getAttribute("aria-modal")).toBe("true");
    expect(q("client-id")!.textContent).toBe("pc_app_123");
    expect(q("token-url")!.textContent).toBe("http://127.0.0.1:1/token");
    expect(q("fhir-base-url")!.textContent).toBe("http://127.0.0.1:1/fhir");
    expect(q("client-secret")!.textContent).not.toContain("pcs_");
    expect(document.body.innerHTML).not.toContain(SECRET);
    expect(dlg.contains(document.activeElement)).toBe(true);
    q("toggle-secret")!.click();
    expect(q("client-secret")!.textContent).toBe(SECRET);
    q("toggle-secret")!.click();
    expect(q("client-secret")!.textContent).not.toContain("pcs_");
  });

  it("copies through copy_text, marking the secret as secret", async () => {
    void showOnce(issued());
    await tick();
    q("copy-client-secret")!.click();
    q("copy-token-url")!.click();
    await tick();
    expect(copies).toEqual([
      { text: SECRET, secret: true },
      { text: "http://127.0.0.1:1/token", secret: false },
    ]);
  });

  it("asks before Escape closes it without the secret copied; cancel keeps it open", async () => {
    const closed = showOnce(issued());
    await tick();
    escape();
    await tick();
    expect(q("confirm")).not.toBeNull();
    q("cancel")!.click();
    await tick();
    expect(q("show-once")).not.toBeNull();
    escape();
    await tick();
    q("confirm")!.click();
    await closed;
    expect(q("show-once")).toBeNull();
    expect(document.activeElement?.id).toBe("opener");
  });

  it("closes on Escape at once after the secret was copied", async () => {
    const closed = showOnce(issued());
    await tick();
    q("copy-client-secret")!.click();
    await tick();
    escape();
    await closed;
    expect(q("confirm")).toBeNull();
    expect(q("show-once")).toBeNull();
  });

  it("Done removes the secret and returns focus to the opener", async () => {
    const response = issued();
    const closed = showOnce(response);
    await tick();
    q("toggle-secret")!.click();
    q("done")!.click();
    await closed;
    expect(document.body.innerHTML).not.toContain(SECRET);
    expect(response.client_secret).toBe("");
    expect(document.activeElement?.id).toBe("opener");
  });

  it("keeps Tab inside the dialog", async () => {
    void showOnce(issued());
    await tick();
    const dlg = q("show-once")!;
    q("done")!.focus();
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", bubbles: true }));
    expect(dlg.contains(document.activeElement)).toBe(true);
    expect(document.activeElement?.getAttribute("data-testid")).toBe("dialog-close");
  });
});
