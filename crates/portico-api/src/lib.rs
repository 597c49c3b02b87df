//! Wire types of Portico's management API (`/api`), shared by the server and `portico-client`.
//!
//! Plain serde structs and the error-code vocabulary, nothing else: no HTTP, no storage, no logic.
//! Times are RFC 3339 UTC strings on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The client id of the Portico desktop app, a public native client every Portico server knows (no
/// registration): authorization code + PKCE to a loopback redirect, then a management-API session.
pub const DESKTOP_CLIENT_ID: &str = "portico-desktop";

/// Every management-API error body: a stable machine code and a sentence for people.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Missing, expired or revoked session.
    Unauthenticated,
    /// Signed in, but the user's roles do not allow this.
    Forbidden,
    NotFound,
    /// The input is malformed or fails validation; `message` says which field.
    InvalidInput,
    /// Conflicts with existing state (e.g. a name already in use).
    Conflict,
    PayloadTooLarge,
    MethodNotAllowed,
    /// Too many attempts: wait `Retry-After` seconds.
    TooManyRequests,
    /// The service cannot answer now (e.g. its database is locked by another process): try again shortly.
    Busy,
    Internal,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    /// The session token: send as `Authorization: Bearer`. Shown only in this response.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Practice {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// `administrator`, `provider`, `developer`, `nurse`, `front_desk`, `patient`.
    pub roles: Vec<String>,
    pub practices: Vec<Practice>,
    /// The Patient resource id of a patient user.
    pub patient_id: Option<String>,
    /// A patient user: the practices their Patient record belongs to (they are rarely members of any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patient_of: Vec<Practice>,
    /// The last successful sign-in, through any door; `null`: never.
    #[serde(default)]
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// Rows a page holds when the request does not say (`limit`).
pub const DEFAULT_PAGE_LIMIT: u32 = 25;
/// The most rows one page may hold.
pub const MAX_PAGE_LIMIT: u32 = 100;
/// The longest search (`q`), in characters.
pub const MAX_SEARCH_CHARS: usize = 100;

/// One page of a list the service searches, filters, sorts and pages: `items` from `offset`, at most `limit`
/// of them, out of `total` that match.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

/// `GET /api/users`: every field optional. `q`: a case- and accent-insensitive substring of the display name or
/// username (at most 100 characters); `role`; `practice` (one of the administrator's); `sort`: `name`
/// (default), `username`, `last_sign_in` or `created`; `dir`: `asc` (default) or `desc`; `offset` (default 0);
/// `limit` (1–100, default 25).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct UserQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl UserQuery {
    /// The query string's pairs, in a fixed order (blank searches left out).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        push_text(&mut out, "q", self.q.as_deref().filter(|q| !q.trim().is_empty()));
        push_text(&mut out, "role", self.role.as_deref());
        push_text(&mut out, "practice", self.practice.map(|p| p.to_string()).as_deref());
        push_text(&mut out, "sort", self.sort.as_deref());
        push_text(&mut out, "dir", self.dir.as_deref());
        push_text(&mut out, "offset", self.offset.map(|o| o.to_string()).as_deref());
        push_text(&mut out, "limit", self.limit.map(|l| l.to_string()).as_deref());
        out
    }
}

/// `GET /api/staff-credentials`: every field optional. `q`: a case-insensitive substring of the key's name or
/// of its owner's name or username (at most 100 characters); `kind`: `developer` or `provider`; `practice` (one
/// of the administrator's; keys whose owner belongs to it); `sort`: `name`, `owner`, `created` (the default,
/// newest first), `last_used` or `valid_to`; `dir`: `asc` or `desc` (with a `sort`, `asc` unless given);
/// `offset`; `limit` (1–100, default 25).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct StaffKeyQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl StaffKeyQuery {
    /// The query string's pairs, in a fixed order (blank searches left out).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        push_text(&mut out, "q", self.q.as_deref().filter(|q| !q.trim().is_empty()));
        push_text(&mut out, "kind", self.kind.as_deref());
        push_text(&mut out, "practice", self.practice.map(|p| p.to_string()).as_deref());
        push_text(&mut out, "sort", self.sort.as_deref());
        push_text(&mut out, "dir", self.dir.as_deref());
        push_text(&mut out, "offset", self.offset.map(|o| o.to_string()).as_deref());
        push_text(&mut out, "limit", self.limit.map(|l| l.to_string()).as_deref());
        out
    }

    /// Neither searched nor filtered, from the first row: a page that then holds `total` rows is the whole list.
    pub fn is_unfiltered_start(&self) -> bool {
        self.q.as_deref().is_none_or(|q| q.trim().is_empty())
            && self.kind.is_none()
            && self.practice.is_none()
            && self.offset.unwrap_or(0) == 0
    }
}

