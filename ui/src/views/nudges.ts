// "Needs attention" at the top of a home area (the person's own nudges), and an administrator's "Keys to
// review" (the practice-wide view). The rules and words are the server's; what to show is ../nudges.
import * as api from "../api";
import type { Ctx } from "../app";
import { emptyBlock, errorBlock, h, loadingBlock, mount } from "../dom";
import { formatDate, formatRelative } from "../format";
import { badgeCounts, browserStore, dismissNudge, extendedValidTo, nudgeActions, nudgeHome, nudgeQuestion, nudgeText, visibleNudges } from "../nudges";
import { toast } from "../toast";
import { remove } from "./credentials";
import type { Nudge } from "../types";

export interface NudgesOptions {
  ctx: Ctx;
  /** The area whose tab shows the count; the card shows the nudges whose home it is (see `nudgeHome`). */
  area: "apps" | "developer" | "provider" | "connected";
  /** After an action changed a credential: the page's own list reloads. */
  onChange: () => void;
}

/** The "Needs attention" card; it refreshes itself after each action and sets the area's badge. */
export function nudgesSection(o: NudgesOptions): { el: HTMLElement; refresh: () => Promise<void> } {
  // A list only ever holds items: the loading, error and empty states go beside it, in the live region.
  const list = h("div", { class: "nudge-box", "aria-live": "polite" });
  const el = h(
    "section",
    { class: "card nudges", "data-testid": "nudges", "aria-labelledby": `nudges-title-${o.area}` },
    h("h2", { id: `nudges-title-${o.area}` }, "Needs attention"),
    list,
  );
  const store = browserStore();

  const refresh = async () => {
    mount(list, loadingBlock("Checking your keys…"));
    let all: Nudge[];
    try {
      all = await api.nudges();
    } catch (e) {
      const err = o.ctx.fail(e, "Could not check your keys", false);
      mount(list, errorBlock(`Could not check what needs attention: ${err.message}`, () => void refresh()));
      return;
    }
    const now = Date.now();
    // The person's other areas decide where a notice about a key of an area they no longer have goes.
    const areas = o.ctx.areas ?? [o.area];
    o.ctx.setBadge(o.area, badgeCounts(all, areas, store, now).get(o.area) ?? 0);
    const shown = visibleNudges(all, store, now).filter((n) => nudgeHome(n, areas) === o.area);
    // Calm when there is nothing to do: one line instead of a warning-coloured card with a big empty state.
    el.classList.toggle("calm", !shown.length);
    if (!shown.length) {
      mount(
        list,
        h(
          "p",
          { class: "nudge-none" },
          h("span", { class: "empty-title" }, "Nothing needs attention."),
          " ",
          h(
            "span",
            { class: "muted" },
            "Keys unused for 60 days, keys within 14 days of their end date, and what changed in a key's reach when your roles or practices changed show up here with a one-click fix.",
          ),
        ),
      );
      return;
    }
    mount(list, h("ul", { class: "nudge-list" }, ...shown.map((n) => nudgeItem(n, o, store, () => void refresh()))));
  };
  void refresh();
  return { el, refresh };
}

function nudgeItem(n: Nudge, o: NudgesOptions, store: ReturnType<typeof browserStore>, refresh: () => void): HTMLElement {
  const act = async (button: HTMLButtonElement, run: () => Promise<string>, changesKey = true) => {
    button.disabled = true;
    try {
      toast(await run());
      if (changesKey) o.onChange();
    } catch (e) {
      o.ctx.fail(e, changesKey ? `Could not change “${n.name}”` : `Could not note that you saw the change to “${n.name}”`);
    }
    refresh();
  };
  const buttons = nudgeActions(n).map((a) => {
    if (a === "ack") {
      const b: HTMLButtonElement = h(
        "button",
        {
          type: "button",
          class: "primary small",
          "data-testid": "nudge-ack",
          "aria-label": `Got it: the change to ${n.name}`,
          onclick: () =>
            void act(
              b,
              async () => {
                if (n.notice_id == null) throw new api.ApiError("internal", "This notice has no id.");
                await api.acknowledgeAccessChange(n.notice_id);
                return `Noted. “${n.name}” stays as it is.`;
              },
              false,
            ),
        },
        "Got it",
      );
      return b;
    }
    if (a === "extend") {
      const b: HTMLButtonElement = h(
        "button",
        {
          type: "button",
          class: "primary small",
          "data-testid": "nudge-extend",
          "aria-label": `Extend by 90 days: ${n.name}`,
          onclick: () =>
            void act(b, async () => {
              const to = extendedValidTo(n, Date.now());
              await api.updateCredential(n.credential_id, { valid_to: to });
              return `“${n.name}” now works until ${formatDate(to)}.`;
            }),
        },
        "Extend by 90 days",
      );
      return b;
    }
    if (a === "deactivate") {
      const b: HTMLButtonElement = h(
        "button",
        {
          type: "button",
          class: nudgeActions(n)[0] === "deactivate" ? "primary small" : "secondary small",
          "data-testid": "nudge-deactivate",
          "aria-label": `Deactivate ${n.name}`,
          onclick: () =>
            void act(b, async () => {
              await api.updateCredential(n.credential_id, { active: false });
              return `“${n.name}” is now inactive. You can switch it on again from its card.`;
            }),
        },
        "Deactivate",
      );
      return b;
    }
    return h(
      "button",
      {
        type: "button",
        class: "secondary small",
        "data-testid": "nudge-dismiss",
        "aria-label": `Dismiss for now: the reminder about ${n.name}`,
        onclick: () => {
          dismissNudge(store, n, Date.now());
          refresh();
        },
      },
      "Dismiss for now",
    );
  });
  return h(
    "li",
    { class: "nudge", "data-testid": "nudge", "data-kind": n.kind, "data-credential-id": n.credential_id, "aria-label": nudgeText(n) },
    h("div", { class: "nudge-text" }, h("strong", null, n.name), h("span", null, ` — ${n.detail}. `), h("span", { class: "muted" }, nudgeQuestion(n))),
    h("div", { class: "nudge-actions" }, ...buttons),
  );
}

