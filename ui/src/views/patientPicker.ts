// Choosing the patients of a key: search by name, date of birth or MRN (the server's directory answers each
// keystroke), the chosen ones as removable chips. ARIA combobox with a multi-select listbox: ↑/↓ move,
// Enter adds (or removes a chosen one), Backspace in the empty box removes the last chip, the count is
// announced. Each keystroke is measured from the input event until its results are painted.
import * as api from "../api";
import { h, mount } from "../dom";
import { formatAge, formatDate } from "../format";
import type { PatientSummary } from "../types";

/** What the search box's hint says, and the empty state repeats: the one rule for dates of birth. */
export const SEARCH_HINT = "Name, date of birth (YYYY-MM-DD, or only YYYY or YYYY-MM) or MRN.";
/** Wait this long after a keystroke before asking. None: an answer takes milliseconds, and answers overtaken by a
 * later keystroke are dropped unpainted, so waiting would only add to every keystroke's time. */
export const DEBOUNCE_MS = 0;
/** Answers per search (the server's default). */
export const LIMIT = 20;
const MAX_QUERY = 100;

/** Summaries seen so far (searches, chips, previews), so chips and cards show names rather than ids. */
export const known = new Map<string, PatientSummary>();

/** Asks the server for the summaries of the ids not known yet; resolves once they are in `known`. */
export async function loadNames(ids: string[]): Promise<void> {
  const missing = [...new Set(ids)].filter((id) => !known.has(id));
  if (!missing.length) return;
  for (const p of await api.patientsById(missing)) known.set(p.id, p);
}

let batch: Set<string> | null = null;
let batchDone: Promise<void> = Promise.resolve();
/** [`loadNames`] for many callers at once (each card of a list): the ids asked in one turn go in one request. */
export function loadNamesSoon(ids: string[]): Promise<void> {
  if (!batch) {
    const b = (batch = new Set<string>());
    batchDone = new Promise((resolve) =>
      setTimeout(() => {
        batch = null;
        loadNames([...b]).catch(() => undefined).finally(resolve);
      }, 0),
    );
  }
  for (const id of ids) batch.add(id);
  return batchDone;
}

/** A patient's name, or a stand-in while (or when) it cannot be known. */
export function patientName(id: string): string {
  return known.get(id)?.name ?? `Patient ${id}`;
}

/** "Born 21 May 1974 · 52 y · female · MRN 0012345678". */
export function patientFacts(p: PatientSummary): string {
  const age = formatAge(p.birth_date);
  return [
    p.birth_date ? `Born ${formatDate(p.birth_date)}${age ? ` (${age})` : ""}` : "",
    p.gender ?? "",
    p.mrn ? `MRN ${p.mrn}` : "",
  ]
    .filter(Boolean)
    .join(" · ");
}

/** A static chip for cards: the name, with the facts as its tooltip; filled in once the name is known. */
export function patientChip(id: string): HTMLElement {
  const label = h("span", { class: "chip-name" }, known.has(id) ? patientName(id) : "…");
  const chip = h("span", { class: "chip static", "data-patient-id": id }, label);
  const fill = () => {
    const p = known.get(id);
    label.textContent = patientName(id);
    chip.title = p ? [p.name, patientFacts(p)].filter(Boolean).join(", ") : id;
  };
  if (known.has(id)) fill();
  else void loadNamesSoon([id]).then(fill);
  return chip;
}

function looksLikeOtherDate(q: string): boolean {
  return /^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$/.test(q);
}

export interface PatientPicker {
  el: HTMLElement;
  chosen: () => string[];
  error: HTMLElement;
  input: HTMLInputElement;
}

export interface PickerOptions {
  debounceMs?: number;
  /** When a keystroke's results are painted (for tests); the UI also reports it as `patient_picker`. */
  onMeasured?: (ms: number, query: string) => void;
}

