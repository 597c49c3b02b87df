//! Users, roles, practices, memberships, patient assignment and sessions.

use chrono::{DateTime, Utc};
use portico_domain::{Digest, OwnerFacts, PatientId, PracticeId, Role, UserId};
use portico_fhir::patient::display_name;
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::{parse_ts, placeholders, sqlite, ts, unique_violation, Result, Store, StoreError};

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub roles: &'a [Role],
    pub practices: &'a [PracticeId],
    pub patient: Option<&'a PatientId>,
}

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub patient: Option<PatientId>,
    pub roles: Vec<Role>,
    pub practices: Vec<PracticeId>,
    pub created_at: DateTime<Utc>,
}

impl UserRecord {
    pub fn facts(&self) -> OwnerFacts {
        OwnerFacts { roles: self.roles.clone(), practices: self.practices.clone(), patient: self.patient.clone() }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A Patient row for pickers: id, display name, birth date, gender, MRN and practices (see `directory.rs`).
#[derive(Clone, Debug)]
pub struct PatientSummary {
    pub id: PatientId,
    pub name: String,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    /// The medical record number: the identifier whose type is `MR`.
    pub mrn: Option<String>,
    pub practices: Vec<PracticeId>,
}

/// A Patient and the users linked to it (see [`Store::patient_links`]).
#[derive(Clone, Debug)]
pub struct PatientLink {
    pub id: PatientId,
    pub name: String,
    pub practices: Vec<PracticeId>,
    pub users: i64,
}

impl Store {
    pub fn create_practice(&mut self, name: &str) -> Result<PracticeId> {
        self.conn
            .execute("INSERT INTO practices(name) VALUES (?)", [name])
            .map_err(|e| unique_violation(e, "a practice with this name exists"))?;
        Ok(PracticeId(self.conn.last_insert_rowid()))
    }

    pub fn practice_by_name(&self, name: &str) -> Result<Option<PracticeId>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM practices WHERE name = ?")
            .map_err(sqlite)?
            .query_row([name], |r| r.get(0))
            .optional()
            .map_err(sqlite)?
            .map(PracticeId))
    }

    pub fn practices(&self) -> Result<Vec<(PracticeId, String)>> {
        let mut st = self.conn.prepare_cached("SELECT id, name FROM practices ORDER BY id").map_err(sqlite)?;
        let rows = st.query_map([], |r| Ok((PracticeId(r.get(0)?), r.get(1)?))).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    pub fn assign_patient(&mut self, patient: &PatientId, practice: PracticeId) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO patient_practices(patient_id, practice_id) VALUES (?, ?)")
            .map_err(sqlite)?
            .execute(params![patient.as_str(), practice.0])
            .map_err(sqlite)?;
        Ok(())
    }

    pub fn patient_practices(&self, patient: &PatientId) -> Result<Vec<PracticeId>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT practice_id FROM patient_practices WHERE patient_id = ? ORDER BY practice_id")
            .map_err(sqlite)?;
        let rows = st.query_map([patient.as_str()], |r| r.get(0).map(PracticeId)).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    pub fn create_user(&mut self, user: &NewUser<'_>, now: DateTime<Utc>) -> Result<UserId> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        tx.prepare_cached(
            "INSERT INTO users(username, display_name, password_hash, patient_id, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .map_err(sqlite)?
        .execute(params![user.username, user.display_name, user.password_hash, user.patient.map(PatientId::as_str), ts(now)])
        .map_err(|e| unique_violation(e, "that username is taken"))?;
        let id = UserId(tx.last_insert_rowid());
        for role in user.roles {
            tx.prepare_cached("INSERT OR IGNORE INTO user_roles(user_id, role) VALUES (?, ?)")
                .map_err(sqlite)?
                .execute(params![id.0, role.as_str()])
                .map_err(sqlite)?;
        }
        for p in user.practices {
            tx.prepare_cached("INSERT OR IGNORE INTO memberships(user_id, practice_id) VALUES (?, ?)")
                .map_err(sqlite)?
                .execute(params![id.0, p.0])
                .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(id)
    }

    /// Replaces a user's password hash; false when there is no such user.
    pub fn set_password_hash(&mut self, username: &str, password_hash: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("UPDATE users SET password_hash = ? WHERE username = ?")
            .map_err(sqlite)?
            .execute(params![password_hash, username])
            .map_err(sqlite)?;
        Ok(n > 0)
    }

    pub fn user(&self, id: UserId) -> Result<Option<UserRecord>> {
        self.user_where("id = ?", id.0)
    }

    pub fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        self.user_where("username = ?", username)
    }

