import { describe, expect, it } from "vitest";
import { describeEvent, formatAge, formatDate, formatDateTime, formatRelative, formatWeekdayTime, groupHistory, historySentence, parseResourceTypes, pluralType } from "./format";
import type { AccessEvent } from "./types";

const ev = (p: Partial<AccessEvent>): AccessEvent => ({
  seq: 1, at: "2024-03-12T09:02:00Z", kind: "fhir_access", outcome: "ok", credential_id: "c1", credential_name: "Phone health app", patient_id: "p1", resource_types: [], count: null, detail: null, ...p,
});

describe("local time with zone", () => {
  const berlin = { locale: "en-GB", timeZone: "Europe/Berlin" };
  it("converts UTC to the zone and names it", () => {
    expect(formatDateTime("2024-03-12T09:02:00Z", berlin)).toBe("12 Mar 2024, 10:02 CET");
    expect(formatDateTime("2024-07-12T09:02:00Z", berlin)).toBe("12 Jul 2024, 11:02 CEST");
    expect(formatDateTime("2024-03-12T09:02:00Z", { locale: "en-US", timeZone: "America/New_York" })).toBe("Mar 12, 2024, 05:02 AM EDT");
    expect(formatWeekdayTime("2024-03-12T09:02:00Z", berlin)).toBe("Tue 10:02 CET");
  });
  it("crosses the date line correctly", () => {
    expect(formatDateTime("2024-03-12T23:30:00Z", { locale: "en-GB", timeZone: "Asia/Tokyo" })).toBe("13 Mar 2024, 08:30 GMT+9");
  });
  it("shows FHIR dates as the calendar date they name", () => {
    expect(formatDate("2024-03-12", { locale: "en-GB", timeZone: "America/Los_Angeles" })).toBe("12 Mar 2024");
    expect(formatDate("2024", { locale: "en-GB" })).toBe("2024");
  });
  it("handles missing or bad input", () => {
    expect(formatDateTime(null)).toBe("—");
    expect(formatDateTime("not a time")).toBe("—");
  });
  it("says never used", () => {
    expect(formatRelative(null)).toBe("never used");
    const now = Date.parse("2024-03-12T12:00:00Z");
    expect(formatRelative("2024-03-12T10:00:00Z", now)).toBe("2 h ago");
    expect(formatRelative("2024-03-09T12:00:00Z", now)).toBe("3 days ago");
  });
});

describe("history sentences", () => {
  it("reads resource_types entries with counts", () => {
    expect(parseResourceTypes(["Observation:14", "MedicationRequest:2", "Patient"])).toEqual([
      { type: "Observation", count: 14 },
      { type: "MedicationRequest", count: 2 },
      { type: "Patient", count: null },
    ]);
    expect(historySentence("Phone health app", ev({ resource_types: ["Observation:14", "MedicationRequest:2"] }))).toBe(
      "Phone health app read 14 Observations, 2 MedicationRequests",
    );
  });
  it("pluralises FHIR types", () => {
    expect(describeEvent(ev({ resource_types: ["Observation:1", "AllergyIntolerance:3", "Library:2", "Basic:2"] }))).toBe(
      "read 1 Observation, 3 AllergyIntolerances, 2 Libraries, 2 Basics",
    );
    expect(pluralType("Patient", 0)).toBe("Patients");
  });
  it("describes each kind", () => {
    expect(describeEvent(ev({ kind: "token_issued" }))).toBe("got an access token");
    expect(describeEvent(ev({ kind: "token_refused", outcome: "refused", detail: "invalid_client" }))).toBe("was refused an access token (invalid_client)");
    expect(describeEvent(ev({ kind: "fhir_refused", resource_types: ["Claim"], detail: "scope" }))).toBe("was refused Claim (scope)");
    expect(describeEvent(ev({ kind: "credential_deleted" }))).toBe("was deleted");
    expect(describeEvent(ev({ kind: "fhir_access", count: 3 }))).toBe("read 3 resources");
  });
});

describe("groupHistory", () => {
  const o = { locale: "en-GB", timeZone: "Europe/Berlin" };
  it("sorts newest first, groups by local day, merges reads of one minute, marks refusals", () => {
    const days = groupHistory(
      [
        ev({ seq: 1, at: "2024-03-11T22:30:00Z", kind: "token_issued" }), // 23:30 Monday in Berlin
        ev({ seq: 2, at: "2024-03-11T23:10:00Z", kind: "fhir_refused", outcome: "refused", resource_types: ["Claim"] }), // 00:10 Tuesday
        ev({ seq: 3, at: "2024-03-12T09:02:05Z", resource_types: ["MedicationRequest:2"] }),
        ev({ seq: 4, at: "2024-03-12T09:02:10Z", resource_types: ["Observation:14"] }),
        ev({ seq: 5, at: "2024-03-12T09:05:00Z", resource_types: ["Observation:1"] }),
      ],
      o,
    );
    expect(days.map((d) => d.heading)).toEqual(["Tuesday, 12 March 2024", "Monday, 11 March 2024"]);
    expect(days[0].lines.map((l) => [formatWeekdayTime(l.at, o), l.text, l.refused])).toEqual([
      ["Tue 10:05 CET", "read 1 Observation", false],
      ["Tue 10:02 CET", "read 14 Observations, 2 MedicationRequests", false],
      ["Tue 00:10 CET", "was refused Claim", true],
    ]);
    expect(days[1].lines.map((l) => l.text)).toEqual(["got an access token"]);
  });
  it("is empty for no events", () => {
    expect(groupHistory([])).toEqual([]);
  });
});

describe("formatAge", () => {
  const today = new Date(2026, 4, 21); // 21 May 2026, local calendar
  it.each([
    ["1974-05-21", "52 y"], // the birthday itself
    ["1974-05-22", "51 y"], // the day before it
    ["2024-05-22", "23 mo"],
    ["2026-05-01", "0 mo"],
    ["1974", null],
    ["1974-05", null],
    ["2027-01-01", null],
    [null, null],
    ["garbage", null],
  ])("%s → %s", (birth, want) => {
    expect(formatAge(birth, today)).toBe(want);
  });
});
