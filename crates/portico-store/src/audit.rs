//! The append-only audit log. Rows are only ever inserted; the schema's triggers refuse UPDATE and DELETE
//! (the one exception, old reads rolled into daily counts, is `retention`).

use chrono::{DateTime, Utc};
use portico_domain::{AuditEvent, AuditKind, AuthDoor, PatientId, UserId};
use rusqlite::{params, OptionalExtension};

use crate::retention::DailyOf;
use crate::{parse_opt_ts, parse_ts, sqlite, ts, Result, Store, StoreError};

const COLUMNS: &str =
    "seq, at, kind, outcome, actor_user_id, credential_id, client_id, token_digest, patient_id, resource_types, count, detail";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, AuditRaw)> {
    Ok((
        r.get(0)?,
        AuditRaw {
            at: r.get(1)?,
            kind: r.get(2)?,
            outcome: r.get(3)?,
            actor: r.get(4)?,
            credential_id: r.get(5)?,
            client_id: r.get(6)?,
            token_digest: r.get(7)?,
            patient: r.get(8)?,
            resource_types: r.get(9)?,
            count: r.get(10)?,
            detail: r.get(11)?,
        },
    ))
}

struct AuditRaw {
    at: String,
    kind: String,
    outcome: String,
    actor: Option<i64>,
    credential_id: Option<String>,
    client_id: Option<String>,
    token_digest: Option<String>,
    patient: Option<String>,
    resource_types: String,
    count: Option<i64>,
    detail: Option<String>,
}

impl AuditRaw {
    fn into_event(self) -> Result<AuditEvent> {
        Ok(AuditEvent {
            at: parse_ts(&self.at)?,
            kind: AuditKind::parse(&self.kind).ok_or_else(|| StoreError::Corrupt(format!("audit kind {}", self.kind)))?,
            outcome: self.outcome,
            actor: self.actor.map(UserId),
            credential_id: self.credential_id,
            client_id: self.client_id,
            token_digest: self.token_digest,
            patient: self.patient.map(PatientId),
            resource_types: self.resource_types.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            count: self.count,
            detail: self.detail,
        })
    }
}

/// Kept rows and daily counts, each newest first, as one list newest first by seq (a daily count carries
/// the seq of the newest row it summed, so the log's order is kept), at most `limit`.
fn newest_first(mut kept: Vec<(i64, AuditEvent)>, daily: Vec<(i64, AuditEvent)>, limit: usize) -> Vec<(i64, AuditEvent)> {
    kept.extend(daily);
    kept.sort_by_key(|e| std::cmp::Reverse(e.0));
    kept.truncate(limit);
    kept
}

impl Store {
    pub fn append_audit(&mut self, events: &[AuditEvent]) -> Result<()> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        for e in events {
            tx.prepare_cached(
                "INSERT INTO audit(at, kind, outcome, actor_user_id, credential_id, client_id, token_digest, patient_id, resource_types, count, detail)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ).map_err(sqlite)?
            .execute(params![
                    ts(e.at),
                    e.kind.as_str(),
                    e.outcome,
                    e.actor.map(|u| u.0),
                    e.credential_id,
                    e.client_id,
                    e.token_digest,
                    e.patient.as_ref().map(PatientId::as_str),
                    e.resource_types.join(","),
                    e.count,
                    e.detail,
                ]).map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    /// What happened with one credential, newest first, with sequence numbers: everything but its owner's
    /// previews (those are in the log, but not the app's doing). Filtered here, so `limit` counts what is
    /// returned and a run of previews cannot push the app's own events out of the page.
    /// Reads older than the retention period appear as one event per day (see `roll_up_audit`).
    pub fn app_events_for_credential(&self, credential_id: &str, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        let kept = self.audit_query(
            &format!("SELECT {COLUMNS} FROM audit WHERE credential_id = ? AND kind != 'preview' ORDER BY seq DESC LIMIT ?"),
            credential_id,
            limit,
        )?;
        Ok(newest_first(kept, self.daily_events(DailyOf::CredentialApp(credential_id), limit)?, limit))
    }

    /// Events about one patient's record, newest first; old reads as one event per day.
    pub fn audit_for_patient(&self, patient: &PatientId, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        let kept = self.audit_query(
            &format!("SELECT {COLUMNS} FROM audit WHERE patient_id = ? ORDER BY seq DESC LIMIT ?"),
            patient.as_str(),
            limit,
        )?;
        Ok(newest_first(kept, self.daily_events(DailyOf::Patient(patient), limit)?, limit))
    }

    fn audit_query(&self, sql: &str, key: &str, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        let mut st = self.conn.prepare(sql).map_err(sqlite)?;
        let rows = st.query_map(params![key, limit as i64], row).map_err(sqlite)?;
        let mut out = Vec::new();
        for r in rows {
            let (seq, raw) = r.map_err(sqlite)?;
            out.push((seq, raw.into_event()?));
        }
        Ok(out)
    }

    /// When the app last used the credential: its newest successful token or FHIR event, rolled-up days
    /// included.
    pub fn last_used(&self, credential_id: &str) -> Result<Option<DateTime<Utc>>> {
        let at: Option<Option<String>> = self
            .conn
            .prepare_cached(
                "SELECT max(at) FROM (
                     SELECT max(at) AS at FROM audit
                     WHERE credential_id = ?1 AND outcome = 'ok' AND kind IN ('token_issued', 'fhir_access')
                     UNION ALL
                     SELECT max(last_at) FROM audit_daily WHERE credential_id = ?1 AND kind = 'fhir_access')",
            )
            .map_err(sqlite)?
            .query_row([credential_id], |r| r.get(0))
            .optional()
            .map_err(sqlite)?;
        parse_opt_ts(at.flatten())
    }

    /// Counts one unauthenticated failure in its minute.
    pub fn record_auth_failure(&mut self, door: AuthDoor, subject: &str, now: DateTime<Utc>) -> Result<()> {
        let minute = now.format("%Y-%m-%dT%H:%MZ").to_string();
        self.conn
            .prepare_cached(
                "INSERT INTO auth_failures(minute, door, subject, count) VALUES (?, ?, ?, 1)
                 ON CONFLICT(minute, door, subject) DO UPDATE SET count = count + 1",
            )
            .map_err(sqlite)?
            .execute(params![minute, door.as_str(), subject])
            .map_err(sqlite)?;
        Ok(())
    }

    /// Failure counts per minute, newest first: (minute, door, subject, count).
    pub fn auth_failures(&self, limit: usize) -> Result<Vec<(String, String, String, i64)>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT minute, door, subject, count FROM auth_failures ORDER BY minute DESC, door, subject LIMIT ?")
            .map_err(sqlite)?;
        let rows = st.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    /// How many audit rows there are (for tests and the bench's size figures).
    pub fn audit_rows(&self) -> Result<i64> {
        self.conn.prepare_cached("SELECT count(*) FROM audit").map_err(sqlite)?.query_row([], |r| r.get(0)).map_err(sqlite)
    }
}
