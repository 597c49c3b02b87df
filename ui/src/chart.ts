// SVG line charts for the preview: one chart per ChartGroup, plus a horizontal bar chart for counts.
import { h, svg } from "./dom";
import type { ChartGroup } from "./fhir";
import { formatDate } from "./format";

const W = 560;
const H = 180;
const PAD = { l: 44, r: 12, t: 12, b: 26 };

function niceRange(min: number, max: number): [number, number] {
  if (min === max) {
    const d = Math.abs(min) * 0.1 || 1;
    return [min - d, max + d];
  }
  const pad = (max - min) * 0.1;
  return [min - pad, max + pad];
}

function num(v: number): string {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1).replace(/\.0$/, "") : v.toFixed(2).replace(/\.?0+$/, "");
}

export function lineChart(g: ChartGroup): HTMLElement {
  const all = g.series.flatMap((s) => s.points);
  const tMin = Math.min(...all.map((p) => p.t));
  const tMax = Math.max(...all.map((p) => p.t));
  const [vMin, vMax] = niceRange(Math.min(...all.map((p) => p.v)), Math.max(...all.map((p) => p.v)));
  const x = (t: number) => PAD.l + (tMax === tMin ? (W - PAD.l - PAD.r) / 2 : ((t - tMin) / (tMax - tMin)) * (W - PAD.l - PAD.r));
  const y = (v: number) => PAD.t + (1 - (v - vMin) / (vMax - vMin)) * (H - PAD.t - PAD.b);

  const latest = g.series
    .map((s) => (s.points.length ? `${s.label} ${num(s.points[s.points.length - 1].v)}` : ""))
    .filter(Boolean)
    .join(" / ");
  const label = `${g.title}: ${Math.max(...g.series.map((s) => s.points.length))} readings from ${formatDate(new Date(tMin).toISOString())} to ${formatDate(
    new Date(tMax).toISOString(),
  )}; latest ${latest} ${g.unit}`;

  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet" });
  for (let i = 0; i <= 3; i++) {
    const v = vMin + ((vMax - vMin) * i) / 3;
    const yy = y(v);
    root.appendChild(svg("line", { x1: PAD.l, x2: W - PAD.r, y1: yy, y2: yy, class: "grid" }));
    root.appendChild(svg("text", { x: PAD.l - 6, y: yy + 4, "text-anchor": "end", class: "axis" }, num(v)));
  }
  root.appendChild(svg("text", { x: PAD.l, y: H - 6, class: "axis" }, formatDate(new Date(tMin).toISOString())));
  if (tMax !== tMin) root.appendChild(svg("text", { x: W - PAD.r, y: H - 6, "text-anchor": "end", class: "axis" }, formatDate(new Date(tMax).toISOString())));

  g.series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join("");
    root.appendChild(svg("path", { d, class: `line s${i}` }));
    if (s.points.length <= 80) {
      for (const p of s.points) {
        const c = svg("circle", { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 3, class: `dot s${i}` });
        c.appendChild(svg("title", {}, `${s.label}: ${num(p.v)} ${s.unit} — ${formatDate(new Date(p.t).toISOString())}`));
        root.appendChild(c);
      }
    }
  });

  const last = (i: number) => {
    const s = g.series[i];
    const p = s.points[s.points.length - 1];
    return p ? `${num(p.v)}` : "—";
  };
  const readings = Math.max(...g.series.map((s) => s.points.length));
  const headline = g.series.length > 1 ? g.series.map((_, i) => last(i)).join("/") : last(0);
  return h(
    "figure",
    { class: "chart-card", "data-testid": `chart-${g.code}` },
    h(
      "figcaption",
      null,
      h("span", { class: "chart-title" }, g.title),
      h("span", { class: "chart-latest" }, `${headline} ${g.unit}`, h("span", { class: "muted small" }, ` latest · ${readings} ${readings === 1 ? "reading" : "readings"}`)),
    ),
    root,
    g.series.length > 1
      ? h("div", { class: "legend" }, ...g.series.map((s, i) => h("span", { class: `key s${i}` }, s.label)))
      : null,
  );
}

/** Counts per resource type as horizontal bars with the number beside each. */
export function countBars(counts: Array<{ resource_type: string; count: number }>): HTMLElement {
  const max = Math.max(1, ...counts.map((c) => c.count));
  return h(
    "ul",
    { class: "bars", "aria-label": "Resources this app can see, by type" },
    ...counts.map((c) =>
      h(
        "li",
        { "data-testid": `count-${c.resource_type}` },
        h("span", { class: "bar-label" }, c.resource_type),
        h("span", { class: "bar-track", "aria-hidden": "true" }, h("span", { class: "bar", style: { width: `${Math.max(2, (c.count / max) * 100)}%` } })),
        h("span", { class: "bar-num" }, String(c.count)),
      ),
    ),
  );
}
