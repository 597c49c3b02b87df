//! Access-change notices (SQLite: `access_changes.rs`): what changed in a credential's effective access when
//! its owner's roles or practices changed, the practices each concerns, and the owner's acknowledgement.
//! Append-only apart from that one acknowledgement (triggers refuse the rest, see 0003_credentials.sql).

use chrono::{DateTime, Utc};
use portico_domain::{AccessChangeCause, PracticeId, UserId};
use portico_store::{AccessChangeRecord, NewAccessChange, Result, StoreError};
use tokio_postgres::Row;

use crate::{col, parse_opt_ts, parse_ts, ts, PgStore};

const COLUMNS: &str = "c.id, c.credential_id, c.owner_id, c.changed_by, c.cause, c.at, c.diff, c.acknowledged_at";

fn hydrate(r: &Row) -> Result<AccessChangeRecord> {
    let id: i64 = col(r, 0)?;
    let corrupt = |what: String| StoreError::Corrupt(format!("access change {id}: {what}"));
    let cause: String = col(r, 4)?;
    let diff: String = col(r, 6)?;
    Ok(AccessChangeRecord {
        id,
        credential_id: col(r, 1)?,
        owner: UserId(col(r, 2)?),
        changed_by: col::<Option<i64>>(r, 3)?.map(UserId),
        cause: AccessChangeCause::parse(&cause).ok_or_else(|| corrupt(format!("cause {cause:?}")))?,
        at: parse_ts(col(r, 5)?)?,
        diff: serde_json::from_str(&diff).map_err(|e| corrupt(format!("diff: {e}")))?,
        acknowledged_at: parse_opt_ts(col(r, 7)?)?,
    })
}

impl PgStore {
    /// Records a notice and the practices it concerns; returns its id.
    pub fn record_access_change(&mut self, c: &NewAccessChange<'_>, now: DateTime<Utc>) -> Result<i64> {
        let diff = serde_json::to_string(c.diff).map_err(StoreError::database)?;
        let row = self.query_one(
            "INSERT INTO access_changes(credential_id, owner_id, changed_by, cause, at, diff) VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id",
            &[&c.credential_id, &c.owner.0, &c.changed_by.map(|u| u.0), &c.cause.as_str(), &ts(now), &diff],
        )?;
        let id: i64 = col(&row, 0)?;
        let practices: Vec<i64> = c.practices.iter().map(|p| p.0).collect();
        self.execute(
            "INSERT INTO access_change_practices(change_id, practice_id) SELECT $1, p FROM unnest($2::bigint[]) AS p
             ON CONFLICT DO NOTHING",
            &[&id, &practices],
        )?;
        Ok(id)
    }

    pub fn access_change(&self, id: i64) -> Result<Option<AccessChangeRecord>> {
        self.query_opt(&format!("SELECT {COLUMNS} FROM access_changes c WHERE c.id = $1"), &[&id])?
            .as_ref()
            .map(hydrate)
            .transpose()
    }

    /// The owner's notices not yet acknowledged, newest first.
    pub fn unacknowledged_access_changes(&self, owner: UserId) -> Result<Vec<AccessChangeRecord>> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM access_changes c WHERE c.owner_id = $1 AND c.acknowledged_at IS NULL ORDER BY c.id DESC"
            ),
            &[&owner.0],
        )?
        .iter()
        .map(hydrate)
        .collect()
    }

    /// Notices since `since` that concern any of `practices`, newest first, acknowledged or not.
    pub fn access_changes_for_practices(
        &self,
        practices: &[PracticeId],
        since: DateTime<Utc>,
    ) -> Result<Vec<AccessChangeRecord>> {
        let practices: Vec<i64> = practices.iter().map(|p| p.0).collect();
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM access_changes c WHERE c.at COLLATE \"C\" >= $1
                 AND c.id IN (SELECT change_id FROM access_change_practices WHERE practice_id = ANY($2))
                 ORDER BY c.id DESC"
            ),
            &[&ts(since), &practices],
        )?
        .iter()
        .map(hydrate)
        .collect()
    }

    /// Marks a notice acknowledged: `false` when it already was (or does not exist). Of two at once, the
    /// second waits for the first's row lock, re-reads the row and matches nothing.
    pub fn acknowledge_access_change(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n = self.execute(
            "UPDATE access_changes SET acknowledged_at = $1 WHERE id = $2 AND acknowledged_at IS NULL",
            &[&ts(now), &id],
        )?;
        Ok(n > 0)
    }
}
