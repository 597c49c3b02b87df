//! Audit retention: successful reads older than the retention period are rolled into per-day counts.
//!
//! As on SQLite: after the retention period, reads are summed into `audit_daily` (one row per UTC day, kind,
//! credential, client, patient and actor, with merged "Type:n" counts) and deleted; the history views read
//! both. Nothing else leaves `audit`. The delete goes through the schema's `audit_roll_up_delete`, the only
//! way past the append-only trigger (see `0004_audit.sql`).
//!
//! Several servers may roll up at once. Each roll-up first takes a transaction-scoped advisory lock, so
//! they run one after another: the second one's statements (READ COMMITTED: each sees what committed before
//! it started) find neither the rows the first deleted nor stale daily counts, so no read is counted twice
//! and the "Type:n" lists, merged here rather than in SQL, never lose another roll-up's types.

use std::collections::{BTreeMap, HashMap};

use portico_domain::{AuditKind, UserId};
use portico_store::signature_types::*;

use crate::audit::{limit_param, split_types};
use portico_store::portable::{day_start, merge_types, render_types, DayCounts, DayKey, Read};

use crate::{col, parse_ts, ts, PgStore};

/// The key of `pg_advisory_xact_lock` that makes roll-ups take turns: "audroll" in ASCII (the migrations'
/// lock is "portico").
const ROLL_UP_LOCK: i64 = 0x0061_7564_726f_6c6c;

/// Oldest first, through the partial index that holds only not-yet-rolled reads (`seq` breaks ties, as
/// the rowid does in SQLite's index).
const OLD_READS: &str = "SELECT seq, at, kind, actor_user_id, credential_id, client_id, patient_id, resource_types, count
 FROM audit WHERE kind IN ('fhir_access', 'preview') AND outcome = 'ok' AND at < $1
 ORDER BY at, seq LIMIT $2";

/// The "Type:n" lists already counted for some of the keys.
const EXISTING_TYPES: &str = "SELECT d.day, d.kind, d.credential_id, d.client_id, d.patient_id, d.actor_user_id, d.resource_types
 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
      AS k(day, kind, credential_id, client_id, patient_id, actor_user_id)
 JOIN audit_daily d ON d.day = k.day AND d.kind = k.kind AND d.credential_id = k.credential_id
      AND d.client_id = k.client_id AND d.patient_id = k.patient_id AND d.actor_user_id = k.actor_user_id";

/// Every key's counts in one statement (the keys are distinct, as an upsert needs); the merged list
/// replaces the stored one, the numbers add to theirs.
const ADD_COUNTS: &str = "INSERT INTO audit_daily (day, kind, credential_id, client_id, patient_id, actor_user_id,
                          resource_types, events, resources, last_at, last_seq)
 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                      $8::bigint[], $9::bigint[], $10::text[], $11::bigint[])
 ON CONFLICT (day, kind, credential_id, client_id, patient_id, actor_user_id) DO UPDATE SET
     resource_types = excluded.resource_types,
     events = audit_daily.events + excluded.events,
     resources = audit_daily.resources + excluded.resources,
     last_at = greatest(audit_daily.last_at, excluded.last_at),
     last_seq = greatest(audit_daily.last_seq, excluded.last_seq)";

const DAILY_OF_CREDENTIAL: &str =
    "SELECT last_seq, last_at, kind, actor_user_id, credential_id, client_id, patient_id, resource_types,
        resources, events, day
 FROM audit_daily WHERE credential_id = $1 AND kind <> 'preview' ORDER BY last_seq DESC LIMIT $2";

const DAILY_OF_PATIENT: &str =
    "SELECT last_seq, last_at, kind, actor_user_id, credential_id, client_id, patient_id, resource_types,
        resources, events, day
 FROM audit_daily WHERE patient_id = $1 ORDER BY last_seq DESC LIMIT $2";

