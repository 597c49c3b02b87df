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

// ===== apps =====

impl PgStore {
    pub fn app(&self, id: &str) -> Result<Option<AppRecord>> {
        Err(not_yet("app"))
    }
    pub fn app_by_client_id(&self, client_id: &str) -> Result<Option<AppRecord>> {
        Err(not_yet("app_by_client_id"))
    }
    pub fn apps_of(&self, owner: UserId) -> Result<Vec<AppRecord>> {
        Err(not_yet("apps_of"))
    }
    pub fn registered_redirect_uris(&self) -> Result<Vec<String>> {
        Err(not_yet("registered_redirect_uris"))
    }
    pub fn grant_of(&self, app_id: &str, owner: UserId) -> Result<Option<CredentialRecord>> {
        Err(not_yet("grant_of"))
    }
    pub fn live_grant_count(&self, app_id: &str) -> Result<i64> {
        Err(not_yet("live_grant_count"))
    }
    pub fn approvals_of_app(&self, app_id: &str) -> Result<Vec<ApprovalRecord>> {
        Err(not_yet("approvals_of_app"))
    }
    pub fn approvals_for_practices(&self, practices: &[PracticeId]) -> Result<Vec<ApprovalRecord>> {
        Err(not_yet("approvals_for_practices"))
    }
    pub fn approved_practices(&self, app_id: &str) -> Result<Vec<PracticeId>> {
        Err(not_yet("approved_practices"))
    }
    pub fn auth_code(&self, digest: &Digest) -> Result<Option<AuthCodeRecord>> {
        Err(not_yet("auth_code"))
    }
    pub fn refresh_token(&self, digest: &Digest) -> Result<Option<RefreshTokenRecord>> {
        Err(not_yet("refresh_token"))
    }
    pub fn live_refresh_tokens(&self, credential_id: &str, now: DateTime<Utc>) -> Result<i64> {
        Err(not_yet("live_refresh_tokens"))
    }
    pub fn insert_app(&mut self, a: &AppRecord) -> Result<()> {
        Err(not_yet("insert_app"))
    }
    pub fn update_app(&mut self, id: &str, c: &AppChange, now: DateTime<Utc>) -> Result<()> {
        Err(not_yet("update_app"))
    }
    pub fn replace_app_secret(
        &mut self,
        id: &str,
        digest: Digest,
        hint: &str,
        grace_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        Err(not_yet("replace_app_secret"))
    }
    pub fn delete_app(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>> {
        Err(not_yet("delete_app"))
    }
    pub fn request_approval(&mut self, app_id: &str, practice: PracticeId, by: UserId, now: DateTime<Utc>) -> Result<()> {
        Err(not_yet("request_approval"))
    }
    pub fn decide_approval(
        &mut self,
        app_id: &str,
        practice: PracticeId,
        status: ApprovalStatus,
        reason: Option<&str>,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        Err(not_yet("decide_approval"))
    }
    pub fn insert_auth_code(&mut self, c: &AuthCodeRecord) -> Result<()> {
        Err(not_yet("insert_auth_code"))
    }
    pub fn use_auth_code(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        Err(not_yet("use_auth_code"))
    }
    pub fn insert_refresh_token(&mut self, t: &RefreshTokenRecord) -> Result<()> {
        Err(not_yet("insert_refresh_token"))
    }
    pub fn use_refresh_token(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        Err(not_yet("use_refresh_token"))
    }
    pub fn record_jti(&mut self, client_id: &str, jti: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        Err(not_yet("record_jti"))
    }
}

// ===== desktop =====

impl PgStore {
    pub fn desktop_code(&self, digest: &Digest) -> Result<Option<DesktopCode>> {
        Err(not_yet("desktop_code"))
    }
    pub fn desktop_refresh_token(&self, digest: &Digest) -> Result<Option<DesktopRefreshToken>> {
        Err(not_yet("desktop_refresh_token"))
    }
    pub fn session_family(&self, digest: &Digest) -> Result<Option<String>> {
        Err(not_yet("session_family"))
    }
    pub fn insert_desktop_code(&mut self, c: &DesktopCode) -> Result<()> {
        Err(not_yet("insert_desktop_code"))
    }
    pub fn use_desktop_code(&mut self, digest: &Digest, family: &str, now: DateTime<Utc>) -> Result<bool> {
        Err(not_yet("use_desktop_code"))
    }
    pub fn insert_desktop_refresh_token(&mut self, t: &DesktopRefreshToken) -> Result<()> {
        Err(not_yet("insert_desktop_refresh_token"))
    }
    pub fn use_desktop_refresh_token(&mut self, digest: &Digest, now: DateTime<Utc>) -> Result<bool> {
        Err(not_yet("use_desktop_refresh_token"))
    }
    pub fn create_family_session(
        &mut self,
        digest: &Digest,
        user: UserId,
        family: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        Err(not_yet("create_family_session"))
    }
    pub fn revoke_desktop_family(&mut self, family: &str, now: DateTime<Utc>) -> Result<()> {
        Err(not_yet("revoke_desktop_family"))
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
