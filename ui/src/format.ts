// Times are stored in UTC and shown in the user's local time with the zone; history events become
// readable sentences. Options exist so tests can pin locale and zone.

import type { AccessEvent } from "./types";

export interface TimeOptions {
  locale?: string;
  timeZone?: string;
}

const cache = new Map<string, Intl.DateTimeFormat>();
function fmt(opts: Intl.DateTimeFormatOptions, o: TimeOptions): Intl.DateTimeFormat {
  const key = JSON.stringify([opts, o.locale, o.timeZone]);
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(o.locale, { ...opts, timeZone: o.timeZone });
    cache.set(key, f);
  }
  return f;
}

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return isNaN(d.getTime()) ? null : d;
}

/** "12 Mar 2024, 10:02 CET": date, time and zone abbreviation. */
export function formatDateTime(iso: string | null | undefined, o: TimeOptions = {}): string {
  const d = parse(iso);
  if (!d) return "—";
  return fmt(
    { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
    o,
  ).format(d);
}

/** "12 Mar 2024": for clinical dates where the time of day adds nothing. */
export function formatDate(iso: string | null | undefined, o: TimeOptions = {}): string {
  if (iso && /^\d{4}(-\d{2})?$/.test(iso)) return iso; // FHIR partial dates: show as given
  if (iso && /^\d{4}-\d{2}-\d{2}$/.test(iso)) {
    // A FHIR date without a time has no zone: show it as the calendar date it names.
    const [y, m, dd] = iso.split("-").map(Number);
    return fmt({ year: "numeric", month: "short", day: "numeric", timeZone: "UTC" }, { locale: o.locale }).format(
      new Date(Date.UTC(y, m - 1, dd)),
    );
  }
  const d = parse(iso);
  if (!d) return "—";
  return fmt({ year: "numeric", month: "short", day: "numeric" }, o).format(d);
}

/** A person's age from a full FHIR birth date (`YYYY-MM-DD`) on `today`: "51 y", or "18 mo" under two years;
 * null for partial or unreadable dates (a year alone cannot tell). Calendar dates, no time zones. */
export function formatAge(birth: string | null | undefined, today: Date = new Date()): string | null {
  const m = birth ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(birth) : null;
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [ty, tm, td] = [today.getFullYear(), today.getMonth() + 1, today.getDate()];
  let months = (ty - y) * 12 + (tm - mo) - (td < d ? 1 : 0);
  if (months < 0) return null;
  if (months < 24) return `${months} mo`;
  return `${Math.floor(months / 12)} y`;
}

/** "Tue 10:02 CET": the short form used in history lines. */
export function formatWeekdayTime(iso: string, o: TimeOptions = {}): string {
  const d = parse(iso);
  if (!d) return "—";
  // Two formatters, so no locale puts a comma between weekday and time.
  return `${fmt({ weekday: "short" }, o).format(d)} ${fmt({ hour: "2-digit", minute: "2-digit", timeZoneName: "short" }, o).format(d)}`;
}

/** "Tuesday, 12 March 2024": history day headings. */
export function formatDayHeading(iso: string, o: TimeOptions = {}): string {
  const d = parse(iso);
  if (!d) return "—";
  return fmt({ weekday: "long", year: "numeric", month: "long", day: "numeric" }, o).format(d);
}

/** The calendar day in the given zone, used as a grouping key. */
export function localDayKey(iso: string, o: TimeOptions = {}): string {
  const d = parse(iso);
  if (!d) return "";
  return fmt({ year: "numeric", month: "2-digit", day: "2-digit" }, { locale: "en-CA", timeZone: o.timeZone }).format(d);
}

/** "3 days ago" style, for "last used". */
export function formatRelative(iso: string | null, now: number = Date.now()): string {
  const d = parse(iso);
  if (!d) return "never used";
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return "just now";
  if (s < 60) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const days = Math.round(h / 24);
  if (days < 60) return days === 1 ? "yesterday" : `${days} days ago`;
  const months = Math.round(days / 30);
  if (months < 24) return `${months} months ago`;
  return `${Math.round(days / 365)} years ago`;
}

/** English plural of a FHIR resource type: Observation → Observations, Library → Libraries. */
export function pluralType(type: string, n: number): string {
  if (n === 1) return type;
  if (/[^aeiou]y$/.test(type)) return type.slice(0, -1) + "ies";
  if (/(s|x|ch|sh)$/.test(type)) return type + "es";
  return type + "s";
}

export interface TypeAmount {
  type: string;
  count: number | null;
}

/** Parses resource_types entries like "Observation:14" (or a bare "Observation"). */
export function parseResourceTypes(entries: string[]): TypeAmount[] {
  const out: TypeAmount[] = [];
  for (const e of entries) {
    const i = e.lastIndexOf(":");
    if (i > 0 && /^\d+$/.test(e.slice(i + 1))) out.push({ type: e.slice(0, i), count: Number(e.slice(i + 1)) });
    else if (e) out.push({ type: e, count: null });
  }
  return out;
}

/** "14 Observations, 2 MedicationRequests" (summing repeated types, keeping first-seen order). */
export function describeAmounts(amounts: TypeAmount[]): string {
  const order: string[] = [];
  const sums = new Map<string, number | null>();
  for (const a of amounts) {
    if (!sums.has(a.type)) {
      order.push(a.type);
      sums.set(a.type, a.count);
    } else {
      const prev = sums.get(a.type);
      sums.set(a.type, prev === null || prev === undefined || a.count === null ? null : prev + a.count);
    }
  }
  return order
    .map((t) => {
      const n = sums.get(t);
      return n === null || n === undefined ? t : `${n} ${pluralType(t, n)}`;
    })
    .join(", ");
}

/** True for events that record something being refused. */
export function isRefused(e: Pick<AccessEvent, "kind" | "outcome">): boolean {
  return /refused/.test(e.kind) || /^(refused|denied|forbidden|error|failed|failure)$/i.test(e.outcome);
}

/** What happened, as a verb phrase without subject: "read 14 Observations, 2 MedicationRequests". */
export function describeEvent(e: AccessEvent): string {
  const amounts = parseResourceTypes(e.resource_types);
  const what = amounts.length ? describeAmounts(amounts) : e.count !== null ? `${e.count} ${e.count === 1 ? "resource" : "resources"}` : "";
  const detail = e.detail ? ` (${e.detail})` : "";
  switch (e.kind) {
    case "fhir_access":
      if (amounts.length || (e.count !== null && e.count > 0)) return `read ${what}`;
      return e.detail ? `asked for data (${e.detail}); nothing was returned` : "asked for data; nothing was returned";
    case "fhir_refused":
      return `was refused${what ? ` ${what}` : ""}${detail}`;
    case "token_issued":
      return "got an access token";
    case "token_refused":
      return `was refused an access token${detail}`;
    case "token_revoked":
      return e.count && e.count > 1 ? `lost ${e.count} access tokens (revoked)` : "lost its access token (revoked)";
    case "credential_created":
      return "was created";
    case "credential_updated":
      return `was changed${detail}`;
    case "credential_regenerated":
      return `got a new secret${detail}`;
    case "credential_deleted":
      return "was deleted";
    case "preview":
      return what ? `was previewed in Portico (${what})` : "was previewed in Portico";
    default:
      return `${e.kind.replace(/_/g, " ")}${what ? `: ${what}` : ""}${detail}`;
  }
}

/** "Phone health app read 14 Observations, 2 MedicationRequests". */
export function historySentence(appName: string, e: AccessEvent): string {
  return `${appName} ${describeEvent(e)}`;
}

export interface HistoryLine {
  at: string; // newest event time in the group
  text: string; // "read 14 Observations, 2 MedicationRequests"
  refused: boolean;
  events: AccessEvent[];
}

export interface HistoryDay {
  key: string;
  heading: string;
  lines: HistoryLine[];
}

/**
 * Groups events (any order) newest first by local day; consecutive successful reads within the same
 * local minute merge into one line, so one app sync reads as one sentence.
 */
export function groupHistory(events: AccessEvent[], o: TimeOptions = {}): HistoryDay[] {
  const sorted = events.slice().sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.seq - a.seq);
  const days: HistoryDay[] = [];
  let lastMinute = "";
  for (const e of sorted) {
    const key = localDayKey(e.at, o);
    let day = days[days.length - 1];
    if (!day || day.key !== key) {
      day = { key, heading: formatDayHeading(e.at, o), lines: [] };
      days.push(day);
      lastMinute = "";
    }
    const minute = formatWeekdayTime(e.at, o);
    const prev = day.lines[day.lines.length - 1];
    if (e.kind === "fhir_access" && prev && prev.events[0].kind === "fhir_access" && lastMinute === minute) {
      prev.events.push(e);
      const amounts = prev.events.flatMap((x) => parseResourceTypes(x.resource_types));
      prev.text = amounts.length ? `read ${describeAmounts(amounts)}` : "read data";
      continue;
    }
    day.lines.push({ at: e.at, text: describeEvent(e), refused: isRefused(e), events: [e] });
    lastMinute = minute;
  }
  return days;
}

const ROLE_LABEL: Record<string, string> = {
  administrator: "Administrator",
  provider: "Provider",
  developer: "Developer",
  nurse: "Nurse",
  front_desk: "Front desk",
  patient: "Patient",
  app_developer: "App developer",
};

/** A role as people read it: "front_desk" → "Front desk". */
export const roleLabel = (r: string): string => ROLE_LABEL[r] ?? r;