impl PgStore {
    /// Rolls up to `batch` successful reads (`fhir_access`, and `preview` with outcome "ok") dated before
    /// the UTC midnight that starts `older_than`'s day into `audit_daily`, adding to the counts already
    /// there, and deletes exactly those rows; returns how many it rolled (less than `batch`: none are left).
    /// Whole days only, so a day's reads are either all detailed or all summed.
    ///
    /// It runs in the write's own savepoint (see `backend.rs`): any failure undoes the counts and the
    /// deletes together. Five statements whatever the batch: the lock, the reads, the stored lists of their
    /// keys, one upsert of every key, one delete.
    pub fn roll_up_audit(&mut self, older_than: DateTime<Utc>, batch: usize) -> Result<usize> {
        let cutoff = ts(day_start(older_than));
        // Taken before reading anything, held until the writer's transaction ends: another server's roll-up
        // waits here, then sees this one's result.
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&ROLL_UP_LOCK])?;
        let mut reads = Vec::new();
        for r in self.query(OLD_READS, &[&cutoff, &limit_param(batch)])? {
            let at = parse_ts(&col::<String>(&r, 1)?)?;
            reads.push(Read {
                seq: col(&r, 0)?,
                at,
                key: DayKey {
                    day: at.format("%Y-%m-%d").to_string(),
                    kind: col(&r, 2)?,
                    actor: col::<Option<i64>>(&r, 3)?.unwrap_or(0),
                    credential_id: col::<Option<String>>(&r, 4)?.unwrap_or_default(),
                    client_id: col::<Option<String>>(&r, 5)?.unwrap_or_default(),
                    patient_id: col::<Option<String>>(&r, 6)?.unwrap_or_default(),
                },
                resource_types: col(&r, 7)?,
                count: col::<Option<i64>>(&r, 8)?.unwrap_or(0),
            });
        }
        if reads.is_empty() {
            return Ok(0);
        }

        let mut days: BTreeMap<DayKey, DayCounts> = BTreeMap::new();
        for r in &reads {
            days.entry(r.key.clone()).or_default().add(r);
        }

        let (day_keys, mut day_counts): (Vec<DayKey>, Vec<DayCounts>) = days.into_iter().unzip();
        let keys = KeyColumns::of(day_keys.iter());
        let existing: HashMap<DayKey, String> = self
            .query(EXISTING_TYPES, &[&keys.day, &keys.kind, &keys.credential_id, &keys.client_id, &keys.patient_id, &keys.actor])?
            .iter()
            .map(|r| {
                let key = DayKey {
                    day: col(r, 0)?,
                    kind: col(r, 1)?,
                    credential_id: col(r, 2)?,
                    client_id: col(r, 3)?,
                    patient_id: col(r, 4)?,
                    actor: col(r, 5)?,
                };
                Ok((key, col(r, 6)?))
            })
            .collect::<Result<_>>()?;

        let n = day_keys.len();
        let (mut types, mut events, mut resources) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut last_at, mut last_seq) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (key, counts) in day_keys.iter().zip(&mut day_counts) {
            if let Some(stored) = existing.get(key) {
                merge_types(&mut counts.types, stored);
            }
            let (at, seq) = counts.last.ok_or_else(|| StoreError::Corrupt("an empty daily count".into()))?;
            types.push(render_types(&counts.types));
            events.push(counts.events);
            resources.push(counts.resources);
            last_at.push(ts(at));
            last_seq.push(seq);
        }
        self.execute(
            ADD_COUNTS,
            &[
                &keys.day,
                &keys.kind,
                &keys.credential_id,
                &keys.client_id,
                &keys.patient_id,
                &keys.actor,
                &types,
                &events,
                &resources,
                &last_at,
                &last_seq,
            ],
        )?;

        let seqs: Vec<i64> = reads.iter().map(|r| r.seq).collect();
        let deleted: i64 = col(&self.query_one("SELECT audit_roll_up_delete($1)", &[&seqs])?, 0)?;
        if deleted != seqs.len() as i64 {
            // The write's savepoint undoes the counts and the deletes alike.
            return Err(StoreError::Corrupt(format!("rolled up {} audit rows but deleted {deleted}", seqs.len())));
        }
        Ok(reads.len())
    }

    /// The daily counts of one credential or patient as history events, newest first, at most `limit`.
    /// Each carries the seq of the newest row it summed, so it sorts among the kept rows as they did.
    pub(crate) fn daily_events(&self, of: DailyOf<'_>, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        let (sql, key) = match of {
            DailyOf::CredentialApp(id) => (DAILY_OF_CREDENTIAL, id),
            DailyOf::Patient(p) => (DAILY_OF_PATIENT, p.as_str()),
        };
        let none_if_empty = |s: String| Some(s).filter(|s| !s.is_empty());
        let mut out = Vec::new();
        for r in self.query(sql, &[&key, &limit_param(limit)])? {
            let kind: String = col(&r, 2)?;
            let kind = AuditKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("audit kind {kind}")))?;
            let events: i64 = col(&r, 9)?;
            let day: String = col(&r, 10)?;
            let requests = if events == 1 { "request" } else { "requests" };
            out.push((
                col(&r, 0)?,
                AuditEvent {
                    at: parse_ts(&col::<String>(&r, 1)?)?,
                    kind,
                    outcome: "ok".into(),
                    actor: Some(col::<i64>(&r, 3)?).filter(|a| *a != 0).map(UserId),
                    credential_id: none_if_empty(col(&r, 4)?),
                    client_id: none_if_empty(col(&r, 5)?),
                    token_digest: None,
                    patient: none_if_empty(col(&r, 6)?).map(PatientId),
                    resource_types: split_types(&col::<String>(&r, 7)?),
                    count: Some(col(&r, 8)?),
                    detail: Some(format!("{events} {requests} on {day} (daily summary)")),
                },
            ));
        }
        Ok(out)
    }
}

/// The key columns of a set of daily counts, as parallel arrays for `unnest`.
struct KeyColumns<'a> {
    day: Vec<&'a str>,
    kind: Vec<&'a str>,
    credential_id: Vec<&'a str>,
    client_id: Vec<&'a str>,
    patient_id: Vec<&'a str>,
    actor: Vec<i64>,
}

impl<'a> KeyColumns<'a> {
    fn of(keys: impl ExactSizeIterator<Item = &'a DayKey>) -> KeyColumns<'a> {
        let n = keys.len();
        let mut c = KeyColumns {
            day: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            credential_id: Vec::with_capacity(n),
            client_id: Vec::with_capacity(n),
            patient_id: Vec::with_capacity(n),
            actor: Vec::with_capacity(n),
        };
        for k in keys {
            c.day.push(&k.day);
            c.kind.push(&k.kind);
            c.credential_id.push(&k.credential_id);
            c.client_id.push(&k.client_id);
            c.patient_id.push(&k.patient_id);
            c.actor.push(k.actor);
        }
        c
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

    #[test]
    fn type_counts_merge_by_name() {
        let check = |lists: &[&str], expected: &str| {
            let mut m = BTreeMap::new();
            for l in lists {
                merge_types(&mut m, l);
            }
            assert_eq!(render_types(&m), expected, "{lists:?}");
        };
        check(&["Observation:3,Condition:1", "Observation:2"], "Condition:1,Observation:5");
        check(&["", ""], "");
        check(&["Observation", "Observation:2"], "Observation:3");
        check(&["Weird:x"], "Weird:x:1");
    }
}
