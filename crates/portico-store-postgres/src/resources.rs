//! FHIR resources: import (bulk, by `COPY`), read, versioned writes (each keeping the search index and the
//! patient directory in step), and the compartment of `$everything` (SQLite: `resources.rs`).
//!
//! Several servers may write the same resource at once. A write locks the resource's row
//! (`SELECT ... FOR UPDATE`) before it decides the next version, so two writers from the same version are
//! serialized: the second sees the first's version (a `VersionConflict` when it gave `if_match`, the next
//! version otherwise). A resource that does not exist yet has no row to lock: it is created with
//! `INSERT ... ON CONFLICT DO NOTHING`, and a writer that loses that race locks the winner's row and goes on
//! as an update.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portico_domain::{PatientId, PatientScope, PracticeId};
use portico_fhir::import::PreparedResource;
use portico_store::portable::{content, stamp};
use portico_store::{ImportSummary, Result, StoreError, StoredResource, WriteOutcome};
use serde_json::Value;
use tokio_postgres::Row;

use crate::directory::{clear_directory, write_directory, DirectoryCopy};
use crate::search::{clear_index, write_index, IndexCopy};
use crate::{col, copy_text, nul_free, ts, PgStore};

/// The columns of a [`StoredResource`], in [`resource_at`]'s order.
pub(crate) const COLUMNS: &str = "type, id, version, last_updated, deleted, patient_id, json";

/// How many resources an import locks, stages and loads per round: large enough that a million resources
/// take a few hundred rounds, small enough that one round's `COPY` payloads stay a few tens of megabytes.
const IMPORT_CHUNK: usize = 5000;

/// An import that writes at least this many resources, and a fifth or more of what the table held, refreshes
/// the planner's statistics before it commits (see [`PgStore::analyze_after_load`]).
const ANALYZE_MIN: usize = 1000;

/// A writer that finds its new resource created by another server retries this many times (once is
/// enough: the next attempt finds the committed row and locks it) before it answers `Busy`.
const CREATE_ATTEMPTS: usize = 3;

/// [`COLUMNS`] prefixed with a table alias.
pub(crate) fn columns(alias: &str) -> String {
    COLUMNS.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

/// The [`COLUMNS`] starting at column `base`.
pub(crate) fn resource_at(r: &Row, base: usize) -> Result<StoredResource> {
    Ok(StoredResource {
        resource_type: col(r, base)?,
        id: col(r, base + 1)?,
        version: col(r, base + 2)?,
        last_updated: col(r, base + 3)?,
        deleted: col(r, base + 4)?,
        patient: col::<Option<String>>(r, base + 5)?.map(PatientId),
        json: col(r, base + 6)?,
    })
}

fn check_if_match(current: Option<(i64, bool)>, if_match: Option<i64>) -> Result<()> {
    match (if_match, current) {
        (Some(expected), Some((v, false))) if expected != v => Err(StoreError::VersionConflict { current: v }),
        (Some(_), None | Some((_, true))) => Err(StoreError::VersionConflict { current: 0 }),
        _ => Ok(()),
    }
}

/// The resource its index and directory entries are made from: itself, or, when a string of it holds a NUL
/// (serde_json writes one as `\u0000`), a copy with each made storable by [`nul_free`].
fn indexable<'a>(resource: &'a Value, json: &str) -> Cow<'a, Value> {
    fn walk(v: &mut Value) {
        match v {
            Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Object(fields) => fields.values_mut().for_each(walk),
            _ => {}
        }
    }
    if !json.contains("\\u0000") {
        return Cow::Borrowed(resource);
    }
    let mut copy = resource.clone();
    walk(&mut copy);
    Cow::Owned(copy)
}

fn to_json(resource: &Value) -> Result<String> {
    serde_json::to_string(resource).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// One resource an import writes: its row as stored and its stamped JSON (for the index).
struct Staged<'a> {
    source: &'a PreparedResource,
    /// (type, id) as stored (see [`nul_free`]).
    key: (String, String),
    /// The existing row's rid (an update), or `None` (a creation).
    rid: Option<i64>,
    version: i64,
    last_updated: String,
    patient: Option<String>,
    json: String,
    resource: Value,
}

impl PgStore {
    pub fn read_resource(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>> {
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM resources WHERE type = $1 AND id = $2"),
            &[&nul_free(resource_type), &nul_free(id)],
        )?
        .map(|r| resource_at(&r, 0))
        .transpose()
    }

    /// Every live resource in one patient's compartment (for `$everything`), by type and id.
    pub fn compartment(&self, patient: &PatientId) -> Result<Vec<StoredResource>> {
        self.query(
            &format!("SELECT {COLUMNS} FROM resources WHERE patient_id = $1 AND NOT deleted ORDER BY type, id"),
            &[&nul_free(patient.as_str())],
        )?
        .iter()
        .map(|r| resource_at(r, 0))
        .collect()
    }

