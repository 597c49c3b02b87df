//! Users, roles, practices, memberships, patient assignment and sessions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portico_domain::{Digest, OwnerFacts, PatientId, PracticeId, Role, UserId};
use portico_fhir::patient::display_name;
use portico_fhir::search::fold;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::{parse_opt_ts, parse_ts, placeholders, sqlite, ts, unique_violation, Result, Store, StoreError};

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
    /// The last successful sign-in, through any door; `None`: never.
    pub last_sign_in_at: Option<DateTime<Utc>>,
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

/// The order of a page of users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserSort {
    /// The display name, folded (case and accents), so "Ángel" sorts with the A's.
    Name,
    Username,
    /// Never signed in sorts as the oldest.
    LastSignIn,
    Created,
}

/// One page of the users an administrator may manage (see [`Store::users_page`]).
#[derive(Clone, Debug)]
pub struct UserListing<'a> {
    /// The administrator's practices: their members, patients of them, and users who belong nowhere yet are
    /// listed; nobody else.
    pub visible_to: &'a [PracticeId],
    /// A case- and accent-insensitive substring of the display name or the username (blank: everyone).
    pub search: Option<&'a str>,
    pub role: Option<Role>,
    /// Members of this practice and patients of it.
    pub practice: Option<PracticeId>,
    pub sort: UserSort,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
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
            "INSERT INTO users(username, display_name, password_hash, patient_id, created_at, name_fold)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .map_err(sqlite)?
        .execute(params![
            user.username,
            user.display_name,
            user.password_hash,
            user.patient.map(PatientId::as_str),
            ts(now),
            fold(user.display_name)
        ])
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
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {cond}");
        let row = self.conn.prepare_cached(&sql).map_err(sqlite)?.query_row([arg], raw_user).optional().map_err(sqlite)?;
        row.map(|raw| {
            let id = UserId(raw.0);
            let (roles, practices) = (self.roles_of(id)?, self.practices_of(id)?);
            hydrate_user(raw, roles, practices)
        })
        .transpose()
    }

    /// Notes a successful sign-in (any door).
    pub fn record_sign_in(&mut self, id: UserId, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE users SET last_sign_in_at = ? WHERE id = ?")
            .map_err(sqlite)?
            .execute(params![ts(now), id.0])
            .map_err(sqlite)?;
        Ok(())
    }

    /// One page of the users an administrator of `listing.visible_to` may manage, and how many match in all:
    /// one statement counts, one pages (ORDER BY … LIMIT), and the roles and memberships of the page's rows
    /// alone are read afterwards. Ties are broken by id, in the same direction, so pages never overlap.
    pub fn users_page(&self, listing: &UserListing<'_>) -> Result<(usize, Vec<UserRecord>)> {
        let ps = listing.visible_to;
        let mut cond = format!(
            "(u.id IN (SELECT user_id FROM memberships WHERE practice_id IN ({0}))
              OR u.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id IN ({0}))
              OR (u.patient_id IS NULL AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)))",
            placeholders(ps.len())
        );
        let mut args: Vec<SqlValue> = ps.iter().chain(ps.iter()).map(|p| SqlValue::Integer(p.0)).collect();
        if let Some(q) = listing.search.map(fold).filter(|q| !q.trim().is_empty()) {
            // instr, not LIKE: the needle's % and _ are plain characters.
            cond.push_str(" AND (instr(u.name_fold, ?) > 0 OR instr(u.username, ?) > 0)");
            args.push(SqlValue::Text(q.clone()));
            args.push(SqlValue::Text(q));
        }
        if let Some(role) = listing.role {
            cond.push_str(" AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = ?)");
            args.push(SqlValue::Text(role.as_str().to_owned()));
        }
        if let Some(p) = listing.practice {
            cond.push_str(
                " AND (u.id IN (SELECT user_id FROM memberships WHERE practice_id = ?)
                   OR u.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id = ?))",
            );
            args.push(SqlValue::Integer(p.0));
            args.push(SqlValue::Integer(p.0));
        }
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM users u WHERE {cond}"))
            .map_err(sqlite)?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))
            .map_err(sqlite)?;
        let dir = if listing.descending { "DESC" } else { "ASC" };
        let key = match listing.sort {
            UserSort::Name => "u.name_fold",
            UserSort::Username => "u.username",
            UserSort::LastSignIn => "u.last_sign_in_at",
            UserSort::Created => "u.created_at",
        };
        let sql = format!(
            "SELECT {} FROM users u WHERE {cond} ORDER BY {key} {dir}, u.id {dir} LIMIT ? OFFSET ?",
            USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
        );
        args.push(SqlValue::Integer(i64::try_from(listing.limit).unwrap_or(i64::MAX)));
        args.push(SqlValue::Integer(i64::try_from(listing.offset).unwrap_or(i64::MAX)));
        let rows: Vec<RawUser> = {
            let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
            let rows = st.query_map(params_from_iter(args.iter()), raw_user).map_err(sqlite)?;
            rows.collect::<std::result::Result<_, _>>().map_err(sqlite)?
        };
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let mut roles = self.roles_of_many(&ids)?;
        let mut practices = self.practices_of_many(&ids)?;
        let page = rows
            .into_iter()
            .map(|raw| {
                let id = raw.0;
                hydrate_user(raw, roles.remove(&id).unwrap_or_default(), practices.remove(&id).unwrap_or_default())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((usize::try_from(total).unwrap_or(0), page))
    }

    /// The roles of each of `ids`, sorted, in one statement.
    fn roles_of_many(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Role>>> {
        let mut out: HashMap<i64, Vec<Role>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!("SELECT user_id, role FROM user_roles WHERE user_id IN ({})", placeholders(ids.len()));
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows = st.query_map(params_from_iter(ids), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).map_err(sqlite)?;
        for row in rows {
            let (id, r) = row.map_err(sqlite)?;
            out.entry(id).or_default().push(Role::parse(&r).ok_or_else(|| StoreError::Corrupt(format!("unknown role {r}")))?);
        }
        out.values_mut().for_each(|v| v.sort());
        Ok(out)
    }

    /// The memberships of each of `ids`, by practice id, in one statement.
    fn practices_of_many(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<PracticeId>>> {
        let mut out: HashMap<i64, Vec<PracticeId>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT user_id, practice_id FROM memberships WHERE user_id IN ({}) ORDER BY user_id, practice_id",
            placeholders(ids.len())
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows = st.query_map(params_from_iter(ids), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))).map_err(sqlite)?;
        for row in rows {
            let (id, p) = row.map_err(sqlite)?;
            out.entry(id).or_default().push(PracticeId(p));
        }
        Ok(out)
    }

    /// Gives users stored before the folded name existed their `name_fold` (run on open, after the migrations;
    /// a no-op once every row has one).
    pub(crate) fn fill_user_folds(&mut self) -> Result<()> {
        let rows: Vec<(i64, String)> = {
            let mut st =
                self.conn.prepare_cached("SELECT id, display_name FROM users WHERE name_fold IS NULL").map_err(sqlite)?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sqlite)?;
            rows.collect::<std::result::Result<_, _>>().map_err(sqlite)?
        };
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.savepoint().map_err(sqlite)?;
        for (id, name) in rows {
            tx.prepare_cached("UPDATE users SET name_fold = ? WHERE id = ?")
                .map_err(sqlite)?
                .execute(params![fold(&name), id])
                .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(())
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

const USER_COLUMNS: &str = "id, username, display_name, password_hash, patient_id, created_at, last_sign_in_at";

type RawUser = (i64, String, String, String, Option<String>, String, Option<String>);

fn raw_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawUser> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn hydrate_user(raw: RawUser, roles: Vec<Role>, practices: Vec<PracticeId>) -> Result<UserRecord> {
    let (id, username, display_name, password_hash, patient, created, last_sign_in) = raw;
    Ok(UserRecord {
        id: UserId(id),
        username,
        display_name,
        password_hash,
        patient: patient.map(PatientId),
        roles,
        practices,
        created_at: parse_ts(&created)?,
        last_sign_in_at: parse_opt_ts(last_sign_in)?,
    })
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    const GIVEN: [&str; 8] = ["Ana", "Bilal", "Ángel", "Chen", "Émile", "Dara", "Zoë", "Fatima"];
    const FAMILY: [&str; 6] = ["Adeyemi", "Müller", "O'Brien", "Nguyen", "Fernández", "Kowalczyk"];

    /// A clinic: 200 staff across two practices (administrator 0 in practice 1), 5,000 patient users split
    /// between them, and 10 accounts that belong nowhere yet.
    fn clinic() -> Store {
        let mut store = Store::open_in_memory().unwrap();
        let (p1, p2) = (store.create_practice("One").unwrap(), store.create_practice("Two").unwrap());
        let now = Utc::now();
        store.savepoint().unwrap();
        for i in 0..5_210 {
            let name = format!("{} {} {i}", GIVEN[i % GIVEN.len()], FAMILY[(i / GIVEN.len()) % FAMILY.len()]);
            let (username, roles, practices, patient) = match i {
                0..200 => {
                    let role = if i == 0 { Role::Administrator } else { [Role::Provider, Role::Nurse, Role::FrontDesk][i % 3] };
                    (format!("staff{i}"), vec![role], vec![if i % 2 == 0 { p1 } else { p2 }], None)
                }
                200..5_200 => {
                    let pid = PatientId(format!("pat-{i}"));
                    store.assign_patient(&pid, if i % 2 == 0 { p1 } else { p2 }).unwrap();
                    (format!("patient{i}"), vec![Role::Patient], vec![], Some(pid))
                }
                _ => (format!("new{i}"), vec![Role::AppDeveloper], vec![], None),
            };
            let user = NewUser {
                username: &username,
                display_name: &name,
                password_hash: "x",
                roles: &roles,
                practices: &practices,
                patient: patient.as_ref(),
            };
            store.create_user(&user, now).unwrap();
        }
        store.release().unwrap();
        store
    }

    fn listing(visible_to: &[PracticeId]) -> UserListing<'_> {
        UserListing {
            visible_to,
            search: None,
            role: None,
            practice: None,
            sort: UserSort::Name,
            descending: false,
            offset: 0,
            limit: 25,
        }
    }

    /// The page query's cost at clinic scale: the Users table's budget is 200 ms from request to paint, so
    /// the store's part must stay a small slice of it (a full scan with a sort per request is fine here; a
    /// query per row is not).
    #[test]
    fn a_page_of_a_clinic_is_quick() {
        let store = clinic();
        let mine = [PracticeId(1)];
        let _warm = store.users_page(&listing(&mine)).unwrap();
        let cases: [(&str, UserListing<'_>); 5] = [
            ("first page", listing(&mine)),
            ("search", UserListing { search: Some("nguyen"), ..listing(&mine) }),
            (
                "last sign-in, last page",
                UserListing { sort: UserSort::LastSignIn, descending: true, offset: 2_600, ..listing(&mine) },
            ),
            ("role and practice", UserListing { role: Some(Role::Patient), practice: Some(PracticeId(1)), ..listing(&mine) }),
            ("a search that finds nobody", UserListing { search: Some("zzzz"), ..listing(&mine) }),
        ];
        for (what, l) in cases {
            let started = Instant::now();
            for _ in 0..5 {
                store.users_page(&l).unwrap();
            }
            let ms = started.elapsed().as_secs_f64() * 1000.0 / 5.0;
            println!("users_page {what}: {ms:.1} ms");
            // Generous, for a loaded machine: what it catches is a query per row (thousands of them).
            assert!(ms < 150.0, "{what}: {ms:.1} ms");
        }
    }
}
