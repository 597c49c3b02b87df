// DEV ONLY (`npm run dev:mock` / `build:mock`): an in-memory stand-in for the Rust shell so screens can be
// looked at without Tauri. Never imported by the production build (main.ts guards on MODE === "mock").
//
// URL parameters for screenshots: ?empty=1 (no credentials), ?fail=list_credentials
// (that command fails), ?remote=1 (start on a remote clinic server; with ?as=patient signed in there),
// ?offline=1 (that server starts unreachable; a button at the bottom left toggles it), ?steps=demo-patient,preview (click elements by data-testid, one after another;
// "fill:#id=value" types into a field; "key:Escape" presses a key), ?many=1 (200 staff and 5,000 patient users, for
// the administrator's tables).

import type { AccessEvent, App, Approval, ConnectedApp, ConnectionStatus, Credential, FhirJson, Nudge, OutboxEntry, PatientSummary, User } from "./types";

type Invoke = (cmd: string, args?: Record<string, unknown>) => Promise<unknown>;

const params = new URLSearchParams(location.search);
const now = Date.now();
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const DAY = 86400000;
const BASE = "http://127.0.0.1:43117";

const practices = [
  { id: 1, name: "Riverside Family Practice" },
  { id: 2, name: "Hillcrest Cardiology" },
];
const users: User[] = [
  { id: 1, username: "admin", display_name: "Ada Admin", roles: ["administrator"], practices: [practices[0]], patient_id: null },
  { id: 2, username: "provider", display_name: "Dr. Paula Provider", roles: ["provider"], practices: [practices[0], practices[1]], patient_id: null },
  { id: 3, username: "developer", display_name: "Dev Deshmukh", roles: ["nurse", "developer"], practices: [practices[0]], patient_id: null },
  { id: 4, username: "nurse", display_name: "Nora Nurse", roles: ["nurse"], practices: [practices[0]], patient_id: null },
  { id: 5, username: "frontdesk", display_name: "Frank Front", roles: ["front_desk"], practices: [practices[0]], patient_id: null },
  { id: 6, username: "patient", display_name: "Reyna Ziemann", roles: ["patient"], practices: [practices[0]], patient_id: "p-reyna" },
  { id: 7, username: "appdev", display_name: "Ines Indie", roles: ["app_developer"], practices: [], patient_id: null },
];
const patientList: PatientSummary[] = [
  { id: "p-reyna", name: "Reyna Ziemann", birth_date: "1968-04-11", gender: "female", mrn: "0048213377", practices: [1] },
  { id: "p-alexis", name: "Alexis Toy", birth_date: "2018-06-22", gender: "male", mrn: "0051876402", practices: [1] },
  { id: "p-asa", name: "Asa Hermiston", birth_date: "1971-03-03", gender: "male", mrn: "0019920485", practices: [2] },
  { id: "p-chet", name: "Chet Thompson", birth_date: "1939-01-27", gender: "male", mrn: "0007731264", practices: [2] },
  { id: "p-willia", name: "Willia Runolfsdottir-Vandervort Oberbrunner", birth_date: "1922-09-25", gender: "female", mrn: "0033310457", practices: [1] },
];
const fold = (s: string) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

if (params.get("many")) {
  const given = ["Aaliyah", "Amir", "Ana", "Anders", "Beatriz", "Chen", "Diego", "Elif", "Fatima", "Grace", "Ingrid", "Kai", "Leila", "Mei", "Nadia", "Oscar", "Priya", "Tomás", "Yusuf", "Zara"];
  const family = ["Adeyemi", "Bauer", "Castillo", "Dubois", "Fernández", "Haddad", "Kaur", "Kim", "Müller", "Nguyen", "O'Brien", "Patel", "Rossi", "Silva", "Tanaka", "Zhang"];
  const staffRoles = ["provider", "nurse", "front_desk", "provider", "nurse", "developer"];
  for (let i = 0; i < 5200; i++) {
    const name = `${given[i % given.length]} ${family[Math.floor(i / given.length) % family.length]}`;
    const staff = i < 200;
    users.push({
      id: 100 + i,
      username: `${staff ? "staff" : "patient"}-${i}`,
      display_name: name,
      roles: staff ? [staffRoles[i % staffRoles.length]] : ["patient"],
      practices: staff ? [practices[i % 2]] : [],
      patient_id: staff ? null : `p-${i}`,
      patient_of: staff ? [] : [practices[i % 2]],
      last_sign_in_at: i % 3 === 0 ? null : iso(now - (i % 97) * DAY),
    });
  }
}

/** A page as the service answers it: searched, filtered, sorted and paged. */
function mockPage<T>(all: T[], query: Record<string, unknown>, match: (x: T, q: string) => boolean, keys: Record<string, (x: T) => string>, filter: (x: T) => boolean = () => true) {
  const q = String(query.q ?? "").trim().toLowerCase();
  const sort = keys[String(query.sort ?? "name")] ?? Object.values(keys)[0];
  const dir = query.dir === "desc" ? -1 : 1;
  const offset = Number(query.offset ?? 0);
  const limit = Number(query.limit ?? 25);
  const found = all.filter((x) => (!q || match(x, q)) && filter(x)).sort((a, b) => dir * sort(a).localeCompare(sort(b)));
  return { items: found.slice(offset, offset + limit), total: found.length, offset, limit };
}

let signedIn: User | null = null;

