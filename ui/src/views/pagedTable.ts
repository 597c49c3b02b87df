// A table over a list the service searches, filters, sorts and pages: a search box (debounced), filter
// selects, sortable column headers (buttons inside <th>, aria-sort), "1–25 of 5,200" with previous/next, and
// empty, loading and error rows that say what to do. Only the newest request's answer is ever shown: a slower
// answer to an older one (a search typed over, a page clicked past) is dropped. The time from a request's start
// to its rows being painted is measured as the preview's is (two animation frames after mounting) and set on
// the table as data-render-ms; the first page and each search also report it to the shell.
import * as api from "../api";
import { h, mount, nextId } from "../dom";
import type { Page, SortDir } from "../types";

export interface Column<T> {
  /** Used in class names (`col-<id>`) and test ids (`<table>-sort-<id>`). */
  id: string;
  label: string;
  /** The service's sort key; makes the header a sort button. */
  sort?: string;
  /** The direction of the first click on this header (dates read best newest first). */
  firstDir?: SortDir;
  /** Hidden when the table is narrow (a small window or large text); say it elsewhere in the row then. */
  optional?: boolean;
  /** The label is for assistive technology only (an actions column). */
  hiddenLabel?: boolean;
  /** The cell is the row's header (`<th scope="row">`). */
  rowHeader?: boolean;
  cell: (row: T) => Node | string;
}

export interface Filter {
  /** The query parameter it sets. */
  param: string;
  label: string;
  /** What "no filter" is called, e.g. "All roles". */
  anyLabel: string;
  options: { value: string; label: string }[];
  /** Parses the selected value into the query's type (a practice id is a number). */
  parse?: (value: string) => string | number;
}

export type LoadReason = "first" | "search" | "filter" | "sort" | "page" | "refresh";

export interface PagedTableOptions<T> {
  /** The table's test id; its controls' test ids start with it. */
  testid: string;
  /** The table's accessible name. */
  caption: string;
  /** Singular and plural of what it lists: ["user", "users"]. */
  noun: [string, string];
  columns: Column<T>[];
  searchLabel: string;
  searchPlaceholder?: string;
  filters?: Filter[];
  sort: string;
  dir: SortDir;
  limit?: number;
  /** Asks the service for one page. */
  fetch: (query: Record<string, string | number>) => Promise<Page<T>>;
  /** Attributes of a row's <tr> (test ids, data-*). */
  rowAttrs: (row: T) => Record<string, string>;
  /** What the table says when the service has none at all. */
  emptyTitle: string;
  emptyText?: string;
  /** The name reported to the shell with the first page's and each search's paint time. */
  timing?: string;
  /** Reports a failed load (the caller's ctx.fail) and returns the message to show. */
  onError: (e: unknown) => string;
  debounceMs?: number;
}

export interface PagedTable {
  el: HTMLElement;
  table: HTMLTableElement;
  /** Loads the current page again (after an edit, say), keeping search, filters, order and page. */
  reload: () => Promise<void>;
  /** The newest load, once its answer is shown (or dropped as stale); for tests. */
  settled: () => Promise<void>;
}

const numbers = new Intl.NumberFormat();
const fmt = (n: number) => numbers.format(n);

/** "1–25 of 5,200", "26–26 of 26", "0 of 0". */
export function rangeText(offset: number, shown: number, total: number): string {
  if (shown === 0) return `0 of ${fmt(total)}`;
  return `${fmt(offset + 1)}–${fmt(offset + shown)} of ${fmt(total)}`;
}