fn push_text(out: &mut Vec<(&'static str, String)>, key: &'static str, value: Option<&str>) {
    if let Some(v) = value {
        out.push((key, v.to_owned()));
    }
}

/// A staff key in an administrator's list: the credential, with its owner's name and practices.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StaffKey {
    #[serde(flatten)]
    pub credential: Credential,
    /// The owner's display name.
    #[serde(default)]
    pub owner_name: String,
    /// The owner's practices (the administrator sees the key through them).
    #[serde(default)]
    pub owner_practices: Vec<Practice>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub practices: Vec<i64>,
    #[serde(default)]
    pub patient_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SetRoles {
    pub roles: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SetPractices {
    pub practices: Vec<i64>,
}

/// `patient_app`, `developer` or `provider`.
pub type CredentialKind = String;

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct NewCredential {
    pub kind: CredentialKind,
    pub name: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub valid_to: Option<DateTime<Utc>>,
    /// Defaults to true.
    #[serde(default)]
    pub active: Option<bool>,
    /// Provider keys: the chosen patients.
    #[serde(default)]
    pub patients: Vec<String>,
}

/// Something about a credential worth a look: unused for a long time, about to expire, expired but still
/// switched on, a provider key listing patients of a practice its owner has left, or what changed in its
/// access when an administrator changed its owner's roles or practices.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Nudge {
    pub credential_id: String,
    /// The credential's name.
    pub name: String,
    /// The credential's kind (`patient_app`, `developer`, `provider`, `connected_app`).
    pub credential_kind: CredentialKind,
    /// `unused`, `expires_soon`, `expired`, `owner_left_practice` or `access_changed`.
    pub kind: String,
    /// The finding in plain words, e.g. "Not used for 72 days".
    pub detail: String,
    /// Days unused (`unused`) or days left (`expires_soon`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
    pub last_used: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    /// The owner's username.
    pub owner: String,
    /// The owner's display name.
    #[serde(default)]
    pub owner_name: String,
    /// `access_changed`: the notice, to acknowledge with `POST /api/nudges/access-changes/{notice_id}/ack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_id: Option<i64>,
    /// `access_changed` (and an `owner_left_practice` that a recorded change explains): when the owner's
    /// roles or practices changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    /// An administrator's view of an `access_changed` notice: when its owner acknowledged it, if they have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// An administrator's view: whether they may revoke the key (its owner still belongs to one of their
    /// practices; a key whose owner left them is listed, but is no longer theirs to revoke).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocable: Option<bool>,
}

/// The answer to acknowledging an access-change notice.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessChangeAcknowledged {
    pub notice_id: i64,
    pub credential_id: String,
    pub acknowledged_at: DateTime<Utc>,
}

/// A credential as listed: never holds the secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
    pub name: String,
    pub note: Option<String>,
    pub client_id: String,
    /// Non-secret reminder such as `pcs_app_…k3x9`.
    pub secret_hint: String,
    pub status: CredentialStatus,
    /// Active and inside its window right now.
    pub usable: bool,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_to: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub owner: String,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Access tokens of this credential that would be accepted right now.
    #[serde(default)]
    pub active_tokens: u32,
    pub scope: String,
    /// Provider keys: the chosen patients; patient credentials: the owner's record.
    pub patients: Vec<String>,
    /// Human sentence of what it reaches, e.g. "Your record, read-only".
    pub reach: String,
    /// After a regeneration with grace: until when the previous secret still works.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    Active,
    Inactive,
}

/// The only response that ever carries a secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedSecret {
    pub credential: Credential,
    pub client_id: String,
    pub client_secret: String,
    pub token_url: String,
    pub fhir_base_url: String,
}

/// PATCH body: absent fields stay as they are; `valid_from`/`valid_to` set to null clear the bound.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct CredentialUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    pub valid_from: Option<Option<DateTime<Utc>>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    pub valid_to: Option<Option<DateTime<Utc>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patients: Option<Vec<String>>,
}

