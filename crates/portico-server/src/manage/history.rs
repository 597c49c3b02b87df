//! Audit views: a credential's history, revocation receipts, a patient's own audit.
use std::collections::BTreeMap;

use portico_api as wire;
use portico_domain::PatientId;
use portico_store::{ReadStore, UserRecord};

use crate::error::ApiFailure;

use super::*;

fn to_event(
    store: &dyn ReadStore,
    seq: i64,
    e: portico_domain::AuditEvent,
    names: &mut BTreeMap<String, Option<String>>,
) -> Result<wire::AccessEvent> {
    let credential_name = match &e.credential_id {
        Some(id) => {
            if !names.contains_key(id) {
                names.insert(id.clone(), store.credential(id)?.map(|c| c.name));
            }
            names.get(id).cloned().flatten()
        }
        None => None,
    };
    Ok(wire::AccessEvent {
        seq,
        at: e.at,
        kind: e.kind.as_str().to_owned(),
        outcome: e.outcome,
        credential_id: e.credential_id,
        credential_name,
        patient_id: e.patient.map(|p| p.0),
        resource_types: e.resource_types,
        count: e.count,
        detail: e.detail,
        client_id: e.client_id,
    })
}

pub fn history(store: &dyn ReadStore, user: &UserRecord, id: &str, limit: usize) -> Result<Vec<wire::AccessEvent>> {
    let c = load_credential(store, user, id, Intent::View)?;
    let mut names = BTreeMap::new();
    // The history is what the app did and what happened to its credential; the owner's own previews are
    // in the audit log but are not the app's doing.
    store
        .app_events_for_credential(&c.id, limit.min(1000))?
        .into_iter()
        .map(|(seq, e)| to_event(store, seq, e, &mut names))
        .collect()
}

/// Receipts for the user's deleted credentials (the 20 most recent).
pub fn receipts(store: &dyn ReadStore, user: &UserRecord) -> Result<Vec<wire::RevocationReceipt>> {
    let mut names = BTreeMap::new();
    let mut out = Vec::new();
    for c in store.deleted_credentials_of(user.id, 20)? {
        let Some(deleted_at) = c.deleted_at else { continue };
        // Oldest first: the deletion event, then the first refusal that followed it.
        let mut events = store.app_events_for_credential(&c.id, 1000)?;
        events.reverse();
        let deletion = events.iter().position(|(_, e)| e.kind == portico_domain::AuditKind::CredentialDeleted);
        let tokens_revoked = deletion.and_then(|i| events[i].1.count).unwrap_or(0);
        let refused = deletion.and_then(|i| {
            events[i..]
                .iter()
                .find(|(_, e)| matches!(e.kind, portico_domain::AuditKind::TokenRefused | portico_domain::AuditKind::FhirRefused))
                .cloned()
        });
        let first_refused = refused.map(|(seq, e)| to_event(store, seq, e, &mut names)).transpose()?;
        let revoked_by = match deletion.and_then(|i| events[i].1.actor) {
            Some(actor) => store.user(actor)?.map(|u| u.username),
            None => None,
        };
        out.push(wire::RevocationReceipt {
            credential_id: c.id,
            name: c.name,
            client_id: c.client_id,
            deleted_at,
            tokens_revoked,
            first_refused,
            created_at: Some(c.created_at),
            valid_to: c.window.to,
            revoked_by,
        });
    }
    Ok(out)
}

/// A patient's view of the audit log: everything recorded about their own record.
pub fn my_audit(store: &dyn ReadStore, user: &UserRecord, limit: usize) -> Result<Vec<wire::AccessEvent>> {
    Ok(own_record_events(store, user, limit.min(1000))?.1)
}

/// The user's own Patient and the newest `limit` events about it: 403 for a user who is no patient.
pub(super) fn own_record_events(
    store: &dyn ReadStore,
    user: &UserRecord,
    limit: usize,
) -> Result<(PatientId, Vec<wire::AccessEvent>)> {
    let patient = user.patient.as_ref().ok_or_else(|| ApiFailure::forbidden("only patients have a record to audit"))?;
    let mut names = BTreeMap::new();
    let events = store
        .audit_for_patient(patient, limit)?
        .into_iter()
        .map(|(seq, e)| to_event(store, seq, e, &mut names))
        .collect::<Result<_>>()?;
    Ok((patient.clone(), events))
}
