import { afterEach, describe, expect, it, vi } from "vitest";
import * as api from "./api";
import type { ServerEntry, ServiceStatus } from "./types";
import { openServers } from "./views/servers";
import { renderSignIn } from "./views/signin";

const flush = () => new Promise((r) => setTimeout(r, 0));

function status(p: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    mode: "remote",
    server_name: "Riverside Family Practice",
    ready: true,
    base_url: "https://portico.riverside.example",
    fhir_base_url: "https://portico.riverside.example/fhir",
    token_url: "https://portico.riverside.example/token",
    keychain: "keyutils",
    keychain_label: "Kernel keyring: kept until you log out of this computer",
    keychain_message: null,
    startup_ms: 1,
    ...p,
  };
}

afterEach(() => {
  api.setInvoke(async () => null);
  document.body.innerHTML = "";
});

describe("sign-in screen", () => {
  it("on a remote server: one browser button, a waiting state with Cancel, and the cancellation in words", async () => {
    const calls: string[] = [];
    let reject: (e: unknown) => void = () => undefined;
    api.setInvoke(async (cmd) => {
      calls.push(cmd);
      if (cmd === "sign_in_browser") return new Promise((_, r) => (reject = r));
      if (cmd === "cancel_sign_in") reject({ code: "cancelled", message: "cancelled" });
      return null;
    });
    const root = document.createElement("div");
    document.body.append(root);
    const onServers = vi.fn();
    renderSignIn(root, { statusP: Promise.resolve(status()), onSignedIn: () => undefined, onServers });
    await flush();
    expect(root.querySelector("#username")).toBeNull();
    expect(root.querySelector('[data-testid="server-name"]')?.textContent).toBe("Riverside Family Practice");
    expect(root.querySelector('[data-testid="server-url-shown"]')?.textContent).toBe("https://portico.riverside.example");
    expect(root.querySelector('[data-testid="server-line"]')?.textContent).toContain("Server: Riverside Family Practice · Change server");
    root.querySelector<HTMLButtonElement>('[data-testid="change-server"]')!.click();
    expect(onServers).toHaveBeenCalledOnce();

    const wait = root.querySelector<HTMLElement>('[data-testid="browser-wait"]')!;
    expect(wait.hidden).toBe(true);
    root.querySelector<HTMLButtonElement>('[data-testid="sign-in-browser"]')!.click();
    expect(wait.hidden).toBe(false);
    expect(wait.textContent).toContain("Continue in your browser…");
    expect(document.activeElement).toBe(root.querySelector('[data-testid="cancel-sign-in"]'));
    root.querySelector<HTMLButtonElement>('[data-testid="cancel-sign-in"]')!.click();
    await flush();
    await flush();
    expect(calls).toEqual(["sign_in_browser", "cancel_sign_in"]);
    expect(wait.hidden).toBe(true);
    expect(root.querySelector('[data-testid="sign-in-error"]')?.textContent).toContain("Sign-in was cancelled.");
  });

  it("embedded: the username and password form as before, with the server line", async () => {
    api.setInvoke(async (cmd) => (cmd === "demo_accounts" ? [] : cmd === "service_features" ? { allow_signup: false, sample_app_url: null } : null));
    const root = document.createElement("div");
    document.body.append(root);
    renderSignIn(root, { statusP: Promise.resolve(status({ mode: "embedded", server_name: "This computer (demo)" })), onSignedIn: () => undefined, onServers: () => undefined });
    await flush();
    expect(root.querySelector("#username")).not.toBeNull();
    expect(root.querySelector('[data-testid="sign-in-browser"]')).toBeNull();
    expect(root.querySelector('[data-testid="server-line"]')?.textContent).toContain("This computer (demo)");
  });
});

describe("Servers screen", () => {
  const list: ServerEntry[] = [
    { id: "embedded", kind: "embedded", url: null, name: "This computer (demo)", current: false, signed_in_as: null },
    { id: "srv-1", kind: "remote", url: "https://portico.riverside.example", name: "Riverside Family Practice", current: true, signed_in_as: "reyna" },
  ];

  it("lists the servers, says where the session is kept, and shows a certificate problem under the field", async () => {
    const calls: unknown[] = [];
    api.setInvoke(async (cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === "servers") return list;
      if (cmd === "add_server") throw { code: "certificate", message: "it is self-signed" };
      return null;
    });
    openServers({ status: status(), onSwitched: () => undefined });
    await flush();
    const rows = document.querySelectorAll<HTMLElement>('[data-testid="server"]');
    expect(rows.length).toBe(2);
    expect(rows[1].querySelector('[data-testid="current-server"]')).not.toBeNull();
    expect(rows[1].querySelector('[data-testid="signed-in-as"]')?.textContent).toBe("Signed in as reyna");
    expect(rows[0].querySelector('[data-testid="remove-server"]')).toBeNull(); // the embedded one stays
    expect(document.querySelector('[data-testid="keychain-label"]')?.textContent).toContain("Kernel keyring");

    const input = document.querySelector<HTMLInputElement>("#server-url")!;
    const form = input.closest("form")!;
    input.value = "http://clinic.example";
    form.requestSubmit();
    await flush();
    expect(document.querySelector('[data-testid="add-server-error"]')?.textContent).toContain("Use https://");
    expect(calls.some((c) => (c as string[])[0] === "add_server")).toBe(false);

    input.value = "portico.clinic.example";
    form.requestSubmit();
    await flush();
    await flush();
    expect(calls).toContainEqual(["add_server", { url: "https://portico.clinic.example" }]);
    expect(document.querySelector('[data-testid="add-server-error"]')?.textContent).toBe(
      "The server's certificate can't be trusted: it is self-signed. Portico did not connect. Check the address, or ask the clinic's IT team.",
    );
    expect(input.getAttribute("aria-invalid")).toBe("true");
  });

  it("adds a server, shows its name, and switches to it", async () => {
    const added: ServerEntry = { id: "srv-2", kind: "remote", url: "https://portico.hillcrest.example", name: "Hillcrest Cardiology", current: false, signed_in_as: null };
    const switched = status({ server_name: "Hillcrest Cardiology" });
    api.setInvoke(async (cmd, args) => {
      if (cmd === "servers") return list;
      if (cmd === "add_server") return added;
      if (cmd === "switch_server") return (args as { id: string }).id === "srv-2" ? switched : null;
      return null;
    });
    const onSwitched = vi.fn();
    openServers({ status: status(), onSwitched });
    await flush();
    const input = document.querySelector<HTMLInputElement>("#server-url")!;
    input.value = "https://portico.hillcrest.example";
    input.closest("form")!.requestSubmit();
    await flush();
    await flush();
    expect(document.querySelector('[data-testid="add-server-result"]')?.textContent).toContain("Added Hillcrest Cardiology");
    document.querySelector<HTMLButtonElement>('[data-testid="switch-to-added"]')!.click();
    await flush();
    expect(onSwitched).toHaveBeenCalledWith(switched);
    expect(document.querySelector('[data-testid="servers-dialog"]')).toBeNull();
  });
});
