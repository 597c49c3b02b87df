//! Access-change notices (migration 0009): what changed in a credential's effective access when its owner's
//! roles or practices changed, the practices each concerns, and the owner's acknowledgement. Append-only
//! apart from that one acknowledgement (triggers refuse the rest).

use chrono::{DateTime, Utc};
use portico_domain::{AccessChangeCause, AccessDiff, PracticeId, UserId};
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::{parse_opt_ts, parse_ts, placeholders, sqlite, ts, Result, Store, StoreError};

/// A notice to record.
#[derive(Clone, Debug)]
pub struct NewAccessChange<'a> {
    pub credential_id: &'a str,
    pub owner: UserId,
    /// The administrator who made the change.
    pub changed_by: Option<UserId>,
    pub cause: AccessChangeCause,
    pub diff: &'a AccessDiff,
    /// The practices it concerns: whose administrators see it.
    pub practices: &'a [PracticeId],
}

/// A recorded notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessChangeRecord {
    pub id: i64,
    pub credential_id: String,
    pub owner: UserId,
    pub changed_by: Option<UserId>,
    pub cause: AccessChangeCause,
    pub at: DateTime<Utc>,
    pub diff: AccessDiff,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "c.id, c.credential_id, c.owner_id, c.changed_by, c.cause, c.at, c.diff, c.acknowledged_at";

type Raw = (i64, String, i64, Option<i64>, String, String, String, Option<String>);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

fn hydrate((id, credential_id, owner, changed_by, cause, at, diff, acknowledged_at): Raw) -> Result<AccessChangeRecord> {
    let corrupt = |what: String| StoreError::Corrupt(format!("access change {id}: {what}"));
    Ok(AccessChangeRecord {
        id,
        credential_id,
        owner: UserId(owner),
        changed_by: changed_by.map(UserId),
        cause: AccessChangeCause::parse(&cause).ok_or_else(|| corrupt(format!("cause {cause:?}")))?,
        at: parse_ts(&at)?,
        diff: serde_json::from_str(&diff).map_err(|e| corrupt(format!("diff: {e}")))?,
        acknowledged_at: parse_opt_ts(acknowledged_at)?,
    })
}

impl Store {
    /// Records a notice and the practices it concerns; returns its id.
    pub fn record_access_change(&mut self, c: &NewAccessChange<'_>, now: DateTime<Utc>) -> Result<i64> {
        let diff = serde_json::to_string(c.diff).map_err(StoreError::database)?;
        let tx = self.conn.savepoint().map_err(sqlite)?;
        tx.prepare_cached(
            "INSERT INTO access_changes(credential_id, owner_id, changed_by, cause, at, diff) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .map_err(sqlite)?
        .execute(params![c.credential_id, c.owner.0, c.changed_by.map(|u| u.0), c.cause.as_str(), ts(now), diff])
        .map_err(sqlite)?;
        let id = tx.last_insert_rowid();
        for p in c.practices {
            tx.prepare_cached("INSERT OR IGNORE INTO access_change_practices(change_id, practice_id) VALUES (?, ?)")
                .map_err(sqlite)?
                .execute(params![id, p.0])
                .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(id)
    }

    pub fn access_change(&self, id: i64) -> Result<Option<AccessChangeRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM access_changes c WHERE c.id = ?");
        let row = self.conn.prepare_cached(&sql).map_err(sqlite)?.query_row([id], raw).optional().map_err(sqlite)?;
        row.map(hydrate).transpose()
    }

    /// The owner's notices not yet acknowledged, newest first.
    pub fn unacknowledged_access_changes(&self, owner: UserId) -> Result<Vec<AccessChangeRecord>> {
        self.access_changes_query(
            &format!(
                "SELECT {COLUMNS} FROM access_changes c WHERE c.owner_id = ? AND c.acknowledged_at IS NULL ORDER BY c.id DESC"
            ),
            vec![owner.0.into()],
        )
    }

    /// Notices since `since` that concern any of `practices`, newest first, acknowledged or not.
    pub fn access_changes_for_practices(
        &self,
        practices: &[PracticeId],
        since: DateTime<Utc>,
    ) -> Result<Vec<AccessChangeRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM access_changes c WHERE c.at >= ?
             AND c.id IN (SELECT change_id FROM access_change_practices WHERE practice_id IN ({}))
             ORDER BY c.id DESC",
            placeholders(practices.len())
        );
        let mut args: Vec<rusqlite::types::Value> = vec![ts(since).into()];
        args.extend(practices.iter().map(|p| p.0.into()));
        self.access_changes_query(&sql, args)
    }

    /// Marks a notice acknowledged: `false` when it already was (or does not exist).
    pub fn acknowledge_access_change(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("UPDATE access_changes SET acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), id])
            .map_err(sqlite)?;
        Ok(n > 0)
    }

    fn access_changes_query(&self, sql: &str, args: Vec<rusqlite::types::Value>) -> Result<Vec<AccessChangeRecord>> {
        let mut st = self.conn.prepare_cached(sql).map_err(sqlite)?;
        let rows: Vec<Raw> =
            st.query_map(params_from_iter(args), raw).map_err(sqlite)?.collect::<std::result::Result<_, _>>().map_err(sqlite)?;
        rows.into_iter().map(hydrate).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewCredential, NewUser};

    use portico_domain::{CredentialKind, Digest, Role, ValidityWindow};

    fn setup() -> (Store, UserId, PracticeId, PracticeId) {
        let mut store = Store::open_in_memory().unwrap();
        let (one, two) = (store.create_practice("One").unwrap(), store.create_practice("Two").unwrap());
        let owner = store
            .create_user(
                &NewUser {
                    username: "dev",
                    display_name: "Dev",
                    password_hash: "x",
                    roles: &[Role::Developer],
                    practices: &[one],
                    patient: None,
                },
                Utc::now(),
            )
            .unwrap();
        store
            .insert_credential(
                &NewCredential {
                    id: "k",
                    kind: CredentialKind::Developer,
                    owner,
                    name: "Lab sync",
                    note: None,
                    client_id: "client-k",
                    secret_digest: Digest([0; 32]),
                    secret_hint: "hint",
                    window: ValidityWindow::default(),
                    active: true,
                    created_by: owner,
                    patients: &[],
                    grant: None,
                },
                Utc::now(),
            )
            .unwrap();
        (store, owner, one, two)
    }

    #[test]
    fn nothing_but_the_acknowledgement_ever_changes() {
        let (mut store, owner, one, _) = setup();
        let diff = AccessDiff { reaches_nothing: true, ..Default::default() };
        let new = NewAccessChange {
            credential_id: "k",
            owner,
            changed_by: None,
            cause: AccessChangeCause::Roles,
            diff: &diff,
            practices: &[one],
        };
        let id = store.record_access_change(&new, Utc::now()).unwrap();
        for sql in [
            "DELETE FROM access_changes",
            "UPDATE access_changes SET diff = '{}'",
            "UPDATE access_changes SET acknowledged_at = NULL",
            "DELETE FROM access_change_practices",
            "UPDATE access_change_practices SET practice_id = 2",
        ] {
            assert!(store.conn.execute(sql, []).is_err(), "{sql}");
        }
        store.acknowledge_access_change(id, Utc::now()).unwrap();
        assert!(store.conn.execute("UPDATE access_changes SET acknowledged_at = 'later'", []).is_err(), "acknowledged once");
        let bad = NewAccessChange { credential_id: "no such key", ..new };
        assert!(store.record_access_change(&bad, Utc::now()).is_err(), "a notice is about a real credential");
    }
}
