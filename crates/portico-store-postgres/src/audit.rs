//! The append-only audit log. Rows are only ever inserted; the schema's triggers refuse UPDATE, DELETE and
//! TRUNCATE (the one exception, old reads rolled into daily counts, is `retention`).

use portico_domain::{AuditKind, UserId};
use portico_store::signature_types::*;
use tokio_postgres::Row;

use crate::retention::DailyOf;
use crate::{col, nul_free, parse_opt_ts, parse_ts, ts, PgStore};

/// A row of `audit` (columns in the order of the SELECTs below) as `(seq, event)`.
fn audit_event(r: &Row) -> Result<(i64, AuditEvent)> {
    let kind: String = col(r, 2)?;
    let resource_types: String = col(r, 9)?;
    Ok((
        col(r, 0)?,
        AuditEvent {
            at: parse_ts(&col::<String>(r, 1)?)?,
            kind: AuditKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("audit kind {kind}")))?,
            outcome: col(r, 3)?,
            actor: col::<Option<i64>>(r, 4)?.map(UserId),
            credential_id: col(r, 5)?,
            client_id: col(r, 6)?,
            token_digest: col(r, 7)?,
            patient: col::<Option<String>>(r, 8)?.map(PatientId),
            resource_types: split_types(&resource_types),
            count: col(r, 10)?,
            detail: col(r, 11)?,
        },
    ))
}

