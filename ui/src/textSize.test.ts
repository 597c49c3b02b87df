import { afterEach, describe, expect, it, vi } from "vitest";
import { HINT_MS, applySize, installTextSize, nextSize, savedSize, shortcut } from "./textSize";

afterEach(() => {
  vi.useRealTimers();
  document.body.innerHTML = "";
  localStorage.clear();
  applySize(document.documentElement, 100);
});

describe("text size", () => {
  it.each([
    [100, 1, 125],
    [175, 1, 200],
    [200, 1, 200],
    [100, -1, 100],
    [150, -1, 125],
    [175, 0, 100],
    [130, 1, 175], // an odd saved value snaps to the steps
  ] as const)("from %i %% in direction %i goes to %i %%", (from, dir, to) => {
    expect(nextSize(from, dir)).toBe(to);
  });

  it.each([
    [{ ctrlKey: true, metaKey: false, altKey: false, key: "=" }, 1],
    [{ ctrlKey: true, metaKey: false, altKey: false, key: "+" }, 1],
    [{ ctrlKey: false, metaKey: true, altKey: false, key: "-" }, -1],
    [{ ctrlKey: true, metaKey: false, altKey: false, key: "0" }, 0],
    [{ ctrlKey: false, metaKey: false, altKey: false, key: "=" }, null],
    [{ ctrlKey: true, metaKey: false, altKey: true, key: "=" }, null],
    [{ ctrlKey: true, metaKey: false, altKey: false, key: "c" }, null],
  ])("shortcut %o → %s", (e, dir) => {
    expect(shortcut(e)).toBe(dir);
  });

  it("ignores a saved value that is not a step", () => {
    expect(savedSize({ getItem: () => "900", setItem: () => undefined })).toBe(100);
    expect(savedSize({ getItem: () => "150", setItem: () => undefined })).toBe(150);
    expect(savedSize(null)).toBe(100);
  });

  it("Ctrl+= grows the root font size, keeps it, says so in one line; Ctrl+0 resets", () => {
    vi.useFakeTimers();
    installTextSize(document);
    const press = (key: string) => document.dispatchEvent(new KeyboardEvent("keydown", { key, ctrlKey: true, bubbles: true, cancelable: true }));
    press("=");
    press("=");
    expect(document.documentElement.style.fontSize).toBe("150%");
    expect(localStorage.getItem("portico.textSize")).toBe("150");
    const hints = document.querySelectorAll('[data-testid="text-size"]');
    expect(hints).toHaveLength(1);
    expect(hints[0].textContent).toContain("Text size 150 %");
    vi.advanceTimersByTime(HINT_MS + 1);
    expect((hints[0] as HTMLElement).hidden).toBe(true);
    press("0");
    expect(document.documentElement.style.fontSize).toBe("");
    expect(document.documentElement.dataset.textSize).toBe("100");
  });
});