/** Roughly the server's rules (portico_domain::nudge): unused for `days`, ending within 14 days, expired but on. */
function mockNudges(list: Credential[], days: number): Nudge[] {
  const out: Nudge[] = [];
  for (const c of list.filter((c) => c.status === "active")) {
    const u = users.find((x) => x.username === c.owner);
    const base = { credential_id: c.id, name: c.name, credential_kind: c.kind, last_used: c.last_used_at, valid_to: c.valid_to, owner: c.owner, owner_name: u?.display_name ?? c.owner };
    const to = c.valid_to ? Date.parse(c.valid_to) : null;
    if (to !== null && to <= now) {
      out.push({ ...base, kind: "expired", detail: "Expired but still switched on" });
      continue;
    }
    const idle = Math.floor((now - Date.parse(c.last_used_at ?? c.created_at)) / DAY);
    if (idle >= days) out.push({ ...base, kind: "unused", days: idle, detail: c.last_used_at ? `Not used for ${idle} days` : `Never used since it was created ${idle} days ago` });
    if (to !== null && to - now <= 14 * DAY) {
      const left = Math.max(1, Math.ceil((to - now) / DAY));
      out.push({ ...base, kind: "expires_soon", days: left, detail: `Expires in ${left} day${left === 1 ? "" : "s"}` });
    }
  }
  return out;
}
let seq = 100;

// ---- servers and remote mode: a fake clinic server that can go offline, a cache (the same data) and an outbox ----
interface MockServer { id: string; kind: "embedded" | "remote"; url: string | null; name: string; user: User | null }
const servers: MockServer[] = [{ id: "embedded", kind: "embedded", url: null, name: "This computer (demo)", user: null }];
if (params.get("remote")) servers.push({ id: "srv-riverside", kind: "remote", url: "https://portico.riverside-clinic.example", name: "Riverside Family Practice", user: null });
let currentId = servers[servers.length - 1].id;
const cur = () => servers.find((x) => x.id === currentId)!;
let offline = params.get("offline") === "1";
let offlineSince: string | null = offline ? new Date(Date.now() - 18 * 60000).toISOString() : null;
let lastSynced: string | null = new Date(Date.now() - 19 * 60000).toISOString();
const waiting: OutboxEntry[] = [];
let outcomes: OutboxEntry[] = [];
let changes: string[] = [];
let browserSignIn: { reject: (e: unknown) => void } | null = null;
const remoteOffline = () => cur().kind === "remote" && offline;
const KEYCHAIN_LABEL: Record<string, string> = {
  secret_service: "Secret Service (GNOME Keyring / KWallet): kept across restarts",
  keyutils: "Kernel keyring: kept until you log out of this computer",
  memory: "Memory only: you will be signed out when Portico closes",
};

function cred(p: Partial<Credential> & Pick<Credential, "name" | "kind" | "owner">): Credential {
  const id = `cred-${++seq}`;
  return {
    id,
    note: null,
    client_id: `pc_${p.kind === "patient_app" ? "app" : p.kind === "provider" ? "prv" : "dev"}_${Math.random().toString(36).slice(2, 12)}`,
    secret_hint: `pcs_${p.kind === "patient_app" ? "app" : "key"}_…${Math.random().toString(36).slice(2, 6)}`,
    status: "active",
    usable: true,
    valid_from: null,
    valid_to: null,
    created_at: iso(now - 20 * DAY),
    created_by: p.owner,
    last_used_at: null,
    scope: "patient/*.rs",
    patients: [],
    reach: "Your record, read-only",
    previous_secret_valid_until: null,
    ...p,
  };
}

const credentials: Credential[] = params.get("empty")
  ? []
  : [
      cred({ name: "Phone health app", kind: "patient_app", owner: "patient", last_used_at: iso(now - 2 * 3600000), created_at: iso(now - 40 * DAY), patients: ["p-reyna"], note: "Apple Health on my phone" }),
      cred({ name: "Sleep tracker", kind: "patient_app", owner: "patient", patients: ["p-reyna"], created_at: iso(now - 3 * DAY) }),
      cred({ name: "Old fitness app", kind: "patient_app", owner: "patient", status: "inactive", usable: false, valid_to: iso(now - 5 * DAY), patients: ["p-reyna"], last_used_at: iso(now - 70 * DAY), created_at: iso(now - 300 * DAY) }),
      cred({ name: "Legacy import", kind: "developer", owner: "developer", reach: "Riverside Family Practice (read and write, as your role allows)", scope: "system/*.cruds", last_used_at: iso(now - 75 * DAY), created_at: iso(now - 200 * DAY) }),
      cred({ name: "Reporting script", kind: "developer", owner: "developer", reach: "Riverside Family Practice (read and write, as your role allows)", scope: "system/*.cruds", patients: ["p-reyna", "p-alexis"], last_used_at: iso(now - DAY) }),
      cred({ name: "Care coordination", kind: "provider", owner: "provider", reach: "3 chosen patients, read-only", patients: ["p-reyna", "p-alexis", "p-asa"], valid_from: iso(now - 10 * DAY), valid_to: iso(now + 80 * DAY), last_used_at: iso(now - 5 * 3600000) }),
      cred({ name: "Lab interface (next quarter)", kind: "provider", owner: "provider", reach: "1 chosen patient, read-only", patients: ["p-chet"], valid_from: iso(now + 30 * DAY), usable: false }),
    ];

/** Access-change notices, as the server records them when an administrator changes someone's roles or
 * practices (here: one seeded for the provider, and one per active key of whoever is changed). */
const accessChanges: Nudge[] = params.get("empty")
  ? []
  : [
      {
        credential_id: credentials.find((c) => c.name === "Care coordination")?.id ?? "",
        name: "Care coordination",
        credential_kind: "provider",
        kind: "access_changed",
        detail: `No longer reaches Asa Hermiston since your practices changed on ${new Date(now - 2 * DAY).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" })}`,
        last_used: null,
        valid_to: null,
        owner: "provider",
        owner_name: "Dr. Paula Provider",
        notice_id: 1,
        changed_at: iso(now - 2 * DAY),
      },
    ];
