// Text size: Ctrl+= (or Ctrl++) makes the text larger, Ctrl+- smaller, Ctrl+0 resets, in steps up to 200 %.
// Only the text grows (the root font size, which every size in styles.css follows in rem/em), so layouts
// reflow instead of zooming out of the window. The choice is kept in localStorage across launches.

/** How long the "Text size 150 %" line stays after the last press. */
export const HINT_MS = 1500;

export const STEPS = [100, 125, 150, 175, 200] as const;
const KEY = "portico.textSize";

type Store = Pick<Storage, "getItem" | "setItem">;

/** The step after `current` in direction `dir` (+1 larger, -1 smaller, 0 back to 100 %), clamped to STEPS. */
export function nextSize(current: number, dir: -1 | 0 | 1): number {
  if (dir === 0) return 100;
  const i = STEPS.findIndex((s) => s >= current);
  const at = i < 0 ? STEPS.length - 1 : i;
  return STEPS[Math.min(STEPS.length - 1, Math.max(0, at + dir))];
}

/** The saved size, or 100 when nothing (or something unexpected) is saved. */
export function savedSize(store: Store | null): number {
  const n = Number(store?.getItem(KEY));
  return (STEPS as readonly number[]).includes(n) ? n : 100;
}

export function applySize(root: HTMLElement, pct: number): void {
  root.style.fontSize = pct === 100 ? "" : `${pct}%`;
  root.dataset.textSize = String(pct);
}

/** Which way a key press changes the size, if it is one of the shortcuts. */
export function shortcut(e: Pick<KeyboardEvent, "ctrlKey" | "metaKey" | "altKey" | "key">): -1 | 0 | 1 | null {
  if (!(e.ctrlKey || e.metaKey) || e.altKey) return null;
  if (e.key === "=" || e.key === "+") return 1;
  if (e.key === "-" || e.key === "_") return -1;
  if (e.key === "0") return 0;
  return null;
}

function storage(): Store | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // a WebView with storage switched off: sizes still change, they are just not kept
  }
}

/** Applies the saved size and listens for the shortcuts. Each press is answered in one status line (read
 * by screen readers) that the next press replaces, so a run of presses never piles up toasts. */
export function installTextSize(doc: Document = document): void {
  const store = storage();
  let size = savedSize(store);
  applySize(doc.documentElement, size);
  const hint = doc.createElement("div");
  hint.className = "text-size-hint";
  hint.setAttribute("role", "status");
  hint.dataset.testid = "text-size";
  hint.hidden = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  doc.addEventListener("keydown", (e) => {
    const dir = shortcut(e);
    if (dir === null) return;
    e.preventDefault();
    const next = nextSize(size, dir);
    hint.textContent =
      next === size ? `Text size is already ${size} %` : `Text size ${next} % · Ctrl+= larger, Ctrl+- smaller, Ctrl+0 reset`;
    if (next !== size) {
      size = next;
      applySize(doc.documentElement, size);
      store?.setItem(KEY, String(size));
    }
    if (!hint.isConnected) doc.body.append(hint);
    hint.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => (hint.hidden = true), HINT_MS);
  });
}
