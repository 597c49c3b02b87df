//! Users, roles, practices, memberships, patient assignment and sessions (SQLite: `accounts.rs`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portico_domain::{Digest, PatientId, PracticeId, Role, UserId};
use portico_fhir::search::fold;
use portico_store::{NewUser, PatientLink, Result, StoreError, UserListing, UserRecord, UserSort};
use tokio_postgres::Row;

use crate::{col, nul_free, parse_opt_ts, parse_ts, ts, unique_violation, Param, PgStore};

const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.password_hash, u.patient_id, u.created_at, u.last_sign_in_at";

impl PgStore {
    pub fn create_practice(&mut self, name: &str) -> Result<PracticeId> {
        let row = self
            .query_one("INSERT INTO practices(name) VALUES ($1) RETURNING id", &[&name])
            .map_err(|e| unique_violation(e, "a practice with this name exists"))?;
        Ok(PracticeId(col(&row, 0)?))
    }

    pub fn practice_by_name(&self, name: &str) -> Result<Option<PracticeId>> {
        self.query_opt("SELECT id FROM practices WHERE name = $1", &[&name])?.map(|r| col(&r, 0).map(PracticeId)).transpose()
    }

    pub fn practices(&self) -> Result<Vec<(PracticeId, String)>> {
        self.query("SELECT id, name FROM practices ORDER BY id", &[])?
            .iter()
            .map(|r| Ok((PracticeId(col(r, 0)?), col(r, 1)?)))
            .collect()
    }

    pub fn assign_patient(&mut self, patient: &PatientId, practice: PracticeId) -> Result<()> {
        self.execute(
            "INSERT INTO patient_practices(patient_id, practice_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&patient.as_str(), &practice.0],
        )?;
        Ok(())
    }

    pub fn patient_practices(&self, patient: &PatientId) -> Result<Vec<PracticeId>> {
        self.query("SELECT practice_id FROM patient_practices WHERE patient_id = $1 ORDER BY practice_id", &[&patient.as_str()])?
            .iter()
            .map(|r| col(r, 0).map(PracticeId))
            .collect()
    }

    /// The user, their roles and memberships (one unit: the savepoint the boundary wraps each write in).
    pub fn create_user(&mut self, user: &NewUser<'_>, now: DateTime<Utc>) -> Result<UserId> {
        let row = self
            .query_one(
                "INSERT INTO users(username, display_name, password_hash, patient_id, created_at, name_fold)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &user.username,
                    &user.display_name,
                    &user.password_hash,
                    &user.patient.map(PatientId::as_str),
                    &ts(now),
                    &fold(user.display_name),
                ],
            )
            .map_err(|e| unique_violation(e, "that username is taken"))?;
        let id = UserId(col(&row, 0)?);
        self.insert_roles(id, user.roles)?;
        for p in user.practices {
            self.execute("INSERT INTO memberships(user_id, practice_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&id.0, &p.0])?;
        }
        Ok(id)
    }

    fn insert_roles(&self, id: UserId, roles: &[Role]) -> Result<()> {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        self.execute(
            "INSERT INTO user_roles(user_id, role) SELECT $1, r FROM unnest($2::text[]) AS r ON CONFLICT DO NOTHING",
            &[&id.0, &names],
        )?;
        Ok(())
    }

    /// Replaces a user's password hash; false when there is no such user.
    pub fn set_password_hash(&mut self, username: &str, password_hash: &str) -> Result<bool> {
        Ok(self.execute("UPDATE users SET password_hash = $1 WHERE username = $2", &[&password_hash, &username])? > 0)
    }

    pub fn user(&self, id: UserId) -> Result<Option<UserRecord>> {
        self.user_where("u.id = $1", &id.0)
    }

