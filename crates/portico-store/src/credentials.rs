//! Credentials, their patient lists, and the access tokens issued to them.

use chrono::{DateTime, Utc};
use portico_domain::{name_key, CredentialFacts, CredentialKind, Digest, PatientId, PracticeId, UserId, ValidityWindow};
use portico_fhir::search::fold;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::{parse_opt_ts, parse_ts, placeholders, sqlite, ts, unique_violation, Result, Store, StoreError};

pub struct NewCredential<'a> {
    pub id: &'a str,
    pub kind: CredentialKind,
    pub owner: UserId,
    pub name: &'a str,
    pub note: Option<&'a str>,
    pub client_id: &'a str,
    pub secret_digest: Digest,
    pub secret_hint: &'a str,
    pub window: ValidityWindow,
    pub active: bool,
    pub created_by: UserId,
    pub patients: &'a [PatientId],
    /// Grants: the app, the scopes consented and the tenant base.
    pub grant: Option<GrantOf<'a>>,
}

/// What makes a credential a grant.
#[derive(Clone, Copy, Debug)]
pub struct GrantOf<'a> {
    pub app_id: &'a str,
    pub scope: &'a str,
    pub practice: Option<PracticeId>,
}

#[derive(Clone, Debug)]
pub struct CredentialRecord {
    pub id: String,
    pub kind: CredentialKind,
    pub owner: UserId,
    pub name: String,
    pub note: Option<String>,
    pub client_id: String,
    pub secret_digest: Digest,
    pub secret_hint: String,
    /// After a regeneration with a grace period: the old secret and until when it still works.
    pub previous: Option<(Digest, DateTime<Utc>)>,
    /// Which secret is current: 0 at creation, one more with each regeneration (the previous secret is
    /// generation `secret_generation - 1`).
    pub secret_generation: i64,
    pub window: ValidityWindow,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: UserId,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub patients: Vec<PatientId>,
    /// Grants only: the app (its id), the scopes consented, the tenant base it was granted at.
    pub app_id: Option<String>,
    pub scope: Option<String>,
    pub practice: Option<PracticeId>,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct CredentialChange {
    pub name: Option<String>,
    pub note: Option<Option<String>>,
    pub window: Option<ValidityWindow>,
    pub active: Option<bool>,
    pub patients: Option<Vec<PatientId>>,
}

/// The order of a page of staff keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaffKeySort {
    /// The key's name, case-folded.
    Name,
    /// The owner's display name, folded (case and accents).
    Owner,
    Created,
    /// When a token was last issued to it or it last read data; never used sorts as the oldest.
    LastUsed,
    /// The end of its validity window; a key without one sorts as the furthest away.
    ValidTo,
}

/// One page of the staff keys an administrator oversees (see [`Store::staff_credentials_page`]).
#[derive(Clone, Debug)]
pub struct StaffKeyListing<'a> {
    /// The administrator's practices: developer and provider keys whose owners belong to one of them.
    pub visible_to: &'a [PracticeId],
    /// A case-insensitive substring of the key's name, or of its owner's display name or username.
    pub search: Option<&'a str>,
    /// `Developer` or `Provider`.
    pub kind: Option<CredentialKind>,
    /// Keys whose owner belongs to this practice.
    pub practice: Option<PracticeId>,
    pub sort: StaffKeySort,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

/// When a credential was last used, as [`Store::last_used`] has it, as an SQL expression over `c` (for
/// sorting): the newest successful token or read in the log (its index read backwards, stopping at the
/// first match) or in the daily roll-up; NULL when never.
const LAST_USED_SQL: &str = "nullif(max(
    ifnull((SELECT a.at FROM audit a WHERE a.credential_id = c.id AND a.outcome = 'ok'
            AND a.kind IN ('token_issued', 'fhir_access') ORDER BY a.seq DESC LIMIT 1), ''),
    ifnull((SELECT max(d.last_at) FROM audit_daily d WHERE d.credential_id = c.id AND d.kind = 'fhir_access'), '')), '')";

