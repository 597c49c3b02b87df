// The show-once dialog's state, kept apart from the DOM so its rules are unit-tested:
// masked by default, copy flags per field, closing without having taken the secret asks first,
// and Done drops the secret from memory.

import type { IssuedAppSecret, IssuedSecret } from "./types";

export type Field = "client_id" | "client_secret" | "token_url" | "fhir_base_url" | "authorize_url";
export const MASK = "•".repeat(24);

export interface Details {
  client_id: string;
  client_secret: string;
  token_url: string;
  fhir_base_url: string;
  /** Registered SMART apps: where people are sent to authorize them. */
  authorize_url?: string;
}

export class ShowOnceState {
  private details: Details | null;
  revealed = false;
  qrShown = false;
  readonly copied: Record<Field, boolean> = { client_id: false, client_secret: false, token_url: false, fhir_base_url: false, authorize_url: false };
  private finished = false;

  constructor(issued: IssuedSecret | IssuedAppSecret) {
    this.details =
      "app" in issued
        ? {
            client_id: issued.app.client_id,
            client_secret: issued.client_secret ?? "",
            token_url: issued.token_url,
            fhir_base_url: issued.fhir_base_url,
            authorize_url: issued.authorize_url,
          }
        : {
            client_id: issued.client_id,
            client_secret: issued.client_secret,
            token_url: issued.token_url,
            fhir_base_url: issued.fhir_base_url,
          };
    // The response object is not kept: overwrite the secret there too.
    issued.client_secret = "";
  }

  get discarded(): boolean {
    return this.details === null;
  }

  value(field: Field): string {
    return this.details ? (this.details[field] ?? "") : "";
  }

  /** What the secret field shows: the mask until revealed. */
  secretText(): string {
    if (!this.details) return "";
    return this.revealed ? this.details.client_secret : MASK;
  }

  toggleReveal(): boolean {
    if (this.details) this.revealed = !this.revealed;
    return this.revealed;
  }

  toggleQr(): boolean {
    if (this.details) this.qrShown = !this.qrShown;
    return this.qrShown;
  }

  markCopied(field: Field): void {
    if (this.details) this.copied[field] = true;
  }

  /** The JSON a phone app scans: same four details. */
  qrPayload(): string {
    if (!this.details) return "";
    const d = this.details;
    return JSON.stringify({
      client_id: d.client_id,
      client_secret: d.client_secret,
      token_url: d.token_url,
      fhir_base_url: d.fhir_base_url,
      ...(d.authorize_url ? { authorize_url: d.authorize_url } : {}),
    });
  }

  /** The secret left the dialog: copied, or shown as a QR code for a phone to scan. */
  get secretTaken(): boolean {
    return this.copied.client_secret || this.qrShown;
  }

  /** Escape or ×: close at once if the secret was taken, otherwise ask for confirmation. */
  requestClose(): "close" | "confirm" {
    if (this.finished) return "close";
    return this.secretTaken ? "close" : "confirm";
  }

  /** Done (or a confirmed close): the secret is discarded and can never be shown again. */
  done(): void {
    if (this.details) {
      this.details.client_secret = "";
      this.details = null;
    }
    this.revealed = false;
    this.qrShown = false;
    this.finished = true;
  }
}
