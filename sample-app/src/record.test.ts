import { describe, expect, it } from "vitest";
import { age, conditionList, latestVitals, medicationList, patientName, type Observation } from "./record";

describe("record", () => {
  it("names a patient as people write it", () => {
    const cases: [Parameters<typeof patientName>[0], string][] = [
      [{ resourceType: "Patient", name: [{ use: "official", given: ["Reyna401"], family: "Ziemann98" }] }, "Reyna Ziemann"],
      [{ resourceType: "Patient", name: [{ use: "maiden", family: "X" }, { use: "official", given: ["A"], family: "B" }] }, "A B"],
      [{ resourceType: "Patient", name: [{ text: "Dr. Jo Q" }] }, "Dr. Jo Q"],
      [{ resourceType: "Patient" }, "Unnamed patient"],
    ];
    for (const [p, want] of cases) expect(patientName(p)).toBe(want);
  });

  it("counts whole years", () => {
    const today = new Date(2026, 2, 10); // 10 March 2026
    const cases: [string, number | null][] = [["2000-03-10", 26], ["2000-03-11", 25], ["2000-12-31", 25], ["bad", null]];
    for (const [birth, want] of cases) expect(age(birth, today)).toBe(want);
  });

  it("lists active conditions first, once each", () => {
    const c = (text: string, status: string) => ({
      resourceType: "Condition" as const,
      code: { text },
      clinicalStatus: { coding: [{ code: status }] },
    });
    const got = conditionList([c("Sinusitis", "resolved"), c("Asthma", "active"), c("Sinusitis", "active"), c("Anemia", "resolved")]);
    expect(got.map((x) => [x.name, x.active])).toEqual([["Asthma", true], ["Sinusitis", true], ["Anemia", false]]);
  });

  it("lists active medications, newest first", () => {
    const m = (text: string, status: string, authoredOn: string) => ({
      resourceType: "MedicationRequest" as const,
      status,
      authoredOn,
      medicationCodeableConcept: { text },
    });
    const got = medicationList([m("A", "active", "2020-01-01"), m("B", "stopped", "2024-01-01"), m("C", "active", "2023-01-01")]);
    expect(got.map((x) => x.name)).toEqual(["C", "A"]);
  });

  it("keeps the latest value of each vital sign; blood pressure from its components", () => {
    const q = (value: number, unit: string) => ({ value, unit });
    const obs: Observation[] = [
      { resourceType: "Observation", code: { text: "Body weight", coding: [{ code: "29463-7" }] }, effectiveDateTime: "2020-01-01", valueQuantity: q(80.04, "kg") },
      { resourceType: "Observation", code: { text: "Body weight", coding: [{ code: "29463-7" }] }, effectiveDateTime: "2023-01-01", valueQuantity: q(77.26, "kg") },
      {
        resourceType: "Observation",
        code: { text: "Blood pressure", coding: [{ code: "85354-9" }] },
        effectiveDateTime: "2022-05-01",
        // Diastolic first, as Synthea writes it: the order must come from the codes.
        component: [
          { code: { coding: [{ code: "8462-4" }] }, valueQuantity: q(79, "mm[Hg]") },
          { code: { coding: [{ code: "8480-6" }] }, valueQuantity: q(121, "mm[Hg]") },
        ],
      },
      { resourceType: "Observation", code: { text: "Pain severity" }, effectiveDateTime: "2021-01-01", valueQuantity: q(2, "{score}") },
    ];
    expect(latestVitals(obs)).toEqual([
      { name: "Body weight", value: "77.3 kg", date: "2023-01-01" },
      { name: "Blood pressure", value: "121/79 mmHg", date: "2022-05-01" },
      { name: "Pain severity", value: "2", date: "2021-01-01" },
    ]);
  });
});