    pub fn patient_in_scope(&self, patient: &PatientId, scope: &PatientScope) -> Result<bool> {
        Ok(match scope {
            PatientScope::Only(ids) => ids.contains(patient),
            PatientScope::Practices(ps) => {
                let ps: Vec<i64> = ps.iter().map(|p| p.0).collect();
                self.query_opt(
                    "SELECT 1 FROM patient_practices WHERE patient_id = $1 AND practice_id = ANY($2) LIMIT 1",
                    &[&nul_free(patient.as_str()), &ps],
                )?
                .is_some()
            }
        })
    }

    /// How many live resources the store holds, by type.
    pub fn resource_counts(&self) -> Result<Vec<(String, i64)>> {
        self.query("SELECT type, count(*) FROM resources WHERE NOT deleted GROUP BY type ORDER BY type", &[])?
            .iter()
            .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
            .collect()
    }

    pub fn practice_patient_ids(&self, practice: PracticeId) -> Result<Vec<PatientId>> {
        // patient_practices belongs to the accounts schema (default collation): sort as SQLite does.
        self.query(
            "SELECT patient_id FROM patient_practices WHERE practice_id = $1 ORDER BY patient_id COLLATE \"C\"",
            &[&practice.0],
        )?
        .iter()
        .map(|r| col(r, 0).map(PatientId))
        .collect()
    }

    /// Creates or replaces a resource. `if_match` is the version the client last saw (optimistic locking).
    /// `register_in`: a new Patient joins this practice in the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub fn put_resource(
        &mut self,
        resource_type: &str,
        id: &str,
        mut resource: Value,
        patient: Option<&PatientId>,
        register_in: Option<PracticeId>,
        if_match: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<WriteOutcome> {
        let last_updated = ts(now);
        let (resource_type_key, id_key) = (nul_free(resource_type), nul_free(id));
        let patient_id = patient.map(|p| nul_free(p.as_str()));
        let mut written = None;
        for _ in 0..CREATE_ATTEMPTS {
            let current = self.query_opt(
                "SELECT rid, version, deleted FROM resources WHERE type = $1 AND id = $2 FOR UPDATE",
                &[&resource_type_key, &id_key],
            )?;
            if let Some(row) = current {
                let (rid, v, deleted): (i64, i64, bool) = (col(&row, 0)?, col(&row, 1)?, col(&row, 2)?);
                check_if_match(Some((v, deleted)), if_match)?;
                let version = v + 1;
                stamp(&mut resource, version, &last_updated);
                let json = to_json(&resource)?;
                self.execute(
                    "UPDATE resources SET version = $1, last_updated = $2, deleted = false, patient_id = $3, json = $4
                     WHERE rid = $5",
                    &[&version, &last_updated, &patient_id, &json, &rid],
                )?;
                // A deleted resource's entries were removed with it; a live one's are replaced.
                if !deleted {
                    clear_index(self, &[rid])?;
                    if resource_type == "Patient" {
                        clear_directory(self, &[rid])?;
                    }
                }
                written = Some((rid, version, deleted, json));
                break;
            }
            check_if_match(None, if_match)?;
            stamp(&mut resource, 1, &last_updated);
            let json = to_json(&resource)?;
            let inserted = self.query_opt(
                "INSERT INTO resources(type, id, version, last_updated, deleted, patient_id, json)
                 VALUES ($1, $2, 1, $3, false, $4, $5) ON CONFLICT (type, id) DO NOTHING RETURNING rid",
                &[&resource_type_key, &id_key, &last_updated, &patient_id, &json],
            )?;
            if let Some(row) = inserted {
                written = Some((col(&row, 0)?, 1, true, json));
                break;
            }
            // Another server created it after our read and has committed: its row is there to lock now.
        }
        let Some((rid, version, created, json)) = written else { return Err(StoreError::Busy) };
        let indexed = indexable(&resource, &json);
        write_index(self, rid, &resource_type_key, &indexed)?;
        if resource_type == "Patient" {
            write_directory(self, rid, &id_key, &indexed)?;
        }
        if let Some(practice) = register_in {
            self.execute(
                "INSERT INTO patient_practices(patient_id, practice_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&id_key, &practice.0],
            )?;
        }
        let resource = StoredResource {
            resource_type: resource_type.to_owned(),
            id: id.to_owned(),
            version,
            last_updated,
            deleted: false,
            patient: patient.cloned(),
            json,
        };
        Ok(WriteOutcome { resource, created })
    }