let noticeSeq = 1;
function noteAccessChange(u: User, what: "roles" | "practices"): void {
  const on = new Date().toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
  for (const c of credentials.filter((c) => c.owner === u.username && c.status === "active")) {
    accessChanges.unshift({
      credential_id: c.id,
      name: c.name,
      credential_kind: c.kind,
      kind: "access_changed",
      detail: `Its reach changed since your ${what} changed on ${on}`,
      last_used: c.last_used_at,
      valid_to: c.valid_to,
      owner: u.username,
      owner_name: u.display_name,
      notice_id: ++noticeSeq,
      changed_at: new Date().toISOString(),
    });
  }
}

// ---- third-party apps ----------------------------------------------------------------------------
const approval = (app: App, practice: { id: number; name: string }, status: Approval["status"], daysAgo: number, reason: string | null = null): Approval => ({
  app_id: app.id, app_name: app.name, client_id: app.client_id, practice_id: practice.id, practice_name: practice.name, status, reason,
  requested_by: app.owner, requested_at: iso(now - daysAgo * DAY), decided_by: status === "pending" ? null : "admin", decided_at: status === "pending" ? null : iso(now - (daysAgo - 1) * DAY),
});
function mkApp(p: Partial<App> & Pick<App, "name" | "owner">): App {
  return {
    id: `app-${++seq}`, client_id: `pci_smart_${Math.random().toString(36).slice(2, 14)}`, description: "", homepage: null, privacy_policy: null,
    app_type: "patient", platform: "web", client_auth: "client_secret_basic", secret_hint: "pcs_smart_…q7x2", previous_secret_valid_until: null,
    redirect_uris: [], jwks: null, jwks_url: null, scopes: "launch/patient openid fhirUser offline_access patient/*.rs", active: true,
    created_at: iso(now - 30 * DAY), approvals: [], connected_users: 0, ...p,
  };
}
const apps: App[] = params.get("empty")
  ? []
  : [
      mkApp({ name: "Sleep Coach", owner: "appdev", description: "Correlates sleep with vitals and medications; weekly report for the patient.", homepage: "https://sleepcoach.example", privacy_policy: "https://sleepcoach.example/privacy", redirect_uris: ["https://sleepcoach.example/smart/callback"], connected_users: 3, scopes: "launch/patient openid fhirUser offline_access patient/Observation.rs?category=vital-signs patient/MedicationRequest.rs" }),
      mkApp({ name: "Pill Reminder (iOS)", owner: "appdev", platform: "native", client_auth: "none", secret_hint: null, redirect_uris: ["com.pillreminder.app:/oauth2redirect", "http://127.0.0.1:7777/callback"], scopes: "launch/patient openid fhirUser patient/MedicationRequest.rs", created_at: iso(now - 4 * DAY) }),
      mkApp({ name: "Population dashboard", owner: "appdev", app_type: "system", platform: "service", client_auth: "private_key_jwt", secret_hint: null, jwks_url: "https://dash.example/.well-known/jwks.json", scopes: "system/Patient.rs system/Observation.rs", active: false, created_at: iso(now - 60 * DAY) }),
      mkApp({ name: "Clinic scheduler", owner: "developer", description: "Shows upcoming encounters.", redirect_uris: ["https://sched.example/cb"], scopes: "launch/patient patient/Encounter.rs" }),
    ];
if (apps.length) {
  apps[0].approvals = [approval(apps[0], practices[0], "approved", 20), approval(apps[0], practices[1], "denied", 9, "No business associate agreement on file yet.")];
  apps[1].approvals = [approval(apps[1], practices[0], "pending", 1)];
  apps[2].approvals = [approval(apps[2], practices[1], "withdrawn", 12, "Pilot ended.")];
}
const connected: ConnectedApp[] = params.get("empty") || !apps.length
  ? []
  : [
      {
        id: "grant-1", app_id: apps[0].id, client_id: apps[0].client_id, name: "Sleep Coach", description: apps[0].description, homepage: apps[0].homepage, privacy_policy: apps[0].privacy_policy,
        developer: "Ines Indie (Indie Health Labs)", scope: "launch/patient openid fhirUser offline_access patient/Observation.rs?category=vital-signs patient/MedicationRequest.rs",
        scope_descriptions: ["Know who you are (your name and Portico account)", "Keep access while you are away, until the end date", "Read your vital signs (weight, blood pressure, heart rate…)", "Read your medications"],
        patient: "p-reyna", since: iso(now - 12 * DAY), last_used_at: iso(now - 3 * 3600000), expires_at: iso(now + 78 * DAY), active_tokens: 1, refresh_tokens: 1, usable: true, approved_by: ["Riverside Family Practice"],
      },
      {
        id: "grant-2", app_id: "app-x", client_id: "pci_smart_zz", name: "Fit Steps", description: "", homepage: "https://fitsteps.example", privacy_policy: null,
        developer: "Fit Steps Inc.", scope: "launch/patient patient/Observation.rs", scope_descriptions: ["Read your observations (vital signs, lab results, surveys)"],
        patient: "p-reyna", since: iso(now - 100 * DAY), last_used_at: iso(now - 40 * DAY), expires_at: null, active_tokens: 0, refresh_tokens: 0, usable: false, approved_by: [],
      },
    ];
const allApprovals = () => apps.flatMap((a) => a.approvals);
const issuedApp = (a: App, secret: boolean) => ({
  app: a, client_secret: secret ? "pcs_smart_" + "Vb8Qw2Lk9XzR4mWc8NfT1bYp6HsJ3dGa5E" : null, token_url: `${BASE}/token`, authorize_url: `${BASE}/oauth/authorize`, fhir_base_url: `${BASE}/fhir`,
});

