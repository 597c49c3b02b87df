//! Stand-ins for the methods not yet ported to PostgreSQL, grouped by the SQLite module that holds each
//! one's SQL. Each answers an error that says so; porting a method means deleting its stand-in here and
//! writing it in the area's module. This file goes when it is empty.

#![allow(unused_variables, clippy::too_many_arguments)]

use portico_store::signature_types::*;

use crate::PgStore;

fn not_yet(method: &str) -> StoreError {
    StoreError::Corrupt(format!("{method} is not yet available on PostgreSQL"))
}

// ===== directory =====

impl PgStore {
    pub fn patients(&self, practices: &[PracticeId], query: &PatientQuery, limit: usize) -> Result<Vec<PatientSummary>> {
        Err(not_yet("patients"))
    }
}

// ===== resources =====

impl PgStore {
    pub fn read_resource(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>> {
        Err(not_yet("read_resource"))
    }
    pub fn compartment(&self, patient: &PatientId) -> Result<Vec<StoredResource>> {
        Err(not_yet("compartment"))
    }
    pub fn patient_in_scope(&self, patient: &PatientId, scope: &PatientScope) -> Result<bool> {
        Err(not_yet("patient_in_scope"))
    }
    pub fn resource_counts(&self) -> Result<Vec<(String, i64)>> {
        Err(not_yet("resource_counts"))
    }
    pub fn practice_patient_ids(&self, practice: PracticeId) -> Result<Vec<PatientId>> {
        Err(not_yet("practice_patient_ids"))
    }
    pub fn import(&mut self, resources: &[PreparedResource], now: DateTime<Utc>) -> Result<ImportSummary> {
        Err(not_yet("import"))
    }
    pub fn put_resource(
        &mut self,
        resource_type: &str,
        id: &str,
        resource: Value,
        patient: Option<&PatientId>,
        register_in: Option<PracticeId>,
        if_match: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<WriteOutcome> {
        Err(not_yet("put_resource"))
    }
    pub fn delete_resource(&mut self, resource_type: &str, id: &str, if_match: Option<i64>, now: DateTime<Utc>) -> Result<()> {
        Err(not_yet("delete_resource"))
    }
}

// ===== search =====

impl PgStore {
    pub fn search(
        &self,
        resource_type: &str,
        filter: PatientFilter<'_>,
        criteria: &[Criterion],
        sort: &[SortKey],
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<StoredResource>)> {
        Err(not_yet("search"))
    }
    pub fn shared_referenced_by(&self, patient: &PatientId) -> Result<Vec<StoredResource>> {
        Err(not_yet("shared_referenced_by"))
    }
}