    /// Marks a resource deleted (it then answers 410). Deleting what is already gone is a no-op.
    pub fn delete_resource(&mut self, resource_type: &str, id: &str, if_match: Option<i64>, now: DateTime<Utc>) -> Result<()> {
        let Some(row) = self.query_opt(
            "SELECT rid, version, deleted FROM resources WHERE type = $1 AND id = $2 FOR UPDATE",
            &[&nul_free(resource_type), &nul_free(id)],
        )?
        else {
            return Err(StoreError::NotFound);
        };
        let (rid, version, deleted): (i64, i64, bool) = (col(&row, 0)?, col(&row, 1)?, col(&row, 2)?);
        if deleted {
            return Ok(());
        }
        check_if_match(Some((version, deleted)), if_match)?;
        self.execute(
            "UPDATE resources SET deleted = true, version = version + 1, last_updated = $1 WHERE rid = $2",
            &[&ts(now), &rid],
        )?;
        // A deleted resource matches no search.
        clear_index(self, &[rid])?;
        if resource_type == "Patient" {
            clear_directory(self, &[rid])?;
        }
        Ok(())
    }

    /// Stores prepared resources: new ones are created, changed ones get the next version, identical ones
    /// are left alone (so importing twice changes nothing). Within one call the last occurrence of a
    /// (type, id) wins. Resources go in rounds of [`IMPORT_CHUNK`], in (type, id) order, so two servers
    /// importing the same records lock their rows in the same order; each round is a handful of statements
    /// (one lock query, `COPY`s into a staging table and the index tables, two set-wise writes), never one
    /// per resource.
    pub fn import(&mut self, resources: &[PreparedResource], now: DateTime<Utc>) -> Result<ImportSummary> {
        let mut latest: HashMap<(&str, &str), &PreparedResource> = HashMap::new();
        for r in resources {
            latest.insert((r.resource_type.as_str(), r.id.as_str()), r);
        }
        let mut keys: Vec<(&str, &str)> = latest.keys().copied().collect();
        // Rust orders str bytewise, as COLLATE "C" does.
        keys.sort_unstable();
        // A session's own table, created once per connection; each round empties it before it fills it, and
        // the import empties it when done (so its rows never outlive the call, in a transaction or not).
        self.batch(
            "CREATE TEMP TABLE IF NOT EXISTS portico_import_stage (
                 rid BIGINT, type TEXT COLLATE \"C\" NOT NULL, id TEXT COLLATE \"C\" NOT NULL, version BIGINT NOT NULL,
                 last_updated TEXT NOT NULL, patient_id TEXT, json TEXT NOT NULL
             )",
        )?;
        let mut summary = ImportSummary::default();
        for chunk in keys.chunks(IMPORT_CHUNK) {
            let mut pending: Vec<&PreparedResource> = chunk.iter().filter_map(|k| latest.get(k).copied()).collect();
            for _ in 0..CREATE_ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                pending = self.import_round(&pending, now, &mut summary)?;
            }
            if !pending.is_empty() {
                return Err(StoreError::Busy);
            }
        }
        self.execute("DELETE FROM portico_import_stage", &[])?;
        self.analyze_after_load(summary.created + summary.updated)?;
        Ok(summary)
    }

    /// Refreshes the statistics of the resource tables after a load that grew or changed them by a fifth or
    /// more (always after the first large one). Autovacuum would, within a minute or so; until then the
    /// planner takes a table it last saw nearly empty for still nearly empty and may nest loops over the
    /// whole index (seen: a date search of 86,000 fresh resources past the statement timeout, 150 ms once
    /// analyzed). ANALYZE runs inside the transaction and sees its rows; a role that does not own the tables
    /// gets a warning, not an error.
    fn analyze_after_load(&self, written: usize) -> Result<()> {
        if written < ANALYZE_MIN {
            return Ok(());
        }
        let known: f64 =
            col(&self.query_one("SELECT reltuples::float8 FROM pg_class WHERE oid = 'resources'::regclass", &[])?, 0)?;
        // reltuples is -1 for a table never analyzed.
        if known >= 0.0 && (written as f64) < known * 0.2 {
            return Ok(());
        }
        self.batch(
            "ANALYZE resources, search_token, search_date, search_reference, search_string, patient_directory, patient_name_words",
        )
    }

    /// One round of an import: locks the existing rows of `round`, writes what changed, indexes it. Returns
    /// the resources another server created meanwhile (to go round again, now as updates).
    fn import_round<'a>(
        &mut self,
        round: &[&'a PreparedResource],
        now: DateTime<Utc>,
        summary: &mut ImportSummary,
    ) -> Result<Vec<&'a PreparedResource>> {
        let keys: Vec<(String, String)> =
            round.iter().map(|r| (nul_free(&r.resource_type).into_owned(), nul_free(&r.id).into_owned())).collect();
        let types: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        let ids: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
        let rows = self.query(
            "SELECT r.rid, r.type, r.id, r.version, r.json, r.deleted
             FROM resources r JOIN unnest($1::text[], $2::text[]) AS k(type, id) ON r.type = k.type AND r.id = k.id
             ORDER BY r.type, r.id FOR UPDATE OF r",
            &[&types, &ids],
        )?;
        let mut existing: HashMap<(String, String), (i64, i64, String, bool)> = HashMap::with_capacity(rows.len());
        for row in &rows {
            existing.insert((col(row, 1)?, col(row, 2)?), (col(row, 0)?, col(row, 3)?, col(row, 4)?, col(row, 5)?));
        }
        let mut staged = Vec::new();
        for (r, key) in round.iter().zip(keys) {
            let old = existing.get(&key);
            let mut resource = r.resource.clone();
            // Keep the bundle's own versionId/lastUpdated when it has them; otherwise version 1 (or next).
            let given_version = resource["meta"]["versionId"].as_str().and_then(|v| v.parse::<i64>().ok());
            let given_updated = resource["meta"]["lastUpdated"].as_str().map(str::to_owned);
            let (rid, version) = match old {
                Some((rid, v, json, deleted)) => {
                    let old: Value = serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if !deleted && content(&old) == content(&resource) {
                        summary.unchanged += 1;
                        continue;
                    }
                    (Some(*rid), given_version.filter(|g| g > v).unwrap_or(v + 1))
                }
                None => (None, given_version.unwrap_or(1)),
            };
            let last_updated = given_updated.unwrap_or_else(|| ts(now));
            stamp(&mut resource, version, &last_updated);
            staged.push(Staged {
                source: r,
                key,
                rid,
                version,
                last_updated,
                patient: portico_fhir::compartment::patient_of(&r.resource).map(|p| nul_free(&p).into_owned()),
                json: to_json(&resource)?,
                resource,
            });
        }
        if staged.is_empty() {
            return Ok(Vec::new());
        }
        self.execute("DELETE FROM portico_import_stage", &[])?;
        let mut data = String::new();
        for s in &staged {
            match s.rid {
                Some(rid) => data.push_str(&rid.to_string()),
                None => copy_text(&mut data, None),
            }
            for field in [Some(s.key.0.as_str()), Some(s.key.1.as_str())] {
                data.push('\t');
                copy_text(&mut data, field);
            }
            data.push('\t');
            data.push_str(&s.version.to_string());
            for field in [Some(&*nul_free(&s.last_updated)), s.patient.as_deref(), Some(s.json.as_str())] {
                data.push('\t');
                copy_text(&mut data, field);
            }
            data.push('\n');
        }
        self.copy_in(
            "COPY portico_import_stage (rid, type, id, version, last_updated, patient_id, json) FROM STDIN",
            bytes::Bytes::from(data),
        )?;
        // Updates: rows this round holds locked.
        let updated = self.execute(
            "UPDATE resources r SET version = s.version, last_updated = s.last_updated, deleted = false,
                 patient_id = s.patient_id, json = s.json
             FROM portico_import_stage s WHERE s.rid IS NOT NULL AND r.rid = s.rid",
            &[],
        )?;
        // Creations: a (type, id) another server created since the lock query is left for the next round.
        let inserted = self.query(
            "INSERT INTO resources(type, id, version, last_updated, deleted, patient_id, json)
             SELECT type, id, version, last_updated, false, patient_id, json FROM portico_import_stage
             WHERE rid IS NULL ORDER BY type, id
             ON CONFLICT (type, id) DO NOTHING RETURNING rid, type, id",
            &[],
        )?;
        let mut new_rids: HashMap<(String, String), i64> = HashMap::with_capacity(inserted.len());
        for row in &inserted {
            new_rids.insert((col(row, 1)?, col(row, 2)?), col(row, 0)?);
        }
        summary.updated += usize::try_from(updated).unwrap_or(0);
        summary.created += inserted.len();
        let replaced: Vec<i64> = staged.iter().filter_map(|s| s.rid).collect();
        if !replaced.is_empty() {
            clear_index(self, &replaced)?;
            clear_directory(self, &replaced)?;
        }
        let mut index = IndexCopy::default();
        let mut directory = DirectoryCopy::default();
        let mut lost = Vec::new();
        for s in &staged {
            let rid = match s.rid {
                Some(rid) => rid,
                None => match new_rids.get(&s.key) {
                    Some(rid) => *rid,
                    None => {
                        lost.push(s.source);
                        continue;
                    }
                },
            };
            let indexed = indexable(&s.resource, &s.json);
            index.add(rid, &s.key.0, &indexed);
            if s.source.resource_type == "Patient" {
                directory.add(rid, &s.key.1, &indexed);
            }
        }
        index.load(self)?;
        directory.load(self)?;
        Ok(lost)
    }
}
