// The app's page, which is also where Portico redirects back: with `code` (or `error`) in the query, or a
// session already in this tab, it completes the SMART launch with fhirclient and shows the record;
// otherwise it offers to connect. Everything is built with textContent: record data is never HTML.
import FHIR from "fhirclient";
import "./style.css";
import {
  age,
  conditionList,
  latestVitals,
  medicationList,
  patientName,
  type Condition,
  type MedicationRequest,
  type Observation,
  type Patient,
} from "./record";

type Client = Awaited<ReturnType<typeof FHIR.oauth2.ready>>;
type Child = Node | string | null | undefined | false;

const main = document.getElementById("app") as HTMLElement;

function el(tag: string, props: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function show(...children: Child[]) {
  main.replaceChildren(...(children.filter(Boolean) as (Node | string)[]));
}

function connectButton(label: string): HTMLElement {
  const a = el("a", { class: "button primary", href: "launch.html", "data-testid": "connect" }, label);
  // A fresh launch forgets the old session first, so ready() does not pick it up again.
  a.addEventListener("click", () => sessionStorage.clear());
  return a;
}

function landing() {
  show(
    el(
      "section",
      { class: "card hero" },
      el("h1", {}, "See your health record, with your permission"),
      el(
        "p",
        {},
        "This sample app connects to Portico with SMART on FHIR. You sign in at Portico, choose what to share, " +
          "and Portico gives the app a token for exactly that.",
      ),
      connectButton("Connect with Portico"),
    ),
  );
}

function failure(e: unknown) {
  const status = (e as { status?: number }).status;
  const message = e instanceof Error ? e.message : String(e);
  const denied = /access_denied/.test(message) || new URLSearchParams(location.search).get("error") === "access_denied";
  const title = denied
    ? "You did not allow access"
    : status === 401
      ? "Portico no longer lets this app read your record"
      : "Something went wrong";
  const detail = denied
    ? "Nothing was shared. You can connect again whenever you like."
    : status === 401
      ? "The access you gave was revoked or has ended (Portico answered 401). Connect again to grant it anew."
      : message;
  show(
    el(
      "section",
      { class: "card error", role: "alert", "data-testid": "error", "data-status": status ? String(status) : "" },
      el("h1", {}, title),
      el("p", {}, detail),
      connectButton("Connect again"),
    ),
  );
}

interface Item {
  primary: string;
  value?: string;
  secondary?: string;
  muted?: boolean;
}

function list(testid: string, items: Item[], empty: string) {
  if (items.length === 0) return el("p", { class: "empty" }, empty);
  return el(
    "ul",
    { class: "list", "data-testid": testid },
    ...items.map((i) =>
      el(
        "li",
        { class: i.muted ? "muted" : "" },
        el("span", { class: "what" }, i.primary, i.secondary ? el("small", {}, i.secondary) : null),
        i.value ? el("strong", {}, i.value) : null,
      ),
    ),
  );
}

async function load(client: Client) {
  show(el("p", { class: "status" }, "Reading your record…"));
  const patient = (await client.patient.read()) as unknown as Patient;
  const id = client.getPatientId();
  const opts = { flat: true, pageLimit: 1 } as const;
  const [conditions, meds, vitals] = await Promise.all([
    client.request(`Condition?patient=${id}&_count=200`, opts) as Promise<Condition[]>,
    client.request(`MedicationRequest?patient=${id}&_count=200`, opts) as Promise<MedicationRequest[]>,
    client.request(`Observation?patient=${id}&category=vital-signs&_count=200`, opts) as Promise<Observation[]>,
  ]);
  const years = patient.birthDate ? age(patient.birthDate, new Date()) : null;
  const granted = String(client.state.tokenResponse?.scope ?? "");
  const conditionItems = conditionList(conditions).map((c) => ({
    primary: c.name,
    secondary: c.active ? (c.since ? `since ${c.since}` : "active") : "resolved",
    muted: !c.active,
  }));
  show(
    el(
      "section",
      { class: "card patient" },
      el("div", { class: "avatar", "aria-hidden": "true" }, patientName(patient).slice(0, 1)),
      el(
        "div",
        {},
        el("h1", { "data-testid": "patient-name" }, patientName(patient)),
        el(
          "p",
          { class: "facts" },
          patient.birthDate ? `Born ${patient.birthDate}` : "Birth date not recorded",
          years !== null ? ` · ${years} years` : "",
          patient.gender ? ` · ${patient.gender}` : "",
        ),
      ),
    ),
    el(
      "div",
      { class: "grid" },
      el(
        "section",
        { class: "card" },
        el("h2", {}, "Latest vital signs"),
        list(
          "vitals",
          latestVitals(vitals).map((v) => ({ primary: v.name, value: v.value, secondary: v.date })),
          "No vital signs shared with this app.",
        ),
      ),
      el(
        "section",
        { class: "card" },
        el("h2", {}, "Medications"),
        list(
          "medications",
          medicationList(meds).map((m) => ({ primary: m.name, secondary: m.since ? `since ${m.since}` : undefined })),
          "No active medications shared with this app.",
        ),
      ),
      el("section", { class: "card wide" }, el("h2", {}, "Conditions"), list("conditions", conditionItems, "No conditions shared with this app.")),
    ),
    el(
      "section",
      { class: "card access" },
      el("h2", {}, "What Portico lets this app see"),
      el("p", { class: "scopes", "data-testid": "granted-scope" }, granted || "(no scope reported)"),
      el("p", { class: "hint" }, "Change or revoke this at any time in Portico, under Connected apps."),
    ),
  );
}

async function start() {
  const q = new URLSearchParams(location.search);
  const returning = q.has("code") || q.has("error") || sessionStorage.getItem("SMART_KEY") !== null;
  if (!returning) return landing();
  try {
    await load(await FHIR.oauth2.ready());
  } catch (e) {
    failure(e);
  }
}

void start();
