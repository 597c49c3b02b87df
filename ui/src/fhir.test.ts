import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { nextPath, resourcesOf, rowsFor, shapeObservations } from "./fhir";

const loinc = (code: string, display = code) => ({ coding: [{ system: "http://loinc.org", code, display }] });
const qty = (value: unknown, unit = "kg") => ({ value, unit });
const vital = { coding: [{ code: "vital-signs" }] };
const lab = { coding: [{ code: "laboratory" }] };

function o(code: string, at: string, value: unknown, unit = "kg", cat = vital) {
  return { resourceType: "Observation", status: "final", category: [cat], code: loinc(code), effectiveDateTime: at, valueQuantity: qty(value, unit) };
}
function bp(at: string, sys: number, dia: number, panel = "85354-9") {
  return {
    resourceType: "Observation",
    category: [vital],
    code: loinc(panel),
    effectiveDateTime: at,
    component: [
      { code: loinc("8480-6"), valueQuantity: qty(sys, "mm[Hg]") },
      { code: loinc("8462-4"), valueQuantity: qty(dia, "mm[Hg]") },
    ],
  };
}

describe("shapeObservations", () => {
  it("splits blood pressure panels into systolic and diastolic series", () => {
    const g = shapeObservations([bp("2024-02-01T10:00:00Z", 130, 85), bp("2024-01-01T10:00:00Z", 120, 80, "55284-4")]);
    expect(g).toHaveLength(1);
    expect(g[0].code).toBe("85354-9");
    expect(g[0].unit).toBe("mm[Hg]");
    expect(g[0].series.map((s) => [s.code, s.label, s.points.map((p) => p.v)])).toEqual([
      ["8480-6", "Systolic", [120, 130]],
      ["8462-4", "Diastolic", [80, 85]],
    ]);
  });

  it("adds stand-alone systolic/diastolic observations to the blood pressure chart", () => {
    const g = shapeObservations([o("8480-6", "2024-01-01T00:00:00Z", 125, "mm[Hg]"), bp("2024-02-01T00:00:00Z", 130, 85)]);
    expect(g.map((x) => x.code)).toEqual(["85354-9"]);
    expect(g[0].series[0].points.map((p) => p.v)).toEqual([125, 130]);
  });

  it("makes one series per code, sorted by time, keeping the unit", () => {
    const g = shapeObservations([
      o("29463-7", "2024-03-01T00:00:00Z", 80),
      o("29463-7", "2023-03-01T00:00:00Z", 78.5),
      o("39156-5", "2024-03-01T00:00:00Z", 27.1, "kg/m2"),
      o("8302-2", "2024-03-01T00:00:00Z", 170, "cm"),
      o("8867-4", "2024-03-01T00:00:00Z", 64, "/min"),
      o("2339-0", "2024-03-01T00:00:00Z", 90, "mg/dL", lab),
    ]);
    expect(g.map((x) => [x.code, x.unit, x.category])).toEqual([
      ["29463-7", "kg", "vital-signs"],
      ["39156-5", "kg/m2", "vital-signs"],
      ["8302-2", "cm", "vital-signs"],
      ["8867-4", "/min", "vital-signs"],
      ["2339-0", "mg/dL", "laboratory"],
    ]);
    expect(g[0].title).toBe("Body weight");
    expect(g[0].series[0].points).toEqual([
      { t: Date.parse("2023-03-01T00:00:00Z"), v: 78.5 },
      { t: Date.parse("2024-03-01T00:00:00Z"), v: 80 },
    ]);
  });

  it("keeps numeric values only and skips undated or erroneous ones", () => {
    const g = shapeObservations([
      o("29463-7", "2024-01-01T00:00:00Z", "80"),
      o("29463-7", "2024-01-02T00:00:00Z", NaN),
      o("29463-7", "2024-01-03T00:00:00Z", null),
      { ...o("29463-7", "2024-01-04T00:00:00Z", 81), status: "entered-in-error" },
      { ...o("29463-7", "", 82), effectiveDateTime: undefined },
      { resourceType: "Observation", code: loinc("72166-2"), effectiveDateTime: "2024-01-01", valueCodeableConcept: { text: "Never smoked" } },
      { resourceType: "Condition", code: loinc("29463-7") },
      o("29463-7", "2024-01-05T00:00:00Z", 79),
    ]);
    expect(g).toHaveLength(1);
    expect(g[0].series[0].points.map((p) => p.v)).toEqual([79]);
  });

  it("uses effectivePeriod.start or issued when there is no effectiveDateTime", () => {
    const a = { ...o("8867-4", "", 70, "/min"), effectiveDateTime: undefined, effectivePeriod: { start: "2024-01-02T00:00:00Z" } };
    const b = { ...o("8867-4", "", 60, "/min"), effectiveDateTime: undefined, issued: "2024-01-01T00:00:00Z" };
    expect(shapeObservations([a, b])[0].series[0].points.map((p) => p.v)).toEqual([60, 70]);
  });

  it("does not mix units on one axis", () => {
    const g = shapeObservations([o("29463-7", "2024-01-01T00:00:00Z", 80, "kg"), o("29463-7", "2024-01-02T00:00:00Z", 176, "lb")]);
    expect(g[0].unit).toBe("kg");
    expect(g[0].series[0].points).toHaveLength(1);
  });

  it("orders known codes first, then other vitals, then labs", () => {
    const g = shapeObservations([
      o("9999-1", "2024-01-01T00:00:00Z", 1, "x", lab),
      o("1111-1", "2024-01-01T00:00:00Z", 1, "x", vital),
      o("2339-0", "2024-01-01T00:00:00Z", 90, "mg/dL", lab),
      bp("2024-01-01T00:00:00Z", 120, 80),
    ]);
    expect(g.map((x) => x.code)).toEqual(["85354-9", "2339-0", "1111-1", "9999-1"]);
  });
});