#[derive(Clone, Debug)]
pub struct TokenRecord {
    pub digest: Digest,
    pub credential_id: String,
    pub scope: String,
    pub patient: Option<PatientId>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The credential's secret generation that minted this token: the token stops with that secret.
    pub secret_generation: i64,
}

const CRED_COLUMNS: &str = "id, kind, owner_id, name, note, client_id, secret_digest, secret_hint, previous_digest,
    previous_valid_until, valid_from, valid_to, active, created_at, created_by, updated_at, deleted_at, secret_generation,
    app_id, scope, practice_id";

type RawCredential = (
    String,
    String,
    i64,
    String,
    Option<String>,
    String,
    Vec<u8>,
    String,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    String,
    i64,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawCredential> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
        r.get(15)?,
        r.get(16)?,
        r.get(17)?,
        r.get(18)?,
        r.get(19)?,
        r.get(20)?,
    ))
}

impl Store {
    pub fn insert_credential(&mut self, c: &NewCredential<'_>, now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        tx.execute(
            &format!(
                "INSERT INTO credentials({CRED_COLUMNS}, name_key)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, ?, ?)"
            ),
            params![
                c.id,
                c.kind.as_str(),
                c.owner.0,
                c.name,
                c.note,
                c.client_id,
                &c.secret_digest.0[..],
                c.secret_hint,
                c.window.from.map(ts),
                c.window.to.map(ts),
                c.active,
                ts(now),
                c.created_by.0,
                ts(now),
                c.grant.map(|g| g.app_id),
                c.grant.map(|g| g.scope),
                c.grant.and_then(|g| g.practice).map(|p| p.0),
                // A grant is named after its app and never collides with the owner's own credentials
                // (U+001F cannot occur in a name).
                match c.grant {
                    Some(_) => format!("\u{1f}grant:{}", c.id),
                    None => name_key(c.name),
                },
            ],
        )
        .map_err(|e| unique_violation(e, "you already have a credential with this name"))?;
        for p in c.patients {
            tx.prepare_cached("INSERT OR IGNORE INTO credential_patients(credential_id, patient_id) VALUES (?, ?)")
                .map_err(sqlite)?
                .execute(params![c.id, p.as_str()])
                .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    pub fn credential(&self, id: &str) -> Result<Option<CredentialRecord>> {
        self.credential_where("id = ?", id)
    }

    pub fn credential_by_client_id(&self, client_id: &str) -> Result<Option<CredentialRecord>> {
        self.credential_where("client_id = ?", client_id)
    }

    fn credential_where(&self, cond: &str, arg: &str) -> Result<Option<CredentialRecord>> {
        let sql = format!("SELECT {CRED_COLUMNS} FROM credentials WHERE {cond}");
        let row = self.conn.prepare_cached(&sql).map_err(sqlite)?.query_row([arg], raw).optional().map_err(sqlite)?;
        row.map(|r| self.hydrate(r)).transpose()
    }

    /// The owner's credentials that still exist, newest first.
    pub fn credentials_of(&self, owner: UserId) -> Result<Vec<CredentialRecord>> {
        self.credentials_query(
            &format!(
                "SELECT {CRED_COLUMNS} FROM credentials WHERE owner_id = ? AND deleted_at IS NULL ORDER BY created_at DESC, id"
            ),
            vec![owner.0.into()],
        )
    }

    /// The owner's deleted credentials, most recently deleted first (for revocation receipts).
    pub fn deleted_credentials_of(&self, owner: UserId, limit: usize) -> Result<Vec<CredentialRecord>> {
        self.credentials_query(
            &format!(
                "SELECT {CRED_COLUMNS} FROM credentials WHERE owner_id = ? AND deleted_at IS NOT NULL ORDER BY deleted_at DESC, id LIMIT ?"
            ),
            vec![owner.0.into(), (limit as i64).into()],
        )
    }

    /// Staff keys (developer and provider) whose owners belong to any of `practices`.
    pub fn staff_credentials(&self, practices: &[PracticeId]) -> Result<Vec<CredentialRecord>> {
        let sql = format!(
            "SELECT {CRED_COLUMNS} FROM credentials WHERE deleted_at IS NULL AND kind IN ('developer', 'provider')
             AND owner_id IN (SELECT user_id FROM memberships WHERE practice_id IN ({})) ORDER BY created_at DESC, id",
            placeholders(practices.len())
        );
        self.credentials_query(&sql, practices.iter().map(|p| p.0.into()).collect())
    }

    /// One page of the live staff keys (developer and provider) whose owners belong to one of
    /// `listing.visible_to`, and how many match in all: one statement counts, one pages (ORDER BY … LIMIT).
    /// Ties are broken by id, in the same direction, so pages never overlap.
    pub fn staff_credentials_page(&self, listing: &StaffKeyListing<'_>) -> Result<(usize, Vec<CredentialRecord>)> {
        let ps = listing.visible_to;
        let mut cond = format!(
            "c.deleted_at IS NULL AND c.kind IN ('developer', 'provider')
             AND c.owner_id IN (SELECT user_id FROM memberships WHERE practice_id IN ({}))",
            placeholders(ps.len())
        );
        let mut args: Vec<SqlValue> = ps.iter().map(|p| SqlValue::Integer(p.0)).collect();
        if let Some(q) = listing.search.map(str::trim).filter(|q| !q.is_empty()) {
            // instr, not LIKE: the needle's % and _ are plain characters. Key names are compared as their
            // uniqueness key folds them; owners' names as the Users table folds them.
            cond.push_str(" AND (instr(c.name_key, ?) > 0 OR instr(o.name_fold, ?) > 0 OR instr(o.username, ?) > 0)");
            args.push(SqlValue::Text(name_key(q)));
            args.push(SqlValue::Text(fold(q)));
            args.push(SqlValue::Text(fold(q)));
        }
        if let Some(kind) = listing.kind {
            cond.push_str(" AND c.kind = ?");
            args.push(SqlValue::Text(kind.as_str().to_owned()));
        }
        if let Some(p) = listing.practice {
            cond.push_str(" AND c.owner_id IN (SELECT user_id FROM memberships WHERE practice_id = ?)");
            args.push(SqlValue::Integer(p.0));
        }
        let from = "credentials c JOIN users o ON o.id = c.owner_id";
        let total: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM {from} WHERE {cond}"))
            .map_err(sqlite)?
            .query_row(params_from_iter(args.iter()), |r| r.get(0))
            .map_err(sqlite)?;
        let dir = if listing.descending { "DESC" } else { "ASC" };
        let key = match listing.sort {
            StaffKeySort::Name => format!("c.name_key {dir}"),
            StaffKeySort::Owner => format!("o.name_fold {dir}, o.username {dir}"),
            StaffKeySort::Created => format!("c.created_at {dir}"),
            StaffKeySort::LastUsed => format!("{LAST_USED_SQL} {dir}"),
            // No end date is the furthest end of all.
            StaffKeySort::ValidTo => format!("c.valid_to {dir} NULLS {}", if listing.descending { "FIRST" } else { "LAST" }),
        };
        let columns = CRED_COLUMNS.split(',').map(|c| format!("c.{}", c.trim())).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT {columns} FROM {from} WHERE {cond} ORDER BY {key}, c.id {dir} LIMIT ? OFFSET ?");
        args.push(SqlValue::Integer(i64::try_from(listing.limit).unwrap_or(i64::MAX)));
        args.push(SqlValue::Integer(i64::try_from(listing.offset).unwrap_or(i64::MAX)));
        let page = self.credentials_query(&sql, args)?;
        Ok((usize::try_from(total).unwrap_or(0), page))
    }

    /// Provider keys that list a patient of one of `practices`, whoever owns them (an owner who left the
    /// practice included).
    pub fn provider_credentials_listing(&self, practices: &[PracticeId]) -> Result<Vec<CredentialRecord>> {
        let sql = format!(
            "SELECT {CRED_COLUMNS} FROM credentials WHERE deleted_at IS NULL AND kind = 'provider'
             AND id IN (SELECT cp.credential_id FROM credential_patients cp JOIN patient_practices pp
                        ON pp.patient_id = cp.patient_id WHERE pp.practice_id IN ({}))
             ORDER BY created_at DESC, id",
            placeholders(practices.len())
        );
        self.credentials_query(&sql, practices.iter().map(|p| p.0.into()).collect())
    }

    fn credentials_query(&self, sql: &str, args: Vec<rusqlite::types::Value>) -> Result<Vec<CredentialRecord>> {
        let mut st = self.conn.prepare_cached(sql).map_err(sqlite)?;
        let rows: Vec<RawCredential> =
            st.query_map(params_from_iter(args), raw).map_err(sqlite)?.collect::<std::result::Result<_, _>>().map_err(sqlite)?;
        rows.into_iter().map(|r| self.hydrate(r)).collect()
    }

    fn hydrate(&self, r: RawCredential) -> Result<CredentialRecord> {
        let (
            id,
            kind,
            owner,
            name,
            note,
            client_id,
            digest,
            hint,
            prev,
            prev_until,
            from,
            to,
            active,
            created,
            created_by,
            updated,
            deleted,
            secret_generation,
            app_id,
            scope,
            practice,
        ) = r;
        let corrupt = |what: &str| StoreError::Corrupt(format!("credential {id}: {what}"));
        let kind = CredentialKind::parse(&kind).ok_or_else(|| corrupt("kind"))?;
        let secret_digest = Digest::from_slice(&digest).ok_or_else(|| corrupt("digest"))?;
        let previous = match (prev, prev_until) {
            (Some(d), Some(until)) => {
                Some((Digest::from_slice(&d).ok_or_else(|| corrupt("previous digest"))?, parse_ts(&until)?))
            }
            _ => None,
        };
        let mut st = self
            .conn
            .prepare_cached("SELECT patient_id FROM credential_patients WHERE credential_id = ? ORDER BY patient_id")
            .map_err(sqlite)?;
        let patients = st
            .query_map([&id], |r| r.get(0).map(PatientId))
            .map_err(sqlite)?
            .collect::<std::result::Result<_, _>>()
            .map_err(sqlite)?;
        Ok(CredentialRecord {
            kind,
            owner: UserId(owner),
            name,
            note,
            client_id,
            secret_digest,
            secret_hint: hint,
            previous,
            secret_generation,
            window: ValidityWindow { from: parse_opt_ts(from)?, to: parse_opt_ts(to)? },
            active: active != 0,
            created_at: parse_ts(&created)?,
            created_by: UserId(created_by),
            updated_at: parse_ts(&updated)?,
            deleted_at: parse_opt_ts(deleted)?,
            patients,
            app_id,
            scope,
            practice: practice.map(PracticeId),
            id,
        })
    }

    /// What effective access needs: the record's state and, per chosen patient, that patient's practices.
    pub fn credential_facts(&self, c: &CredentialRecord) -> Result<CredentialFacts> {
        let patients = c.patients.iter().map(|p| Ok((p.clone(), self.patient_practices(p)?))).collect::<Result<Vec<_>>>()?;
        let app = match &c.app_id {
            Some(app_id) => Some(self.app_facts(app_id, c)?),
            None => None,
        };
        Ok(CredentialFacts { kind: c.kind, active: c.active, deleted: c.deleted_at.is_some(), window: c.window, patients, app })
    }

    pub fn update_credential(&mut self, id: &str, change: &CredentialChange, now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        let exists = tx
            .prepare_cached("SELECT 1 FROM credentials WHERE id = ? AND deleted_at IS NULL")
            .map_err(sqlite)?
            .query_row([id], |_| Ok(()))
            .optional()
            .map_err(sqlite)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        if let Some(name) = &change.name {
            tx.prepare_cached("UPDATE credentials SET name = ?, name_key = ? WHERE id = ?")
                .map_err(sqlite)?
                .execute(params![name, name_key(name), id])
                .map_err(|e| unique_violation(e, "you already have a credential with this name"))?;
        }
        if let Some(note) = &change.note {
            tx.prepare_cached("UPDATE credentials SET note = ? WHERE id = ?")
                .map_err(sqlite)?
                .execute(params![note, id])
                .map_err(sqlite)?;
        }
        if let Some(w) = &change.window {
            tx.prepare_cached("UPDATE credentials SET valid_from = ?, valid_to = ? WHERE id = ?")
                .map_err(sqlite)?
                .execute(params![w.from.map(ts), w.to.map(ts), id])
                .map_err(sqlite)?;
        }
        if let Some(active) = change.active {
            tx.prepare_cached("UPDATE credentials SET active = ? WHERE id = ?")
                .map_err(sqlite)?
                .execute(params![active, id])
                .map_err(sqlite)?;
        }
        if let Some(patients) = &change.patients {
            tx.prepare_cached("DELETE FROM credential_patients WHERE credential_id = ?")
                .map_err(sqlite)?
                .execute([id])
                .map_err(sqlite)?;
            for p in patients {
                tx.prepare_cached("INSERT OR IGNORE INTO credential_patients(credential_id, patient_id) VALUES (?, ?)")
                    .map_err(sqlite)?
                    .execute(params![id, p.as_str()])
                    .map_err(sqlite)?;
            }
        }
        tx.prepare_cached("UPDATE credentials SET updated_at = ? WHERE id = ?")
            .map_err(sqlite)?
            .execute(params![ts(now), id])
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    /// Installs a new secret, the next secret generation. With a grace period the old one keeps working
    /// until `grace_until` (and so do the tokens it minted, which stop then); without one, the old secret
    /// and every token issued so far die now. Returns the number of tokens revoked.
    pub fn replace_secret(
        &mut self,
        id: &str,
        digest: Digest,
        hint: &str,
        grace_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        let n = tx
            .prepare_cached(
                "UPDATE credentials SET previous_digest = CASE WHEN ?1 IS NULL THEN NULL ELSE secret_digest END,
             previous_valid_until = ?1, secret_digest = ?2, secret_hint = ?3, updated_at = ?4,
             secret_generation = secret_generation + 1
             WHERE id = ?5 AND deleted_at IS NULL",
            )
            .map_err(sqlite)?
            .execute(params![grace_until.map(ts), &digest.0[..], hint, ts(now), id])
            .map_err(sqlite)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let revoked = match grace_until {
            Some(_) => 0,
            None => tx
                .prepare_cached("UPDATE access_tokens SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL")
                .map_err(sqlite)?
                .execute(params![ts(now), id])
                .map_err(sqlite)?,
        };
        tx.commit().map_err(sqlite)?;
        Ok(revoked)
    }

    /// Soft-deletes (history and audit stay) and revokes every token. Returns the tokens revoked, or `None`
    /// when the credential was already gone, so deleting twice is harmless.
    pub fn delete_credential(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>> {
        let tx = self.conn.savepoint().map_err(sqlite)?;
        let n = tx
            .prepare_cached("UPDATE credentials SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), ts(now), id])
            .map_err(sqlite)?;
        if n == 0 {
            return Ok(None);
        }
        let revoked = tx
            .prepare_cached("UPDATE access_tokens SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), id])
            .map_err(sqlite)?;
        // A grant's refresh tokens and unexchanged codes die with it.
        tx.prepare_cached("UPDATE refresh_tokens SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), id])
            .map_err(sqlite)?;
        tx.prepare_cached("UPDATE auth_codes SET used_at = ? WHERE credential_id = ? AND used_at IS NULL")
            .map_err(sqlite)?
            .execute(params![ts(now), id])
            .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        Ok(Some(revoked))
    }

    pub fn insert_token(&mut self, t: &TokenRecord) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO access_tokens(digest, credential_id, scope, patient_id, issued_at, expires_at, secret_generation)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(sqlite)?
            .execute(params![
                &t.digest.0[..],
                t.credential_id,
                t.scope,
                t.patient.as_ref().map(PatientId::as_str),
                ts(t.issued_at),
                ts(t.expires_at),
                t.secret_generation
            ])
            .map_err(sqlite)?;
        Ok(())
    }

    pub fn live_token_count(&self, credential_id: &str, oldest_generation: i64, now: DateTime<Utc>) -> Result<i64> {
        self.conn
            .prepare_cached(
                "SELECT count(*) FROM access_tokens WHERE credential_id = ? AND revoked_at IS NULL AND expires_at > ?
                 AND secret_generation >= ?",
            )
            .map_err(sqlite)?
            .query_row(params![credential_id, ts(now), oldest_generation], |r| r.get(0))
            .map_err(sqlite)
    }

    pub fn token(&self, digest: &Digest) -> Result<Option<TokenRecord>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT credential_id, scope, patient_id, issued_at, expires_at, revoked_at, secret_generation
                 FROM access_tokens WHERE digest = ?",
            )
            .map_err(sqlite)?
            .query_row([&digest.0[..]], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .optional()
            .map_err(sqlite)?;
        row.map(|(credential_id, scope, patient, issued, expires, revoked, secret_generation)| {
            Ok(TokenRecord {
                digest: *digest,
                credential_id,
                scope,
                patient: patient.map(PatientId),
                issued_at: parse_ts(&issued)?,
                expires_at: parse_ts(&expires)?,
                revoked_at: parse_opt_ts(revoked)?,
                secret_generation,
            })
        })
        .transpose()
    }

    /// Gives credentials stored before names were compared case-folded their folded key (run on open, after
    /// the migrations; a no-op once every row has one). Two live names of one owner that fold alike were
    /// allowed back then; the later one's key is made unique with its id (U+001F cannot occur in a name),
    /// so both stay, and the next rename of it is checked like any other.
    pub(crate) fn fill_name_keys(&mut self) -> Result<()> {
        let rows: Vec<(String, i64, String, bool)> = {
            let mut st = self.conn.prepare_cached(
                "SELECT id, owner_id, name, deleted_at IS NULL FROM credentials WHERE name_key IS NULL ORDER BY created_at, id",
            ).map_err(sqlite)?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(sqlite)?;
            rows.collect::<std::result::Result<_, _>>().map_err(sqlite)?
        };
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.savepoint().map_err(sqlite)?;
        for (id, owner, name, live) in rows {
            let key = name_key(&name);
            let taken = live
                && tx
                    .query_row(
                        "SELECT 1 FROM credentials WHERE owner_id = ? AND name_key = ? AND deleted_at IS NULL",
                        params![owner, key],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(sqlite)?
                    .is_some();
            let key = if taken { format!("{key}\u{1f}{id}") } else { key };
            tx.prepare_cached("UPDATE credentials SET name_key = ? WHERE id = ?")
                .map_err(sqlite)?
                .execute(params![key, id])
                .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    /// Revokes one token if it belongs to `credential_id`; true when something changed.
    pub fn revoke_token(&mut self, digest: &Digest, credential_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE access_tokens SET revoked_at = ? WHERE digest = ? AND credential_id = ? AND revoked_at IS NULL",
            )
            .map_err(sqlite)?
            .execute(params![ts(now), &digest.0[..], credential_id])
            .map_err(sqlite)?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NewUser;
    use portico_domain::Role;

    fn store_with_owner() -> (Store, UserId) {
        let mut store = Store::open_in_memory().unwrap();
        let owner = store
            .create_user(
                &NewUser {
                    username: "owner",
                    display_name: "Owner",
                    password_hash: "x",
                    roles: &[Role::Patient],
                    practices: &[],
                    patient: None,
                },
                Utc::now(),
            )
            .unwrap();
        (store, owner)
    }

    fn add(store: &mut Store, owner: UserId, id: &str, name: &str) -> Result<()> {
        store.insert_credential(
            &NewCredential {
                id,
                kind: CredentialKind::PatientApp,
                owner,
                name,
                note: None,
                client_id: &format!("client-{id}"),
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
    }

    fn keys(store: &Store) -> Vec<(String, Option<String>)> {
        let mut st = store.conn.prepare("SELECT id, name_key FROM credentials ORDER BY id").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<std::result::Result<_, _>>().unwrap()
    }

    /// Rows from before the key existed get one on open; two names that fold alike (allowed then) both stay.
    #[test]
    fn old_rows_get_their_keys() {
        let (mut store, owner) = store_with_owner();
        add(&mut store, owner, "a", "Dup Name").unwrap();
        add(&mut store, owner, "b", "Other").unwrap();
        store.conn.execute_batch("UPDATE credentials SET name_key = NULL").unwrap();
        store.conn.execute("UPDATE credentials SET name = 'dup name' WHERE id = 'b'", []).unwrap();
        store.fill_name_keys().unwrap();
        assert_eq!(
            keys(&store),
            vec![("a".to_owned(), Some("dup name".to_owned())), ("b".to_owned(), Some("dup name\u{1f}b".to_owned()))]
        );
        assert!(matches!(add(&mut store, owner, "c", "DUP NAME"), Err(StoreError::Conflict(_))));
    }
}

#[cfg(test)]
mod upgrade_tests {
    use rusqlite::Connection;

    use crate::{Store, MIGRATIONS};

    /// A database from before secret generations and name keys: a credential in a grace period keeps its
    /// tokens only as the previous secret's, and two names that fold alike both survive the upgrade.
    #[test]
    fn a_version_2_database_upgrades() {
        let dir = std::env::temp_dir().join(format!("portico-upgrade-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v2.db");
        let _ = std::fs::remove_file(&path);
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..2] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "PRAGMA user_version = 2;
                 INSERT INTO users(id, username, display_name, password_hash, created_at) VALUES (1, 'u', 'U', 'x', '2026-01-01T00:00:00.000Z');
                 INSERT INTO credentials(id, kind, owner_id, name, client_id, secret_digest, secret_hint, previous_digest,
                   previous_valid_until, active, created_at, created_by, updated_at)
                 VALUES ('graced', 'patient_app', 1, 'Dup Name', 'c1', x'00', 'h', x'01', '2030-01-01T00:00:00.000Z', 1,
                   '2026-01-01T00:00:00.000Z', 1, '2026-01-01T00:00:00.000Z'),
                        ('plain', 'patient_app', 1, 'dup name', 'c2', x'00', 'h', NULL, NULL, 1,
                   '2026-01-02T00:00:00.000Z', 1, '2026-01-02T00:00:00.000Z');
                 INSERT INTO access_tokens(digest, credential_id, scope, issued_at, expires_at)
                 VALUES (x'aa', 'graced', 'patient/*.rs', '2026-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let generations: Vec<(String, i64, String)> = {
            let mut st = store.conn.prepare("SELECT id, secret_generation, name_key FROM credentials ORDER BY id").unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().collect::<Result<_, _>>().unwrap()
        };
        assert_eq!(
            generations,
            vec![("graced".to_owned(), 1, "dup name".to_owned()), ("plain".to_owned(), 0, "dup name\u{1f}plain".to_owned())]
        );
        let token: i64 = store.conn.query_row("SELECT secret_generation FROM access_tokens", [], |r| r.get(0)).unwrap();
        assert_eq!(token, 0, "an old token counts as the previous secret's");
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
