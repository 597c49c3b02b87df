import { describe, expect, it } from "vitest";
import { checkCredentialName, checkProviderKey, localInputToUtc, utcToLocalInput } from "./validation";

describe("checkCredentialName mirrors the server", () => {
  const check = (input: string, expected: string | null) => {
    const r = checkCredentialName(input);
    if (expected === null) expect(r.ok, JSON.stringify(input)).toBe(false);
    else expect(r, JSON.stringify(input)).toEqual({ ok: true, name: expected });
  };
  it.each([
    ["Phone health app", "Phone health app"],
    ["  Phone health app  ", "Phone health app"],
    ["a", "a"],
    ["x".repeat(100), "x".repeat(100)],
    ["Ärztin-App 📱", "Ärztin-App 📱"],
    ["😀".repeat(100), "😀".repeat(100)], // 100 code points, 200 UTF-16 units
    ["日本語のアプリ", "日本語のアプリ"],
    ["\u0085\u00A0Phone app\u3000", "Phone app"], // Rust trims Unicode White_Space
    ["Phone\u00A0app", "Phone\u00A0app"],
  ])("accepts %j", (input, expected) => check(input, expected));

  it.each([
    [""],
    ["   "],
    ["x".repeat(101)],
    ["Phone\napp"],
    ["Phone\tapp"],
    ["Phone\u0000app"],
    ["Phone\u007Fapp"],
    ["Phone\u0085app"],
    ["Phone\u200Bapp"],
    ["Phone\u200Fapp"],
    ["Phone\u202Aapp"],
    ["Phone\u202Eapp"],
    ["Phone\u2066app"],
    ["Phone\u2069app"],
    ["\uFEFFPhone app"],
  ])("rejects %j", (input) => check(input, null));

  it("says why", () => {
    expect(checkCredentialName("")).toMatchObject({ ok: false, error: expect.stringMatching(/Enter a name/) });
    expect(checkCredentialName("x".repeat(120))).toMatchObject({ ok: false, error: expect.stringMatching(/at most 100/) });
    expect(checkCredentialName("a\u202Eb")).toMatchObject({ ok: false, error: expect.stringMatching(/invisible/) });
  });
});

describe("datetime-local conversion", () => {
  it("round-trips through UTC", () => {
    const utc = localInputToUtc("2024-03-12T10:02")!;
    expect(utc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(utcToLocalInput(utc)).toBe("2024-03-12T10:02");
    expect(new Date(utc).getTime()).toBe(new Date(2024, 2, 12, 10, 2).getTime());
  });
  it("treats empty and garbage as no value", () => {
    expect(localInputToUtc("")).toBeNull();
    expect(localInputToUtc("tomorrow")).toBeNull();
    expect(utcToLocalInput(null)).toBe("");
  });
});

describe("checkProviderKey", () => {
  const base = { name: "Care coordination", validFrom: "", validTo: "", patients: ["p1"], active: true };
  it("accepts an open-ended key with one patient", () => {
    expect(checkProviderKey(base)).toEqual({ ok: true, value: { name: "Care coordination", valid_from: null, valid_to: null, patients: ["p1"], active: true } });
  });
  it("requires valid_to after valid_from", () => {
    const same = checkProviderKey({ ...base, validFrom: "2024-05-01T09:00", validTo: "2024-05-01T09:00" });
    expect(same).toMatchObject({ ok: false, errors: { validTo: expect.stringMatching(/after/) } });
    const before = checkProviderKey({ ...base, validFrom: "2024-05-02T09:00", validTo: "2024-05-01T09:00" });
    expect(before.ok).toBe(false);
    const ok = checkProviderKey({ ...base, validFrom: "2024-05-01T09:00", validTo: "2024-05-01T09:01" });
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.value.valid_from).toBe(localInputToUtc("2024-05-01T09:00"));
  });
  it("allows only one bound", () => {
    expect(checkProviderKey({ ...base, validTo: "2030-01-01T00:00" }).ok).toBe(true);
    expect(checkProviderKey({ ...base, validFrom: "2020-01-01T00:00" }).ok).toBe(true);
  });
  it("needs at least one patient, deduplicated", () => {
    expect(checkProviderKey({ ...base, patients: [] })).toMatchObject({ ok: false, errors: { patients: expect.any(String) } });
    const r = checkProviderKey({ ...base, patients: ["p1", "p2", "p1"] });
    expect(r.ok && r.value.patients).toEqual(["p1", "p2"]);
  });
  it("reports every problem at once", () => {
    const r = checkProviderKey({ name: " ", validFrom: "2024-05-02T09:00", validTo: "2024-05-01T09:00", patients: [], active: false });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(Object.keys(r.errors).sort()).toEqual(["name", "patients", "validTo"]);
  });
});
