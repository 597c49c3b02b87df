//! Audit retention: successful reads older than the retention period are rolled into per-day counts.
//!
//! Every FHIR read appends a row per patient touched, so the read rows are nearly all of the audit log's
//! growth. After the retention period they are summed into `audit_daily` (one row per UTC day, kind,
//! credential, client, patient and actor, with merged "Type:n" counts) and deleted; the history views read
//! both, so "what did this app see of me, and when" still answers for old days, to the day. Nothing else
//! leaves `audit`: tokens, credential changes, refusals (a refused preview included) and sign-ins stay
//! forever. This module holds the only DELETE on `audit`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use portico_domain::{AuditEvent, AuditKind, PatientId, UserId};
use rusqlite::{params, OptionalExtension};

use crate::portable::{day_start, merge_types, render_types, DayCounts, DayKey, Read};
use crate::{parse_ts, sqlite, ts, Result, Store, StoreError};

impl Store {
    /// Rolls up to `batch` successful reads (`fhir_access`, and `preview` with outcome "ok") dated before
    /// the UTC midnight that starts `older_than`'s day into `audit_daily`, adding to the counts already
    /// there, and deletes exactly those rows; returns how many it rolled (less than `batch`: none are left).
    /// Whole days only, so a day's reads are either all detailed or all summed.
    ///
    /// One savepoint, nested in the caller's transaction (the writer's batch): the `audit_no_delete`
    /// trigger is dropped, the rows deleted and the trigger recreated from its own stored SQL, so the
    /// trigger is never absent from anything committed, and no other statement runs while it is (the
    /// writer runs one job at a time). Any failure rolls all of it back, trigger included.
    pub fn roll_up_audit(&mut self, older_than: DateTime<Utc>, batch: usize) -> Result<usize> {
        let cutoff = ts(day_start(older_than));
        let sp = self.conn.savepoint().map_err(sqlite)?;
        // Oldest first, through the partial index that holds only not-yet-rolled reads.
        let reads: Vec<Read> = {
            let mut st = sp
                .prepare_cached(
                    "SELECT seq, at, kind, actor_user_id, credential_id, client_id, patient_id, resource_types, count
                 FROM audit WHERE kind IN ('fhir_access', 'preview') AND outcome = 'ok' AND at < ?
                 ORDER BY at LIMIT ?",
                )
                .map_err(sqlite)?;
            let rows = st
                .query_map(params![cutoff, batch as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        DayKey {
                            day: String::new(),
                            kind: r.get(2)?,
                            actor: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                            credential_id: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                            client_id: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                            patient_id: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        },
                        r.get::<_, String>(7)?,
                        r.get::<_, Option<i64>>(8)?.unwrap_or(0),
                    ))
                })
                .map_err(sqlite)?;
            let mut reads = Vec::new();
            for row in rows {
                let (seq, at, mut key, resource_types, count) = row.map_err(sqlite)?;
                let at = parse_ts(&at)?;
                key.day = at.format("%Y-%m-%d").to_string();
                reads.push(Read { seq, at, key, resource_types, count });
            }
            reads
        };
        if reads.is_empty() {
            return Ok(0);
        }

        let mut days: BTreeMap<DayKey, DayCounts> = BTreeMap::new();
        for r in &reads {
            days.entry(r.key.clone()).or_default().add(r);
        }
        for (key, mut counts) in days {
            // The "Type:n" lists are merged here rather than in SQL; the row is read first to add to it.
            let existing: Option<String> = sp
                .prepare_cached(
                    "SELECT resource_types FROM audit_daily
                     WHERE day = ? AND kind = ? AND credential_id = ? AND client_id = ? AND patient_id = ? AND actor_user_id = ?",
                )
                .map_err(sqlite)?
                .query_row(params![key.day, key.kind, key.credential_id, key.client_id, key.patient_id, key.actor], |r| r.get(0))
                .optional()
                .map_err(sqlite)?;
            if let Some(existing) = existing {
                merge_types(&mut counts.types, &existing);
            }
            let (last_at, last_seq) = counts.last.ok_or_else(|| StoreError::Corrupt("an empty daily count".into()))?;
            sp.prepare_cached(
                "INSERT INTO audit_daily(day, kind, credential_id, client_id, patient_id, actor_user_id,
                                         resource_types, events, resources, last_at, last_seq)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT(day, kind, credential_id, client_id, patient_id, actor_user_id) DO UPDATE SET
                     resource_types = excluded.resource_types,
                     events = events + excluded.events,
                     resources = resources + excluded.resources,
                     last_at = max(last_at, excluded.last_at),
                     last_seq = max(last_seq, excluded.last_seq)",
            )
            .map_err(sqlite)?
            .execute(params![
                key.day,
                key.kind,
                key.credential_id,
                key.client_id,
                key.patient_id,
                key.actor,
                render_types(&counts.types),
                counts.events,
                counts.resources,
                ts(last_at),
                last_seq,
            ])
            .map_err(sqlite)?;
        }

        let trigger: String = sp
            .query_row("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_no_delete'", [], |r| r.get(0))
            .optional()
            .map_err(sqlite)?
            .ok_or_else(|| StoreError::Corrupt("the audit log's audit_no_delete trigger is missing".into()))?;
        sp.execute_batch("DROP TRIGGER audit_no_delete").map_err(sqlite)?;
        let mut deleted = 0;
        {
            let mut st = sp.prepare("DELETE FROM audit WHERE seq = ?").map_err(sqlite)?;
            for r in &reads {
                deleted += st.execute([r.seq]).map_err(sqlite)?;
            }
        }
        sp.execute_batch(&trigger).map_err(sqlite)?;
        if deleted != reads.len() {
            // Dropping the savepoint undoes the counts and the deletes alike.
            return Err(StoreError::Corrupt(format!("rolled up {} audit rows but deleted {deleted}", reads.len())));
        }
        sp.commit().map_err(sqlite)?;
        Ok(reads.len())
    }

    /// The daily counts of one credential or patient as history events, newest first, at most `limit`.
    /// Each carries the seq of the newest row it summed, so it sorts among the kept rows as they did.
    pub(crate) fn daily_events(&self, of: DailyOf<'_>, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        let (filter, key) = match of {
            DailyOf::CredentialApp(id) => ("credential_id = ? AND kind != 'preview'", id),
            DailyOf::Patient(p) => ("patient_id = ?", p.as_str()),
        };
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT last_seq, last_at, kind, actor_user_id, credential_id, client_id, patient_id, resource_types,
                    resources, events, day
             FROM audit_daily WHERE {filter} ORDER BY last_seq DESC LIMIT ?"
            ))
            .map_err(sqlite)?;
        let rows = st
            .query_map(params![key, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    [r.get::<_, String>(4)?, r.get::<_, String>(5)?, r.get::<_, String>(6)?],
                    r.get::<_, String>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, String>(10)?,
                ))
            })
            .map_err(sqlite)?;
        let none_if_empty = |s: String| Some(s).filter(|s| !s.is_empty());
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, kind, actor, [credential_id, client_id, patient_id], types, resources, events, day) =
                row.map_err(sqlite)?;
            let kind = AuditKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("audit kind {kind}")))?;
            let requests = if events == 1 { "request" } else { "requests" };
            out.push((
                seq,
                AuditEvent {
                    at: parse_ts(&at)?,
                    kind,
                    outcome: "ok".into(),
                    actor: Some(actor).filter(|a| *a != 0).map(UserId),
                    credential_id: none_if_empty(credential_id),
                    client_id: none_if_empty(client_id),
                    token_digest: None,
                    patient: none_if_empty(patient_id).map(PatientId),
                    resource_types: types.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                    count: Some(resources),
                    detail: Some(format!("{events} {requests} on {day} (daily summary)")),
                },
            ));
        }
        Ok(out)
    }
}

