// The patient picker: chips added and removed (buttons, Enter, Backspace), arrow keys over the listbox, stale
// answers ignored, names shown in full with the facts people pick by, each keystroke measured.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as api from "./api";
import type { PatientSummary } from "./types";
import { known, patientChip, patientPicker } from "./views/patientPicker";

const P = (id: string, name: string, over: Partial<PatientSummary> = {}): PatientSummary => ({
  id,
  name,
  birth_date: "1974-05-21",
  gender: "female",
  mrn: `MRN-${id.slice(0, 4)}`,
  practices: [1],
  ...over,
});
const patria = P("148f10e1-2182-4297-ac1f-39bb9eca6f1a", "Patria Schimmel");
const reyna = P("76d2fa2d-66a6-4823-8dab-52cd70822844", "Reyna Ziemann", { birth_date: "1974-02-28" });
const willia = P("54034a85-d558-4047-b32a-ad82008f7199", "Willia Runolfsdottir-Vandervort Oberbrunner", { birth_date: "1922-09-25" });
const everyone = [patria, reyna, willia];

const flush = async (n = 6) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

type Calls = { cmd: string; args?: Record<string, unknown> }[];

/** A server answering from `everyone` by name start; `hold` keeps chosen answers back until released. */
function server() {
  const calls: Calls = [];
  const held = new Map<string, () => void>();
  const holding = new Set<string>();
  api.setInvoke(async (cmd, args) => {
    calls.push({ cmd, args });
    if (cmd === "patients") {
      const q = String((args as { query: string | null }).query ?? "").toLowerCase();
      const found = everyone.filter((p) => !q || p.name.toLowerCase().split(/[\s-]+/).some((w) => w.startsWith(q)));
      if (holding.has(q)) await new Promise<void>((resolve) => held.set(q, resolve));
      return found;
    }
    if (cmd === "patients_by_id") return everyone.filter((p) => (args as { ids: string[] }).ids.includes(p.id));
    return null;
  });
  return { calls, hold: (q: string) => holding.add(q), release: (q: string) => held.get(q)?.() };
}

function setup(initial: string[] = []) {
  const measured: { ms: number; query: string }[] = [];
  const picker = patientPicker(initial, { debounceMs: 0, onMeasured: (ms, query) => measured.push({ ms, query }) });
  document.body.append(picker.el);
  const input = picker.input;
  const type = async (text: string) => {
    input.value = text;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    await flush();
  };
  const key = (k: string) => input.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
  const q = (sel: string) => Array.from(picker.el.querySelectorAll<HTMLElement>(sel));
  const options = () => q('[data-testid="patient-option"]');
  const chips = () => q('[data-testid="patient-chip"]').map((c) => c.dataset.patientId);
  return { picker, input, type, key, q, options, chips, measured };
}

beforeEach(() => known.clear());
afterEach(() => {
  document.body.innerHTML = "";
});

