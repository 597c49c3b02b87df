//! FHIR resources: import, read, versioned writes (each keeping the search index in step), and the
//! compartment of `$everything`. Searches themselves are in `search.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use portico_domain::{PatientId, PatientScope, PracticeId};
use portico_fhir::import::PreparedResource;
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use crate::directory;
use crate::portable::{content, stamp};
use crate::search::{clear_index, write_index};
use crate::{sqlite, ts, Result, Store, StoreError};

#[derive(Clone, Debug)]
pub struct StoredResource {
    pub resource_type: String,
    pub id: String,
    pub version: i64,
    pub last_updated: String,
    pub deleted: bool,
    pub patient: Option<PatientId>,
    /// The resource as served, meta.versionId and meta.lastUpdated included.
    pub json: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Which compartments a query may touch.
#[derive(Clone, Copy, Debug)]
pub enum PatientFilter<'a> {
    /// Shared resources (Organization, Practitioner, …) belong to no patient.
    Shared,
    Scope(&'a PatientScope),
}

#[derive(Clone, Debug)]
pub struct WriteOutcome {
    pub resource: StoredResource,
    pub created: bool,
}

pub(crate) const COLUMNS: &str = "type, id, version, last_updated, deleted, patient_id, json";

pub(crate) fn row_to_resource(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredResource> {
    resource_at(r, 0)
}

/// The [`COLUMNS`] starting at column `base`.
pub(crate) fn resource_at(r: &rusqlite::Row<'_>, base: usize) -> rusqlite::Result<StoredResource> {
    Ok(StoredResource {
        resource_type: r.get(base)?,
        id: r.get(base + 1)?,
        version: r.get(base + 2)?,
        last_updated: r.get(base + 3)?,
        deleted: r.get::<_, i64>(base + 4)? != 0,
        patient: r.get::<_, Option<String>>(base + 5)?.map(PatientId),
        json: r.get(base + 6)?,
    })
}

impl Store {
    /// Stores prepared resources in one transaction: new ones are created, changed ones get the next version,
    /// identical ones are left alone (so importing twice changes nothing). Within one call the last
    /// occurrence of a (type, id) wins, since several bundles may carry the same Organization.
    pub fn import(&mut self, resources: &[PreparedResource], now: DateTime<Utc>) -> Result<ImportSummary> {
        let mut order: Vec<(&str, &str)> = Vec::new();
        let mut latest: HashMap<(&str, &str), &PreparedResource> = HashMap::new();
        for r in resources {
            let key = (r.resource_type.as_str(), r.id.as_str());
            if latest.insert(key, r).is_none() {
                order.push(key);
            }
        }
        let tx = self.conn.savepoint().map_err(sqlite)?;
        let mut summary = ImportSummary::default();
        for key in order {
            let Some(r) = latest.get(&key) else { continue };
            match upsert_imported(&tx, r, now)? {
                Upsert::Created => summary.created += 1,
                Upsert::Updated => summary.updated += 1,
                Upsert::Unchanged => summary.unchanged += 1,
            }
        }
        tx.commit().map_err(sqlite)?;
        Ok(summary)
    }

    pub fn read_resource(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>> {
        let sql = format!("SELECT {COLUMNS} FROM resources WHERE type = ? AND id = ?");
        self.conn
            .prepare_cached(&sql)
            .map_err(sqlite)?
            .query_row(params![resource_type, id], row_to_resource)
            .optional()
            .map_err(sqlite)
    }

    /// Every live resource in one patient's compartment (for `$everything`).
    pub fn compartment(&self, patient: &PatientId) -> Result<Vec<StoredResource>> {
        // Named: otherwise SQLite walks the (type, id) index of every live resource to skip the sort.
        let sql = format!(
            "SELECT {COLUMNS} FROM resources INDEXED BY resources_by_patient WHERE patient_id = ? AND deleted = 0 ORDER BY type, id"
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows = st.query_map([patient.as_str()], row_to_resource).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    pub fn patient_in_scope(&self, patient: &PatientId, scope: &PatientScope) -> Result<bool> {
        Ok(match scope {
            PatientScope::Only(ids) => ids.contains(patient),
            PatientScope::Practices(ps) => self.patient_practices(patient)?.iter().any(|p| ps.contains(p)),
        })
    }

    /// Creates or replaces a resource. `if_match` is the version the client last saw (optimistic locking).
    /// `register_in`: a new Patient joins this practice in the same transaction, so no Patient is ever
    /// stored that no practice (and so no staff key) can reach.
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
        let tx = self.conn.savepoint().map_err(sqlite)?;
        let current = current_version(&tx, resource_type, id)?;
        check_if_match(current, if_match)?;
        let version = current.map_or(1, |(v, _)| v + 1);
        let created = current.is_none_or(|(_, deleted)| deleted);
        let last_updated = ts(now);
        stamp(&mut resource, version, &last_updated);
        let json = serde_json::to_string(&resource).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rid = store_row(&tx, resource_type, id, version, &last_updated, patient.map(PatientId::as_str), &json)?;
        write_index(&tx, rid, resource_type, &resource)?;
        if resource_type == "Patient" {
            directory::write(&tx, rid, id, &resource)?;
        }
        if let Some(practice) = register_in {
            tx.prepare_cached("INSERT OR IGNORE INTO patient_practices(patient_id, practice_id) VALUES (?, ?)")
                .map_err(sqlite)?
                .execute(params![id, practice.0])
                .map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)?;
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
        let tx = self.conn.savepoint().map_err(sqlite)?;
        let current = current_version(&tx, resource_type, id)?;
        match current {
            None => return Err(StoreError::NotFound),
            Some((_, true)) => return Ok(()),
            Some(_) => {}
        }
        check_if_match(current, if_match)?;
        let rid: i64 = tx
            .prepare_cached(
                "UPDATE resources SET deleted = 1, version = version + 1, last_updated = ? WHERE type = ? AND id = ? RETURNING rid",
            ).map_err(sqlite)?
            .query_row(params![ts(now), resource_type, id], |r| r.get(0)).map_err(sqlite)?;
        // A deleted resource matches no search.
        clear_index(&tx, rid)?;
        if resource_type == "Patient" {
            directory::clear(&tx, rid)?;
        }
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    /// How many live resources the store holds, by type (for summaries and tests).
    pub fn resource_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT type, count(*) FROM resources WHERE deleted = 0 GROUP BY type ORDER BY type")
            .map_err(sqlite)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    pub fn practice_patient_ids(&self, practice: PracticeId) -> Result<Vec<PatientId>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT patient_id FROM patient_practices WHERE practice_id = ? ORDER BY patient_id")
            .map_err(sqlite)?;
        let rows = st.query_map([practice.0], |r| r.get(0).map(PatientId)).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }
}

fn current_version(tx: &rusqlite::Connection, resource_type: &str, id: &str) -> Result<Option<(i64, bool)>> {
    tx.prepare_cached("SELECT version, deleted FROM resources WHERE type = ? AND id = ?")
        .map_err(sqlite)?
        .query_row(params![resource_type, id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))
        .optional()
        .map_err(sqlite)
}

fn check_if_match(current: Option<(i64, bool)>, if_match: Option<i64>) -> Result<()> {
    match (if_match, current) {
        (Some(expected), Some((v, false))) if expected != v => Err(StoreError::VersionConflict { current: v }),
        (Some(_), None | Some((_, true))) => Err(StoreError::VersionConflict { current: 0 }),
        _ => Ok(()),
    }
}

enum Upsert {
    Created,
    Updated,
    Unchanged,
}

fn upsert_imported(tx: &rusqlite::Connection, r: &PreparedResource, now: DateTime<Utc>) -> Result<Upsert> {
    let existing: Option<(i64, String, bool)> = tx
        .prepare_cached("SELECT version, json, deleted FROM resources WHERE type = ? AND id = ?")
        .map_err(sqlite)?
        .query_row(params![r.resource_type, r.id], |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? != 0)))
        .optional()
        .map_err(sqlite)?;
    let patient = portico_fhir::compartment::patient_of(&r.resource);
    let mut resource = r.resource.clone();
    // Keep the bundle's own versionId/lastUpdated when it has them; otherwise this import is version 1 (or next).
    let given_version = resource["meta"]["versionId"].as_str().and_then(|v| v.parse::<i64>().ok());
    let given_updated = resource["meta"]["lastUpdated"].as_str().map(str::to_owned);
    let (outcome, version) = match &existing {
        Some((v, json, deleted)) => {
            let old: Value = serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if !deleted && content(&old) == content(&resource) {
                return Ok(Upsert::Unchanged);
            }
            (Upsert::Updated, given_version.filter(|g| g > v).unwrap_or(v + 1))
        }
        None => (Upsert::Created, given_version.unwrap_or(1)),
    };
    let last_updated = given_updated.unwrap_or_else(|| ts(now));
    stamp(&mut resource, version, &last_updated);
    let json = serde_json::to_string(&resource).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rid = store_row(tx, &r.resource_type, &r.id, version, &last_updated, patient.as_deref(), &json)?;
    write_index(tx, rid, &r.resource_type, &resource)?;
    if r.resource_type == "Patient" {
        directory::write(tx, rid, &r.id, &resource)?;
    }
    Ok(outcome)
}

/// Inserts or replaces the current version of a resource (live again if it was deleted); its rid.
fn store_row(
    tx: &rusqlite::Connection,
    resource_type: &str,
    id: &str,
    version: i64,
    last_updated: &str,
    patient: Option<&str>,
    json: &str,
) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO resources(type, id, version, last_updated, deleted, patient_id, json) VALUES (?, ?, ?, ?, 0, ?, ?)
             ON CONFLICT(type, id) DO UPDATE SET version = excluded.version, last_updated = excluded.last_updated,
             deleted = 0, patient_id = excluded.patient_id, json = excluded.json
             RETURNING rid",
    )
    .map_err(sqlite)?
    .query_row(params![resource_type, id, version, last_updated, patient, json], |r| r.get(0))
    .map_err(sqlite)
}