/// "Type:n,Type:m" as the event's list ('' is none).
pub(crate) fn split_types(types: &str) -> Vec<String> {
    types.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A `usize` limit as the BIGINT parameter `LIMIT` takes (beyond `i64::MAX` is as good as no limit).
pub(crate) fn limit_param(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Kept rows and daily counts, each newest first, as one list newest first by seq (a daily count carries
/// the seq of the newest row it summed, so the log's order is kept), at most `limit`.
fn newest_first(mut kept: Vec<(i64, AuditEvent)>, daily: Vec<(i64, AuditEvent)>, limit: usize) -> Vec<(i64, AuditEvent)> {
    kept.extend(daily);
    kept.sort_by_key(|e| std::cmp::Reverse(e.0));
    kept.truncate(limit);
    kept
}

const APP_EVENTS: &str = "SELECT seq, at, kind, outcome, actor_user_id, credential_id, client_id, token_digest, patient_id,
        resource_types, count, detail
 FROM audit WHERE credential_id = $1 AND kind <> 'preview' ORDER BY seq DESC LIMIT $2";

const PATIENT_EVENTS: &str = "SELECT seq, at, kind, outcome, actor_user_id, credential_id, client_id, token_digest, patient_id,
        resource_types, count, detail
 FROM audit WHERE patient_id = $1 ORDER BY seq DESC LIMIT $2";

/// Appends a batch of events in one statement: the columns as parallel arrays, unnested in the batch's
/// order, so `seq` follows the order of the slice.
const APPEND: &str = "INSERT INTO audit (at, kind, outcome, actor_user_id, credential_id, client_id, token_digest, patient_id,
                    resource_types, count, detail)
 SELECT at, kind, outcome, actor, credential_id, client_id, token_digest, patient_id, resource_types, count, detail
 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
             $9::text[], $10::bigint[], $11::text[])
      WITH ORDINALITY AS e(at, kind, outcome, actor, credential_id, client_id, token_digest, patient_id, resource_types,
                           count, detail, n)
 ORDER BY n";

impl PgStore {
    /// Appends every event in one round trip (every FHIR read appends: this is the hottest write).
    pub fn append_audit(&mut self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let at: Vec<String> = events.iter().map(|e| ts(e.at)).collect();
        let kind: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        let outcome: Vec<&str> = events.iter().map(|e| e.outcome.as_str()).collect();
        let actor: Vec<Option<i64>> = events.iter().map(|e| e.actor.map(|u| u.0)).collect();
        let credential_id: Vec<Option<&str>> = events.iter().map(|e| e.credential_id.as_deref()).collect();
        let client_id: Vec<Option<&str>> = events.iter().map(|e| e.client_id.as_deref()).collect();
        let token_digest: Vec<Option<&str>> = events.iter().map(|e| e.token_digest.as_deref()).collect();
        let patient: Vec<Option<&str>> = events.iter().map(|e| e.patient.as_ref().map(PatientId::as_str)).collect();
        let types: Vec<String> = events.iter().map(|e| e.resource_types.join(",")).collect();
        let count: Vec<Option<i64>> = events.iter().map(|e| e.count).collect();
        let detail: Vec<Option<&str>> = events.iter().map(|e| e.detail.as_deref()).collect();
        let inserted = self.execute(
            APPEND,
            &[&at, &kind, &outcome, &actor, &credential_id, &client_id, &token_digest, &patient, &types, &count, &detail],
        )?;
        if inserted != events.len() as u64 {
            return Err(StoreError::Corrupt(format!("appended {inserted} of {} audit events", events.len())));
        }
        Ok(())
    }

    /// What happened with one credential, newest first, with sequence numbers: everything but its owner's
    /// previews (those are in the log, but not the app's doing). Filtered in the query, so `limit` counts
    /// what is returned. Reads older than the retention period appear as one event per day.
    pub fn app_events_for_credential(&self, credential_id: &str, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        let kept = self.audit_query(APP_EVENTS, credential_id, limit)?;
        Ok(newest_first(kept, self.daily_events(DailyOf::CredentialApp(credential_id), limit)?, limit))
    }

    /// Events about one patient's record, newest first; old reads as one event per day.
    pub fn audit_for_patient(&self, patient: &PatientId, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        let kept = self.audit_query(PATIENT_EVENTS, patient.as_str(), limit)?;
        Ok(newest_first(kept, self.daily_events(DailyOf::Patient(patient), limit)?, limit))
    }

    fn audit_query(&self, sql: &str, key: &str, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        self.query(sql, &[&key, &limit_param(limit)])?.iter().map(audit_event).collect()
    }

    /// When the app last used the credential: its newest successful token or FHIR event, rolled-up days
    /// included.
    pub fn last_used(&self, credential_id: &str) -> Result<Option<DateTime<Utc>>> {
        let row = self.query_one(
            "SELECT max(at) FROM (
                 SELECT max(at) AS at FROM audit
                 WHERE credential_id = $1 AND outcome = 'ok' AND kind IN ('token_issued', 'fhir_access')
                 UNION ALL
                 SELECT max(last_at) FROM audit_daily WHERE credential_id = $1 AND kind = 'fhir_access') AS used",
            &[&credential_id],
        )?;
        parse_opt_ts(col(&row, 0)?)
    }

    /// Counts one unauthenticated failure in its minute. An upsert, so servers counting the same minute at
    /// once each add theirs: the conflicting insert waits for the other's row and adds to what it committed.
    pub fn record_auth_failure(&mut self, door: AuthDoor, subject: &str, now: DateTime<Utc>) -> Result<()> {
        let minute = now.format("%Y-%m-%dT%H:%MZ").to_string();
        self.execute(
            "INSERT INTO auth_failures (minute, door, subject, count) VALUES ($1, $2, $3, 1)
             ON CONFLICT (minute, door, subject) DO UPDATE SET count = auth_failures.count + 1",
            &[&minute, &door.as_str(), &nul_free(subject)],
        )?;
        Ok(())
    }

    /// Failure counts per minute, newest first: (minute, door, subject, count).
    pub fn auth_failures(&self, limit: usize) -> Result<Vec<(String, String, String, i64)>> {
        self.query(
            "SELECT minute, door, subject, count FROM auth_failures ORDER BY minute DESC, door, subject LIMIT $1",
            &[&limit_param(limit)],
        )?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?, col(r, 3)?)))
        .collect()
    }

    /// How many audit rows there are (for tests and the bench's size figures).
    pub fn audit_rows(&self) -> Result<i64> {
        col(&self.query_one("SELECT count(*) FROM audit", &[])?, 0)
    }
}
