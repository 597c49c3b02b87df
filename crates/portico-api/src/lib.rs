//! Wire types of Portico's management API (`/api`), shared by the server and `portico-client`.
//!
//! Plain serde structs and the error-code vocabulary, nothing else: no HTTP, no storage, no logic.
//! Times are RFC 3339 UTC strings on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PatientSummary {
    pub id: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub practices: Vec<i64>,
}

/// Where the service is: what an app developer needs besides the credential.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub fhir_base_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub version: String,
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