describe("bundles", () => {
  it("reads resources from a searchset and finds the next page", () => {
    const b = { resourceType: "Bundle", entry: [{ resource: { resourceType: "Condition", id: "1" } }, {}], link: [{ relation: "next", url: "http://127.0.0.1:9/fhir/Condition?_count=1000&_page=2" }] };
    expect(resourcesOf(b).map((r) => r.id)).toEqual(["1"]);
    expect(nextPath(b, "http://127.0.0.1:9/fhir")).toBe("Condition?_count=1000&_page=2");
    expect(nextPath({ resourceType: "Bundle" }, "http://x/fhir")).toBeNull();
  });
});

describe("readable rows", () => {
  const date = (s: string | null | undefined) => String(s).slice(0, 10);
  it("describes medications, conditions, allergies, immunizations, encounters newest first", () => {
    const rows = rowsFor(
      [
        { resourceType: "MedicationRequest", id: "m", status: "active", medicationCodeableConcept: { coding: [{ display: "lisinopril 10 MG" }] }, authoredOn: "2020-01-01T00:00:00Z" },
        { resourceType: "Condition", id: "c", code: { text: "Prediabetes" }, clinicalStatus: { coding: [{ code: "active" }] }, onsetDateTime: "2021-01-01T00:00:00Z" },
        { resourceType: "AllergyIntolerance", id: "a", code: { text: "Peanut" }, criticality: "high", reaction: [{ manifestation: [{ text: "Hives" }] }], recordedDate: "2019-01-01" },
        { resourceType: "Immunization", id: "i", vaccineCode: { text: "Influenza" }, status: "completed", occurrenceDateTime: "2022-01-01T00:00:00Z" },
        { resourceType: "Encounter", id: "e", class: { code: "AMB" }, type: [{ text: "Check up" }], period: { start: "2023-01-01T09:00:00Z", end: "2023-01-01T09:30:00Z" } },
        { resourceType: "Claim", id: "x" },
      ],
      date,
    );
    expect(rows.map((r) => [r.title, r.facts])).toEqual([
      ["Check up", ["AMB", "2023-01-01"]],
      ["Influenza", ["completed", "2022-01-01"]],
      ["Prediabetes", ["active", "since 2021-01-01"]],
      ["lisinopril 10 MG", ["active", "prescribed 2020-01-01"]],
      ["Peanut", ["criticality high", "reaction: Hives", "recorded 2019-01-01"]],
    ]);
  });
});

// The largest sample patient, from the copy the project ships. (Its speed is measured by
// scripts/bench-desktop, not asserted here.)
const SAMPLE = resolve(__dirname, "../../crates/portico-samples/data/Reyna_Ziemann_08f8bfce-34cf-4b5a-a398-8e49650c6e3c.json");
describe("largest sample patient", () => {
  it("shapes its vital-sign charts and readable rows", () => {
    const bundle = JSON.parse(readFileSync(SAMPLE, "utf8"));
    const all = resourcesOf(bundle);
    const groups = shapeObservations(all.filter((r) => r.resourceType === "Observation"));
    const rows = rowsFor(all, (s) => String(s));
    expect(groups.find((g) => g.code === "85354-9")?.series.map((s) => s.points.length)).toEqual([5, 5]);
    expect(groups.find((g) => g.code === "29463-7")?.series[0].points.length).toBe(5);
    expect(rows.length).toBeGreaterThan(50);
  });
});
