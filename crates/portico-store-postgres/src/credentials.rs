//! Credentials, their patient lists, and the access tokens issued to them (SQLite: `credentials.rs`).
//!
//! Concurrency (several servers, two writer threads each, READ COMMITTED): every change that must happen
//! once is one conditional statement whose row count says whether this caller did it (`... WHERE deleted_at
//! IS NULL`, `... WHERE revoked_at IS NULL`): a second writer blocks on the row, re-reads it once the first
//! commits, and finds nothing left to do. A token minted beside a concurrent secret replacement needs no
//! lock: it carries the generation of the secret that minted it, and a token whose generation is no longer
//! backed by a live secret is refused wherever tokens are honoured or counted, whichever commits first; one
//! minted beside a deletion belongs to a deleted credential, which nothing honours either. (Locking the
//! credential row for every token would make token issue wait on, and deadlock with, key management.)

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portico_domain::{
    name_key, AppFacts, CredentialFacts, CredentialKind, Digest, PatientId, PracticeId, RequestedScopes, UserId, ValidityWindow,
};
use portico_fhir::search::fold;
use portico_store::{
    CredentialChange, CredentialRecord, NewCredential, Result, StaffKeyListing, StaffKeySort, StoreError, TokenRecord,
};
use tokio_postgres::Row;

use crate::{col, nul_free, parse_opt_ts, parse_ts, ts, unique_violation, Param, PgStore};

/// The columns [`hydrate`] reads, in its order, over the table aliased `c`.
const CRED_COLUMNS: &str = "c.id, c.kind, c.owner_id, c.name, c.note, c.client_id, c.secret_digest, c.secret_hint,
    c.previous_digest, c.previous_valid_until, c.valid_from, c.valid_to, c.active, c.created_at, c.created_by,
    c.updated_at, c.deleted_at, c.secret_generation, c.app_id, c.scope, c.practice_id";

