// Pure shaping of FHIR R4 JSON for the preview: bundles to resources, Observations to time series,
// and one readable row per clinical resource. No DOM here.

import type { FhirJson } from "./types";

/** Resources of a searchset Bundle (or a single resource, or an array). */
export function resourcesOf(json: FhirJson): FhirJson[] {
  if (!json) return [];
  if (Array.isArray(json)) return json;
  if (json.resourceType === "Bundle") {
    return (json.entry ?? []).map((e: FhirJson) => e && e.resource).filter((r: FhirJson) => r && r.resourceType);
  }
  return json.resourceType ? [json] : [];
}

/** The relative path of a Bundle's `next` link, for paging through preview_fhir. */
export function nextPath(json: FhirJson, fhirBaseUrl: string): string | null {
  const link = (json?.link ?? []).find((l: FhirJson) => l && l.relation === "next");
  if (!link || typeof link.url !== "string") return null;
  const base = fhirBaseUrl.replace(/\/+$/, "") + "/";
  if (link.url.startsWith(base)) return link.url.slice(base.length);
  const m = /\/fhir\/(?:[^/]+\/)?([A-Z][A-Za-z]+(?:[/?].*)?)$/.exec(link.url);
  return m ? m[1] : null;
}

export interface Point {
  t: number; // epoch ms
  v: number;
}

export interface Series {
  code: string;
  label: string;
  unit: string;
  points: Point[];
}

export interface ChartGroup {
  /** LOINC code used in `data-testid="chart-<code>"` (85354-9 for blood pressure). */
  code: string;
  title: string;
  unit: string;
  category: "vital-signs" | "laboratory" | "other";
  series: Series[];
}

export const BP_PANEL = "85354-9";
const BP_PANELS = new Set([BP_PANEL, "55284-4"]); // US Core panel and Synthea's older code
export const SYSTOLIC = "8480-6";
export const DIASTOLIC = "8462-4";

/** Known codes, in display order, with friendly titles. */
export const KNOWN: Record<string, string> = {
  [BP_PANEL]: "Blood pressure",
  "29463-7": "Body weight",
  "39156-5": "Body mass index",
  "8302-2": "Body height",
  "8867-4": "Heart rate",
  "9279-1": "Respiratory rate",
  "8310-5": "Body temperature",
  "59408-5": "Oxygen saturation",
  "2708-6": "Oxygen saturation",
  "2339-0": "Glucose",
  "4548-4": "Hemoglobin A1c",
  "2093-3": "Total cholesterol",
  "18262-6": "LDL cholesterol",
  "2085-9": "HDL cholesterol",
  "2571-8": "Triglycerides",
  "38483-4": "Creatinine",
  "33914-3": "eGFR",
};
const KNOWN_ORDER = Object.keys(KNOWN);

function loinc(codeable: FhirJson): { code: string; display: string } | null {
  const codings: FhirJson[] = codeable?.coding ?? [];
  const c = codings.find((x) => x && x.system === "http://loinc.org" && x.code) ?? codings.find((x) => x && x.code);
  if (!c) return null;
  return { code: String(c.code), display: codeable.text || c.display || String(c.code) };
}

/** When an observation was made: effective[x], else issued. */
export function observationTime(o: FhirJson): number | null {
  const s = o.effectiveDateTime ?? o.effectiveInstant ?? o.effectivePeriod?.start ?? o.issued;
  if (typeof s !== "string") return null;
  const t = Date.parse(s);
  return isNaN(t) ? null : t;
}

function quantity(q: FhirJson): { v: number; unit: string } | null {
  if (!q || typeof q.value !== "number" || !isFinite(q.value)) return null;
  return { v: q.value, unit: String(q.unit ?? q.code ?? "") };
}

function category(o: FhirJson): ChartGroup["category"] {
  for (const c of o.category ?? []) {
    for (const cd of c?.coding ?? []) {
      if (cd?.code === "vital-signs") return "vital-signs";
      if (cd?.code === "laboratory") return "laboratory";
    }
  }
  return "other";
}

