//! A patient's access history to take with them: every event about their own record (what `GET /api/audit`
//! lists, without its page limit) as RFC 4180 CSV for a spreadsheet, or as FHIR R4 AuditEvents in a
//! `collection` Bundle for another health system.

use chrono::{DateTime, SecondsFormat, Utc};
use portico_api as wire;
use portico_api::AccessHistoryFormat;
use portico_domain::AuditKind;
use portico_fhir::audit_event::{self, AuditAction, AuditCategory, AuditOutcome, AuditRecord};
use portico_store::{ReadStore, UserRecord};

use crate::state::Config;

use super::*;

/// A file to hand to the browser or the desktop as a download.
#[derive(Debug)]
pub struct Export {
    pub content_type: &'static str,
    pub filename: String,
    pub body: Vec<u8>,
}

/// Everything: a person taking their history away gets all of it, not a page.
const EVERY_EVENT: usize = i64::MAX as usize;

pub const CSV_HEADER: [&str; 9] =
    ["event_id", "recorded_utc", "event", "app", "client_id", "resource_types", "resources_read", "outcome", "request"];

/// The signed-in patient's access history in `format`. Only a patient has one: anyone else gets 403, and the
/// events are those of the user's own Patient alone.
pub fn export_access_history(
    store: &dyn ReadStore,
    user: &UserRecord,
    format: AccessHistoryFormat,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Export> {
    let (patient, events) = own_record_events(store, user, EVERY_EVENT)?;
    let day = now.format("%Y-%m-%d");
    Ok(match format {
        AccessHistoryFormat::Csv => Export {
            content_type: "text/csv; charset=utf-8; header=present",
            filename: format!("portico-access-history-{day}.csv"),
            body: csv(&events).into_bytes(),
        },
        AccessHistoryFormat::Fhir => {
            let resources = events.iter().map(|e| audit_event::audit_event(&record(e, &patient.0, config))).collect();
            let bundle = audit_event::collection(resources, now);
            Export {
                content_type: "application/fhir+json",
                filename: format!("portico-access-history-{day}.fhir.json"),
                body: serde_json::to_vec_pretty(&bundle).map_err(|_| ApiFailure::internal())?,
            }
        }
    })
}

fn when(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The CSV row of one event, in [`CSV_HEADER`]'s order, before quoting.
pub fn csv_row(e: &wire::AccessEvent) -> [String; 9] {
    [
        e.seq.to_string(),
        when(e.at),
        e.kind.clone(),
        e.credential_name.clone().unwrap_or_default(),
        e.client_id.clone().unwrap_or_default(),
        e.resource_types.join(";"),
        e.count.map(|n| n.to_string()).unwrap_or_default(),
        e.outcome.clone(),
        e.detail.clone().unwrap_or_default(),
    ]
}

fn csv(events: &[wire::AccessEvent]) -> String {
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        let cells: Vec<String> = cells.map(|c| csv_cell(&c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    line(&mut CSV_HEADER.iter().map(|h| (*h).to_owned()));
    for e in events {
        line(&mut csv_row(e).into_iter());
    }
    out
}

/// One CSV field. A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
/// return before one) as a formula, and an app's name is chosen by whoever registered it, so such a cell is
/// made text with a leading apostrophe (OWASP, "CSV Injection"). Then RFC 4180: a field holding a comma,
/// quote or line break is quoted, its quotes doubled.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// An event in AuditEvent terms. The match is on every kind, so a new kind has to say what it is here.
fn record<'a>(e: &'a wire::AccessEvent, patient: &'a str, config: &'a Config) -> AuditRecord<'a> {
    use AuditKind as K;
    let rest = AuditCategory::Rest(interaction(e.detail.as_deref()));
    let (category, action) = match AuditKind::parse(&e.kind) {
        Some(K::FhirAccess | K::FhirRefused | K::Preview) => (rest, AuditAction::Read),
        Some(K::TokenIssued | K::TokenRefused | K::TokenIntrospected) => {
            (AuditCategory::Authentication { logout: false }, AuditAction::Execute)
        }
        Some(K::TokenRevoked) => (AuditCategory::Authentication { logout: true }, AuditAction::Execute),
        Some(K::CredentialCreated | K::Authorized | K::AppRegistered) => (AuditCategory::AccessChanged, AuditAction::Create),
        Some(K::CredentialUpdated | K::CredentialRegenerated | K::AppChanged | K::UserChanged | K::AccessChanged) => {
            (AuditCategory::AccessChanged, AuditAction::Update)
        }
        Some(K::CredentialDeleted | K::AppDeleted) => (AuditCategory::AccessChanged, AuditAction::Delete),
        Some(
            K::AuthorizeRefused
            | K::ApprovalRequested
            | K::ApprovalDecided
            | K::SignIn
            | K::SignInRefused
            | K::AccessChangeAcknowledged,
        )
        | None => (AuditCategory::AccessChanged, AuditAction::Execute),
    };
    let outcome = match e.outcome.as_str() {
        "ok" => AuditOutcome::Success,
        o if o.starts_with('5') => AuditOutcome::SeriousFailure,
        _ => AuditOutcome::MinorFailure,
    };
    let reads = e
        .resource_types
        .iter()
        .map(|t| match t.rsplit_once(':') {
            Some((ty, n)) => (ty.to_owned(), n.parse().unwrap_or(0)),
            None => (t.clone(), 0),
        })
        .collect();
    AuditRecord {
        id: format!("portico-audit-{}", e.seq),
        recorded: e.at,
        category,
        action,
        outcome,
        outcome_desc: (outcome != AuditOutcome::Success).then_some(e.outcome.as_str()),
        agent_name: e.credential_name.as_deref().or(e.client_id.as_deref()).unwrap_or("Portico"),
        // Client ids are issued by this server: its URL names their namespace.
        agent_system: &config.base_url,
        agent_id: e.client_id.as_deref(),
        patient_id: patient,
        reads,
        observer_name: &config.name,
        observer_url: &config.base_url,
    }
}

/// The FHIR interaction a request's description names ("read Observation", "search Observation",
/// "Patient $everything").
fn interaction(detail: Option<&str>) -> Option<&'static str> {
    let d = detail?;
    if d.starts_with("read ") {
        Some("read")
    } else if d.starts_with("search ") {
        Some("search-type")
    } else if d.contains('$') {
        Some("operation")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        for (raw, want) in [
            ("Phone app", "Phone app"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("cr\r\nlf", "\"cr\r\nlf\""),
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn interactions_from_the_request() {
        for (detail, want) in [
            (Some("read Patient"), Some("read")),
            (Some("search Observation"), Some("search-type")),
            (Some("Patient $everything"), Some("operation")),
            (Some("client_credentials"), None),
            (None, None),
        ] {
            assert_eq!(interaction(detail), want, "{detail:?}");
        }
    }
}