/// Distinguishes "absent" (outer None) from "null" (Some(None)) for PATCH semantics.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Regenerate {
    /// Keep the old secret working this many seconds (0 or absent: it dies now, with its tokens).
    #[serde(default)]
    pub grace_seconds: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Deleted {
    pub id: String,
    /// False when it was already deleted (delete is idempotent).
    pub deleted_now: bool,
    pub tokens_revoked: usize,
    pub at: DateTime<Utc>,
}

/// What deleting a credential did: when, how many tokens died with it, and the first request the app made
/// afterwards that was refused (proof the cut-off worked).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RevocationReceipt {
    pub credential_id: String,
    pub name: String,
    pub client_id: String,
    pub deleted_at: DateTime<Utc>,
    pub tokens_revoked: i64,
    pub first_refused: Option<AccessEvent>,
    /// When the credential was created (absent from servers before this field).
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The end of its validity window, when it had one.
    #[serde(default)]
    pub valid_to: Option<DateTime<Utc>>,
    /// Who deleted it: the owner, or an administrator of the owner's practice (username).
    #[serde(default)]
    pub revoked_by: Option<String>,
}

/// Counts per resource type of what a credential can see, computed by the same enforcement code as a token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Preview {
    pub credential_id: String,
    pub patients: Vec<String>,
    pub counts: Vec<TypeCount>,
    pub total: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TypeCount {
    pub resource_type: String,
    pub count: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub outcome: String,
    pub credential_id: Option<String>,
    pub credential_name: Option<String>,
    pub patient_id: Option<String>,
    pub resource_types: Vec<String>,
    pub count: Option<i64>,
    pub detail: Option<String>,
    /// The OAuth client id the event was about (absent from servers before this field).
    #[serde(default)]
    pub client_id: Option<String>,
}

/// The shapes a patient can take their access history away in (`GET /api/audit/export?format=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessHistoryFormat {
    /// RFC 4180 CSV with a header row, for a spreadsheet.
    Csv,
    /// A FHIR R4 Bundle of type `collection` holding one `AuditEvent` per event, for another health system.
    Fhir,
}

impl AccessHistoryFormat {
    pub const ALL: [AccessHistoryFormat; 2] = [AccessHistoryFormat::Csv, AccessHistoryFormat::Fhir];

    /// The value of the `format` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessHistoryFormat::Csv => "csv",
            AccessHistoryFormat::Fhir => "fhir",
        }
    }

    pub fn parse(s: &str) -> Option<AccessHistoryFormat> {
        AccessHistoryFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// A patient as a picker shows it (`GET /api/patients`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PatientSummary {
    pub id: String,
    /// The full display name ("Given Family").
    pub name: String,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    /// The medical record number (the identifier whose type is `MR`); absent from servers that predate it.
    #[serde(default)]
    pub mrn: Option<String>,
    pub practices: Vec<i64>,
}

/// `GET /api/patients`: at most this many answers by default (`limit`), and at most this many at all.
pub const PATIENTS_DEFAULT_LIMIT: usize = 20;
pub const PATIENTS_MAX_LIMIT: usize = 50;
/// The longest search text (`q`), in characters.
pub const PATIENTS_MAX_QUERY: usize = 100;
/// At most this many ids in one `ids=` (comma-separated) request.
pub const PATIENTS_MAX_IDS: usize = 100;

/// Where the service is: what an app developer needs besides the credential.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// What people call this server (`portico serve --name`); "Portico" unless set.
    #[serde(default)]
    pub name: String,
    pub fhir_base_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub version: String,
    /// Whether the sign-in screen may offer "create a developer account" (`POST /api/signup`).
    #[serde(default)]
    pub allow_signup: bool,
    /// Where the service serves its sample SMART app, when it does.
    #[serde(default)]
    pub sample_app_url: Option<String>,
}

// Types that carry a password, session token or client secret print it redacted, so no Debug output or
// log line can leak one.
impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .finish()
    }
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSecret")
            .field("credential", &self.credential)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s = SignIn { username: "u".into(), password: "hunter2-password".into() };
        assert!(!format!("{s:?}").contains("hunter2"));
        let n = NewUser {
            username: "u".into(),
            display_name: "U".into(),
            password: "hunter2-password".into(),
            roles: vec![],
            practices: vec![],
            patient_id: None,
        };
        assert!(!format!("{n:?}").contains("hunter2"));
    }
}

