// Tiny render helpers: build elements declaratively without a framework.

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener | Partial<CSSStyleDeclaration>>;

/** h("button", {class: "primary", onclick: fn, "data-testid": "x"}, "Label") */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") {
        el.addEventListener(k.slice(2), v as EventListener);
      } else if (k === "class") {
        el.className = String(v);
      } else if (k === "style" && typeof v === "object") {
        Object.assign(el.style, v);
      } else if (k === "value" && "value" in el) {
        (el as HTMLInputElement).value = String(v);
      } else if (k === "checked" && "checked" in el) {
        (el as HTMLInputElement).checked = Boolean(v);
      } else if (v === true) {
        el.setAttribute(k, "");
      } else {
        el.setAttribute(k, String(v));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces all children of `el`. */
export function mount(el: Element, ...children: Child[]): void {
  el.textContent = "";
  append(el, children);
}

/** Replaces `el`'s children like mount(), without losing keyboard focus that was inside it: focus goes back
 * to the same control of the same item (by data-id and data-testid) when that item is still there, else to
 * the item now at the same place (or the last one), else to the first control left in `el`, else to `el`
 * itself. A list refreshed after a delete would otherwise drop focus on <body>, back at the page's start. */
export function remount(el: HTMLElement, ...children: Child[]): void {
  const active = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  if (!active || active === el || !el.contains(active)) return mount(el, ...children);
  const items = () => Array.from(el.querySelectorAll<HTMLElement>("[data-id]"));
  const item = active.closest<HTMLElement>("[data-id]");
  const id = item?.dataset.id;
  const testid = active.dataset.testid;
  const index = item ? items().indexOf(item) : -1;
  mount(el, ...children);
  const now = items();
  const same = now.find((x) => x.dataset.id === id);
  const control = same && testid ? Array.from(same.querySelectorAll<HTMLElement>("[data-testid]")).find((x) => x.dataset.testid === testid) : null;
  const neighbour = index >= 0 && now.length ? now[Math.min(index, now.length - 1)] : null;
  const target = control ?? focusableIn(same ?? neighbour ?? el)[0];
  if (target) return target.focus();
  if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
  el.focus();
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"]), summary';

export function focusableIn(el: HTMLElement): HTMLElement[] {
  return Array.from(el.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((x) => !x.closest("[hidden]"));
}

let uid = 0;
export function nextId(prefix: string): string {
  uid += 1;
  return `${prefix}-${uid}`;
}

const SVG_NS = "http://www.w3.org/2000/svg";
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: Array<SVGElement | string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return el;
}

/** Icons as inline SVG (decorative: the button carries the label). */
const ICONS: Record<string, string> = {
  trash: "M3 6h18M8 6V4h8v2m-9 0 1 14h8l1-14",
  close: "M6 6l12 12M18 6 6 18",
  copy: "M9 9h10v10H9zM5 15V5h10",
  eye: "M2 12s4-7 10-7 10 7 10 7-4 7-10 7S2 12 2 12zm10-3a3 3 0 1 0 0 6 3 3 0 0 0 0-6z",
  refresh: "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
  plus: "M12 5v14M5 12h14",
  back: "M15 18l-6-6 6-6",
};
export function icon(name: keyof typeof ICONS | string): SVGSVGElement {
  const s = svg("svg", { viewBox: "0 0 24 24", width: 16, height: 16, "aria-hidden": "true", focusable: "false", class: "icon" });
  s.appendChild(svg("path", { d: ICONS[name] ?? "", fill: "none", stroke: "currentColor", "stroke-width": 2, "stroke-linecap": "round", "stroke-linejoin": "round" }));
  return s;
}

/** A standard loading / empty / error block for lists. */
export function loadingBlock(text = "Loading…"): HTMLElement {
  return h("div", { class: "state loading", role: "status", "aria-live": "polite" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function errorBlock(message: string, retry?: () => void): HTMLElement {
  return h(
    "div",
    { class: "state error", role: "alert" },
    h("p", null, message),
    retry ? h("button", { type: "button", class: "secondary", onclick: retry, "data-testid": "retry" }, "Try again") : null,
  );
}

export function emptyBlock(title: string, text?: string, action?: HTMLElement): HTMLElement {
  return h("div", { class: "state empty" }, h("p", { class: "empty-title" }, title), text ? h("p", { class: "muted" }, text) : null, action ?? null);
}