export function patientPicker(initial: string[], opts: PickerOptions = {}): PatientPicker {
  const debounceMs = opts.debounceMs ?? DEBOUNCE_MS;
  const chosen: string[] = [...new Set(initial)];
  let results: PatientSummary[] = [];
  let active = -1;
  let seq = 0;
  let timer = 0;
  let pendingStart: number | null = null;
  /** The keystroke whose answer is on screen, and whether Enter was pressed before it got there. */
  let shown = -1;
  let addWhenShown = false;
  let loadingNames = chosen.some((id) => !known.has(id));

  const input = h("input", {
    id: "patient-search",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": "patient-results",
    "aria-describedby": "patient-search-hint",
    placeholder: "Search patients",
    "data-testid": "patient-search",
    maxlength: String(MAX_QUERY),
  });
  const list = h("ul", {
    id: "patient-results",
    class: "options patient-options",
    role: "listbox",
    "aria-label": "Matching patients",
    "aria-multiselectable": "true",
    "data-testid": "patient-results",
    hidden: true,
  });
  const status = h("p", { class: "picker-status muted small", role: "status", "aria-live": "polite", "data-testid": "patient-status" });
  const chosenLabel = h("div", { class: "sub-label", id: "patient-chosen-label" });
  const chips = h("ul", { class: "chips", "aria-labelledby": "patient-chosen-label", "data-testid": "patient-chips" });
  const announcer = h("p", { class: "sr-only", role: "status", "aria-live": "polite", "data-testid": "patient-announce" });
  const error = h("p", { class: "field-error", id: "patients-error", "aria-live": "polite" });

  const say = (text: string) => {
    announcer.textContent = text;
  };

  const renderChips = () => {
    chosenLabel.textContent = chosen.length ? `Chosen (${chosen.length})` : "Chosen";
    if (!chosen.length) {
      mount(chips, h("li", { class: "muted small chips-empty" }, "No patients chosen yet."));
      return;
    }
    mount(
      chips,
      ...chosen.map((id) => {
        const p = known.get(id);
        const name = p ? p.name : loadingNames ? "…" : patientName(id);
        return h(
          "li",
          { class: "chip", "data-testid": "patient-chip", "data-patient-id": id, title: p ? `${p.name}, ${patientFacts(p)}` : id },
          h("span", { class: "chip-name" }, name),
          h(
            "button",
            {
              type: "button",
              class: "chip-remove",
              "aria-label": `Remove ${p ? p.name : patientName(id)}`,
              "data-testid": "patient-chip-remove",
              onclick: () => {
                remove(id);
                input.focus();
              },
            },
            "×",
          ),
        );
      }),
    );
  };

  const optionId = (i: number) => `patient-option-${i}`;

  /** Marks option `i` active (-1: none), scrolled into the list's view; `reveal` (arrow keys) also scrolls the
   * dialog to it. */
  const setActive = (i: number, reveal = false) => {
    active = i;
    Array.from(list.children).forEach((li, j) => li.classList.toggle("active", j === i));
    if (i >= 0) {
      input.setAttribute("aria-activedescendant", optionId(i));
      // Scrolls the list only: scrollIntoView would scroll the dialog too, moving everything under the pointer
      // and repainting the whole dialog at a keystroke.
      const li = list.children[i] as HTMLElement | undefined;
      if (li && !list.hidden) {
        const top = li.offsetTop;
        const bottom = top + li.offsetHeight;
        if (top < list.scrollTop) list.scrollTop = top;
        else if (bottom > list.scrollTop + list.clientHeight) list.scrollTop = bottom - list.clientHeight;
        if (reveal) li.scrollIntoView?.({ block: "nearest" });
      }
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  };

  const renderResults = (found: PatientSummary[], query: string) => {
    results = found;
    const options = found.map((p, i) => {
      const isChosen = chosen.includes(p.id);
      const facts = patientFacts(p);
      return h(
        "li",
        {
          id: optionId(i),
          role: "option",
          class: "patient-option",
          "aria-selected": String(isChosen),
          "data-testid": "patient-option",
          "data-patient-id": p.id,
          // Keep the focus in the search box when an option is clicked.
          onmousedown: (e: Event) => e.preventDefault(),
          onclick: () => {
            setActive(i);
            toggle(p);
          },
        },
        h("span", { class: "option-check", "aria-hidden": "true" }, isChosen ? "✓" : ""),
        h(
          "span",
          { class: "option-main" },
          h("span", { class: "option-name" }, p.name),
          facts ? h("span", { class: "option-facts" }, facts) : null,
        ),
      );
    });
    mount(list, ...options);
    list.scrollTop = 0;
    list.hidden = !found.length;
    input.setAttribute("aria-expanded", String(found.length > 0));
    setActive(found.length && query ? 0 : -1);
    const quoted = `“${query}”`;
    if (!found.length) {
      status.classList.add("empty");
      status.setAttribute("data-empty", "true");
      status.textContent = query
        ? `No patient matches ${quoted}. Search by name, date of birth (YYYY-MM-DD) or MRN.` +
          (looksLikeOtherDate(query) ? " Write a date of birth as year-month-day, for example 1974-05-21." : "")
        : "No patients in your practices yet.";
      return;
    }
    status.classList.remove("empty");
    status.removeAttribute("data-empty");
    const n = found.length;
    const more = n >= LIMIT ? `, showing the first ${n}; type more to narrow` : "";
    status.textContent = query
      ? `${n} ${n === 1 ? "patient matches" : "patients match"} ${quoted}${more}.`
      : `The first ${n} patients by name. Type to search.`;
  };

  const refreshSelected = () => {
    Array.from(list.children).forEach((li, i) => {
      const p = results[i];
      if (!p) return;
      const isChosen = chosen.includes(p.id);
      li.setAttribute("aria-selected", String(isChosen));
      const check = li.querySelector(".option-check");
      if (check) check.textContent = isChosen ? "✓" : "";
    });
  };

  const remove = (id: string) => {
    const i = chosen.indexOf(id);
    if (i < 0) return;
    chosen.splice(i, 1);
    renderChips();
    refreshSelected();
    say(`Removed ${patientName(id)}. ${chosen.length} chosen.`);
  };

  const toggle = (p: PatientSummary) => {
    known.set(p.id, p);
    if (chosen.includes(p.id)) {
      remove(p.id);
      return;
    }
    chosen.push(p.id);
    error.textContent = "";
    renderChips();
    refreshSelected();
    say(`Added ${p.name}. ${chosen.length} chosen.`);
  };

  const raf = (f: () => void) => (typeof requestAnimationFrame === "function" ? requestAnimationFrame(f) : window.setTimeout(f, 16));

  /** Answers the search for `mine` (the keystroke's number), painted only if no later keystroke came. */
  const run = async (mine: number, start: number | null) => {
    const query = input.value.trim();
    if (query.length > MAX_QUERY) {
      mount(list);
      list.hidden = true;
      status.textContent = `Search with at most ${MAX_QUERY} characters.`;
      return;
    }
    try {
      const asked = performance.now();
      const found = await api.patients(query || null);
      if (mine !== seq) return; // a later keystroke's answer will be shown instead
      const answered = performance.now();
      for (const p of found) known.set(p.id, p);
      shown = mine;
      renderResults(found, query);
      if (addWhenShown) {
        addWhenShown = false;
        if (active >= 0 && results[active]) toggle(results[active]);
      }
      const rendered = performance.now();
      if (start !== null) {
        raf(() =>
          raf(() => {
            const painted = performance.now();
            const ms = painted - start;
            // Where the time went: before asking (event queue, debounce), the answer, building the list, painting.
            const phases = { wait: asked - start, answer: answered - asked, render: rendered - answered, paint: painted - rendered };
            list.setAttribute("data-render-phases", Object.entries(phases).map(([k, v]) => `${k}=${v.toFixed(1)}`).join(" "));
            list.setAttribute("data-render-ms", ms.toFixed(1));
            list.setAttribute("data-render-query", query);
            opts.onMeasured?.(ms, query);
            void api.reportTiming("patient_picker", ms).catch(() => undefined);
          }),
        );
      }
    } catch (e) {
      if (mine !== seq) return;
      mount(list);
      list.hidden = true;
      status.textContent = `Search failed: ${api.toApiError(e).message}`;
    }
  };

  const searchNow = () => {
    window.clearTimeout(timer);
    const start = pendingStart;
    pendingStart = null;
    void run(seq, start);
  };

  input.addEventListener("input", (e) => {
    // From the keystroke itself (the event's time), not from when this handler got to run.
    const now = performance.now();
    const stamp = e.timeStamp > 0 && e.timeStamp <= now ? e.timeStamp : now;
    seq += 1; // any answer still on its way is now stale
    addWhenShown = false;
    pendingStart = stamp;
    window.clearTimeout(timer);
    timer = window.setTimeout(searchNow, debounceMs);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!results.length) return;
      e.preventDefault();
      const n = results.length;
      setActive(e.key === "ArrowDown" ? (active + 1) % n : active <= 0 ? n - 1 : active - 1, true);
    } else if (e.key === "Enter") {
      e.preventDefault(); // never submits the form from the search box
      if (shown !== seq) {
        // Typed faster than the answers: add the top match of what is typed once it is shown.
        addWhenShown = true;
        if (pendingStart !== null) searchNow();
      } else if (active >= 0 && results[active]) toggle(results[active]);
    } else if (e.key === "Backspace" && input.value === "" && chosen.length) {
      e.preventDefault();
      remove(chosen[chosen.length - 1]);
    }
  });

  renderChips();
  // Names for the chips of patients chosen before (editing a key).
  if (loadingNames)
    void loadNames(chosen)
      .catch(() => undefined)
      .then(() => {
        loadingNames = false;
        renderChips();
      });
  void run(seq, null);

  return {
    el: h(
      "fieldset",
      { class: "field picker" },
      h("legend", null, "Patients"),
      chosenLabel,
      chips,
      h("label", { for: "patient-search", class: "sub-label" }, "Add patients"),
      h("p", { class: "hint", id: "patient-search-hint" }, `${SEARCH_HINT} ↑ ↓ to move, Enter to add, Backspace in the empty box removes the last chosen.`),
      input,
      status,
      list,
      announcer,
      error,
    ),
    chosen: () => chosen.slice(),
    error,
    input,
  };
}
