import { describe, expect, it } from "vitest";
import { receiptSentence } from "./views/receipts";
import type { AccessEvent, RevocationReceipt } from "./types";

const refused: AccessEvent = {
  seq: 9,
  at: "2026-11-22T10:05:00Z",
  kind: "fhir_refused",
  outcome: "token revoked",
  credential_id: "c1",
  credential_name: "Phone health app",
  patient_id: null,
  resource_types: [],
  count: null,
  detail: "read Patient",
};

const receipt = (over: Partial<RevocationReceipt>): RevocationReceipt => ({
  credential_id: "c1",
  name: "Phone health app",
  client_id: "pci_app_x",
  deleted_at: "2026-11-22T10:04:00Z",
  tokens_revoked: 2,
  first_refused: null,
  ...over,
});

describe("revocation receipts", () => {
  it("says how many tokens died and that nothing has tried since", () => {
    const s = receiptSentence(receipt({}));
    expect(s).toContain("2 access tokens stopped working at once");
    expect(s).toContain("has not tried again");
  });
  it("names the first refused request", () => {
    const s = receiptSentence(receipt({ tokens_revoked: 1, first_refused: refused }));
    expect(s).toContain("1 access token stopped");
    expect(s).toMatch(/next attempt, .*was refused \(read Patient\)\./);
  });
});