// ---- synthetic FHIR for the preview ------------------------------------------------------------
function obs(code: string, display: string, cat: string, t: number, value: number, unit: string): FhirJson {
  return {
    resourceType: "Observation",
    id: `obs-${++seq}`,
    status: "final",
    category: [{ coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: cat }] }],
    code: { coding: [{ system: "http://loinc.org", code, display }], text: display },
    effectiveDateTime: iso(t),
    valueQuantity: { value, unit, system: "http://unitsofmeasure.org", code: unit },
  };
}
function buildObservations(): FhirJson[] {
  const out: FhirJson[] = [];
  for (let i = 0; i < 12; i++) {
    const t = now - (12 - i) * 120 * DAY;
    const w = 78 + Math.sin(i / 2) * 3 + i * 0.4;
    out.push(obs("29463-7", "Body Weight", "vital-signs", t, +w.toFixed(1), "kg"));
    out.push(obs("8302-2", "Body Height", "vital-signs", t, 168, "cm"));
    out.push(obs("39156-5", "Body Mass Index", "vital-signs", t, +(w / 1.68 / 1.68).toFixed(1), "kg/m2"));
    out.push(obs("8867-4", "Heart rate", "vital-signs", t, 64 + ((i * 7) % 15), "/min"));
    out.push({
      resourceType: "Observation",
      id: `bp-${i}`,
      status: "final",
      category: [{ coding: [{ code: "vital-signs" }] }],
      code: { coding: [{ system: "http://loinc.org", code: "85354-9", display: "Blood pressure panel" }] },
      effectiveDateTime: iso(t),
      component: [
        { code: { coding: [{ system: "http://loinc.org", code: "8480-6", display: "Systolic" }] }, valueQuantity: { value: 118 + ((i * 5) % 17), unit: "mm[Hg]" } },
        { code: { coding: [{ system: "http://loinc.org", code: "8462-4", display: "Diastolic" }] }, valueQuantity: { value: 74 + ((i * 3) % 9), unit: "mm[Hg]" } },
      ],
    });
    if (i % 3 === 0) {
      out.push(obs("2339-0", "Glucose", "laboratory", t, 85 + ((i * 11) % 30), "mg/dL"));
      out.push(obs("4548-4", "Hemoglobin A1c", "laboratory", t, +(5.4 + i * 0.05).toFixed(2), "%"));
    }
  }
  out.push({ resourceType: "Observation", id: "smoke", status: "final", category: [{ coding: [{ code: "survey" }] }], code: { text: "Tobacco smoking status" }, valueCodeableConcept: { text: "Never smoked tobacco" }, effectiveDateTime: iso(now - 40 * DAY) });
  return out;
}
const OBS = buildObservations();
const clinical: Record<string, FhirJson[]> = {
  Condition: [
    { resourceType: "Condition", id: "c1", clinicalStatus: { coding: [{ code: "active" }] }, code: { text: "Prediabetes" }, onsetDateTime: iso(now - 900 * DAY) },
    { resourceType: "Condition", id: "c2", clinicalStatus: { coding: [{ code: "resolved" }] }, code: { coding: [{ display: "Acute viral pharyngitis" }] }, onsetDateTime: iso(now - 400 * DAY), abatementDateTime: iso(now - 390 * DAY) },
    { resourceType: "Condition", id: "c3", clinicalStatus: { coding: [{ code: "active" }] }, code: { text: "Essential hypertension" }, onsetDateTime: iso(now - 2000 * DAY) },
  ],
  MedicationRequest: [
    { resourceType: "MedicationRequest", id: "m1", status: "active", medicationCodeableConcept: { text: "lisinopril 10 MG Oral Tablet" }, authoredOn: iso(now - 1900 * DAY), dosageInstruction: [{ text: "1 tablet daily" }] },
    { resourceType: "MedicationRequest", id: "m2", status: "stopped", medicationCodeableConcept: { coding: [{ display: "Amoxicillin 250 MG Oral Capsule" }] }, authoredOn: iso(now - 400 * DAY) },
  ],
  AllergyIntolerance: [
    { resourceType: "AllergyIntolerance", id: "a1", clinicalStatus: { coding: [{ code: "active" }] }, category: ["food"], criticality: "high", code: { text: "Peanut (substance)" }, reaction: [{ manifestation: [{ text: "Anaphylaxis" }] }], recordedDate: iso(now - 3000 * DAY) },
  ],
  Immunization: [
    { resourceType: "Immunization", id: "i1", status: "completed", vaccineCode: { text: "Influenza, seasonal, injectable, preservative free" }, occurrenceDateTime: iso(now - 200 * DAY) },
    { resourceType: "Immunization", id: "i2", status: "completed", vaccineCode: { text: "Td (adult) preservative free" }, occurrenceDateTime: iso(now - 1200 * DAY) },
  ],
  Encounter: Array.from({ length: 23 }, (_, i) => ({
    resourceType: "Encounter",
    id: `e${i}`,
    status: "finished",
    class: { code: "AMB", display: "ambulatory" },
    type: [{ text: i % 4 === 0 ? "General examination of patient" : "Encounter for check up" }],
    period: { start: iso(now - (i + 1) * 60 * DAY), end: iso(now - (i + 1) * 60 * DAY + 1800000) },
  })),
};

function bundle(resources: FhirJson[]): FhirJson {
  return { resourceType: "Bundle", type: "searchset", total: resources.length, entry: resources.map((r) => ({ fullUrl: `${BASE}/fhir/${r.resourceType}/${r.id}`, resource: r })) };
}

const capability = {
  resourceType: "CapabilityStatement",
  fhirVersion: "4.0.1",
  rest: [
    {
      mode: "server",
      resource: ["Patient", "Observation", "Condition", "MedicationRequest", "AllergyIntolerance", "Immunization", "Encounter", "Procedure", "DiagnosticReport", "CarePlan"].map((type) => ({
        type,
        interaction: [{ code: "read" }, { code: "search-type" }],
        searchParam: [
          { name: "_id", type: "token", documentation: "Logical id of the resource" },
          ...(type === "Patient"
            ? [
                { name: "name", type: "string", documentation: "A portion of the given or family name" },
                { name: "birthdate", type: "date", documentation: "The patient's date of birth" },
              ]
            : [
                { name: "patient", type: "reference", documentation: "Who the record is about" },
                { name: "date", type: "date", documentation: "Clinically relevant time" },
                { name: "code", type: "token", documentation: "Code of the concept" },
              ]),
          ...(type === "Observation" ? [{ name: "category", type: "token", documentation: "vital-signs, laboratory, survey, …" }] : []),
        ],
      })),
    },
  ],
};

