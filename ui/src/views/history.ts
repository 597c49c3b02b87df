// Access history of one credential: newest first, grouped by day, refused events marked.
import * as api from "../api";
import type { Ctx } from "../app";
import { openDialog } from "../dialog";
import { emptyBlock, errorBlock, h, loadingBlock, mount } from "../dom";
import { formatDateTime, groupHistory } from "../format";
import type { PreviewSubject } from "./preview";

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });

export function openHistory(c: PreviewSubject, ctx: Ctx): void {
  const d = openDialog({ title: `History of “${c.name}”`, size: "large", testid: "history-panel", initialFocus: () => d.root });
  const content = h("div", { class: "history", "aria-live": "polite" });
  d.body.append(
    h("p", { class: "muted" }, `When “${c.name}” fetched what, newest first. Times are in your local time zone.`),
    content,
  );
  d.footer.append(h("button", { type: "button", class: "secondary", onclick: () => d.close() }, "Close"));

  const load = async () => {
    mount(content, loadingBlock("Loading history…"));
    try {
      const events = await api.history(c.id);
      const days = groupHistory(events);
      if (days.length === 0) {
        mount(content, emptyBlock("Nothing yet", `“${c.name}” has not been used. When it fetches data, each read shows up here.`));
        return;
      }
      mount(
        content,
        ...days.map((day) =>
          h(
            "section",
            { class: "history-day" },
            h("h3", null, day.heading),
            h(
              "ol",
              { class: "history-list" },
              ...day.lines.map((line) => {
                const when = new Date(line.at);
                return h(
                  "li",
                  { class: `history-entry${line.refused ? " refused" : ""}`, "data-testid": "history-entry", "data-refused": line.refused ? "true" : "false" },
                  h("time", { datetime: line.at, title: formatDateTime(line.at) }, `${weekdayFmt.format(when)} ${timeFmt.format(when)}`),
                  h("span", { class: "sep", "aria-hidden": "true" }, " — "),
                  line.refused ? h("span", { class: "badge danger" }, "Refused") : null,
                  h("span", { class: "history-text" }, line.text),
                );
              }),
            ),
          ),
        ),
      );
    } catch (e) {
      const err = ctx.fail(e, "Could not load the history", false);
      mount(content, errorBlock(`The history could not be loaded: ${err.message}`, () => void load()));
    }
  };
  void load();
}
