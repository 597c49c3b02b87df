// Preview: exactly what a credential can see, fetched through the same enforcement as its token.
import * as api from "../api";
import type { Ctx } from "../app";
import { countBars, lineChart } from "../chart";
import { openDialog } from "../dialog";
import { emptyBlock, errorBlock, h, loadingBlock, mount } from "../dom";
import { nextPath, resourcesOf, rowsFor, shapeObservations, type ChartGroup, type Row } from "../fhir";
import { formatDate } from "../format";
import type { Credential, FhirJson, Preview } from "../types";
import { known, loadNames } from "./patientPicker";

/** A credential, or a connected app's grant (same id space): what preview and history need of it. */
export type PreviewSubject = Pick<Credential, "id" | "name" | "kind">;

const LISTED: Array<{ type: string; title: string; empty: string }> = [
  { type: "Condition", title: "Conditions", empty: "No conditions." },
  { type: "MedicationRequest", title: "Medications", empty: "No medications." },
  { type: "AllergyIntolerance", title: "Allergies", empty: "No allergies recorded." },
  { type: "Immunization", title: "Immunizations", empty: "No immunizations." },
  { type: "Encounter", title: "Encounters", empty: "No encounters." },
  { type: "Procedure", title: "Procedures", empty: "No procedures." },
];
const ROW_LIMIT = 30;
const MAX_PAGES = 20;

/** Every page of a search, following `next` links. */
async function fetchAll(id: string, path: string, fhirBase: string): Promise<{ resources: FhirJson[]; pages: FhirJson[] }> {
  const pages: FhirJson[] = [];
  let p: string | null = path;
  while (p && pages.length < MAX_PAGES) {
    const page: FhirJson = await api.previewFhir(id, p);
    pages.push(page);
    p = fhirBase ? nextPath(page, fhirBase) : null;
  }
  return { resources: pages.flatMap(resourcesOf), pages };
}

function withPatient(path: string, patient: string | null): string {
  return patient ? `${path}&patient=${encodeURIComponent(patient)}` : path;
}

function rawJson(load: () => Promise<FhirJson>): HTMLElement {
  const pre = h("pre", { class: "raw", hidden: true, tabindex: "0" });
  const btn = h(
    "button",
    {
      type: "button",
      class: "link small",
      "aria-expanded": "false",
      "data-testid": "show-raw",
      onclick: async () => {
        const open = pre.hidden;
        btn.setAttribute("aria-expanded", String(open));
        btn.textContent = open ? "Hide raw JSON" : "Show raw JSON";
        if (!open) {
          pre.hidden = true;
          pre.textContent = "";
          return;
        }
        pre.hidden = false;
        pre.textContent = "Loading…";
        try {
          pre.textContent = JSON.stringify(await load(), null, 2);
        } catch (e) {
          pre.textContent = `Could not load: ${api.toApiError(e).message}`;
        }
      },
    },
    "Show raw JSON",
  );
  return h("div", { class: "raw-box" }, btn, pre);
}

function rowList(rows: Row[]): HTMLElement {
  const ul = h("ul", { class: "rows" });
  const addRows = (from: number, to: number) => {
    for (const r of rows.slice(from, to)) {
      ul.append(h("li", null, h("span", { class: "row-title" }, r.title), r.facts.length ? h("span", { class: "row-facts" }, r.facts.join(" · ")) : null));
    }
  };
  addRows(0, ROW_LIMIT);
  if (rows.length <= ROW_LIMIT) return ul;
  const more = h(
    "button",
    {
      type: "button",
      class: "link small",
      onclick: () => {
        addRows(ROW_LIMIT, rows.length);
        more.remove();
      },
    },
    `Show all ${rows.length}`,
  );
  return h("div", null, ul, more);
}

function section(title: string, count: number | null, ...body: Array<HTMLElement | null>): HTMLElement {
  return h(
    "section",
    { class: "preview-section" },
    h("h3", null, title, count !== null ? h("span", { class: "count-pill" }, String(count)) : null),
    ...body,
  );
}

export function openPreview(c: PreviewSubject, ctx: Ctx, t0: number): void {
  const d = openDialog({ title: `What “${c.name}” can see`, size: "large", testid: "preview-panel", initialFocus: () => d.root });
  const content = h("div", { class: "preview", "aria-live": "polite" });
  d.body.append(
    h("p", { class: "muted" }, "Exactly the data this credential’s token would get right now, checked by the same rules."),
    content,
  );
  d.footer.append(h("button", { type: "button", class: "secondary", onclick: () => d.close() }, "Close"));

  const load = async () => {
    mount(content, loadingBlock("Loading preview…"));
    try {
      const [pv, status] = await Promise.all([api.preview(c.id), ctx.getStatus()]);
      const fhirBase = status?.fhir_base_url ?? "";
      if (pv.patients.length > 1) {
        await renderPicker(content, c, pv, ctx, fhirBase, t0);
      } else {
        const patient = c.kind !== "patient_app" && pv.patients.length === 1 ? pv.patients[0] : null;
        await renderData(content, c, pv, patient, fhirBase, t0);
      }
    } catch (e) {
      const err = ctx.fail(e, "Could not load the preview", false);
      mount(content, errorBlock(`The preview could not be loaded: ${err.message}`, () => void load()));
    }
  };
  void load();
}

