//! Credentials, their patient lists, and the access tokens issued to them.

use chrono::{DateTime, Utc};
use portico_domain::{CredentialFacts, CredentialKind, Digest, PatientId, PracticeId, UserId, ValidityWindow};
use rusqlite::{params, params_from_iter, OptionalExtension};

use crate::{parse_opt_ts, parse_ts, placeholders, ts, unique_violation, Result, Store, StoreError};

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
    previous_valid_until, valid_from, valid_to, active, created_at, created_by, updated_at, deleted_at, secret_generation";

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
    ))
}

impl Store {
    pub fn insert_credential(&mut self, c: &NewCredential<'_>, now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.savepoint()?;
        tx.execute(
            &format!(
                "INSERT INTO credentials({CRED_COLUMNS})
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, NULL, 0)"
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
            ],
        )
        .map_err(|e| unique_violation(e, "you already have a credential with this name"))?;
        for p in c.patients {
            tx.execute(
                "INSERT OR IGNORE INTO credential_patients(credential_id, patient_id) VALUES (?, ?)",
                params![c.id, p.as_str()],
            )?;
        }
        tx.commit()?;
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
        let row = self.conn.query_row(&sql, [arg], raw).optional()?;
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

    fn credentials_query(&self, sql: &str, args: Vec<rusqlite::types::Value>) -> Result<Vec<CredentialRecord>> {
        let mut st = self.conn.prepare(sql)?;
        let rows: Vec<RawCredential> = st.query_map(params_from_iter(args), raw)?.collect::<std::result::Result<_, _>>()?;
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
        let mut st =
            self.conn.prepare("SELECT patient_id FROM credential_patients WHERE credential_id = ? ORDER BY patient_id")?;
        let patients = st.query_map([&id], |r| r.get(0).map(PatientId))?.collect::<std::result::Result<_, _>>()?;
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
            id,
        })
    }

    /// What effective access needs: the record's state and, per chosen patient, that patient's practices.
    pub fn credential_facts(&self, c: &CredentialRecord) -> Result<CredentialFacts> {
        let patients = c.patients.iter().map(|p| Ok((p.clone(), self.patient_practices(p)?))).collect::<Result<Vec<_>>>()?;
        Ok(CredentialFacts { kind: c.kind, active: c.active, deleted: c.deleted_at.is_some(), window: c.window, patients })
    }

    pub fn update_credential(&mut self, id: &str, change: &CredentialChange, now: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.savepoint()?;
        let exists =
            tx.query_row("SELECT 1 FROM credentials WHERE id = ? AND deleted_at IS NULL", [id], |_| Ok(())).optional()?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        if let Some(name) = &change.name {
            tx.execute("UPDATE credentials SET name = ? WHERE id = ?", params![name, id])
                .map_err(|e| unique_violation(e, "you already have a credential with this name"))?;
        }
        if let Some(note) = &change.note {
            tx.execute("UPDATE credentials SET note = ? WHERE id = ?", params![note, id])?;
        }
        if let Some(w) = &change.window {
            tx.execute(
                "UPDATE credentials SET valid_from = ?, valid_to = ? WHERE id = ?",
                params![w.from.map(ts), w.to.map(ts), id],
            )?;
        }
        if let Some(active) = change.active {
            tx.execute("UPDATE credentials SET active = ? WHERE id = ?", params![active, id])?;
        }
        if let Some(patients) = &change.patients {
            tx.execute("DELETE FROM credential_patients WHERE credential_id = ?", [id])?;
            for p in patients {
                tx.execute(
                    "INSERT OR IGNORE INTO credential_patients(credential_id, patient_id) VALUES (?, ?)",
                    params![id, p.as_str()],
                )?;
            }
        }
        tx.execute("UPDATE credentials SET updated_at = ? WHERE id = ?", params![ts(now), id])?;
        tx.commit()?;
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
        let tx = self.conn.savepoint()?;
        let n = tx.execute(
            "UPDATE credentials SET previous_digest = CASE WHEN ?1 IS NULL THEN NULL ELSE secret_digest END,
             previous_valid_until = ?1, secret_digest = ?2, secret_hint = ?3, updated_at = ?4,
             secret_generation = secret_generation + 1
             WHERE id = ?5 AND deleted_at IS NULL",
            params![grace_until.map(ts), &digest.0[..], hint, ts(now), id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let revoked = match grace_until {
            Some(_) => 0,
            None => tx.execute(
                "UPDATE access_tokens SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL",
                params![ts(now), id],
            )?,
        };
        tx.commit()?;
        Ok(revoked)
    }

    /// Soft-deletes (history and audit stay) and revokes every token. Returns the tokens revoked, or `None`
    /// when the credential was already gone, so deleting twice is harmless.
    pub fn delete_credential(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>> {
        let tx = self.conn.savepoint()?;
        let n = tx.execute(
            "UPDATE credentials SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
            params![ts(now), ts(now), id],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let revoked = tx.execute(
            "UPDATE access_tokens SET revoked_at = ? WHERE credential_id = ? AND revoked_at IS NULL",
            params![ts(now), id],
        )?;
        tx.commit()?;
        Ok(Some(revoked))
    }

    pub fn insert_token(&mut self, t: &TokenRecord) -> Result<()> {
        self.conn.execute(
            "INSERT INTO access_tokens(digest, credential_id, scope, patient_id, issued_at, expires_at, secret_generation)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            params![
                &t.digest.0[..],
                t.credential_id,
                t.scope,
                t.patient.as_ref().map(PatientId::as_str),
                ts(t.issued_at),
                ts(t.expires_at),
                t.secret_generation
            ],
        )?;
        Ok(())
    }

    pub fn token(&self, digest: &Digest) -> Result<Option<TokenRecord>> {
        let row = self
            .conn
            .query_row(
                "SELECT credential_id, scope, patient_id, issued_at, expires_at, revoked_at, secret_generation
                 FROM access_tokens WHERE digest = ?",
                [&digest.0[..]],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                },
            )
            .optional()?;
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

    /// Revokes one token if it belongs to `credential_id`; true when something changed.
    pub fn revoke_token(&mut self, digest: &Digest, credential_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE access_tokens SET revoked_at = ? WHERE digest = ? AND credential_id = ? AND revoked_at IS NULL",
            params![ts(now), &digest.0[..], credential_id],
        )?;
        Ok(n > 0)
    }
}