function history(id: string): AccessEvent[] {
  const c = credentials.find((x) => x.id === id);
  const ev = (i: number, at: number, kind: string, types: string[] = [], outcome = "ok", detail: string | null = null): AccessEvent => ({
    seq: 1000 - i, at: iso(at), kind, outcome, credential_id: id, credential_name: c?.name ?? null, patient_id: "p-reyna", resource_types: types, count: null, detail,
  });
  if (!c?.last_used_at) return [ev(1, Date.parse(c?.created_at ?? iso(now)), "credential_created")];
  const t = Date.parse(c.last_used_at);
  return [
    ev(1, t, "fhir_access", ["Observation:14"]),
    ev(2, t - 5000, "fhir_access", ["MedicationRequest:2"]),
    ev(3, t - 9000, "token_issued"),
    ev(4, t - DAY, "fhir_refused", ["Claim"], "refused", "scope does not include Claim"),
    ev(5, t - DAY - 4000, "fhir_access", ["Observation:3", "Condition:3"]),
    ev(6, t - DAY - 9000, "token_issued"),
    ev(7, t - 3 * DAY, "token_refused", [], "refused", "invalid_client"),
    ev(8, t - 4 * DAY, "preview", ["Observation:62"]),
    ev(9, Date.parse(c.created_at), "credential_created"),
  ];
}

function fail(code: string, message: string): never {
  throw { code, message };
}

function serviceStatus() {
  const s = cur();
  const base = s.url ?? BASE;
  const keychain = params.get("keychain") ?? (s.kind === "remote" ? "secret_service" : "memory");
  return {
    mode: s.kind, server_name: s.name, ready: true, base_url: base, fhir_base_url: `${base}/fhir`, token_url: `${base}/token`, keychain,
    keychain_label: KEYCHAIN_LABEL[keychain] ?? keychain, keychain_message: keychain === "memory" ? "No OS keychain: you will be signed out when Portico closes" : null, startup_ms: 180,
  };
}

function connectionStatus(): ConnectionStatus {
  const out: ConnectionStatus = {
    mode: cur().kind, online: !remoteOffline(), offline_since: remoteOffline() ? offlineSince : null, last_synced: cur().kind === "remote" ? lastSynced : null,
    waiting: waiting.slice(), outcomes: outcomes.slice(), changes,
  };
  changes = [];
  return out;
}

/** Offline, actions that can wait go to the outbox (and the command answers "queued"). */
function queue(kind: OutboxEntry["action"]["kind"], cmd: string, args: Record<string, any>, target: string, description: string): never {
  waiting.push({ id: ++seq, action: { kind, cmd, ...args }, description, target, state: "pending", reason: null, queued_at: iso(Date.now()), finished_at: null, attempts: 0 });
  fail("queued", `Offline: “${description}” will be sent when the server is back.`);
}

function sendOutbox() {
  for (const e of waiting.splice(0)) {
    const { cmd, kind: _k, ...args } = e.action as Record<string, any>;
    e.attempts += 1;
    try {
      const r = handlers[cmd](args) as any;
      e.state = cmd === "delete_credential" && r && r.deleted_now === false ? "already_done" : "done";
    } catch (err: any) {
      e.state = "refused";
      e.reason = err?.message ?? "Refused.";
    }
    e.finished_at = iso(Date.now());
    outcomes.unshift(e);
  }
}

const nameOf = (id: string) => credentials.find((c) => c.id === id)?.name ?? connected.find((g) => g.id === id)?.name ?? id;

