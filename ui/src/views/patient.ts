// "My apps": every credential the patient gave to an app, with preview, history, regenerate, delete.
import type { Ctx } from "../app";
import { NEEDS_SERVER, needsServer } from "../connection";
import { h, icon } from "../dom";
import { connectedAppsSection } from "./connected";
import { credentialList } from "./credentials";
import { exportSection } from "./exportHistory";
import { openNewCredential } from "./newCredential";
import { nudgesSection } from "./nudges";
import { receiptsSection } from "./receipts";

export function render(el: HTMLElement, ctx: Ctx): void {
  const newButton = () =>
    needsServer(ctx.connection, h(
      "button",
      {
        type: "button",
        class: "primary",
        "data-testid": "new-credential",
        onclick: () =>
          openNewCredential({
            ctx,
            kind: "patient_app",
            title: "New app credential",
            nameId: "credential-name",
            noteId: "credential-note",
            submitTestId: "create-credential",
            submitLabel: "Create credential",
            placeholder: "Phone health app",
            hint: "Name it after the app you will give it to. 1–100 characters.",
            onDone: () => void list.refresh(),
          }),
      },
      icon("plus"),
      "New app credential",
    ), NEEDS_SERVER.newSecret);
  const receipts = receiptsSection(ctx);
  // Apps the patient authorized in a browser sit beside the ones given a credential.
  const connected = connectedAppsSection(ctx, { onChange: () => void receipts.refresh() });
  const list = credentialList({
    ctx,
    onChange: () => void receipts.refresh(),
    kinds: ["patient_app"],
    label: "Apps with access to your record",
    emptyTitle: "No app has access to your record yet",
    emptyText: "Create a credential for each app you want to connect. You can see what it reads and cut it off at any time.",
    newButton,
  });
  const attention = nudgesSection({ ctx, area: "apps", onChange: () => {
      void list.refresh();
      void connected.refresh();
    },
  });
  el.append(
    h(
      "div",
      { class: "page-head" },
      h("div", null, h("h1", null, "Apps with access to your record"), h("p", { class: "muted" }, "Each app gets its own credential. Preview what it sees, check when it last looked, or cut it off at once.")),
      newButton(),
    ),
    attention.el,
    list.el,
    connected.el,
    receipts.el,
    exportSection(ctx),
  );
}
