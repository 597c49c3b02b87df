/** Turning FHIR resources into what the app shows. Pure: no DOM, no network. */

export interface Coding {
  system?: string;
  code?: string;
  display?: string;
}
export interface CodeableConcept {
  text?: string;
  coding?: Coding[];
}
export interface Quantity {
  value?: number;
  unit?: string;
  code?: string;
}
export interface HumanName {
  use?: string;
  text?: string;
  given?: string[];
  family?: string;
  prefix?: string[];
}
export interface Patient {
  resourceType: "Patient";
  id?: string;
  name?: HumanName[];
  birthDate?: string;
  gender?: string;
}
export interface Condition {
  resourceType: "Condition";
  code?: CodeableConcept;
  clinicalStatus?: CodeableConcept;
  onsetDateTime?: string;
  recordedDate?: string;
}
export interface MedicationRequest {
  resourceType: "MedicationRequest";
  status?: string;
  medicationCodeableConcept?: CodeableConcept;
  medicationReference?: { display?: string; reference?: string };
  authoredOn?: string;
}
export interface Observation {
  resourceType: "Observation";
  code?: CodeableConcept;
  effectiveDateTime?: string;
  issued?: string;
  valueQuantity?: Quantity;
  component?: { code?: CodeableConcept; valueQuantity?: Quantity }[];
}

export function conceptText(c: CodeableConcept | undefined): string {
  return c?.text ?? c?.coding?.find((x) => x.display)?.display ?? c?.coding?.[0]?.code ?? "Unnamed";
}

/** The official name (else the first), as people write it: "Reyna Ziemann". Synthea's digits are dropped. */
export function patientName(p: Patient): string {
  const n = p.name?.find((x) => x.use === "official") ?? p.name?.[0];
  if (!n) return "Unnamed patient";
  if (n.text) return n.text;
  const clean = (s: string) => s.replace(/\d+$/, "");
  return [...(n.given ?? []), n.family ?? ""].map(clean).filter(Boolean).join(" ") || "Unnamed patient";
}

/** Whole years between a yyyy-mm-dd birth date and `today`. */
export function age(birthDate: string, today: Date): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(birthDate);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  let years = today.getFullYear() - y;
  if (today.getMonth() + 1 < mo || (today.getMonth() + 1 === mo && today.getDate() < d)) years -= 1;
  return years;
}

export function isActive(c: Condition): boolean {
  const status = c.clinicalStatus?.coding?.[0]?.code;
  return status === undefined || status === "active" || status === "recurrence" || status === "relapse";
}

/** Active conditions first, then the rest; each group by name. */
export function conditionList(conditions: Condition[]): { name: string; active: boolean; since?: string }[] {
  const seen = new Map<string, { name: string; active: boolean; since?: string }>();
  for (const c of conditions) {
    const name = conceptText(c.code);
    const entry = { name, active: isActive(c), since: (c.onsetDateTime ?? c.recordedDate)?.slice(0, 10) };
    const prev = seen.get(name);
    // The same diagnosis recorded twice shows once, active if any record is.
    if (!prev || (entry.active && !prev.active)) seen.set(name, entry);
  }
  return [...seen.values()].sort((a, b) => Number(b.active) - Number(a.active) || a.name.localeCompare(b.name));
}

/** Active prescriptions, one line per medicine, newest first. */
export function medicationList(requests: MedicationRequest[]): { name: string; since?: string }[] {
  const active = requests.filter((r) => r.status === undefined || r.status === "active");
  active.sort((a, b) => (b.authoredOn ?? "").localeCompare(a.authoredOn ?? ""));
  const out = new Map<string, { name: string; since?: string }>();
  for (const r of active) {
    const name = r.medicationCodeableConcept
      ? conceptText(r.medicationCodeableConcept)
      : (r.medicationReference?.display ?? "A medication");
    if (!out.has(name)) out.set(name, { name, since: r.authoredOn?.slice(0, 10) });
  }
  return [...out.values()];
}

/** A UCUM unit as people read it: annotations such as `{score}` say nothing to a reader, `mm[Hg]` is mmHg. */
function unitText(q: Quantity): string {
  const unit = q.unit ?? q.code ?? "";
  return unit.startsWith("{") ? "" : unit.replace("[Hg]", "Hg");
}

function formatQuantity(q: Quantity | undefined): string | null {
  if (q?.value === undefined) return null;
  const value = Math.round(q.value * 10) / 10;
  const unit = unitText(q);
  return unit ? `${value} ${unit}` : String(value);
}

const SYSTOLIC = "8480-6";
const DIASTOLIC = "8462-4";

function observationValue(o: Observation): string | null {
  const direct = formatQuantity(o.valueQuantity);
  if (direct) return direct;
  // Blood pressure is a panel: systolic and diastolic are components, in no fixed order.
  const part = (code: string) => o.component?.find((c) => c.code?.coding?.some((x) => x.code === code))?.valueQuantity;
  const [sys, dia] = [part(SYSTOLIC), part(DIASTOLIC)];
  if (sys?.value !== undefined && dia?.value !== undefined) {
    return `${Math.round(sys.value)}/${Math.round(dia.value)} ${unitText(sys)}`.trim();
  }
  const parts = (o.component ?? []).map((c) => formatQuantity(c.valueQuantity)).filter(Boolean);
  return parts.join(", ") || null;
}

/** The latest value of each vital sign (by its code), newest first. */
export function latestVitals(observations: Observation[]): { name: string; value: string; date?: string }[] {
  const when = (o: Observation) => o.effectiveDateTime ?? o.issued ?? "";
  const sorted = [...observations].sort((a, b) => when(b).localeCompare(when(a)));
  const out = new Map<string, { name: string; value: string; date?: string }>();
  for (const o of sorted) {
    const key = o.code?.coding?.[0]?.code ?? conceptText(o.code);
    const value = observationValue(o);
    if (value === null || out.has(key)) continue;
    out.set(key, { name: conceptText(o.code), value, date: when(o).slice(0, 10) || undefined });
  }
  return [...out.values()];
}