const handlers: Record<string, (a: Record<string, any>) => unknown> = {
  service_status: () => serviceStatus(),
  servers: () => servers.map((x) => ({ id: x.id, kind: x.kind, url: x.url, name: x.name, current: x.id === currentId, signed_in_as: (x.id === currentId ? signedIn : x.user)?.username ?? null })),
  add_server: async ({ url }) => {
    await new Promise((r) => setTimeout(r, 700));
    let u: URL;
    try {
      u = new URL(String(url));
    } catch {
      return fail("invalid_input", "That is not a web address.");
    }
    if (servers.some((x) => x.url === url)) fail("invalid_input", "That server is already in the list.");
    if (u.hostname.includes("expired")) fail("certificate", "its certificate expired on 1 March 2024");
    if (u.hostname.includes("self-signed")) fail("certificate", "its certificate is self-signed, so nobody vouches that this is really the server");
    if (u.hostname.includes("unreachable") || u.hostname.includes("nothing")) fail("unreachable", "connection refused");
    if (u.hostname.endsWith("example.com")) fail("not_portico", "no /.well-known/smart-configuration");
    const word = u.hostname.replace(/^portico\./, "").split(".")[0];
    const s: MockServer = { id: `srv-${++seq}`, kind: "remote", url: String(url), name: `${word.charAt(0).toUpperCase()}${word.slice(1).replace(/-/g, " ")} (Portico)`, user: null };
    servers.push(s);
    return { id: s.id, kind: s.kind, url: s.url, name: s.name, current: false, signed_in_as: null };
  },
  remove_server: ({ id }) => {
    const i = servers.findIndex((x) => x.id === id);
    if (i < 0) fail("not_found", "No such server.");
    if (servers[i].kind === "embedded") fail("invalid_input", "The demo service on this computer can't be removed.");
    if (id === currentId) fail("conflict", "Switch to another server first.");
    servers.splice(i, 1);
    return null;
  },
  switch_server: ({ id }) => {
    const next = servers.find((x) => x.id === id) ?? fail("not_found", "No such server.");
    cur().user = signedIn;
    currentId = next.id;
    signedIn = next.user;
    waiting.length = 0;
    outcomes = [];
    return serviceStatus();
  },
  sign_in_browser: () => {
    if (cur().kind !== "remote") fail("invalid_input", "This server signs in with a password.");
    if (offline) fail("unavailable", `${cur().name} can't be reached.`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        browserSignIn = null;
        if (cur().url?.includes("deny")) reject({ code: "access_denied", message: "Your account is not allowed to use desktop apps." });
        else resolve((signedIn = users.find((u) => u.username === (params.get("as") ?? "patient")) ?? users[5]));
      }, 3500);
      browserSignIn = { reject: (e) => (clearTimeout(timer), reject(e)) };
    });
  },
  cancel_sign_in: () => {
    browserSignIn?.reject({ code: "cancelled", message: "You cancelled the sign-in." });
    browserSignIn = null;
    return null;
  },
  connection_status: () => connectionStatus(),
  sync_now: () => {
    if (!remoteOffline() && cur().kind === "remote") {
      if (waiting.length) sendOutbox();
      lastSynced = iso(Date.now());
    }
    return connectionStatus();
  },
  cancel_outbox: ({ id }) => {
    const i = waiting.findIndex((e) => e.id === id);
    if (i >= 0) waiting.splice(i, 1);
    return null;
  },
  dismiss_outcomes: () => ((outcomes = []), null),
  demo_accounts: () => users.map((u) => ({ username: u.username, display_name: u.display_name, roles: u.roles, password: "portico-demo" })),
  restore_session: () => signedIn,
  sign_in: ({ username, password }) => {
    const u = users.find((x) => x.username === username);
    if (!u || password !== "portico-demo") fail("unauthenticated", "Wrong username or password.");
    return (signedIn = u);
  },
  sign_out: () => ((signedIn = null), null),
  list_credentials: () => credentials.filter((c) => c.owner === signedIn?.username),
  create_credential: ({ req }) => {
    const name = String(req.name).trim();
    if (credentials.some((c) => c.owner === signedIn?.username && c.name === name)) fail("conflict", `You already have a credential named “${name}”.`);
    const c = cred({ name, kind: req.kind, owner: signedIn!.username, note: req.note ?? null, valid_from: req.valid_from ?? null, valid_to: req.valid_to ?? null, patients: req.patients?.length ? req.patients : ["p-reyna"], created_at: iso(Date.now()) });
    credentials.push(c);
    return { credential: c, client_id: c.client_id, client_secret: "pcs_app_" + "Q7v2Lk9XzR4mWc8NfT1bYp6HsJ3dGa5EuK0iVo2rSx", token_url: `${BASE}/token`, fhir_base_url: `${BASE}/fhir` };
  },
  update_credential: ({ id, change }) => {
    const c = credentials.find((x) => x.id === id) ?? fail("not_found", "No such credential.");
    if (change.active !== undefined) (c.status = change.active ? "active" : "inactive"), (c.usable = change.active);
    Object.assign(c, { ...change, active: undefined });
    return c;
  },
  regenerate_credential: ({ id, graceSeconds }) => {
    const c = credentials.find((x) => x.id === id) ?? fail("not_found", "No such credential.");
    c.previous_secret_valid_until = graceSeconds ? iso(Date.now() + graceSeconds * 1000) : null;
    return { credential: c, client_id: c.client_id, client_secret: "pcs_app_NEWsecret0123456789abcdefghijklmnopqrstu", token_url: `${BASE}/token`, fhir_base_url: `${BASE}/fhir` };
  },
  delete_credential: ({ id }) => {
    const i = credentials.findIndex((x) => x.id === id);
    if (i >= 0) credentials.splice(i, 1);
    const g = connected.findIndex((x) => x.id === id);
    if (g >= 0) connected.splice(g, 1);
    return { id, deleted_now: i >= 0, tokens_revoked: 2, at: iso(Date.now()) };
  },
  preview: ({ id }) => {
    const c = credentials.find((x) => x.id === id) ?? { patients: ["p-reyna"] };
    const counts = [
      { resource_type: "Observation", count: OBS.length },
      ...Object.entries(clinical).map(([t, l]) => ({ resource_type: t, count: l.length })),
      { resource_type: "Claim", count: 28 },
      { resource_type: "ExplanationOfBenefit", count: 23 },
      { resource_type: "Patient", count: c.patients.length || 1 },
    ];
    return { credential_id: id, patients: c.patients, counts, total: counts.reduce((s, x) => s + x.count, 0) };
  },
  preview_fhir: ({ path }) => {
    const type = String(path).split(/[?/]/)[0];
    if (type === "Patient" && path.includes("/")) return { resourceType: "Patient", id: "p-reyna", name: [{ given: ["Reyna"], family: "Ziemann" }], birthDate: "1968-04-11", gender: "female" };
    if (type === "Observation") return bundle(OBS);
    return bundle(clinical[type] ?? []);
  },
  history: ({ id }) => history(id),
  users: ({ query = {} }) => {
    if (!signedIn?.roles.includes("administrator")) fail("forbidden", "Administrators only.");
    return mockPage(
      users,
      query,
      (u, q) => u.display_name.toLowerCase().includes(q) || u.username.includes(q),
      { name: (u) => u.display_name, username: (u) => u.username, last_sign_in: (u) => u.last_sign_in_at ?? "", created: (u) => String(u.id).padStart(8, "0") },
      (u) =>
        (!query.role || u.roles.includes(query.role)) &&
        (!query.practice || u.practices.some((p) => p.id === query.practice) || (u.patient_of ?? []).some((p) => p.id === query.practice)),
    );
  },
  set_roles: ({ userId, roles }) => {
    const u = users.find((x) => x.id === userId)!;
    u.roles = roles;
    noteAccessChange(u, "roles");
    return u;
  },
  set_practices: ({ userId, practices: ids }) => {
    const u = users.find((x) => x.id === userId)!;
    u.practices = practices.filter((p) => ids.includes(p.id));
    noteAccessChange(u, "practices");
    return u;
  },
  staff_credentials: ({ query = {} }) => {
    const owner = (c: Credential) => users.find((u) => u.username === c.owner);
    const keys = credentials
      .filter((c) => c.kind !== "patient_app")
      .map((c) => ({ ...c, owner_name: owner(c)?.display_name ?? c.owner, owner_practices: owner(c)?.practices ?? [] }));
    return mockPage(
      keys,
      query,
      (k, q) => k.name.toLowerCase().includes(q) || k.owner_name.toLowerCase().includes(q) || k.owner.includes(q),
      { name: (k) => k.name, owner: (k) => k.owner_name, created: (k) => k.created_at, last_used: (k) => k.last_used_at ?? "", valid_to: (k) => k.valid_to ?? "9999" },
      (k) => (!query.kind || k.kind === query.kind) && (!query.practice || k.owner_practices.some((p) => p.id === query.practice)),
    );
  },
  nudges: () => [
    ...accessChanges.filter((n) => n.owner === signedIn?.username && !n.acknowledged_at && credentials.some((c) => c.id === n.credential_id && c.status === "active")),
    ...mockNudges(credentials.filter((c) => c.owner === signedIn?.username), 60),
  ],
  acknowledge_access_change: ({ noticeId }) => {
    const n = accessChanges.find((x) => x.notice_id === noticeId && x.owner === signedIn?.username);
    if (!n) fail("not_found", "no such notice");
    n.acknowledged_at = n.acknowledged_at ?? new Date().toISOString();
    return { notice_id: n.notice_id, credential_id: n.credential_id, acknowledged_at: n.acknowledged_at };
  },
  practice_nudges: ({ unusedDays }) =>
    signedIn?.roles.includes("administrator")
      ? mockNudges(credentials.filter((c) => c.kind !== "patient_app"), Number(unusedDays ?? 60))
      : fail("forbidden", "this needs the administrator role"),
  // Roughly the server's reading (portico_store::PatientQuery::text): name words by their start, a birth date or
  // its start, an MRN or its start, an id.
  patients: ({ query, limit }) => {
    const q = String(query ?? "").trim();
    const words = fold(q).split(/[\s,]+/).filter(Boolean);
    const hit = (p: PatientSummary) => {
      const names = fold(p.name).split(/[\s-]+/);
      return (
        !q ||
        words.every((w) => names.some((n) => n.startsWith(w))) ||
        (/^\d{4}(-\d{2}){0,2}$/.test(q) && (p.birth_date ?? "").startsWith(q)) ||
        (p.mrn ?? "").toLowerCase().startsWith(q.toLowerCase()) ||
        p.id === q
      );
    };
    return patientList.filter(hit).sort((a, b) => fold(a.name).localeCompare(fold(b.name))).slice(0, Number(limit ?? 20));
  },
  patients_by_id: ({ ids }) => patientList.filter((p) => (ids as string[]).includes(p.id)),
  practices: () => practices,
  capability_statement: () => capability,
  service_features: () => ({ allow_signup: !params.get("nosignup"), sample_app_url: params.get("nosample") ? null : `${BASE}/sample-app/` }),
  sign_up: ({ req }) => {
    if (users.some((u) => u.username === req.username)) fail("conflict", `The username “${req.username}” is taken.`);
    const u: User = { id: users.length + 1, username: req.username, display_name: `${req.given_name} ${req.family_name}`, roles: ["app_developer"], practices: [], patient_id: null };
    users.push(u);
    return (signedIn = u);
  },
  list_apps: () => apps.filter((a) => a.owner === signedIn?.username),
  register_app: ({ req }) => {
    if (apps.some((a) => a.owner === signedIn?.username && a.name === req.name)) fail("conflict", `You already have an app named “${req.name}”.`);
    const secret = req.client_auth.startsWith("client_secret");
    const a = mkApp({ ...req, owner: signedIn!.username, created_at: iso(Date.now()), secret_hint: secret ? "pcs_smart_…a5e2" : null });
    apps.push(a);
    return issuedApp(a, secret);
  },
  update_app: ({ id, change }) => {
    const a = apps.find((x) => x.id === id) ?? fail("not_found", "No such app.");
    for (const [k, v] of Object.entries(change)) if (v !== undefined && v !== null) (a as any)[k] = v === "" ? null : v;
    return a;
  },
  delete_app: ({ id }) => {
    const i = apps.findIndex((x) => x.id === id);
    const n = i >= 0 ? apps[i].connected_users : 0;
    if (i >= 0) apps.splice(i, 1);
    return { revoked_grants: n };
  },
  rotate_app_secret: ({ id, graceMinutes }) => {
    const a = apps.find((x) => x.id === id) ?? fail("not_found", "No such app.");
    a.previous_secret_valid_until = graceMinutes ? iso(Date.now() + graceMinutes * 60000) : null;
    return issuedApp(a, true);
  },
  request_approval: ({ appId, practiceId }) => {
    const a = apps.find((x) => x.id === appId) ?? fail("not_found", "No such app.");
    const p = practices.find((x) => x.id === practiceId) ?? fail("not_found", "No such practice.");
    a.approvals = a.approvals.filter((x) => x.practice_id !== p.id);
    const r = approval(a, p, "pending", 0);
    a.approvals.push(r);
    return r;
  },
  approvals: () => (signedIn?.roles.includes("administrator") ? allApprovals().map((r) => ({ ...r, ...(({ approvals: _a, ...app }) => ({ app }))(apps.find((a) => a.id === r.app_id)!) })) : fail("forbidden", "Administrators only.")),
  decide_approval: ({ appId, practiceId, decision }) => {
    const r = allApprovals().find((x) => x.app_id === appId && x.practice_id === practiceId) ?? fail("not_found", "No such request.");
    if (decision.status !== "approved" && !decision.reason) fail("invalid_input", "reason: required when denying or withdrawing");
    Object.assign(r, { status: decision.status, reason: decision.reason, decided_by: signedIn?.username ?? null, decided_at: iso(Date.now()) });
    return r;
  },
  connected_apps: () => (signedIn ? connected : fail("unauthenticated", "Please sign in.")),
  extend_grant: ({ id, change }) => {
    const g = connected.find((x) => x.id === id) ?? fail("not_found", "No such grant.");
    g.expires_at = change.expires_at;
    return g;
  },
  open_sample_app: () => `${BASE}/sample-app/`,
  open_external: () => null,
  copy_text: () => null,
  ui_ready: ({ screen }) => (console.info("ui_ready", screen, performance.now().toFixed(0), "ms"), null),
  report_timing: ({ name, ms }) => (console.info("timing", name, ms.toFixed(1), "ms"), ((window as any).__timings ??= []).push({ name, ms }), null),
};