/** Administrators: staff keys of their practices to review, with "unused for 30/60/90 days"; each can be
 * revoked from its row (administrators revoke staff keys; changing them is the owner's). */
export function practiceNudgesSection(ctx: Ctx, onChange: () => void = () => undefined): HTMLElement {
  const box = h("div", { class: "nudge-list" });
  let days = 60;
  const select = h(
    "select",
    {
      id: "practice-nudges-days",
      "data-testid": "practice-nudges-days",
      onchange: () => {
        days = Number(select.value);
        void load();
      },
    },
    ...[30, 60, 90].map((d) => h("option", { value: String(d), selected: d === days }, `${d} days`)),
  );
  const el = h(
    "section",
    { class: "practice-nudges", "data-testid": "practice-nudges", "aria-labelledby": "practice-nudges-title" },
    h(
      "div",
      { class: "page-head second" },
      h(
        "div",
        null,
        h("h2", { id: "practice-nudges-title" }, "Keys to review"),
        h("p", { class: "muted" }, "Staff keys of your practices that nobody used lately, that are about to end, whose owner left a practice, or whose reach changed with their owner's roles or practices in the last 30 days. Revoking one stops it at once."),
      ),
      h("label", { class: "inline", for: "practice-nudges-days" }, "Unused for ", select),
    ),
    box,
  );
  // A key whose owner left the administrator's practices is listed (it concerned them) but is no longer theirs to revoke.
  const action = (n: Nudge): HTMLElement =>
    n.revocable === false
      ? h("span", { class: "muted", "data-testid": "practice-nudge-not-ours" }, "Its owner left your practices")
      : h(
          "button",
          {
            type: "button",
            class: "danger small",
            "data-testid": "practice-nudge-revoke",
            "aria-label": `Revoke ${n.name} of ${n.owner_name || n.owner}`,
            onclick: () =>
              void remove({ id: n.credential_id, name: n.name }, {
                ctx,
                refresh: () => {
                  void load();
                  onChange();
                },
              }, "Revoke"),
          },
          "Revoke",
        );
  const load = async () => {
    mount(box, loadingBlock("Checking staff keys…"));
    try {
      const list = await api.practiceNudges(days);
      if (!list.length) {
        mount(box, emptyBlock("No keys to review", `No staff key of your practices has gone unused for ${days} days, is about to end, belongs to someone who left, or changed its reach lately.`));
        return;
      }
      mount(
        box,
        h(
          "table",
          { class: "table" },
          h("thead", null, h("tr", null, ...["Owner", "Key", "Last used", "Why", "Action"].map((t) => h("th", { scope: "col" }, t)))),
          h(
            "tbody",
            null,
            ...list.map((n) =>
              h(
                "tr",
                { "data-testid": "practice-nudge", "data-kind": n.kind, "data-credential-id": n.credential_id },
                h("td", null, n.owner_name || n.owner),
                h("td", null, n.name),
                h("td", null, formatRelative(n.last_used)),
                h(
                  "td",
                  null,
                  n.detail,
                  n.kind === "access_changed" && n.acknowledged_at
                    ? h("span", { class: "muted", "data-testid": "practice-nudge-seen" }, ` · seen by ${n.owner_name || n.owner} ${formatRelative(n.acknowledged_at)}`)
                    : null,
                ),
                h("td", null, action(n)),
              ),
            ),
          ),
        ),
      );
    } catch (e) {
      const err = ctx.fail(e, "Could not load keys to review", false);
      mount(box, errorBlock(`Keys to review could not be loaded: ${err.message}`, () => void load()));
    }
  };
  void load();
  return el;
}