/**
 * Observations → one chart group per LOINC code, points sorted by time, numeric values only.
 * Blood pressure panels (85354-9 / 55284-4) and stand-alone systolic/diastolic observations share
 * one group with two series. Within a series, points in a unit other than the first seen are dropped
 * rather than mixed on one axis.
 */
export function shapeObservations(observations: FhirJson[]): ChartGroup[] {
  const groups = new Map<string, ChartGroup>();
  const seriesOf = (gcode: string, title: string, cat: ChartGroup["category"], scode: string, label: string, unit: string) => {
    let g = groups.get(gcode);
    if (!g) {
      g = { code: gcode, title, unit, category: cat, series: [] };
      groups.set(gcode, g);
    }
    let s = g.series.find((x) => x.code === scode);
    if (!s) {
      s = { code: scode, label, unit, points: [] };
      g.series.push(s);
    }
    return s;
  };
  const add = (s: Series, t: number, q: { v: number; unit: string }) => {
    if (s.points.length === 0 && !s.unit) s.unit = q.unit;
    if (q.unit !== s.unit && s.points.length > 0) return;
    s.points.push({ t, v: q.v });
  };

  for (const o of observations) {
    if (!o || o.resourceType !== "Observation") continue;
    if (o.status === "entered-in-error") continue;
    const t = observationTime(o);
    const code = loinc(o.code);
    if (t === null || !code) continue;
    const cat = category(o);
    if (BP_PANELS.has(code.code) || code.code === SYSTOLIC || code.code === DIASTOLIC) {
      const parts: Array<[FhirJson, FhirJson]> = BP_PANELS.has(code.code)
        ? (o.component ?? []).map((c: FhirJson) => [c?.code, c?.valueQuantity])
        : [[o.code, o.valueQuantity]];
      for (const [cc, vq] of parts) {
        const c = loinc(cc);
        const q = quantity(vq);
        if (!c || !q || (c.code !== SYSTOLIC && c.code !== DIASTOLIC)) continue;
        const label = c.code === SYSTOLIC ? "Systolic" : "Diastolic";
        add(seriesOf(BP_PANEL, KNOWN[BP_PANEL], "vital-signs", c.code, label, q.unit), t, q);
      }
      continue;
    }
    const q = quantity(o.valueQuantity);
    if (!q) continue;
    const title = KNOWN[code.code] ?? code.display;
    add(seriesOf(code.code, title, cat, code.code, title, q.unit), t, q);
  }

  const out = Array.from(groups.values());
  for (const g of out) {
    g.series.sort((a, b) => (a.code === SYSTOLIC ? -1 : b.code === SYSTOLIC ? 1 : 0));
    for (const s of g.series) s.points.sort((a, b) => a.t - b.t);
    g.unit = g.series[0]?.unit ?? "";
  }
  const rank = (g: ChartGroup) => {
    const i = KNOWN_ORDER.indexOf(g.code);
    return i >= 0 ? i : KNOWN_ORDER.length + (g.category === "vital-signs" ? 0 : g.category === "laboratory" ? 1 : 2);
  };
  out.sort((a, b) => rank(a) - rank(b) || a.title.localeCompare(b.title));
  return out;
}

// ---- readable rows ------------------------------------------------------------------------

export interface Row {
  id: string;
  title: string;
  /** Short facts shown after the title, e.g. status and dates. */
  facts: string[];
  /** Sort key (epoch ms), newest first. */
  sortKey: number;
}

export function conceptText(c: FhirJson): string {
  if (!c) return "";
  if (typeof c.text === "string" && c.text) return c.text;
  for (const cd of c.coding ?? []) if (cd?.display) return String(cd.display);
  for (const cd of c.coding ?? []) if (cd?.code) return String(cd.code);
  return "";
}