/// When a credential was last used, as `last_used` has it, as an SQL expression over `c` (for sorting): the
/// newest successful token or read in the log (its index read backwards, stopping at the first match) or in
/// the daily roll-up; NULL when never. Instants compare as text, byte by byte (`COLLATE "C"`), as in SQLite.
const LAST_USED_SQL: &str = "nullif(greatest(
    coalesce((SELECT a.at FROM audit a WHERE a.credential_id = c.id AND a.outcome = 'ok'
              AND a.kind IN ('token_issued', 'fhir_access') ORDER BY a.seq DESC LIMIT 1), '') COLLATE \"C\",
    coalesce((SELECT max(d.last_at COLLATE \"C\") FROM audit_daily d
              WHERE d.credential_id = c.id AND d.kind = 'fhir_access'), '') COLLATE \"C\"), '')";

const CONFLICTING_NAME: &str = "you already have a credential with this name";

impl PgStore {
    pub fn insert_credential(&mut self, c: &NewCredential<'_>, now: DateTime<Utc>) -> Result<()> {
        // A grant is named after its app and never collides with the owner's own credentials (U+001F cannot
        // occur in a name).
        let key = match c.grant {
            Some(_) => format!("\u{1f}grant:{}", c.id),
            None => name_key(c.name),
        };
        // Two servers creating the same name at once: the second waits on the first's index entry and, once
        // it commits, is refused by the unique index like any later attempt.
        self.execute(
            "INSERT INTO credentials(id, kind, owner_id, name, note, client_id, secret_digest, secret_hint, valid_from,
                 valid_to, active, created_at, created_by, updated_at, secret_generation, app_id, scope, practice_id,
                 name_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12, 0, $14, $15, $16, $17)",
            &[
                &c.id,
                &c.kind.as_str(),
                &c.owner.0,
                &c.name,
                &c.note,
                &c.client_id,
                &&c.secret_digest.0[..],
                &c.secret_hint,
                &c.window.from.map(ts),
                &c.window.to.map(ts),
                &c.active,
                &ts(now),
                &c.created_by.0,
                &c.grant.map(|g| g.app_id),
                &c.grant.map(|g| g.scope),
                &c.grant.and_then(|g| g.practice).map(|p| p.0),
                &key,
            ],
        )
        .map_err(|e| unique_violation(e, CONFLICTING_NAME))?;
        self.insert_patients(c.id, c.patients)
    }

    fn insert_patients(&self, id: &str, patients: &[PatientId]) -> Result<()> {
        if patients.is_empty() {
            return Ok(());
        }
        let patients: Vec<&str> = patients.iter().map(PatientId::as_str).collect();
        self.execute(
            "INSERT INTO credential_patients(credential_id, patient_id) SELECT $1, p FROM unnest($2::text[]) AS p
             ON CONFLICT DO NOTHING",
            &[&id, &patients],
        )?;
        Ok(())
    }

    pub fn credential(&self, id: &str) -> Result<Option<CredentialRecord>> {
        self.credential_where("c.id = $1", &nul_free(id))
    }

    pub fn credential_by_client_id(&self, client_id: &str) -> Result<Option<CredentialRecord>> {
        self.credential_where("c.client_id = $1", &nul_free(client_id))
    }

    fn credential_where(&self, cond: &str, arg: &str) -> Result<Option<CredentialRecord>> {
        let rows = self.query(&format!("SELECT {CRED_COLUMNS} FROM credentials c WHERE {cond}"), &[&arg])?;
        Ok(self.hydrate(&rows)?.pop())
    }

    /// The owner's credentials that still exist, newest first.
    pub fn credentials_of(&self, owner: UserId) -> Result<Vec<CredentialRecord>> {
        let rows = self.query(
            &format!(
                "SELECT {CRED_COLUMNS} FROM credentials c WHERE c.owner_id = $1 AND c.deleted_at IS NULL
                 ORDER BY c.created_at COLLATE \"C\" DESC, c.id COLLATE \"C\""
            ),
            &[&owner.0],
        )?;
        self.hydrate(&rows)
    }

    /// The owner's deleted credentials, most recently deleted first (for revocation receipts).
    pub fn deleted_credentials_of(&self, owner: UserId, limit: usize) -> Result<Vec<CredentialRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(
            &format!(
                "SELECT {CRED_COLUMNS} FROM credentials c WHERE c.owner_id = $1 AND c.deleted_at IS NOT NULL
                 ORDER BY c.deleted_at COLLATE \"C\" DESC, c.id COLLATE \"C\" LIMIT $2"
            ),
            &[&owner.0, &limit],
        )?;
        self.hydrate(&rows)
    }

    /// Staff keys (developer and provider) whose owners belong to any of `practices`.
    pub fn staff_credentials(&self, practices: &[PracticeId]) -> Result<Vec<CredentialRecord>> {
        let practices: Vec<i64> = practices.iter().map(|p| p.0).collect();
        let rows = self.query(
            &format!(
                "SELECT {CRED_COLUMNS} FROM credentials c WHERE c.deleted_at IS NULL AND c.kind IN ('developer', 'provider')
                 AND c.owner_id IN (SELECT user_id FROM memberships WHERE practice_id = ANY($1))
                 ORDER BY c.created_at COLLATE \"C\" DESC, c.id COLLATE \"C\""
            ),
            &[&practices],
        )?;
        self.hydrate(&rows)
    }

    /// One page of the live staff keys (developer and provider) whose owners belong to one of
    /// `listing.visible_to`, and how many match in all: one statement counts, one pages (ORDER BY … LIMIT),
    /// both on the reader's one snapshot. Ties are broken by id, in the same direction, so pages never overlap.
    pub fn staff_credentials_page(&self, listing: &StaffKeyListing<'_>) -> Result<(usize, Vec<CredentialRecord>)> {
        let visible: Vec<i64> = listing.visible_to.iter().map(|p| p.0).collect();
        let mut cond = String::from(
            "c.deleted_at IS NULL AND c.kind IN ('developer', 'provider')
             AND c.owner_id IN (SELECT user_id FROM memberships WHERE practice_id = ANY($1))",
        );
        let mut args: Vec<Param<'_>> = vec![&visible];
        let search = listing.search.map(str::trim).filter(|q| !q.is_empty()).map(|q| (name_key(q), fold(q)));
        if let Some((key, folded)) = &search {
            // strpos, not LIKE: the needle's % and _ are plain characters. Key names are compared as their
            // uniqueness key folds them; owners' names as the users table folds them.
            args.push(key);
            args.push(folded);
            let (k, f) = (args.len() - 1, args.len());
            cond.push_str(&format!(
                " AND (strpos(c.name_key, ${k}) > 0 OR strpos(o.name_fold, ${f}) > 0 OR strpos(o.username, ${f}) > 0)"
            ));
        }
        let kind = listing.kind.map(CredentialKind::as_str);
        if let Some(kind) = &kind {
            args.push(kind);
            cond.push_str(&format!(" AND c.kind = ${}", args.len()));
        }
        let practice = listing.practice.map(|p| p.0);
        if let Some(p) = &practice {
            args.push(p);
            cond.push_str(&format!(" AND c.owner_id IN (SELECT user_id FROM memberships WHERE practice_id = ${})", args.len()));
        }
        let from = "credentials c JOIN users o ON o.id = c.owner_id";
        let total: i64 = col(&self.query_one(&format!("SELECT count(*) FROM {from} WHERE {cond}"), &args)?, 0)?;
        let dir = if listing.descending { "DESC" } else { "ASC" };
        // SQLite sorts NULL first ascending and last descending (a never-used key is the oldest) and compares
        // text byte by byte: say both.
        let nulls = if listing.descending { "NULLS LAST" } else { "NULLS FIRST" };
        let key = match listing.sort {
            StaffKeySort::Name => format!("c.name_key COLLATE \"C\" {dir}"),
            StaffKeySort::Owner => format!("o.name_fold COLLATE \"C\" {dir} {nulls}, o.username COLLATE \"C\" {dir}"),
            StaffKeySort::Created => format!("c.created_at COLLATE \"C\" {dir}"),
            StaffKeySort::LastUsed => format!("{LAST_USED_SQL} {dir} {nulls}"),
            // No end date is the furthest end of all.
            StaffKeySort::ValidTo => {
                format!("c.valid_to COLLATE \"C\" {dir} NULLS {}", if listing.descending { "FIRST" } else { "LAST" })
            }
        };
        let limit = i64::try_from(listing.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(listing.offset).unwrap_or(i64::MAX);
        args.push(&limit);
        args.push(&offset);
        let sql = format!(
            "SELECT {CRED_COLUMNS} FROM {from} WHERE {cond} ORDER BY {key}, c.id COLLATE \"C\" {dir} LIMIT ${} OFFSET ${}",
            args.len() - 1,
            args.len()
        );
        let page = self.hydrate(&self.query(&sql, &args)?)?;
        Ok((usize::try_from(total).unwrap_or(0), page))
    }

    /// Provider keys that list a patient of one of `practices`, whoever owns them (an owner who left the
    /// practice included).
    pub fn provider_credentials_listing(&self, practices: &[PracticeId]) -> Result<Vec<CredentialRecord>> {
        let practices: Vec<i64> = practices.iter().map(|p| p.0).collect();
        let rows = self.query(
            &format!(
                "SELECT {CRED_COLUMNS} FROM credentials c WHERE c.deleted_at IS NULL AND c.kind = 'provider'
                 AND c.id IN (SELECT cp.credential_id FROM credential_patients cp JOIN patient_practices pp
                              ON pp.patient_id = cp.patient_id WHERE pp.practice_id = ANY($1))
                 ORDER BY c.created_at COLLATE \"C\" DESC, c.id COLLATE \"C\""
            ),
            &[&practices],
        )?;
        self.hydrate(&rows)
    }

    /// Records from rows of [`CRED_COLUMNS`], with their patient lists read in one statement for them all.
    fn hydrate(&self, rows: &[Row]) -> Result<Vec<CredentialRecord>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids = rows.iter().map(|r| col::<String>(r, 0)).collect::<Result<Vec<_>>>()?;
        let mut patients: HashMap<String, Vec<PatientId>> = HashMap::new();
        for r in self.query(
            "SELECT credential_id, patient_id FROM credential_patients WHERE credential_id = ANY($1)
             ORDER BY patient_id COLLATE \"C\"",
            &[&ids],
        )? {
            patients.entry(col(&r, 0)?).or_default().push(PatientId(col(&r, 1)?));
        }
        rows.iter().map(|r| hydrate(r, &mut patients)).collect()
    }

    /// What effective access needs: the record's state and, per chosen patient, that patient's practices.
    pub fn credential_facts(&self, c: &CredentialRecord) -> Result<CredentialFacts> {
        // One statement for the whole list (a provider key may list a thousand patients, and this runs on
        // every token request), answered as `patient_practices` would answer each.
        let mut practices: HashMap<String, Vec<PracticeId>> = HashMap::new();
        if !c.patients.is_empty() {
            let ids: Vec<&str> = c.patients.iter().map(PatientId::as_str).collect();
            for r in self.query(
                "SELECT patient_id, practice_id FROM patient_practices WHERE patient_id = ANY($1) ORDER BY practice_id",
                &[&ids],
            )? {
                practices.entry(col(&r, 0)?).or_default().push(PracticeId(col(&r, 1)?));
            }
        }
        let patients = c.patients.iter().map(|p| (p.clone(), practices.get(p.as_str()).cloned().unwrap_or_default())).collect();
        let app = match &c.app_id {
            Some(app_id) => Some(self.grant_app_facts(app_id, c)?),
            None => None,
        };
        Ok(CredentialFacts { kind: c.kind, active: c.active, deleted: c.deleted_at.is_some(), window: c.window, patients, app })
    }

    /// What effective access needs of a grant's app (SQLite: `app_facts`): whether it is usable now, who
    /// approves it, and the grant's resource scopes; an app that is gone is nothing.
    fn grant_app_facts(&self, app_id: &str, grant: &CredentialRecord) -> Result<AppFacts> {
        let Some(app) = self.app(app_id)? else {
            return Ok(AppFacts::default());
        };
        let scope_text = match grant.kind {
            CredentialKind::BackendApp => app.scopes.clone(),
            _ => grant.scope.clone().unwrap_or_default(),
        };
        // The grant's text also holds `openid`, `offline_access` and the like; access needs its resource scopes.
        let scope = RequestedScopes::parse(&scope_text).resources;
        Ok(AppFacts { active: app.usable(), approved: self.approved_practices(app_id)?, scope, practice: grant.practice })
    }

    /// One statement changes the row (and so locks it until commit): a concurrent delete either went first
    /// (then nothing matches: `NotFound`) or waits; concurrent patient-list replacements queue behind it.
    pub fn update_credential(&mut self, id: &str, change: &CredentialChange, now: DateTime<Utc>) -> Result<()> {
        let key = change.name.as_deref().map(name_key);
        let note = change.note.as_ref().map(|n| n.as_deref());
        let window = change.window.map(|w| (w.from.map(ts), w.to.map(ts)));
        let n = self
            .execute(
                "UPDATE credentials SET
                     name = CASE WHEN $2 THEN $3 ELSE name END,
                     name_key = CASE WHEN $2 THEN $4 ELSE name_key END,
                     note = CASE WHEN $5 THEN $6 ELSE note END,
                     valid_from = CASE WHEN $7 THEN $8 ELSE valid_from END,
                     valid_to = CASE WHEN $7 THEN $9 ELSE valid_to END,
                     active = coalesce($10, active),
                     updated_at = $11
                 WHERE id = $1 AND deleted_at IS NULL",
                &[
                    &id,
                    &change.name.is_some(),
                    &change.name,
                    &key,
                    &note.is_some(),
                    &note.flatten(),
                    &window.is_some(),
                    &window.as_ref().and_then(|w| w.0.clone()),
                    &window.as_ref().and_then(|w| w.1.clone()),
                    &change.active,
                    &ts(now),
                ],
            )
            .map_err(|e| unique_violation(e, CONFLICTING_NAME))?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        if let Some(patients) = &change.patients {
            self.execute("DELETE FROM credential_patients WHERE credential_id = $1", &[&id])?;
            self.insert_patients(id, patients)?;
        }
        Ok(())
    }

    /// Installs a new secret, the next secret generation. With a grace period the old one keeps working
    /// until `grace_until` (and so do the tokens it minted, which stop then); without one, the old secret
    /// and every token issued so far die now. Returns the number of tokens revoked.
    ///
    /// Two replacements at once: the second waits for the first's row lock and then builds on its result
    /// (generation + 2, its secret the previous one). A token committed after the revocation below carries
    /// an older generation, so it is dead all the same.
    pub fn replace_secret(
        &mut self,
        id: &str,
        digest: Digest,
        hint: &str,
        grace_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let n = self.execute(
            "UPDATE credentials SET previous_digest = CASE WHEN $1::text IS NULL THEN NULL ELSE secret_digest END,
                 previous_valid_until = $1, secret_digest = $2, secret_hint = $3, updated_at = $4,
                 secret_generation = secret_generation + 1
             WHERE id = $5 AND deleted_at IS NULL",
            &[&grace_until.map(ts), &&digest.0[..], &hint, &ts(now), &id],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let revoked = match grace_until {
            Some(_) => 0,
            None => self.revoke_tokens_of(id, now)?,
        };
        Ok(usize::try_from(revoked).unwrap_or(usize::MAX))
    }

    fn revoke_tokens_of(&self, id: &str, now: DateTime<Utc>) -> Result<u64> {
        self.execute("UPDATE access_tokens SET revoked_at = $1 WHERE credential_id = $2 AND revoked_at IS NULL", &[&ts(now), &id])
    }

    /// Soft-deletes (history and audit stay) and revokes every token. Returns the tokens revoked, or `None`
    /// when the credential was already gone, so deleting twice is harmless: of two deletes at once, the
    /// second waits for the first's row lock, then finds the row deleted and answers `None`.
    pub fn delete_credential(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>> {
        let n = self.execute(
            "UPDATE credentials SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL",
            &[&ts(now), &id],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let revoked = self.revoke_tokens_of(id, now)?;
        // A grant's refresh tokens and unexchanged codes die with it.
        self.execute(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE credential_id = $2 AND revoked_at IS NULL",
            &[&ts(now), &id],
        )?;
        self.execute("UPDATE auth_codes SET used_at = $1 WHERE credential_id = $2 AND used_at IS NULL", &[&ts(now), &id])?;
        Ok(Some(usize::try_from(revoked).unwrap_or(usize::MAX)))
    }

    pub fn insert_token(&mut self, t: &TokenRecord) -> Result<()> {
        self.execute(
            "INSERT INTO access_tokens(digest, credential_id, scope, patient_id, issued_at, expires_at, secret_generation)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &&t.digest.0[..],
                &t.credential_id,
                &t.scope,
                &t.patient.as_ref().map(PatientId::as_str),
                &ts(t.issued_at),
                &ts(t.expires_at),
                &t.secret_generation,
            ],
        )?;
        Ok(())
    }

    pub fn live_token_count(&self, credential_id: &str, oldest_generation: i64, now: DateTime<Utc>) -> Result<i64> {
        col(
            &self.query_one(
                "SELECT count(*) FROM access_tokens WHERE credential_id = $1 AND revoked_at IS NULL
                 AND expires_at COLLATE \"C\" > $2 AND secret_generation >= $3",
                &[&credential_id, &ts(now), &oldest_generation],
            )?,
            0,
        )
    }

    pub fn token(&self, digest: &Digest) -> Result<Option<TokenRecord>> {
        let Some(r) = self.query_opt(
            "SELECT credential_id, scope, patient_id, issued_at, expires_at, revoked_at, secret_generation
             FROM access_tokens WHERE digest = $1",
            &[&&digest.0[..]],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(TokenRecord {
            digest: *digest,
            credential_id: col(&r, 0)?,
            scope: col(&r, 1)?,
            patient: col::<Option<String>>(&r, 2)?.map(PatientId),
            issued_at: parse_ts(col(&r, 3)?)?,
            expires_at: parse_ts(col(&r, 4)?)?,
            revoked_at: parse_opt_ts(col(&r, 5)?)?,
            secret_generation: col(&r, 6)?,
        }))
    }

    /// Revokes one token if it belongs to `credential_id`; true when something changed (of two revocations
    /// at once, only the first: the second re-reads the row after the first commits and matches nothing).
    pub fn revoke_token(&mut self, digest: &Digest, credential_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let n = self.execute(
            "UPDATE access_tokens SET revoked_at = $1 WHERE digest = $2 AND credential_id = $3 AND revoked_at IS NULL",
            &[&ts(now), &&digest.0[..], &credential_id],
        )?;
        Ok(n > 0)
    }
}

/// One record from a row of [`CRED_COLUMNS`]; its patients are taken from `patients`.
fn hydrate(r: &Row, patients: &mut HashMap<String, Vec<PatientId>>) -> Result<CredentialRecord> {
    let id: String = col(r, 0)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("credential {id}: {what}"));
    let kind: String = col(r, 1)?;
    let kind = CredentialKind::parse(&kind).ok_or_else(|| corrupt("kind"))?;
    let secret_digest = Digest::from_slice(col(r, 6)?).ok_or_else(|| corrupt("digest"))?;
    let previous = match (col::<Option<&[u8]>>(r, 8)?, col::<Option<String>>(r, 9)?) {
        (Some(d), Some(until)) => Some((Digest::from_slice(d).ok_or_else(|| corrupt("previous digest"))?, parse_ts(&until)?)),
        _ => None,
    };
    Ok(CredentialRecord {
        kind,
        owner: UserId(col(r, 2)?),
        name: col(r, 3)?,
        note: col(r, 4)?,
        client_id: col(r, 5)?,
        secret_digest,
        secret_hint: col(r, 7)?,
        previous,
        window: ValidityWindow { from: parse_opt_ts(col(r, 10)?)?, to: parse_opt_ts(col(r, 11)?)? },
        active: col(r, 12)?,
        created_at: parse_ts(col(r, 13)?)?,
        created_by: UserId(col(r, 14)?),
        updated_at: parse_ts(col(r, 15)?)?,
        deleted_at: parse_opt_ts(col(r, 16)?)?,
        secret_generation: col(r, 17)?,
        app_id: col(r, 18)?,
        scope: col(r, 19)?,
        practice: col::<Option<i64>>(r, 20)?.map(PracticeId),
        patients: patients.remove(&id).unwrap_or_default(),
        id,
    })
}