    pub fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        self.user_where("u.username = $1", &nul_free(username))
    }

    fn user_where(&self, cond: &str, arg: Param<'_>) -> Result<Option<UserRecord>> {
        let Some(row) = self.query_opt(&format!("SELECT {USER_COLUMNS} FROM users u WHERE {cond}"), &[arg])? else {
            return Ok(None);
        };
        let id: i64 = col(&row, 0)?;
        let mut roles = self.roles_of_many(&[id])?;
        let mut practices = self.practices_of_many(&[id])?;
        hydrate_user(&row, roles.remove(&id).unwrap_or_default(), practices.remove(&id).unwrap_or_default()).map(Some)
    }

    /// Notes a successful sign-in (any door).
    pub fn record_sign_in(&mut self, id: UserId, now: DateTime<Utc>) -> Result<()> {
        self.execute("UPDATE users SET last_sign_in_at = $1 WHERE id = $2", &[&ts(now), &id.0])?;
        Ok(())
    }

    /// One page of the users an administrator of `listing.visible_to` may manage, and how many match in all:
    /// one statement counts, one pages, and the roles and memberships of the page's rows alone are read
    /// afterwards. Ties are broken by id, in the same direction, so pages never overlap.
    pub fn users_page(&self, listing: &UserListing<'_>) -> Result<(usize, Vec<UserRecord>)> {
        let visible: Vec<i64> = listing.visible_to.iter().map(|p| p.0).collect();
        let mut cond = String::from(
            "(u.id IN (SELECT user_id FROM memberships WHERE practice_id = ANY($1))
              OR u.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id = ANY($1))
              OR (u.patient_id IS NULL AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)))",
        );
        let search = listing.search.map(fold).filter(|q| !q.trim().is_empty());
        let role = listing.role.map(|r| r.as_str().to_owned());
        let practice = listing.practice.map(|p| p.0);
        let mut args: Vec<Param<'_>> = vec![&visible];
        if let Some(q) = &search {
            // strpos, not LIKE: the needle's % and _ are plain characters.
            args.push(q);
            cond.push_str(&format!(" AND (strpos(u.name_fold, ${0}) > 0 OR strpos(u.username, ${0}) > 0)", args.len()));
        }
        if let Some(role) = &role {
            args.push(role);
            cond.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = ${})",
                args.len()
            ));
        }
        if let Some(p) = &practice {
            args.push(p);
            cond.push_str(&format!(
                " AND (u.id IN (SELECT user_id FROM memberships WHERE practice_id = ${0})
                   OR u.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id = ${0}))",
                args.len()
            ));
        }
        let total: i64 = col(&self.query_one(&format!("SELECT count(*) FROM users u WHERE {cond}"), &args)?, 0)?;
        let dir = if listing.descending { "DESC" } else { "ASC" };
        // SQLite sorts NULL first ascending and last descending ("never signed in" is the oldest), and
        // compares text byte by byte: say both.
        let key = match listing.sort {
            UserSort::Name => "u.name_fold COLLATE \"C\"",
            UserSort::Username => "u.username COLLATE \"C\"",
            UserSort::LastSignIn => "u.last_sign_in_at COLLATE \"C\"",
            UserSort::Created => "u.created_at COLLATE \"C\"",
        };
        let nulls = if listing.descending { "NULLS LAST" } else { "NULLS FIRST" };
        let limit = i64::try_from(listing.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(listing.offset).unwrap_or(i64::MAX);
        args.push(&limit);
        args.push(&offset);
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE {cond} ORDER BY {key} {dir} {nulls}, u.id {dir} LIMIT ${} OFFSET ${}",
            args.len() - 1,
            args.len()
        );
        let rows = self.query(&sql, &args)?;
        let ids = rows.iter().map(|r| col(r, 0)).collect::<Result<Vec<i64>>>()?;
        let mut roles = self.roles_of_many(&ids)?;
        let mut practices = self.practices_of_many(&ids)?;
        let page = rows
            .iter()
            .zip(&ids)
            .map(|(row, id)| hydrate_user(row, roles.remove(id).unwrap_or_default(), practices.remove(id).unwrap_or_default()))
            .collect::<Result<Vec<_>>>()?;
        Ok((usize::try_from(total).unwrap_or(0), page))
    }

    /// The roles of each of `ids`, sorted, in one statement.
    fn roles_of_many(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Role>>> {
        let mut out: HashMap<i64, Vec<Role>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for row in self.query("SELECT user_id, role FROM user_roles WHERE user_id = ANY($1)", &[&ids])? {
            let (id, r): (i64, String) = (col(&row, 0)?, col(&row, 1)?);
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
        for row in self.query(
            "SELECT user_id, practice_id FROM memberships WHERE user_id = ANY($1) ORDER BY user_id, practice_id",
            &[&ids],
        )? {
            out.entry(col(&row, 0)?).or_default().push(PracticeId(col(&row, 1)?));
        }
        Ok(out)
    }

    /// Every user, or only those with a membership in one of `practices` (plus patients of those practices).
    pub fn users(&self, practices: Option<&[PracticeId]>) -> Result<Vec<UserRecord>> {
        let rows = match practices {
            None => self.query(&format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"), &[])?,
            Some(ps) => {
                let ps: Vec<i64> = ps.iter().map(|p| p.0).collect();
                self.query(
                    &format!(
                        "SELECT {USER_COLUMNS} FROM users u
                         WHERE u.id IN (SELECT user_id FROM memberships WHERE practice_id = ANY($1))
                            OR u.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id = ANY($1))
                         ORDER BY u.id"
                    ),
                    &[&ps],
                )?
            }
        };
        let ids = rows.iter().map(|r| col(r, 0)).collect::<Result<Vec<i64>>>()?;
        let mut roles = self.roles_of_many(&ids)?;
        let mut memberships = self.practices_of_many(&ids)?;
        rows.iter()
            .zip(&ids)
            .map(|(row, id)| hydrate_user(row, roles.remove(id).unwrap_or_default(), memberships.remove(id).unwrap_or_default()))
            .collect()
    }

    pub fn set_roles(&mut self, id: UserId, roles: &[Role]) -> Result<()> {
        // Lock the user's row first: two administrators changing the same user's roles at once take turns,
        // so the result is one of the two lists, never a mix.
        if self.query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&id.0])?.is_none() {
            return Err(StoreError::NotFound);
        }
        self.execute("DELETE FROM user_roles WHERE user_id = $1", &[&id.0])?;
        self.insert_roles(id, roles)
    }

    pub fn set_practices(&mut self, id: UserId, practices: &[PracticeId]) -> Result<()> {
        if self.query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&id.0])?.is_none() {
            return Err(StoreError::NotFound);
        }
        self.execute("DELETE FROM memberships WHERE user_id = $1", &[&id.0])?;
        if practices.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = practices.iter().map(|p| p.0).collect();
        // A practice that does not exist is refused by name, before the insert (whose foreign-key failure
        // would say less).
        let known: Vec<i64> = self
            .query("SELECT id FROM practices WHERE id = ANY($1)", &[&ids])?
            .iter()
            .map(|r| col(r, 0))
            .collect::<Result<_>>()?;
        if let Some(missing) = ids.iter().find(|p| !known.contains(p)) {
            return Err(StoreError::Conflict(format!("no practice {missing}")));
        }
        self.execute(
            "INSERT INTO memberships(user_id, practice_id) SELECT $1, p FROM unnest($2::bigint[]) AS p ON CONFLICT DO NOTHING",
            &[&id.0, &ids],
        )?;
        Ok(())
    }

    pub fn create_session(&mut self, digest: &Digest, user: UserId, now: DateTime<Utc>, expires: DateTime<Utc>) -> Result<()> {
        self.execute(
            "INSERT INTO sessions(digest, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&&digest.0[..], &user.0, &ts(now), &ts(expires)],
        )?;
        Ok(())
    }

    /// The user of a live (unrevoked, unexpired) session.
    pub fn session_user(&self, digest: &Digest, now: DateTime<Utc>) -> Result<Option<UserId>> {
        self.query_opt(
            "SELECT user_id FROM sessions WHERE digest = $1 AND revoked_at IS NULL AND expires_at > $2",
            &[&&digest.0[..], &ts(now)],
        )?
        .map(|r| col(&r, 0).map(UserId))
        .transpose()
    }

    pub fn revoke_session(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<()> {
        self.execute(
            "UPDATE sessions SET revoked_at = $1 WHERE digest = $2 AND revoked_at IS NULL",
            &[&ts(now), &&digest.0[..]],
        )?;
        Ok(())
    }
}