// ---- Third-party apps (SMART): registration, practice approval, connected apps ----

/// A registration as a developer submits it (create), or the fields to change (update: `None` keeps).
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct NewApp {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub privacy_policy: Option<String>,
    /// `patient` or `system`.
    pub app_type: String,
    /// `web`, `native`, `browser` or `service`.
    pub platform: String,
    /// `none`, `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub client_auth: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// An inline JWKS (JSON text), for private_key_jwt.
    #[serde(default)]
    pub jwks: Option<String>,
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Space-separated SMART scopes the app may ask for.
    #[serde(default)]
    pub scopes: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct AppUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub privacy_policy: Option<String>,
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub jwks: Option<String>,
    #[serde(default)]
    pub jwks_url: Option<String>,
    #[serde(default)]
    pub scopes: Option<String>,
    /// false disables the app (its tokens stop on the next request), true enables it again.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A practice's decision on an app, as the developer and administrators see it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Approval {
    pub app_id: String,
    pub app_name: String,
    pub client_id: String,
    pub practice_id: i64,
    pub practice_name: String,
    /// `pending`, `approved`, `denied` or `withdrawn`.
    pub status: String,
    pub reason: Option<String>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The app's details, so an administrator decides on what the app is, in the list itself.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub privacy_policy: Option<String>,
    #[serde(default)]
    pub app_type: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub client_auth: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub scopes: String,
    /// The developer who registered it.
    #[serde(default)]
    pub owner: String,
}

/// A registered app as listed: never holds its secret.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct App {
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub homepage: Option<String>,
    pub privacy_policy: Option<String>,
    pub app_type: String,
    pub platform: String,
    pub client_auth: String,
    /// Non-secret reminder of the current secret, for apps that have one.
    pub secret_hint: Option<String>,
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    pub redirect_uris: Vec<String>,
    pub jwks: Option<String>,
    pub jwks_url: Option<String>,
    pub scopes: String,
    pub active: bool,
    pub owner: String,
    pub created_at: DateTime<Utc>,
    pub approvals: Vec<Approval>,
    /// People who have authorized it (live grants).
    pub connected_users: u32,
}

/// The answer to registering an app or rotating its secret: the secret appears here once.
#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedAppSecret {
    pub app: App,
    /// `None` for public clients and private_key_jwt apps.
    pub client_secret: Option<String>,
    pub token_url: String,
    pub authorize_url: String,
    pub fhir_base_url: String,
}

impl std::fmt::Debug for IssuedAppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedAppSecret").field("app", &self.app.client_id).field("client_secret", &"<redacted>").finish()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct RotateAppSecret {
    /// Keep the old secret working for this many minutes (0–10080).
    #[serde(default)]
    pub grace_minutes: Option<u32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApprovalRequest {
    pub practice_id: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApprovalDecision {
    /// `approved`, `denied` or `withdrawn`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// An app a person authorized (a grant), as its owner sees it under "Connected apps".
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnectedApp {
    /// The grant's id: use it with `/credentials/{id}/preview`, `/history` and DELETE to revoke.
    pub id: String,
    pub app_id: String,
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub homepage: Option<String>,
    pub privacy_policy: Option<String>,
    pub developer: String,
    /// Scopes as granted, and each in plain words.
    pub scope: String,
    pub scope_descriptions: Vec<String>,
    pub patient: Option<String>,
    pub since: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// When the grant ends (offline access: 90 days unless the person chose otherwise).
    pub expires_at: Option<DateTime<Utc>>,
    pub active_tokens: u32,
    pub refresh_tokens: u32,
    /// Reaches data right now (approved, app enabled, within its end date).
    pub usable: bool,
    pub approved_by: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct ExtendGrant {
    pub expires_at: Option<DateTime<Utc>>,
}

/// A developer account created from the sign-in screen (`serve --allow-signup`).
#[derive(Clone, Serialize, Deserialize, Default)]
pub struct Signup {
    pub username: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    #[serde(default)]
    pub company: String,
    pub password: String,
}

impl std::fmt::Debug for Signup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signup").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}