function statusText(c: FhirJson): string {
  return conceptText(c) || "";
}

function time(s: FhirJson): number {
  const t = typeof s === "string" ? Date.parse(s) : NaN;
  return isNaN(t) ? -Infinity : t;
}

export type DateFormatter = (iso: string | null | undefined) => string;

/** One readable row per resource of the types the preview lists; null for types it does not. */
export function rowFor(r: FhirJson, date: DateFormatter): Row | null {
  const id = `${r.resourceType}/${r.id ?? ""}`;
  const facts: string[] = [];
  const push = (s: string | null | undefined) => {
    if (s) facts.push(s);
  };
  switch (r.resourceType) {
    case "Condition": {
      push(statusText(r.clinicalStatus));
      if (r.onsetDateTime) push(`since ${date(r.onsetDateTime)}`);
      if (r.abatementDateTime) push(`resolved ${date(r.abatementDateTime)}`);
      return { id, title: conceptText(r.code) || "Unnamed condition", facts, sortKey: time(r.onsetDateTime ?? r.recordedDate) };
    }
    case "MedicationRequest": {
      const title = conceptText(r.medicationCodeableConcept) || r.medicationReference?.display || "Medication";
      push(r.status);
      if (r.authoredOn) push(`prescribed ${date(r.authoredOn)}`);
      const dose = r.dosageInstruction?.[0]?.text;
      push(dose);
      return { id, title, facts, sortKey: time(r.authoredOn) };
    }
    case "AllergyIntolerance": {
      push(statusText(r.clinicalStatus));
      if (Array.isArray(r.category)) push(r.category.join(", "));
      if (r.criticality) push(`criticality ${r.criticality}`);
      const reactions = (r.reaction ?? [])
        .flatMap((x: FhirJson) => (x?.manifestation ?? []).map(conceptText))
        .filter(Boolean);
      if (reactions.length) push(`reaction: ${reactions.join(", ")}`);
      if (r.recordedDate) push(`recorded ${date(r.recordedDate)}`);
      return { id, title: conceptText(r.code) || "Allergy", facts, sortKey: time(r.recordedDate ?? r.onsetDateTime) };
    }
    case "Immunization": {
      push(r.status);
      if (r.occurrenceDateTime) push(date(r.occurrenceDateTime));
      return { id, title: conceptText(r.vaccineCode) || "Immunization", facts, sortKey: time(r.occurrenceDateTime) };
    }
    case "Encounter": {
      const type = conceptText(r.type?.[0]) || conceptText(r.serviceType) || "Encounter";
      const cls = r.class ? r.class.display || r.class.code : "";
      push(cls);
      const start = r.period?.start;
      const end = r.period?.end;
      if (start) push(end && date(end) !== date(start) ? `${date(start)} – ${date(end)}` : date(start));
      push(r.status);
      return { id, title: type, facts, sortKey: time(start) };
    }
    case "Procedure": {
      push(r.status);
      const when = r.performedDateTime ?? r.performedPeriod?.start;
      if (when) push(date(when));
      return { id, title: conceptText(r.code) || "Procedure", facts, sortKey: time(when) };
    }
    case "Observation": {
      const q = r.valueQuantity;
      const value =
        q && typeof q.value === "number"
          ? `${q.value} ${q.unit ?? ""}`.trim()
          : conceptText(r.valueCodeableConcept) || (typeof r.valueString === "string" ? r.valueString : "");
      push(value);
      const t = r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued;
      if (t) push(date(t));
      return { id, title: conceptText(r.code) || "Observation", facts, sortKey: time(t) };
    }
    default:
      return null;
  }
}

/** Rows sorted newest first. */
export function rowsFor(resources: FhirJson[], date: DateFormatter): Row[] {
  const rows: Row[] = [];
  for (const r of resources) {
    const row = rowFor(r, date);
    if (row) rows.push(row);
  }
  rows.sort((a, b) => b.sortKey - a.sortKey);
  return rows;
}
