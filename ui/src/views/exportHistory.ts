// "Take your history with you": the patient's whole access history as a file (CSV for a spreadsheet, FHIR
// AuditEvents for another health system), saved in their Downloads folder by the shell.
import * as api from "../api";
import type { Ctx } from "../app";
import { NEEDS_SERVER, needsServer } from "../connection";
import { h } from "../dom";
import { toast } from "../toast";

export function exportSection(ctx: Ctx): HTMLElement {
  const status = h("p", { class: "muted small", role: "status", "aria-live": "polite", "data-testid": "export-status" });
  const run = async (format: "csv" | "fhir", button: HTMLButtonElement) => {
    const buttons = Array.from(section.querySelectorAll<HTMLButtonElement>("button"));
    buttons.forEach((b) => (b.disabled = true));
    button.setAttribute("aria-busy", "true");
    status.textContent = "Preparing the file…";
    try {
      const saved = await api.exportAccessHistory(format);
      status.textContent = `Saved to ${saved.path}`;
      toast(`Your access history was saved to ${saved.path}`, "success");
    } catch (e) {
      status.textContent = "";
      ctx.fail(e, "Could not export your access history");
    } finally {
      button.removeAttribute("aria-busy");
      buttons.forEach((b) => (b.disabled = false));
    }
  };
  const button = (format: "csv" | "fhir", label: string, testid: string) => {
    const b = h("button", { type: "button", class: "secondary", "data-testid": testid }, label) as HTMLButtonElement;
    b.addEventListener("click", () => void run(format, b));
    return needsServer(ctx.connection, b, NEEDS_SERVER.export);
  };
  const section = h(
    "section",
    { class: "export-section", "aria-labelledby": "export-title", "data-testid": "export-history" },
    h("h2", { id: "export-title" }, "Take your access history with you"),
    h(
      "p",
      { class: "muted small" },
      "Every time an app or a clinic key read your record, or was given or refused access, as a file in your Downloads folder.",
    ),
    h(
      "div",
      { class: "button-row" },
      button("csv", "Export as CSV (spreadsheet)", "export-csv"),
      button("fhir", "Export as FHIR AuditEvents (JSON)", "export-fhir"),
    ),
    status,
  );
  return section;
}
