import { afterEach, describe, expect, it } from "vitest";
import { h, remount } from "./dom";

const card = (id: string) =>
  h("div", { "data-id": id }, h("button", { "data-testid": "preview" }, `Preview ${id}`), h("button", { "data-testid": "delete" }, `Delete ${id}`));

function list(...ids: string[]) {
  const el = h("div", null, ...ids.map(card));
  document.body.append(el);
  return el;
}
const focusOn = (el: HTMLElement, sel: string) => el.querySelector<HTMLElement>(sel)!.focus();
const active = () => document.activeElement as HTMLElement;

afterEach(() => {
  document.body.innerHTML = "";
});

describe("remount keeps keyboard focus", () => {
  it.each([
    // [before, focused item, focused control, after, expected focus text]
    [["a", "b", "c"], "b", "delete", ["a", "b", "c"], "Delete b"], // same item, same control
    [["a", "b", "c"], "b", "delete", ["a", "c"], "Preview c"], // the item left: the one now in its place
    [["a", "b", "c"], "c", "delete", ["a", "b"], "Preview b"], // the last one left: the new last one
  ])("%j focus %s/%s → %j: %s", (before, item, control, after, expected) => {
    const el = list(...before);
    focusOn(el, `[data-id="${item}"] [data-testid="${control}"]`);
    remount(el, ...after.map(card));
    expect(active().textContent).toBe(expected);
  });

  it("an emptied list gives focus to its empty state's button, else to the list itself", () => {
    const el = list("a");
    focusOn(el, '[data-testid="delete"]');
    remount(el, h("div", null, h("p", null, "Nothing yet"), h("button", null, "New credential")));
    expect(active().textContent).toBe("New credential");
    remount(el, h("p", null, "Nothing yet"));
    expect(active()).toBe(el);
    expect(el.getAttribute("tabindex")).toBe("-1");
  });

  it("leaves focus alone when it was elsewhere", () => {
    const outside = h("button", null, "Elsewhere");
    document.body.append(outside);
    const el = list("a", "b");
    outside.focus();
    remount(el, card("c"));
    expect(active()).toBe(outside);
    expect(el.textContent).toBe("Preview cDelete c");
  });
});
