//! Audit events: what happened, to which credential and patient, with what outcome. Token digests only.

use chrono::{DateTime, Utc};

use crate::{PatientId, UserId};

/// Where an unauthenticated attempt failed; such failures are counted, not logged one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthDoor {
    SignIn,
    Token,
}

impl AuthDoor {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthDoor::SignIn => "sign_in",
            AuthDoor::Token => "token",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKind {
    TokenIssued,
    TokenRefused,
    TokenRevoked,
    CredentialCreated,
    CredentialUpdated,
    CredentialRegenerated,
    CredentialDeleted,
    FhirAccess,
    FhirRefused,
    Preview,
    SignIn,
    SignInRefused,
    UserChanged,
    /// A person allowed an app at the authorization endpoint (a grant and a code were made).
    Authorized,
    /// An authorization request refused or denied (by the person, or by a rule).
    AuthorizeRefused,
    AppRegistered,
    AppChanged,
    AppDeleted,
    ApprovalRequested,
    ApprovalDecided,
    /// An app asked whether a token is active (RFC 7662).
    TokenIntrospected,
    /// A credential's effective access changed because an administrator changed its owner's roles or
    /// practices (a notice was recorded for the owner).
    AccessChanged,
    /// The owner acknowledged such a notice ("Got it").
    AccessChangeAcknowledged,
}

impl AuditKind {
    pub const ALL: [AuditKind; 23] = [
        AuditKind::TokenIssued,
        AuditKind::TokenRefused,
        AuditKind::TokenRevoked,
        AuditKind::CredentialCreated,
        AuditKind::CredentialUpdated,
        AuditKind::CredentialRegenerated,
        AuditKind::CredentialDeleted,
        AuditKind::FhirAccess,
        AuditKind::FhirRefused,
        AuditKind::Preview,
        AuditKind::SignIn,
        AuditKind::SignInRefused,
        AuditKind::UserChanged,
        AuditKind::Authorized,
        AuditKind::AuthorizeRefused,
        AuditKind::AppRegistered,
        AuditKind::AppChanged,
        AuditKind::AppDeleted,
        AuditKind::ApprovalRequested,
        AuditKind::ApprovalDecided,
        AuditKind::TokenIntrospected,
        AuditKind::AccessChanged,
        AuditKind::AccessChangeAcknowledged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::TokenIssued => "token_issued",
            AuditKind::TokenRefused => "token_refused",
            AuditKind::TokenRevoked => "token_revoked",
            AuditKind::CredentialCreated => "credential_created",
            AuditKind::CredentialUpdated => "credential_updated",
            AuditKind::CredentialRegenerated => "credential_regenerated",
            AuditKind::CredentialDeleted => "credential_deleted",
            AuditKind::FhirAccess => "fhir_access",
            AuditKind::FhirRefused => "fhir_refused",
            AuditKind::Preview => "preview",
            AuditKind::SignIn => "sign_in",
            AuditKind::SignInRefused => "sign_in_refused",
            AuditKind::UserChanged => "user_changed",
            AuditKind::Authorized => "authorized",
            AuditKind::AuthorizeRefused => "authorize_refused",
            // Stored in the audit table: these strings never change.
            AuditKind::AppRegistered => "app_registered",
            AuditKind::AppChanged => "app_changed",
            AuditKind::AppDeleted => "app_deleted",
            AuditKind::ApprovalRequested => "approval_requested",
            AuditKind::ApprovalDecided => "approval_decided",
            AuditKind::TokenIntrospected => "token_introspected",
            AuditKind::AccessChanged => "access_changed",
            AuditKind::AccessChangeAcknowledged => "access_change_acknowledged",
        }
    }

    pub fn parse(s: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Events that count as the app using its credential ("last used").
    pub fn is_use(self) -> bool {
        matches!(self, AuditKind::TokenIssued | AuditKind::FhirAccess)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub kind: AuditKind,
    /// "ok", or a short reason such as "invalid_client: credential expired".
    pub outcome: String,
    pub actor: Option<UserId>,
    pub credential_id: Option<String>,
    pub client_id: Option<String>,
    /// Hex SHA-256 of the access token involved, never the token.
    pub token_digest: Option<String>,
    pub patient: Option<PatientId>,
    pub resource_types: Vec<String>,
    pub count: Option<i64>,
    /// What was asked, e.g. "search Observation"; never health data or secrets.
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(kind: AuditKind, at: DateTime<Utc>) -> AuditEvent {
        AuditEvent {
            at,
            kind,
            outcome: "ok".into(),
            actor: None,
            credential_id: None,
            client_id: None,
            token_digest: None,
            patient: None,
            resource_types: Vec::new(),
            count: None,
            detail: None,
        }
    }
}
