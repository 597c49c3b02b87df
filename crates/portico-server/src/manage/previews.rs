//! Previews: what a credential reaches right now, run as the credential through the one enforcement path.

use chrono::{DateTime, Utc};
use portico_api as wire;
use portico_domain::{AuditEvent, AuditKind};
use portico_store::{ReadStore, UserRecord};

use crate::engine::{self, FhirOk, FhirOp};
use crate::error::{ApiFailure, FhirError};

use super::*;

/// Only the owner previews: an administrator may see a staff key and revoke it, but its data is the
/// reach of someone else's practices, not the administrator's.
fn preview_principal(
    store: &dyn ReadStore,
    user: &UserRecord,
    id: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<engine::Principal, String>> {
    let c = live(load_credential(store, user, id, Intent::OwnerOnly)?)?;
    engine::principal_for_preview(store, c, now).map_err(|_| ApiFailure::internal())
}

/// Counts per resource type, each from a `_summary=count` search run through the engine as the credential.
pub fn preview(
    store: &dyn ReadStore,
    user: &UserRecord,
    id: &str,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> Result<(wire::Preview, Vec<AuditEvent>)> {
    let who = match preview_principal(store, user, id, now)? {
        Ok(p) => p,
        // A credential that reaches nothing right now (inactive, expired, owner lost access) previews as empty.
        Err(_) => {
            let empty = wire::Preview { credential_id: id.to_owned(), patients: Vec::new(), counts: Vec::new(), total: 0 };
            return Ok((empty, Vec::new()));
        }
    };
    let counts: Vec<wire::TypeCount> = counts(store, &who, fhir_base, now)
        .into_iter()
        .map(|(resource_type, count)| wire::TypeCount { resource_type, count })
        .collect();
    let mut patients = Vec::new();
    let op = FhirOp::Search {
        resource_type: "Patient".into(),
        params: vec![("_count".into(), "1000".into())],
        handling: Default::default(),
    };
    if let (Ok(FhirOk { body: Some(b), .. }), _) = engine::execute_read(store, &who, op, fhir_base, now) {
        patients = b["entry"]
            .as_array()
            .map(|es| es.iter().filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
    }
    let mut e = AuditEvent::new(AuditKind::Preview, now);
    e.actor = Some(user.id);
    e.credential_id = Some(who.credential.id.clone());
    e.detail = Some("preview counts".into());
    let total = counts.iter().map(|c| c.count).sum();
    Ok((wire::Preview { credential_id: id.to_owned(), patients, counts, total }, vec![e]))
}

/// Records per resource type that `who` reaches (types with none left out), each from a `_summary=count`
/// search run through the engine: the preview of a credential, and of a grant on the consent page.
pub fn counts(store: &dyn ReadStore, who: &engine::Principal, fhir_base: &str, now: DateTime<Utc>) -> Vec<(String, usize)> {
    let mut counts = Vec::new();
    for td in portico_fhir::supported_types() {
        if td.name != "Patient" && td.compartment.is_empty() {
            continue;
        }
        let op = FhirOp::Search {
            resource_type: td.name.to_owned(),
            params: vec![("_summary".into(), "count".into())],
            handling: Default::default(),
        };
        // A type the scopes exclude (403), or one that fails, simply does not appear.
        if let (Ok(FhirOk { body: Some(b), .. }), _) = engine::execute_read(store, who, op, fhir_base, now) {
            let n = b["total"].as_u64().unwrap_or(0) as usize;
            if n > 0 {
                counts.push((td.name.to_owned(), n));
            }
        }
    }
    counts
}

/// A FHIR read or search run as the credential, for the preview's lists, charts and raw JSON.
pub fn preview_fhir(
    store: &dyn ReadStore,
    user: &UserRecord,
    id: &str,
    op: FhirOp,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> Result<(std::result::Result<FhirOk, FhirError>, Vec<AuditEvent>)> {
    let who = match preview_principal(store, user, id, now)? {
        Ok(p) => p,
        Err(reason) => {
            let refused = FhirError::forbidden(format!("this credential reaches nothing right now: {reason}"));
            return Ok((Err(refused), Vec::new()));
        }
    };
    let (result, mut events) = engine::execute_read(store, &who, op, fhir_base, now);
    for ev in &mut events {
        ev.actor = Some(user.id);
    }
    Ok((result, events))
}