impl PgStore {
    /// Every live Patient, ordered by id, with its display name, its practices and how many users are linked
    /// to it: what a bulk generator of patient accounts walks to give each patient at most one account.
    pub fn patient_links(&self) -> Result<Vec<PatientLink>> {
        let rows = self.query(
            "SELECT r.id, r.json, coalesce(u.n, 0),
                    coalesce((SELECT array_agg(pp.practice_id ORDER BY pp.practice_id) FROM patient_practices pp
                              WHERE pp.patient_id = r.id), '{}')
             FROM resources r
             LEFT JOIN (SELECT patient_id, count(*) AS n FROM users WHERE patient_id IS NOT NULL GROUP BY patient_id) u
               ON u.patient_id = r.id
             WHERE r.type = 'Patient' AND NOT r.deleted ORDER BY r.id COLLATE \"C\"",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let json: String = col(r, 1)?;
                let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let practices: Vec<i64> = col(r, 3)?;
                Ok(PatientLink {
                    id: PatientId(col(r, 0)?),
                    name: portico_fhir::patient::display_name(&v),
                    practices: practices.into_iter().map(PracticeId).collect(),
                    users: col(r, 2)?,
                })
            })
            .collect()
    }
}

fn hydrate_user(row: &Row, roles: Vec<Role>, practices: Vec<PracticeId>) -> Result<UserRecord> {
    let created: String = col(row, 5)?;
    Ok(UserRecord {
        id: UserId(col(row, 0)?),
        username: col(row, 1)?,
        display_name: col(row, 2)?,
        password_hash: col(row, 3)?,
        patient: col::<Option<String>>(row, 4)?.map(PatientId),
        roles,
        practices,
        created_at: parse_ts(&created)?,
        last_sign_in_at: parse_opt_ts(col(row, 6)?)?,
    })
}