    fn user_where(&self, cond: &str, arg: impl rusqlite::ToSql) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT id, username, display_name, password_hash, patient_id, created_at FROM users WHERE {cond}");
        let row = self
            .conn
            .prepare_cached(&sql)
            .map_err(sqlite)?
            .query_row([arg], |r| {
                Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, Option<String>>(4)?, r.get::<_, String>(5)?))
            })
            .optional()
            .map_err(sqlite)?;
        row.map(|(id, username, display_name, password_hash, patient, created)| {
            Ok(UserRecord {
                id: UserId(id),
                username,
                display_name,
                password_hash,
                patient: patient.map(PatientId),
                roles: self.roles_of(UserId(id))?,
                practices: self.practices_of(UserId(id))?,
                created_at: parse_ts(&created)?,
            })
        })
        .transpose()
    }

    /// Every user, or only those with a membership in one of `practices` (plus patients of those practices).
    pub fn users(&self, practices: Option<&[PracticeId]>) -> Result<Vec<UserRecord>> {
        let ids: Vec<i64> = match practices {
            None => {
                let mut st = self.conn.prepare_cached("SELECT id FROM users ORDER BY id").map_err(sqlite)?;
                let rows = st.query_map([], |r| r.get(0)).map_err(sqlite)?;
                rows.collect::<std::result::Result<_, _>>().map_err(sqlite)?
            }
            Some(ps) => {
                let sql = format!(
                    "SELECT id FROM users WHERE id IN (SELECT user_id FROM memberships WHERE practice_id IN ({0}))
                     OR patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id IN ({0})) ORDER BY id",
                    placeholders(ps.len())
                );
                let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
                let args = ps.iter().chain(ps.iter()).map(|p| p.0);
                let rows = st.query_map(params_from_iter(args), |r| r.get(0)).map_err(sqlite)?;
                rows.collect::<std::result::Result<_, _>>().map_err(sqlite)?
            }
        };
        ids.into_iter().filter_map(|id| self.user(UserId(id)).transpose()).collect()
    }

    fn roles_of(&self, id: UserId) -> Result<Vec<Role>> {
        let mut st = self.conn.prepare_cached("SELECT role FROM user_roles WHERE user_id = ?").map_err(sqlite)?;
        let rows = st.query_map([id.0], |r| r.get::<_, String>(0)).map_err(sqlite)?;
        let mut roles = Vec::new();
        for r in rows {
            let r = r.map_err(sqlite)?;
            roles.push(Role::parse(&r).ok_or_else(|| StoreError::Corrupt(format!("unknown role {r}")))?);
        }
        roles.sort();
        Ok(roles)
    }

    fn practices_of(&self, id: UserId) -> Result<Vec<PracticeId>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT practice_id FROM memberships WHERE user_id = ? ORDER BY practice_id")
            .map_err(sqlite)?;
        let rows = st.query_map([id.0], |r| r.get(0).map(PracticeId)).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    pub fn set_roles(&mut self, id: UserId, roles: &[Role]) -> Result<()> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        if tx.prepare_cached("DELETE FROM user_roles WHERE user_id = ?").map_err(sqlite)?.execute([id.0]).map_err(sqlite)? == 0
            && !user_exists(&tx, id)?
        {
            return Err(StoreError::NotFound);
        }
        for role in roles {
            tx.prepare_cached("INSERT OR IGNORE INTO user_roles(user_id, role) VALUES (?, ?)")
                .map_err(sqlite)?
                .execute(params![id.0, role.as_str()])
                .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    pub fn set_practices(&mut self, id: UserId, practices: &[PracticeId]) -> Result<()> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        if !user_exists(&tx, id)? {
            return Err(StoreError::NotFound);
        }
        tx.prepare_cached("DELETE FROM memberships WHERE user_id = ?").map_err(sqlite)?.execute([id.0]).map_err(sqlite)?;
        for p in practices {
            tx.prepare_cached("INSERT INTO memberships(user_id, practice_id) VALUES (?, ?)")
                .map_err(sqlite)?
                .execute(params![id.0, p.0])
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        StoreError::Conflict(format!("no practice {}", p.0))
                    }
                    e => crate::sqlite(e),
                })?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    /// Every live Patient, ordered by id, with its display name, its practices and how many users are linked
    /// to it: what a bulk generator of patient accounts walks to give each patient at most one account.
    pub fn patient_links(&self) -> Result<Vec<PatientLink>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT r.id, r.json, coalesce(u.n, 0) FROM resources r
                 LEFT JOIN (SELECT patient_id, count(*) AS n FROM users WHERE patient_id IS NOT NULL GROUP BY patient_id) u
                   ON u.patient_id = r.id
                 WHERE r.type = 'Patient' AND r.deleted = 0 ORDER BY r.id",
            )
            .map_err(sqlite)?;
        let rows =
            st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))).map_err(sqlite)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json, users) = row.map_err(sqlite)?;
            let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let id = PatientId(id);
            out.push(PatientLink { name: display_name(&v), practices: self.patient_practices(&id)?, id, users });
        }
        Ok(out)
    }

    pub fn create_session(&mut self, digest: &Digest, user: UserId, now: DateTime<Utc>, expires: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO sessions(digest, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .map_err(sqlite)?
            .execute(params![&digest.0[..], user.0, ts(now), ts(expires)])
            .map_err(sqlite)?;
        Ok(())
    }

    /// The user of a live (unrevoked, unexpired) session.
    pub fn session_user(&self, digest: &Digest, now: DateTime<Utc>) -> Result<Option<UserId>> {
        Ok(self
            .conn
            .prepare_cached("SELECT user_id FROM sessions WHERE digest = ? AND revoked_at IS NULL AND expires_at > ?")
            .map_err(sqlite)?
            .query_row(params![&digest.0[..], ts(now)], |r| r.get(0))
            .optional()
            .map_err(sqlite)?
            .map(UserId))
    }

    pub fn revoke_session(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE sessions SET revoked_at = ? WHERE digest = ? AND revoked_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), &digest.0[..]])
            .map_err(sqlite)?;
        Ok(())
    }
}

fn user_exists(tx: &rusqlite::Connection, id: UserId) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM users WHERE id = ?")
        .map_err(sqlite)?
        .query_row([id.0], |_| Ok(()))
        .optional()
        .map_err(sqlite)?
        .is_some())
}