/// Whose daily counts a history view wants.
pub(crate) enum DailyOf<'a> {
    /// A credential's, without its owner's previews (the app's own doing only).
    CredentialApp(&'a str),
    Patient(&'a PatientId),
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    /// Noon on 2024-03-10, the reference "now" of these tests.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap()
    }

    /// An audit event `hours` before `now()`.
    fn event(hours: i64, kind: AuditKind, outcome: &str, patient: Option<&str>, types: &[&str]) -> AuditEvent {
        let mut e = AuditEvent::new(kind, now() - Duration::hours(hours));
        e.outcome = outcome.into();
        e.credential_id = Some("c1".into());
        e.client_id = Some("pci_app_1".into());
        e.token_digest = Some("ab".repeat(32));
        e.patient = patient.map(|p| PatientId(p.into()));
        e.resource_types = types.iter().map(|t| (*t).to_owned()).collect();
        e.count = Some(types.iter().map(|t| t.rsplit_once(':').and_then(|(_, n)| n.parse::<i64>().ok()).unwrap_or(0)).sum());
        e
    }

    /// The fixture: reads, previews and kept kinds on either side of the cutoff (midnight starting 2024-03-08).
    fn fixture() -> Store {
        let mut store = Store::open_in_memory().unwrap();
        use AuditKind::*;
        let events = [
            // 2024-03-06: two reads of p1, one of p2, one with no patient, and kinds that are kept.
            event(100, FhirAccess, "ok", Some("p1"), &["Observation:3", "Condition:1"]),
            event(99, FhirAccess, "ok", Some("p1"), &["Observation:2"]),
            event(98, FhirAccess, "ok", Some("p2"), &["Patient:1"]),
            event(97, FhirAccess, "ok", None, &[]),
            event(96, TokenIssued, "ok", None, &[]),
            event(95, FhirRefused, "403 scope", Some("p1"), &[]),
            event(94, Preview, "ok", Some("p1"), &["Observation:5"]),
            event(93, Preview, "403 nothing reachable", Some("p1"), &[]),
            // 2024-03-07 (its last hour): one read of p1.
            event(61, FhirAccess, "ok", Some("p1"), &["Observation:1"]),
            // 2024-03-08 from 01:00, after the cutoff though 59 hours old: detailed, kept.
            event(59, FhirAccess, "ok", Some("p1"), &["Observation:7"]),
            event(1, FhirAccess, "ok", Some("p1"), &["Observation:1"]),
        ];
        store.append_audit(&events).unwrap();
        store
    }

    /// (day, kind, patient, resource_types, events, resources) of every daily count.
    fn daily(store: &Store) -> Vec<(String, String, String, String, i64, i64)> {
        let mut st = store
            .conn
            .prepare(
                "SELECT day, kind, patient_id, resource_types, events, resources FROM audit_daily ORDER BY day, kind, patient_id",
            )
            .unwrap();
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))).unwrap();
        rows.map(|r| r.unwrap()).collect()
    }

    /// (kind, outcome, hours before now) of every audit row left, oldest first.
    fn left(store: &Store) -> Vec<(String, String, i64)> {
        let mut st = store.conn.prepare("SELECT kind, outcome, at FROM audit ORDER BY seq").unwrap();
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))).unwrap();
        rows.map(|r| {
            let (k, o, at) = r.unwrap();
            (k, o, (now() - parse_ts(&at).unwrap()).num_hours())
        })
        .collect()
    }

    fn plain_delete(store: &Store) -> rusqlite::Result<usize> {
        store.conn.execute("DELETE FROM audit", [])
    }

    #[test]
    fn a_failed_roll_up_leaves_the_trigger_and_the_rows() {
        let mut store = fixture();
        // A roll-up whose enclosing transaction is rolled back (as the writer does when its batch fails)
        // leaves no trace: rows, counts and trigger as before.
        let unit: &mut dyn crate::WriteStore = &mut store;
        let r: std::result::Result<(), StoreError> = unit.atomically(|s| {
            s.roll_up_audit(now() - Duration::days(2), 100)?;
            Err(StoreError::Conflict("the batch failed".into()))
        });
        assert!(r.is_err());
        assert!(daily(&store).is_empty());
        assert_eq!(left(&store).len(), 11);
        assert!(plain_delete(&store).is_err());
    }
}