describe("patient picker", () => {
  it("shows full names, date of birth, age and MRN, not the id", async () => {
    server();
    const t = setup();
    await flush();
    const texts = t.options().map((o) => o.textContent);
    expect(texts).toHaveLength(3);
    expect(texts[2]).toContain("Willia Runolfsdottir-Vandervort Oberbrunner");
    expect(texts[0]).toMatch(/Born .*1974.*\(\d+ y\).*female.*MRN MRN-148f/);
    for (const o of t.options()) expect(o.textContent).not.toContain(o.dataset.patientId!);
    expect(t.input.getAttribute("role")).toBe("combobox");
    expect(t.q('[role="listbox"]')[0].getAttribute("aria-multiselectable")).toBe("true");
  });

  it("adds by click and by Enter, removes by the chip's button and by Backspace in the empty box", async () => {
    server();
    const t = setup();
    await flush();
    t.options()[1].click();
    expect(t.chips()).toEqual([reyna.id]);
    expect(t.q('[data-testid="patient-announce"]')[0].textContent).toBe("Added Reyna Ziemann. 1 chosen.");
    await t.type("pat");
    expect(t.options()).toHaveLength(1);
    t.key("Enter"); // the first match is active
    expect(t.chips()).toEqual([reyna.id, patria.id]);
    expect(t.picker.chosen()).toEqual([reyna.id, patria.id]);
    // Each chip's button says whom it removes.
    const remove = t.q('[data-testid="patient-chip-remove"]');
    expect(remove.map((b) => b.getAttribute("aria-label"))).toEqual(["Remove Reyna Ziemann", "Remove Patria Schimmel"]);
    remove[0].click();
    expect(t.chips()).toEqual([patria.id]);
    expect(document.activeElement).toBe(t.input);
    // Backspace removes the last chip only when the box is empty.
    t.key("Backspace");
    expect(t.chips()).toEqual([patria.id]);
    await t.type("");
    t.key("Backspace");
    expect(t.chips()).toEqual([]);
    expect(t.q('[data-testid="patient-announce"]')[0].textContent).toBe("Removed Patria Schimmel. 0 chosen.");
    expect(t.q(".chips-empty")[0].textContent).toBe("No patients chosen yet.");
  });

  it("moves through the options with the arrow keys; Enter on a chosen one removes it", async () => {
    server();
    const t = setup();
    await flush();
    expect(t.input.getAttribute("aria-activedescendant")).toBeNull(); // nothing typed: nothing active
    t.key("ArrowDown");
    expect(t.input.getAttribute("aria-activedescendant")).toBe(t.options()[0].id);
    t.key("ArrowDown");
    t.key("ArrowDown");
    expect(t.input.getAttribute("aria-activedescendant")).toBe(t.options()[2].id);
    t.key("ArrowDown"); // wraps
    expect(t.input.getAttribute("aria-activedescendant")).toBe(t.options()[0].id);
    t.key("ArrowUp"); // wraps back
    expect(t.q(".patient-option.active").map((o) => o.dataset.patientId)).toEqual([willia.id]);
    t.key("Enter");
    expect(t.chips()).toEqual([willia.id]);
    expect(t.options()[2].getAttribute("aria-selected")).toBe("true");
    t.key("Enter");
    expect(t.chips()).toEqual([]);
    expect(t.options()[2].getAttribute("aria-selected")).toBe("false");
  });

  it("ignores an answer that arrives after a later keystroke's", async () => {
    const s = server();
    s.hold("p"); // the first keystroke's answer is slow
    const t = setup();
    await flush();
    await t.type("p");
    await t.type("pa");
    expect(t.options().map((o) => o.dataset.patientId)).toEqual([patria.id]);
    s.release("p"); // now the slow one arrives: it must not replace what is shown
    await flush();
    expect(t.options().map((o) => o.dataset.patientId)).toEqual([patria.id]);
    expect(t.q('[data-testid="patient-status"]')[0].textContent).toBe("1 patient matches “pa”.");
  });

  it("Enter typed before the answer adds the top match of what was typed", async () => {
    const s = server();
    const t = setup();
    await flush();
    s.hold("reyna");
    t.input.value = "reyna";
    t.input.dispatchEvent(new Event("input", { bubbles: true }));
    t.key("Enter");
    expect(t.chips()).toEqual([]);
    await flush();
    s.release("reyna");
    await flush();
    expect(t.chips()).toEqual([reyna.id]);
  });

  it("says when nothing matches, and how to write a date of birth", async () => {
    server();
    const t = setup();
    await flush();
    await t.type("zzz");
    const status = t.q('[data-testid="patient-status"]')[0];
    expect(status.textContent).toBe("No patient matches “zzz”. Search by name, date of birth (YYYY-MM-DD) or MRN.");
    expect(t.q('[role="listbox"]')[0].hidden).toBe(true);
    expect(t.input.getAttribute("aria-expanded")).toBe("false");
    await t.type("21/05/1974");
    expect(status.textContent).toContain("Write a date of birth as year-month-day, for example 1974-05-21.");
  });

  it("measures each keystroke until its results are painted", async () => {
    server();
    const t = setup();
    await flush();
    expect(t.measured).toEqual([]); // the first list is not a keystroke
    await t.type("r");
    await new Promise((r) => setTimeout(r, 60)); // two animation frames
    expect(t.measured.map((m) => m.query)).toEqual(["r"]);
    const list = t.q('[data-testid="patient-results"]')[0];
    expect(Number(list.dataset.renderMs)).toBeGreaterThanOrEqual(0);
    expect(list.dataset.renderQuery).toBe("r");
  });

  it("asks for the names of patients chosen before, and shows them as chips", async () => {
    const s = server();
    const t = setup([patria.id, "gone-elsewhere"]);
    expect(t.q('[data-testid="patient-chip"] .chip-name').map((c) => c.textContent)).toEqual(["…", "…"]);
    await flush();
    expect(s.calls.find((c) => c.cmd === "patients_by_id")?.args).toEqual({ ids: [patria.id, "gone-elsewhere"] });
    expect(t.q('[data-testid="patient-chip"] .chip-name').map((c) => c.textContent)).toEqual(["Patria Schimmel", "Patient gone-elsewhere"]);
    expect(t.q('[data-testid="patient-chip-remove"]')[0].getAttribute("aria-label")).toBe("Remove Patria Schimmel");
  });

  it("fills the chips of many cards with one request", async () => {
    const s = server();
    const chips = [patria.id, reyna.id, willia.id].map(patientChip);
    document.body.append(...chips);
    await flush();
    expect(s.calls.filter((c) => c.cmd === "patients_by_id")).toHaveLength(1);
    expect(chips.map((c) => c.textContent)).toEqual(["Patria Schimmel", "Reyna Ziemann", "Willia Runolfsdottir-Vandervort Oberbrunner"]);
    expect(chips[0].title).toContain("MRN MRN-148f");
  });
});