async function renderPicker(el: HTMLElement, c: PreviewSubject, pv: Preview, ctx: Ctx, fhirBase: string, t0: number) {
  try {
    await loadNames(pv.patients);
  } catch {
    // Names are a convenience; ids still work.
  }
  const names = known;
  const select = h(
    "select",
    { id: "preview-patient", "data-testid": "preview-patient" },
    h("option", { value: "" }, "Choose a patient…"),
    ...pv.patients.map((id) => {
      const p = names.get(id);
      return h("option", { value: id }, p ? `${p.name}${p.birth_date ? ` (born ${formatDate(p.birth_date)})` : ""}${p.mrn ? `, MRN ${p.mrn}` : ""}` : id);
    }),
  );
  const data = h("div", { class: "preview-data" });
  select.addEventListener("change", () => {
    const start = performance.now();
    if (!select.value) {
      mount(data);
      return;
    }
    mount(data, loadingBlock("Loading preview…"));
    renderData(data, c, pv, select.value, fhirBase, start).catch((e) => {
      const err = ctx.fail(e, "Could not load the preview", false);
      mount(data, errorBlock(`The preview could not be loaded: ${err.message}`));
    });
  });
  mount(
    el,
    h("p", null, `This key reaches ${pv.total} resources of ${pv.patients.length} patients.`),
    countBars(pv.counts),
    h("div", { class: "field inline" }, h("label", { for: "preview-patient" }, "Preview one patient"), select),
    data,
  );
  void api.reportTiming("preview_render", performance.now() - t0).catch(() => undefined);
}

async function renderData(el: HTMLElement, c: PreviewSubject, pv: Preview, patient: string | null, fhirBase: string, t0: number) {
  const counts = new Map(pv.counts.map((x) => [x.resource_type, x.count]));
  const has = (t: string) => (counts.get(t) ?? 0) > 0;
  const q = (p: string) => withPatient(p, patient);

  const obsP = has("Observation") ? fetchAll(c.id, q("Observation?_count=1000&_sort=date"), fhirBase) : null;
  const listP = LISTED.map((s) => (has(s.type) ? fetchAll(c.id, q(`${s.type}?_count=1000`), fhirBase) : null));
  const patientP = patient ? api.previewFhir(c.id, `Patient/${encodeURIComponent(patient)}`).catch(() => null) : null;
  const [obs, lists, patientRes] = await Promise.all([obsP, Promise.all(listP), patientP]);

  const nodes: HTMLElement[] = [];

  if (patientRes) {
    const n = patientRes.name?.[0];
    const name = n ? n.text || [...(n.given ?? []), n.family].filter(Boolean).join(" ") : patient;
    nodes.push(h("p", { class: "patient-line" }, h("strong", null, name), patientRes.birthDate ? ` · born ${formatDate(patientRes.birthDate)}` : "", patientRes.gender ? ` · ${patientRes.gender}` : ""));
  }

  if (pv.total === 0) {
    nodes.push(emptyBlock("This credential sees no data", "It is inactive, outside its validity window, or the record is empty."));
  }
  // With a patient picker the counts for all patients are already shown above it.
  if (!(patient && pv.patients.length > 1)) {
    nodes.push(section("What it can see", null, h("p", { class: "muted small" }, `${pv.total} resources in total.`), countBars(pv.counts)));
  }

  if (obs) {
    const groups = shapeObservations(obs.resources);
    const charted = (g: ChartGroup) => g.series.some((s) => s.points.length >= 2);
    const vitals = groups.filter((g) => g.category === "vital-signs" && charted(g));
    const labs = groups.filter((g) => g.category !== "vital-signs" && charted(g));
    const singles = rowsFor(
      obs.resources.filter((o: FhirJson) => {
        const code = o.code?.coding?.[0]?.code;
        return !groups.some((g) => charted(g) && (g.code === code || g.series.some((s) => s.code === code)));
      }),
      formatDate,
    );
    const raw = rawJson(async () => (obs.pages.length === 1 ? obs.pages[0] : obs.pages));
    if (vitals.length) nodes.push(section("Vital signs", null, h("div", { class: "charts" }, ...vitals.map(lineChart))));
    if (labs.length) nodes.push(section("Lab results", null, h("div", { class: "charts" }, ...labs.map(lineChart))));
    nodes.push(
      section(
        "Other observations",
        singles.length,
        singles.length ? rowList(singles) : h("p", { class: "muted" }, "All observations are charted above."),
        raw,
      ),
    );
  }

  LISTED.forEach((s, i) => {
    const got = lists[i];
    if (!got) return;
    const rows = rowsFor(got.resources, formatDate);
    nodes.push(
      section(s.title, rows.length, rows.length ? rowList(rows) : h("p", { class: "muted" }, s.empty), rawJson(async () => (got.pages.length === 1 ? got.pages[0] : got.pages))),
    );
  });

  const listedTypes = new Set(["Observation", "Patient", ...LISTED.map((s) => s.type)]);
  const others = pv.counts.filter((x) => x.count > 0 && !listedTypes.has(x.resource_type));
  if (others.length) {
    nodes.push(
      section(
        "Other data",
        null,
        h("p", { class: "muted small" }, "Administrative and supporting records the app can also read."),
        ...others.map((o) =>
          h(
            "div",
            { class: "other-type" },
            h("span", null, `${o.resource_type}: ${o.count}`),
            rawJson(() => api.previewFhir(c.id, q(`${o.resource_type}?_count=1000`))),
          ),
        ),
      ),
    );
  }
  mount(el, ...nodes);
  // Measured once the browser has laid out and painted the result (the frame after the next), so the
  // figure is what the user waits for, not just DOM building.
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      const ms = performance.now() - t0;
      el.setAttribute("data-render-ms", ms.toFixed(1));
      void api.reportTiming("preview_render", ms).catch(() => undefined);
    }),
  );
}
