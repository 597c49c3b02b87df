//! Portico's domain: accounts, roles, practices, credentials, SMART scopes, validity windows, the secret
//! format and the effective-access rule that decides what a credential reaches *right now*.
//!
//! Pure by construction: no SQL, no HTTP, no tokio, no clock and no global RNG. Time comes in as a `now`
//! argument and randomness as an `RngCore`, so every rule here is testable with fixed inputs.

pub mod access;
pub mod access_change;
pub mod account;
pub mod app;
pub mod audit;
pub mod credential;
pub mod nudge;
pub mod scope;
pub mod secret;
pub mod throttle;

pub use access::{effective_access, Access, AppFacts, CredentialFacts, OwnerFacts, PatientScope, Refusal};
pub use access_change::{access_change, access_diff, AccessChangeCause, AccessDiff};
pub use account::{hash_password, verify_password, PasswordError, PracticeId, Role, UserId, Username};
pub use app::{
    check_redirect_uri, check_registration, check_web_url, is_s256_challenge, origin_of_redirect_matches, pkce_matches,
    redirect_uri_matches, AppType, ApprovalStatus, ClientAuth, Platform, RegistrationError,
};
pub use audit::{AuditEvent, AuditKind, AuthDoor};
pub use credential::{
    is_format_char, minted_by_live_secret, name_key, CredentialKind, CredentialName, NameError, ValidityWindow, WindowPosition,
};
pub use nudge::{nudges_for, Nudge, NudgeFacts, NudgeRules, EXPIRY_WARNING_DAYS, UNUSED_DAYS};
pub use scope::{
    describe, offered_categories, Category, Interaction, RequestedScopes, Scope, ScopeContext, ScopeError, ScopeSet, SmartScope,
};
pub use secret::{random_id, Digest, Secret, SecretKind};
pub use throttle::{ThrottleEntry, ThrottlePolicy};

/// A FHIR Patient id, as stored in the resource store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PatientId(pub String);

impl PatientId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PatientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one textual form of instants Portico stores and sends: RFC 3339, UTC, milliseconds, `Z`.
/// Fixed width, so text order equals time order in SQL.
pub fn format_instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn parse_instant(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&chrono::Utc))
}