export function pagedTable<T>(o: PagedTableOptions<T>): PagedTable {
  const limit = o.limit ?? 25;
  const debounceMs = o.debounceMs ?? 150;
  const state = { q: "", sort: o.sort, dir: o.dir, offset: 0, filters: new Map<string, string | number>() };
  let shown: Page<T> | null = null;
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending: Promise<void> = Promise.resolve();

  const searchId = nextId(`${o.testid}-search`);
  const captionId = nextId(`${o.testid}-caption`);
  const search = h("input", {
    type: "search",
    id: searchId,
    placeholder: o.searchPlaceholder ?? "",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 100,
    "data-testid": `${o.testid}-search`,
  });
  const filterSelects = (o.filters ?? []).map((f) => {
    const id = nextId(`${o.testid}-${f.param}`);
    const select = h(
      "select",
      { id, "data-testid": `${o.testid}-filter-${f.param}` },
      h("option", { value: "" }, f.anyLabel),
      ...f.options.map((x) => h("option", { value: x.value }, x.label)),
    );
    select.addEventListener("change", () => {
      if (select.value === "") state.filters.delete(f.param);
      else state.filters.set(f.param, f.parse ? f.parse(select.value) : select.value);
      state.offset = 0;
      void load("filter");
    });
    return { f, select, el: h("div", { class: "field" }, h("label", { for: id }, f.label), select) };
  });

  const headRow = h("tr");
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "data-table", "data-testid": o.testid, "aria-labelledby": captionId, "aria-busy": "true" },
    h("caption", { id: captionId, class: "sr-only" }, o.caption),
    h("thead", null, headRow),
    tbody,
  );
  const range = h("span", { class: "pager-range", "data-testid": `${o.testid}-range` });
  const prev = h("button", { type: "button", class: "secondary small", "data-testid": `${o.testid}-prev`, disabled: true }, "Previous");
  const next = h("button", { type: "button", class: "secondary small", "data-testid": `${o.testid}-next`, disabled: true }, "Next");
  const status = h("p", { class: "sr-only", role: "status", "aria-live": "polite" });
  const el = h(
    "div",
    { class: "paged-table" },
    h(
      "div",
      { class: "table-tools", role: "search" },
      h("div", { class: "field table-search" }, h("label", { for: searchId }, o.searchLabel), search),
      ...filterSelects.map((s) => s.el),
    ),
    h("div", { class: "table-scroll" }, table),
    h("nav", { class: "pager", "aria-label": `${o.caption}: pages` }, range, h("span", { class: "pager-buttons" }, prev, next)),
    status,
  );

  const renderHead = () => {
    mount(
      headRow,
      ...o.columns.map((c) => {
        const cls = `col-${c.id}${c.optional ? " col-optional" : ""}`;
        const label = c.hiddenLabel ? h("span", { class: "sr-only" }, c.label) : c.label;
        if (!c.sort) return h("th", { scope: "col", class: cls }, label);
        const active = state.sort === c.sort;
        const dir = active ? state.dir : null;
        return h(
          "th",
          { scope: "col", class: cls, "aria-sort": dir ? (dir === "asc" ? "ascending" : "descending") : null },
          h(
            "button",
            {
              type: "button",
              class: `sort-button${active ? " active" : ""}`,
              "data-testid": `${o.testid}-sort-${c.id}`,
              onclick: () => {
                if (state.sort === c.sort) state.dir = state.dir === "asc" ? "desc" : "asc";
                else {
                  state.sort = c.sort!;
                  state.dir = c.firstDir ?? "asc";
                }
                state.offset = 0;
                renderHead();
                void load("sort");
              },
            },
            label,
            h("span", { class: "sort-mark", "aria-hidden": "true" }, dir === "asc" ? "▲" : dir === "desc" ? "▼" : "↕"),
          ),
        );
      }),
    );
  };

  const query = (): Record<string, string | number> => {
    const q: Record<string, string | number> = { sort: state.sort, dir: state.dir, offset: state.offset, limit };
    if (state.q) q.q = state.q;
    for (const [k, v] of state.filters) q[k] = v;
    return q;
  };

  const wide = (content: Node) => h("tr", { class: "state-row" }, h("td", { colspan: String(o.columns.length) }, content));

  const clearSearch = () => {
    search.value = "";
    state.q = "";
    state.offset = 0;
    void load("search");
    search.focus();
  };
  const clearFilters = () => {
    state.filters.clear();
    for (const s of filterSelects) s.select.value = "";
    state.offset = 0;
    void load("filter");
  };

  const emptyRow = (): HTMLElement => {
    const [, many] = o.noun;
    const filtered = state.filters.size > 0;
    if (state.q) {
      const action = h("button", { type: "button", class: "link", "data-testid": `${o.testid}-clear-search`, onclick: clearSearch }, "clear the search");
      return wide(
        h(
          "div",
          { class: "state empty" },
          h("p", { class: "empty-title" }, `No ${many} match “${state.q}”${filtered ? " with these filters" : ""}`),
          h("p", { class: "muted" }, "Check the spelling, ", action, filtered ? " or change the filters." : ", or search by username."),
        ),
      );
    }
    if (filtered) {
      const action = h("button", { type: "button", class: "link", "data-testid": `${o.testid}-clear-filters`, onclick: clearFilters }, "show everyone");
      return wide(h("div", { class: "state empty" }, h("p", { class: "empty-title" }, `No ${many} match these filters`), h("p", { class: "muted" }, "Choose another filter, or ", action, ".")));
    }
    if (state.offset > 0) {
      const toFirst = () => {
        state.offset = 0;
        void load("page");
      };
      const action = h("button", { type: "button", class: "link", onclick: toFirst }, "go to the first page");
      return wide(h("div", { class: "state empty" }, h("p", { class: "empty-title" }, "This page is past the end"), h("p", { class: "muted" }, action)));
    }
    return wide(h("div", { class: "state empty" }, h("p", { class: "empty-title" }, o.emptyTitle), o.emptyText ? h("p", { class: "muted" }, o.emptyText) : null));
  };

  const renderPage = (page: Page<T>) => {
    shown = page;
    if (page.items.length === 0) mount(tbody, emptyRow());
    else
      mount(
        tbody,
        ...page.items.map((item) =>
          h(
            "tr",
            o.rowAttrs(item),
            ...o.columns.map((c) => {
              const cls = `col-${c.id}${c.optional ? " col-optional" : ""}`;
              return c.rowHeader ? h("th", { scope: "row", class: cls }, c.cell(item)) : h("td", { class: cls }, c.cell(item));
            }),
          ),
        ),
      );
    const text = rangeText(page.offset, page.items.length, page.total);
    range.textContent = text;
    prev.disabled = page.offset === 0;
    next.disabled = page.offset + page.items.length >= page.total;
    table.dataset.total = String(page.total);
    status.textContent = page.total === 0 ? `No ${o.noun[1]}` : `${o.noun[1][0].toUpperCase()}${o.noun[1].slice(1)} ${text}`;
  };

  const load = (reason: LoadReason): Promise<void> => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    const mine = ++seq;
    const t0 = performance.now();
    const asked = query();
    table.setAttribute("aria-busy", "true");
    table.classList.add("loading");
    if (!shown) mount(tbody, wide(h("div", { class: "state loading" }, h("span", { class: "spinner", "aria-hidden": "true" }), `Loading ${o.noun[1]}…`)));
    const run = (async () => {
      let page: Page<T>;
      try {
        page = await o.fetch(asked);
        if (!page || !Array.isArray(page.items)) throw new api.ApiError("internal", "the answer was not a page of the list");
      } catch (e) {
        if (mine !== seq) return;
        const message = o.onError(e);
        table.setAttribute("aria-busy", "false");
        table.classList.remove("loading");
        shown = null;
        range.textContent = "";
        prev.disabled = next.disabled = true;
        const retry = h("button", { type: "button", class: "secondary", "data-testid": "retry", onclick: () => void load(reason) }, "Try again");
        mount(tbody, wide(h("div", { class: "state error", role: "alert" }, h("p", null, `The ${o.noun[1]} could not be loaded: ${message}`), retry)));
        return;
      }
      // A newer request was made meanwhile: this answer is no longer what the person asked for.
      if (mine !== seq) return;
      const answered = performance.now() - t0;
      if (page.items.length === 0 && page.total > 0 && state.offset >= page.total) {
        // The last rows of the last page went (revoked, say): show the page that is now the last.
        state.offset = Math.floor((page.total - 1) / limit) * limit;
        await load(reason);
        return;
      }
      renderPage(page);
      table.setAttribute("aria-busy", "false");
      table.classList.remove("loading");
      // Measured once the browser has laid out and painted the rows (the frame after the next), so the figure
      // is what the person waits for, not just DOM building.
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          if (mine !== seq) return;
          const ms = performance.now() - t0;
          table.setAttribute("data-render-ms", ms.toFixed(1));
          // Of which waiting for the answer (the rest is building, laying out and painting the rows).
          table.setAttribute("data-answer-ms", answered.toFixed(1));
          table.setAttribute("data-render-reason", reason);
          table.setAttribute("data-render-query", String(asked.q ?? ""));
          table.setAttribute("data-render-seq", String(mine));
          if (o.timing && (reason === "first" || reason === "search")) void api.reportTiming(o.timing, ms).catch(() => undefined);
        }),
      );
    })();
    pending = run;
    return run;
  };

  search.addEventListener("input", () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const q = search.value.trim();
      if (q === state.q) return;
      state.q = q;
      state.offset = 0;
      void load("search");
    }, debounceMs);
  });
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const q = search.value.trim();
    if (q === state.q && !timer) return;
    state.q = q;
    state.offset = 0;
    void load("search");
  });
  prev.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - limit);
    void load("page");
  });
  next.addEventListener("click", () => {
    if (shown && state.offset + shown.items.length < shown.total) {
      state.offset += limit;
      void load("page");
    }
  });

  renderHead();
  void load("first");
  return {
    el,
    table,
    reload: () => load("refresh"),
    settled: async () => {
      let last: Promise<void> | null = null;
      while (last !== pending) {
        last = pending;
        await last;
      }
    },
  };
}
