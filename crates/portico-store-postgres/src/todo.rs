//! Stand-ins for the methods not yet ported to PostgreSQL, grouped by the SQLite module that holds each
//! one's SQL. Each answers an error that says so; porting a method means deleting its stand-in here and
//! writing it in the area's module. This file goes when it is empty.

#![allow(unused_variables, clippy::too_many_arguments)]

use portico_store::signature_types::*;

use crate::PgStore;

fn not_yet(method: &str) -> StoreError {
    StoreError::Corrupt(format!("{method} is not yet available on PostgreSQL"))
}

// ===== credentials =====

impl PgStore {
    pub fn credential(&self, id: &str) -> Result<Option<CredentialRecord>> {
        Err(not_yet("credential"))
    }
    pub fn credential_by_client_id(&self, client_id: &str) -> Result<Option<CredentialRecord>> {
        Err(not_yet("credential_by_client_id"))
    }
    pub fn credentials_of(&self, owner: UserId) -> Result<Vec<CredentialRecord>> {
        Err(not_yet("credentials_of"))
    }
    pub fn deleted_credentials_of(&self, owner: UserId, limit: usize) -> Result<Vec<CredentialRecord>> {
        Err(not_yet("deleted_credentials_of"))
    }
    pub fn staff_credentials(&self, practices: &[PracticeId]) -> Result<Vec<CredentialRecord>> {
        Err(not_yet("staff_credentials"))
    }
    pub fn staff_credentials_page(&self, listing: &StaffKeyListing<'_>) -> Result<(usize, Vec<CredentialRecord>)> {
        Err(not_yet("staff_credentials_page"))
    }
    pub fn provider_credentials_listing(&self, practices: &[PracticeId]) -> Result<Vec<CredentialRecord>> {
        Err(not_yet("provider_credentials_listing"))
    }
    pub fn credential_facts(&self, c: &CredentialRecord) -> Result<CredentialFacts> {
        Err(not_yet("credential_facts"))
    }
    pub fn token(&self, digest: &Digest) -> Result<Option<TokenRecord>> {
        Err(not_yet("token"))
    }
    pub fn live_token_count(&self, credential_id: &str, oldest_generation: i64, now: DateTime<Utc>) -> Result<i64> {
        Err(not_yet("live_token_count"))
    }
    pub fn insert_credential(&mut self, c: &NewCredential<'_>, now: DateTime<Utc>) -> Result<()> {
        Err(not_yet("insert_credential"))
    }
    pub fn update_credential(&mut self, id: &str, change: &CredentialChange, now: DateTime<Utc>) -> Result<()> {
        Err(not_yet("update_credential"))
    }
    pub fn replace_secret(
        &mut self,
        id: &str,
        digest: Digest,
        hint: &str,
        grace_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        Err(not_yet("replace_secret"))
    }
    pub fn delete_credential(&mut self, id: &str, now: DateTime<Utc>) -> Result<Option<usize>> {
        Err(not_yet("delete_credential"))
    }
    pub fn insert_token(&mut self, t: &TokenRecord) -> Result<()> {
        Err(not_yet("insert_token"))
    }
    pub fn revoke_token(&mut self, digest: &Digest, credential_id: &str, now: DateTime<Utc>) -> Result<bool> {
        Err(not_yet("revoke_token"))
    }
}

// ===== access_changes =====

impl PgStore {
    pub fn access_change(&self, id: i64) -> Result<Option<AccessChangeRecord>> {
        Err(not_yet("access_change"))
    }
    pub fn unacknowledged_access_changes(&self, owner: UserId) -> Result<Vec<AccessChangeRecord>> {
        Err(not_yet("unacknowledged_access_changes"))
    }
    pub fn access_changes_for_practices(
        &self,
        practices: &[PracticeId],
        since: DateTime<Utc>,
    ) -> Result<Vec<AccessChangeRecord>> {
        Err(not_yet("access_changes_for_practices"))
    }
    pub fn record_access_change(&mut self, c: &NewAccessChange<'_>, now: DateTime<Utc>) -> Result<i64> {
        Err(not_yet("record_access_change"))
    }
    pub fn acknowledge_access_change(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        Err(not_yet("acknowledge_access_change"))
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

// ===== audit =====

impl PgStore {
    pub fn app_events_for_credential(&self, credential_id: &str, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        Err(not_yet("app_events_for_credential"))
    }
    pub fn audit_for_patient(&self, patient: &PatientId, limit: usize) -> Result<Vec<(i64, AuditEvent)>> {
        Err(not_yet("audit_for_patient"))
    }
    pub fn last_used(&self, credential_id: &str) -> Result<Option<DateTime<Utc>>> {
        Err(not_yet("last_used"))
    }
    pub fn auth_failures(&self, limit: usize) -> Result<Vec<(String, String, String, i64)>> {
        Err(not_yet("auth_failures"))
    }
    pub fn audit_rows(&self) -> Result<i64> {
        Err(not_yet("audit_rows"))
    }
    pub fn append_audit(&mut self, events: &[AuditEvent]) -> Result<()> {
        Err(not_yet("append_audit"))
    }
    pub fn record_auth_failure(&mut self, door: AuthDoor, subject: &str, now: DateTime<Utc>) -> Result<()> {
        Err(not_yet("record_auth_failure"))
    }
}

// ===== retention =====

impl PgStore {
    pub fn roll_up_audit(&mut self, older_than: DateTime<Utc>, batch: usize) -> Result<usize> {
        Err(not_yet("roll_up_audit"))
    }
}

// ===== maintenance =====

impl PgStore {
    pub fn token_and_session_rows(&self) -> Result<(i64, i64)> {
        Err(not_yet("token_and_session_rows"))
    }
    pub fn prune_expired(&mut self, now: DateTime<Utc>, keep: Duration, batch: usize) -> Result<Pruned> {
        Err(not_yet("prune_expired"))
    }
}