// Offline on the remote server: these wait in the outbox; everything else that changes something needs the server.
const QUEUED: Record<string, (a: Record<string, any>) => [OutboxEntry["action"]["kind"], string, string] | null> = {
  delete_credential: ({ id }) => ["delete_credential", id, `${connected.some((g) => g.id === id) ? "Revoke" : "Delete"} “${nameOf(id)}”`],
  update_credential: ({ id, change }) =>
    Object.keys(change).every((k) => k === "active")
      ? ["set_credential_active", id, `${change.active ? "Activate" : "Deactivate"} “${nameOf(id)}”`]
      : Object.keys(change).every((k) => k === "valid_from" || k === "valid_to")
        ? ["set_validity", id, `Change the validity window of “${nameOf(id)}”`]
        : null,
  decide_approval: ({ appId, practiceId, decision }) => [
    "decide_approval",
    `${appId}:${practiceId}`,
    `${decision.status === "approved" ? "Approve" : decision.status === "denied" ? "Deny" : "Withdraw approval of"} “${apps.find((a) => a.id === appId)?.name ?? appId}” for ${practices.find((p) => p.id === practiceId)?.name ?? practiceId}`,
  ],
  delete_app: ({ id }) => ["delete_app", id, `Delete “${apps.find((a) => a.id === id)?.name ?? id}”`],
};
const NEEDS_SERVER = new Set(["create_credential", "update_credential", "regenerate_credential", "set_roles", "set_practices", "sign_up", "register_app", "update_app", "rotate_app_secret", "request_approval", "extend_grant"]);

