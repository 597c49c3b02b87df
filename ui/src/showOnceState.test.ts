import { describe, expect, it } from "vitest";
import { MASK, ShowOnceState } from "./showOnceState";
import type { App, IssuedAppSecret, IssuedSecret } from "./types";

const SECRET = "pcs_app_Q7v2Lk9XzR4mWc8NfT1bYp6HsJ3dGa5EuK0iVo2rSx";
function issued(): IssuedSecret {
  return {
    credential: { name: "Phone health app" } as IssuedSecret["credential"],
    client_id: "pc_app_123",
    client_secret: SECRET,
    token_url: "http://127.0.0.1:1/token",
    fhir_base_url: "http://127.0.0.1:1/fhir",
  };
}

describe("ShowOnceState", () => {
  it("is masked by default and toggles show/hide", () => {
    const s = new ShowOnceState(issued());
    expect(s.secretText()).toBe(MASK);
    expect(s.secretText()).not.toContain("pcs_");
    expect(s.toggleReveal()).toBe(true);
    expect(s.secretText()).toBe(SECRET);
    expect(s.toggleReveal()).toBe(false);
    expect(s.secretText()).toBe(MASK);
  });

  it("does not keep the secret in the response object", () => {
    const r = issued();
    const s = new ShowOnceState(r);
    expect(r.client_secret).toBe("");
    expect(s.value("client_secret")).toBe(SECRET);
  });

  it("tracks copied flags per field", () => {
    const s = new ShowOnceState(issued());
    s.markCopied("client_id");
    expect(s.copied).toEqual({ client_id: true, client_secret: false, token_url: false, fhir_base_url: false, authorize_url: false });
    s.markCopied("client_secret");
    expect(s.copied.client_secret).toBe(true);
  });

  it("asks before closing when the secret was not copied", () => {
    const s = new ShowOnceState(issued());
    expect(s.requestClose()).toBe("confirm");
    s.markCopied("client_id");
    s.markCopied("token_url");
    expect(s.requestClose()).toBe("confirm");
    s.toggleReveal(); // only looking at it is not taking it
    expect(s.requestClose()).toBe("confirm");
    s.markCopied("client_secret");
    expect(s.requestClose()).toBe("close");
  });

  it("counts showing the QR code as handing the secret over", () => {
    const s = new ShowOnceState(issued());
    expect(s.toggleQr()).toBe(true);
    expect(JSON.parse(s.qrPayload())).toEqual({
      client_id: "pc_app_123",
      client_secret: SECRET,
      token_url: "http://127.0.0.1:1/token",
      fhir_base_url: "http://127.0.0.1:1/fhir",
    });
    expect(s.requestClose()).toBe("close");
  });

  it("discards the secret on Done", () => {
    const s = new ShowOnceState(issued());
    s.toggleReveal();
    s.toggleQr();
    s.done();
    expect(s.discarded).toBe(true);
    expect(s.value("client_secret")).toBe("");
    expect(s.value("client_id")).toBe("");
    expect(s.secretText()).toBe("");
    expect(s.qrPayload()).toBe("");
    expect(s.revealed).toBe(false);
    expect(s.qrShown).toBe(false);
    expect(s.toggleReveal()).toBe(false);
    s.markCopied("client_secret");
    expect(s.copied.client_secret).toBe(false);
    expect(s.requestClose()).toBe("close");
    expect(JSON.stringify(s)).not.toContain(SECRET);
  });
});

describe("ShowOnceState for a registered app", () => {
  const appIssued = (): IssuedAppSecret => ({
    app: { name: "Sleep Coach", client_id: "pci_smart_abc" } as App,
    client_secret: "pcs_smart_S3cr3tS3cr3tS3cr3t",
    token_url: "http://127.0.0.1:1/token",
    authorize_url: "http://127.0.0.1:1/oauth/authorize",
    fhir_base_url: "http://127.0.0.1:1/fhir",
  });

  it("shows the app's client id and authorize URL, and takes the secret out of the response", () => {
    const r = appIssued();
    const s = new ShowOnceState(r);
    expect(r.client_secret).toBe("");
    expect([s.value("client_id"), s.value("authorize_url"), s.value("client_secret")]).toEqual(["pci_smart_abc", "http://127.0.0.1:1/oauth/authorize", "pcs_smart_S3cr3tS3cr3tS3cr3t"]);
    expect(JSON.parse(s.qrPayload())).toMatchObject({ client_id: "pci_smart_abc", authorize_url: "http://127.0.0.1:1/oauth/authorize" });
    s.done();
    expect([s.value("authorize_url"), s.value("client_secret")]).toEqual(["", ""]);
  });

  it("a credential's QR payload stays the four fields it was", () => {
    expect(Object.keys(JSON.parse(new ShowOnceState(issued()).qrPayload()))).toEqual(["client_id", "client_secret", "token_url", "fhir_base_url"]);
  });
});