const failing = new Set((params.get("fail") ?? "").split(",").filter(Boolean));

export const mockInvoke: Invoke = async (cmd, args = {}) => {
  await new Promise((r) => setTimeout(r, cmd === "preview_fhir" ? 15 : 60));
  if (failing.has(cmd)) fail("unavailable", "The Portico service is not responding.");
  const h = handlers[cmd];
  if (!h) fail("internal", `mock: no command ${cmd}`);
  if (remoteOffline()) {
    const q = QUEUED[cmd]?.(args);
    if (q) queue(q[0], cmd, args, q[1], q[2]);
    if (NEEDS_SERVER.has(cmd)) fail("offline", `Offline: ${cur().name} can't be reached, and this needs the server. Try again when you are back online.`);
  }
  const result = await h(args);
  drawToggle();
  return structuredClone(result);
};

/** Dev only: a switch at the bottom left that takes the fake remote server offline and back. */
let toggle: HTMLButtonElement | null = null;
function drawToggle() {
  if (!toggle) {
    toggle = document.createElement("button");
    toggle.type = "button";
    toggle.dataset.testid = "mock-offline-toggle";
    Object.assign(toggle.style, { position: "fixed", left: "12px", bottom: "12px", zIndex: "50", fontSize: "12px", background: "#333", color: "#fff", opacity: "0.85" });
    toggle.addEventListener("click", () => {
      offline = !offline;
      if (offline) offlineSince = iso(Date.now());
      else {
        const pending = apps.flatMap((a) => a.approvals).find((r) => r.status === "pending");
        if (pending) {
          Object.assign(pending, { status: "approved", decided_by: "admin", decided_at: iso(Date.now()) });
          changes.push(`An administrator approved “${pending.app_name}” for ${pending.practice_name} on the server`);
        }
      }
      drawToggle();
      window.dispatchEvent(new Event("focus")); // what coming back to the window does: sync now
    });
    document.body.appendChild(toggle);
  }
  toggle.hidden = cur().kind !== "remote";
  toggle.textContent = offline ? "Mock: server offline — bring it back" : "Mock: server online — take it offline";
}

async function runSteps(steps: string[]) {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (const step of steps) {
    await sleep(400);
    if (step.startsWith("fill:")) {
      const [sel, value] = step.slice(5).split("=");
      const el = document.querySelector<HTMLInputElement>(sel);
      if (el) {
        el.value = decodeURIComponent(value ?? "");
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }
    } else if (step.startsWith("key:")) {
      document.activeElement?.dispatchEvent(new KeyboardEvent("keydown", { key: step.slice(4), bubbles: true }));
    } else if (step.startsWith("submit:")) {
      document.querySelector<HTMLFormElement>(step.slice(7))?.requestSubmit();
    } else {
      const [id, n] = step.split("@");
      document.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)[Number(n ?? 0)]?.click();
    }
  }
}

export function install(setInvoke: (fn: Invoke) => void): void {
  setInvoke(mockInvoke);
  if (params.get("as")) signedIn = users.find((u) => u.username === params.get("as")) ?? null;
  drawToggle();
  const steps = (params.get("steps") ?? "").split(",").filter(Boolean);
  if (steps.length) void runSteps(steps);
}
