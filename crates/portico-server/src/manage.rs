//! The management API's logic: sessions, credentials, previews, history, users and patients. Synchronous
//! functions over the store, called by the thin handlers in `api`. Authorization rules for people live here:
//! owners manage their own credentials; administrators see and revoke staff keys of their practices and
//! manage users of their practices.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use portico_api as wire;
use portico_api::ErrorCode;
use portico_domain::{
    effective_access, hash_password, random_id, verify_password, AuditEvent, AuditKind, CredentialKind, CredentialName,
    PatientId, PracticeId, Role, Secret, SecretKind, UserId, Username, ValidityWindow,
};
use portico_store::{CredentialChange, CredentialRecord, NewCredential, Store, UserRecord};

use crate::engine::{self, FhirOk, FhirOp};
use crate::error::{ApiFailure, FhirError};
use crate::state::Config;

type Result<T> = std::result::Result<T, ApiFailure>;

fn unauthenticated() -> ApiFailure {
    ApiFailure::new(ErrorCode::Unauthenticated, "sign in first (the session is missing, expired or signed out)")
}

pub fn sign_in(store: &mut Store, req: &wire::SignIn, config: &Config, now: DateTime<Utc>) -> Result<wire::Session> {
    let user = store.user_by_username(req.username.trim())?;
    let ok = match &user {
        Some(u) => verify_password(&req.password, &u.password_hash),
        None => {
            // Spend the same time on unknown names, so timing does not reveal which usernames exist.
            verify_password(&req.password, DUMMY_HASH);
            false
        }
    };
    let mut e = AuditEvent::new(if ok { AuditKind::SignIn } else { AuditKind::SignInRefused }, now);
    e.actor = user.as_ref().map(|u| u.id);
    let Some(user) = user.filter(|_| ok) else {
        e.outcome = "wrong username or password".into();
        store.append_audit(&[e])?;
        return Err(ApiFailure::new(ErrorCode::Unauthenticated, "wrong username or password"));
    };
    store.append_audit(&[e])?;
    let token = Secret::generate(SecretKind::Session, &mut rand::rngs::OsRng);
    let expires_at = now + Duration::seconds(config.session_lifetime_secs);
    store.create_session(&token.digest(), user.id, now, expires_at)?;
    Ok(wire::Session { token: token.expose().to_owned(), expires_at, user: to_user(store, &user)? })
}

/// An Argon2id hash of a random string nobody knows, used only to equalize sign-in timing.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Yc7AXv2bYhXyM1lTnUQ8r0Mf1lWq7Rr8r4LjUvVwP2U";

pub fn session_user(store: &Store, bearer: Option<&str>, now: DateTime<Utc>) -> Result<UserRecord> {
    let token = bearer.and_then(|b| Secret::parse(SecretKind::Session, b)).ok_or_else(unauthenticated)?;
    let id = store.session_user(&token.digest(), now)?.ok_or_else(unauthenticated)?;
    store.user(id)?.ok_or_else(unauthenticated)
}

pub fn sign_out(store: &mut Store, bearer: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    if let Some(token) = bearer.and_then(|b| Secret::parse(SecretKind::Session, b)) {
        store.revoke_session(&token.digest(), now)?;
    }
    Ok(())
}

pub fn to_user(store: &Store, u: &UserRecord) -> Result<wire::User> {
    let names: BTreeMap<PracticeId, String> = store.practices()?.into_iter().collect();
    Ok(wire::User {
        id: u.id.0,
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        practices: u
            .practices
            .iter()
            .map(|p| wire::Practice { id: p.0, name: names.get(p).cloned().unwrap_or_default() })
            .collect(),
        patient_id: u.patient.as_ref().map(|p| p.0.clone()),
    })
}

fn username_of(store: &Store, id: UserId) -> Result<String> {
    Ok(store.user(id)?.map(|u| u.username).unwrap_or_else(|| format!("user {}", id.0)))
}

pub fn to_credential(store: &Store, c: &CredentialRecord, now: DateTime<Utc>) -> Result<wire::Credential> {
    let owner = store.user(c.owner)?;
    let facts = owner.as_ref().map(UserRecord::facts).unwrap_or_default();
    let access = effective_access(&store.credential_facts(c)?, &facts, now);
    let writes = facts.roles.iter().any(|r| r.writes_clinical_data());
    let mode = if c.kind == CredentialKind::Developer && writes { "read and write" } else { "read-only" };
    let reach = match c.kind {
        CredentialKind::PatientApp => "Your health record, read-only".to_owned(),
        CredentialKind::Developer => {
            let names: BTreeMap<PracticeId, String> = store.practices()?.into_iter().collect();
            let ps: Vec<String> = facts.practices.iter().filter_map(|p| names.get(p).cloned()).collect();
            if ps.is_empty() {
                format!("No practice at the moment ({mode})")
            } else {
                format!("All patients of {} ({mode})", ps.join(", "))
            }
        }
        CredentialKind::Provider => {
            format!("{} chosen patient{} ({mode})", c.patients.len(), if c.patients.len() == 1 { "" } else { "s" })
        }
    };
    let patients = match c.kind {
        CredentialKind::PatientApp => facts.patient.iter().map(|p| p.0.clone()).collect(),
        _ => c.patients.iter().map(|p| p.0.clone()).collect(),
    };
    Ok(wire::Credential {
        id: c.id.clone(),
        kind: c.kind.as_str().to_owned(),
        name: c.name.clone(),
        note: c.note.clone(),
        client_id: c.client_id.clone(),
        secret_hint: c.secret_hint.clone(),
        status: if c.active { wire::CredentialStatus::Active } else { wire::CredentialStatus::Inactive },
        usable: access.is_ok(),
        valid_from: c.window.from,
        valid_to: c.window.to,
        created_at: c.created_at,
        created_by: username_of(store, c.created_by)?,
        owner: owner.map(|o| o.username).unwrap_or_default(),
        last_used_at: store.last_used(&c.id)?,
        scope: access.map(|a| a.allowed.to_string()).unwrap_or_default(),
        patients,
        reach,
        previous_secret_valid_until: c.previous.as_ref().map(|(_, until)| *until).filter(|u| *u > now),
    })
}

fn window(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<ValidityWindow> {
    ValidityWindow::new(from, to).ok_or_else(|| ApiFailure::invalid("valid_to must be after valid_from"))
}

/// Checks a provider key's patient list: each patient must belong to one of the owner's practices.
fn check_patients(store: &Store, owner: &UserRecord, patients: &[String]) -> Result<Vec<PatientId>> {
    if patients.len() > 1000 {
        return Err(ApiFailure::invalid("a provider key can list at most 1000 patients"));
    }
    let mut out = Vec::new();
    for p in patients {
        let id = PatientId(p.clone());
        let practices = store.patient_practices(&id)?;
        if !practices.iter().any(|pr| owner.practices.contains(pr)) {
            return Err(ApiFailure::invalid(format!(
                "patient '{}' is not a patient of your practices",
                p.chars().take(64).collect::<String>()
            )));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

pub fn create_credential(
    store: &mut Store,
    user: &UserRecord,
    req: &wire::NewCredential,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<wire::IssuedSecret> {
    let kind =
        CredentialKind::parse(&req.kind).ok_or_else(|| ApiFailure::invalid("kind must be patient_app, developer or provider"))?;
    if !user.has(kind.required_role()) {
        return Err(ApiFailure::forbidden(format!(
            "creating a {} credential needs the {} role",
            kind.as_str(),
            kind.required_role().as_str()
        )));
    }
    let name = CredentialName::parse(&req.name).map_err(|e| ApiFailure::invalid(format!("name: {e}")))?;
    let note = normalize_note(req.note.as_deref())?;
    let window = window(req.valid_from, req.valid_to)?;
    let patients = match kind {
        CredentialKind::Provider => {
            if req.patients.is_empty() {
                return Err(ApiFailure::invalid("patients: choose at least one patient"));
            }
            check_patients(store, user, &req.patients)?
        }
        _ if !req.patients.is_empty() => return Err(ApiFailure::invalid("patients: only provider keys have a patient list")),
        _ => Vec::new(),
    };
    let mut rng = rand::rngs::OsRng;
    let secret = Secret::generate(kind.secret_kind(), &mut rng);
    let id = uuid::Uuid::new_v4().to_string();
    let client_id = random_id(kind.client_id_prefix(), &mut rng);
    store.insert_credential(
        &NewCredential {
            id: &id,
            kind,
            owner: user.id,
            name: name.as_str(),
            note: note.as_deref(),
            client_id: &client_id,
            secret_digest: secret.digest(),
            secret_hint: &secret.hint(),
            window,
            active: req.active.unwrap_or(true),
            created_by: user.id,
            patients: &patients,
        },
        now,
    )?;
    let mut e = AuditEvent::new(AuditKind::CredentialCreated, now);
    e.actor = Some(user.id);
    e.credential_id = Some(id.clone());
    e.client_id = Some(client_id.clone());
    e.patient = user.patient.clone().filter(|_| kind == CredentialKind::PatientApp);
    e.detail = Some(format!("{} credential created", kind.as_str()));
    store.append_audit(&[e])?;
    issued(store, &id, &secret, config, now)
}

/// The one answer that carries a secret: the credential as stored now, its secret, and where to use it.
fn issued(store: &Store, id: &str, secret: &Secret, config: &Config, now: DateTime<Utc>) -> Result<wire::IssuedSecret> {
    let record = store.credential(id)?.ok_or_else(ApiFailure::internal)?;
    Ok(wire::IssuedSecret {
        credential: to_credential(store, &record, now)?,
        client_id: record.client_id,
        client_secret: secret.expose().to_owned(),
        token_url: config.token_url(),
        fhir_base_url: config.fhir_base(),
    })
}

fn normalize_note(note: Option<&str>) -> Result<Option<String>> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if let Some(n) = note {
        if n.chars().count() > 500 || n.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ApiFailure::invalid("note: at most 500 printable characters"));
        }
    }
    Ok(note.map(str::to_owned))
}

pub fn list_credentials(store: &Store, user: &UserRecord, now: DateTime<Utc>) -> Result<Vec<wire::Credential>> {
    store.credentials_of(user.id)?.iter().map(|c| to_credential(store, c, now)).collect()
}

/// Staff keys of the administrator's practices.
pub fn staff_credentials(store: &Store, user: &UserRecord, now: DateTime<Utc>) -> Result<Vec<wire::Credential>> {
    require_admin(user)?;
    store.staff_credentials(&user.practices)?.iter().map(|c| to_credential(store, c, now)).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Intent {
    View,
    /// Change it, or see its data (preview): the owner alone.
    OwnerOnly,
    Revoke,
}

/// Owners may do everything with their credentials; administrators may view and revoke staff keys whose
/// owner shares one of their practices. Anyone else gets "not found".
fn load_credential(store: &Store, user: &UserRecord, id: &str, intent: Intent) -> Result<CredentialRecord> {
    let missing = || ApiFailure::not_found("no such credential");
    let c = store.credential(id)?.ok_or_else(missing)?;
    if c.owner == user.id {
        return Ok(c);
    }
    let admin_may = user.has(Role::Administrator) && c.kind != CredentialKind::PatientApp && intent != Intent::OwnerOnly && {
        let owner = store.user(c.owner)?;
        owner.is_some_and(|o| o.practices.iter().any(|p| user.practices.contains(p)))
    };
    if admin_may {
        Ok(c)
    } else {
        Err(missing())
    }
}

fn live(c: CredentialRecord) -> Result<CredentialRecord> {
    if c.deleted_at.is_some() {
        return Err(ApiFailure::not_found("this credential was deleted"));
    }
    Ok(c)
}

pub fn get_credential(store: &Store, user: &UserRecord, id: &str, now: DateTime<Utc>) -> Result<wire::Credential> {
    let c = live(load_credential(store, user, id, Intent::View)?)?;
    to_credential(store, &c, now)
}

pub fn update_credential(
    store: &mut Store,
    user: &UserRecord,
    id: &str,
    req: &wire::CredentialUpdate,
    now: DateTime<Utc>,
) -> Result<wire::Credential> {
    let c = live(load_credential(store, user, id, Intent::OwnerOnly)?)?;
    let name =
        req.name.as_deref().map(CredentialName::parse).transpose().map_err(|e| ApiFailure::invalid(format!("name: {e}")))?;
    let note = req.note.as_ref().map(|n| normalize_note(n.as_deref())).transpose()?;
    let from = req.valid_from.unwrap_or(c.window.from);
    let to = req.valid_to.unwrap_or(c.window.to);
    let new_window = window(from, to)?;
    let patients = match &req.patients {
        Some(_) if c.kind != CredentialKind::Provider => {
            return Err(ApiFailure::invalid("patients: only provider keys have a patient list"))
        }
        Some(ps) if ps.is_empty() => return Err(ApiFailure::invalid("patients: choose at least one patient")),
        Some(ps) => Some(check_patients(store, user, ps)?),
        None => None,
    };
    let change = CredentialChange {
        name: name.map(|n| n.as_str().to_owned()),
        note,
        window: (new_window != c.window).then_some(new_window),
        active: req.active,
        patients,
    };
    store.update_credential(&c.id, &change, now)?;
    let mut e = AuditEvent::new(AuditKind::CredentialUpdated, now);
    e.actor = Some(user.id);
    e.credential_id = Some(c.id.clone());
    e.detail = Some(describe_change(&change));
    store.append_audit(&[e])?;
    let updated = store.credential(&c.id)?.ok_or_else(ApiFailure::internal)?;
    to_credential(store, &updated, now)
}

fn describe_change(c: &CredentialChange) -> String {
    let mut parts = Vec::new();
    if c.name.is_some() {
        parts.push("name".to_owned());
    }
    if c.note.is_some() {
        parts.push("note".to_owned());
    }
    if c.window.is_some() {
        parts.push("validity window".to_owned());
    }
    if let Some(a) = c.active {
        parts.push(if a { "activated".to_owned() } else { "deactivated".to_owned() });
    }
    if let Some(p) = &c.patients {
        parts.push(format!("patient list ({} patients)", p.len()));
    }
    if parts.is_empty() {
        "no change".into()
    } else {
        format!("changed: {}", parts.join(", "))
    }
}

pub fn regenerate(
    store: &mut Store,
    user: &UserRecord,
    id: &str,
    req: &wire::Regenerate,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<wire::IssuedSecret> {
    let c = live(load_credential(store, user, id, Intent::OwnerOnly)?)?;
    let grace = req.grace_seconds.filter(|s| *s > 0);
    if grace.is_some_and(|g| g > 7 * 24 * 3600) {
        return Err(ApiFailure::invalid("grace_seconds: at most 7 days"));
    }
    let secret = Secret::generate(c.kind.secret_kind(), &mut rand::rngs::OsRng);
    let until = grace.map(|g| now + Duration::seconds(i64::from(g)));
    let revoked = store.replace_secret(&c.id, secret.digest(), &secret.hint(), until, now)?;
    let mut e = AuditEvent::new(AuditKind::CredentialRegenerated, now);
    e.actor = Some(user.id);
    e.credential_id = Some(c.id.clone());
    e.count = Some(revoked as i64);
    e.detail = Some(match grace {
        Some(g) => format!("secret regenerated; the old one works for {g} more seconds"),
        None => format!("secret regenerated; the old one and {revoked} tokens stopped working"),
    });
    store.append_audit(&[e])?;
    issued(store, &c.id, &secret, config, now)
}

/// Idempotent: deleting a deleted credential answers the same, with `deleted_now: false`.
pub fn delete_credential(store: &mut Store, user: &UserRecord, id: &str, now: DateTime<Utc>) -> Result<wire::Deleted> {
    let c = load_credential(store, user, id, Intent::Revoke)?;
    let Some(revoked) = store.delete_credential(&c.id, now)? else {
        return Ok(wire::Deleted { id: c.id, deleted_now: false, tokens_revoked: 0, at: c.deleted_at.unwrap_or(now) });
    };
    let mut e = AuditEvent::new(AuditKind::CredentialDeleted, now);
    e.actor = Some(user.id);
    e.credential_id = Some(c.id.clone());
    e.client_id = Some(c.client_id.clone());
    e.count = Some(revoked as i64);
    e.patient = store.user(c.owner)?.and_then(|o| o.patient).filter(|_| c.kind == CredentialKind::PatientApp);
    e.detail = Some(format!("deleted; {revoked} tokens revoked"));
    store.append_audit(&[e])?;
    // The stored instant (millisecond precision), so this answer and every later view agree.
    let at = store.credential(&c.id)?.and_then(|d| d.deleted_at).unwrap_or(now);
    Ok(wire::Deleted { id: c.id, deleted_now: true, tokens_revoked: revoked, at })
}

/// Only the owner previews: an administrator may see a staff key and revoke it, but its data is the
/// reach of someone else's practices, not the administrator's.
fn preview_principal(
    store: &Store,
    user: &UserRecord,
    id: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<engine::Principal, String>> {
    let c = live(load_credential(store, user, id, Intent::OwnerOnly)?)?;
    engine::principal_for_preview(store, c, now).map_err(|_| ApiFailure::internal())
}

/// Counts per resource type, each from a `_summary=count` search run through the engine as the credential.
pub fn preview(store: &mut Store, user: &UserRecord, id: &str, fhir_base: &str, now: DateTime<Utc>) -> Result<wire::Preview> {
    let who = match preview_principal(store, user, id, now)? {
        Ok(p) => p,
        // A credential that reaches nothing right now (inactive, expired, owner lost access) previews as empty.
        Err(_) => return Ok(wire::Preview { credential_id: id.to_owned(), patients: Vec::new(), counts: Vec::new(), total: 0 }),
    };
    let mut counts = Vec::new();
    let mut patients = Vec::new();
    for td in portico_fhir::supported_types() {
        if td.name != "Patient" && td.compartment.is_empty() {
            continue;
        }
        let op = FhirOp::Search { resource_type: td.name.to_owned(), params: vec![("_summary".into(), "count".into())] };
        let (result, _) = engine::execute(store, &who, op, fhir_base, now);
        match result {
            Ok(FhirOk { body: Some(b), .. }) => {
                let n = b["total"].as_u64().unwrap_or(0) as usize;
                if n > 0 {
                    counts.push(wire::TypeCount { resource_type: td.name.to_owned(), count: n });
                }
            }
            Ok(_) => {}
            // A type the scopes exclude simply does not appear.
            Err(FhirError { status, .. }) if status == axum::http::StatusCode::FORBIDDEN => {}
            Err(_) => return Err(ApiFailure::internal()),
        }
    }
    let op = FhirOp::Search { resource_type: "Patient".into(), params: vec![("_count".into(), "1000".into())] };
    if let (Ok(FhirOk { body: Some(b), .. }), _) = engine::execute(store, &who, op, fhir_base, now) {
        patients = b["entry"]
            .as_array()
            .map(|es| es.iter().filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
    }
    let mut e = AuditEvent::new(AuditKind::Preview, now);
    e.actor = Some(user.id);
    e.credential_id = Some(who.credential.id.clone());
    e.detail = Some("preview counts".into());
    store.append_audit(&[e])?;
    let total = counts.iter().map(|c| c.count).sum();
    Ok(wire::Preview { credential_id: id.to_owned(), patients, counts, total })
}

/// A FHIR read or search run as the credential, for the preview's lists, charts and raw JSON.
pub fn preview_fhir(
    store: &mut Store,
    user: &UserRecord,
    id: &str,
    op: FhirOp,
    fhir_base: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<FhirOk, FhirError>> {
    let who = match preview_principal(store, user, id, now)? {
        Ok(p) => p,
        Err(reason) => return Ok(Err(FhirError::forbidden(format!("this credential reaches nothing right now: {reason}")))),
    };
    let (result, mut events) = engine::execute(store, &who, op, fhir_base, now);
    for ev in &mut events {
        ev.actor = Some(user.id);
    }
    store.append_audit(&events)?;
    Ok(result)
}

fn to_event(
    store: &Store,
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
    })
}

pub fn history(store: &Store, user: &UserRecord, id: &str, limit: usize) -> Result<Vec<wire::AccessEvent>> {
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
pub fn receipts(store: &Store, user: &UserRecord) -> Result<Vec<wire::RevocationReceipt>> {
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
        out.push(wire::RevocationReceipt {
            credential_id: c.id,
            name: c.name,
            client_id: c.client_id,
            deleted_at,
            tokens_revoked,
            first_refused,
        });
    }
    Ok(out)
}

/// A patient's view of the audit log: everything recorded about their own record.
pub fn my_audit(store: &Store, user: &UserRecord, limit: usize) -> Result<Vec<wire::AccessEvent>> {
    let patient = user.patient.as_ref().ok_or_else(|| ApiFailure::forbidden("only patients have a record to audit"))?;
    let mut names = BTreeMap::new();
    store.audit_for_patient(patient, limit.min(1000))?.into_iter().map(|(seq, e)| to_event(store, seq, e, &mut names)).collect()
}

pub fn patients(store: &Store, user: &UserRecord, query: Option<&str>) -> Result<Vec<wire::PatientSummary>> {
    if !user.roles.iter().any(|r| r.is_staff()) {
        return Err(ApiFailure::forbidden("only staff can list patients"));
    }
    Ok(store
        .patients(&user.practices, query)?
        .into_iter()
        .map(|p| wire::PatientSummary {
            id: p.id.0,
            name: p.name,
            birth_date: p.birth_date,
            gender: p.gender,
            practices: p.practices.into_iter().map(|x| x.0).collect(),
        })
        .collect())
}

pub fn practices(store: &Store) -> Result<Vec<wire::Practice>> {
    Ok(store.practices()?.into_iter().map(|(id, name)| wire::Practice { id: id.0, name }).collect())
}

fn require_admin(user: &UserRecord) -> Result<()> {
    if user.has(Role::Administrator) {
        Ok(())
    } else {
        Err(ApiFailure::forbidden("this needs the administrator role"))
    }
}

pub fn users(store: &Store, admin: &UserRecord) -> Result<Vec<wire::User>> {
    require_admin(admin)?;
    store.users(Some(&admin.practices))?.iter().map(|u| to_user(store, u)).collect()
}

fn parse_roles(roles: &[String]) -> Result<Vec<Role>> {
    roles
        .iter()
        .map(|r| {
            Role::parse(r)
                .ok_or_else(|| ApiFailure::invalid(format!("unknown role '{}'", r.chars().take(32).collect::<String>())))
        })
        .collect()
}

/// An administrator manages staff of their practices, patients of their practices, and new users who belong
/// nowhere yet; the same people `users` lists them.
fn admin_may_manage(store: &Store, admin: &UserRecord, target: UserId) -> Result<UserRecord> {
    let u = store.user(target)?.ok_or_else(|| ApiFailure::not_found("no such user"))?;
    let member = u.practices.iter().any(|p| admin.practices.contains(p));
    let our_patient = match &u.patient {
        Some(p) => store.patient_practices(p)?.iter().any(|pr| admin.practices.contains(pr)),
        None => false,
    };
    let unplaced = u.practices.is_empty() && u.patient.is_none();
    let shares = member || our_patient || unplaced;
    if shares {
        Ok(u)
    } else {
        Err(ApiFailure::not_found("no such user"))
    }
}

fn user_changed(store: &mut Store, admin: &UserRecord, target: UserId, detail: String, now: DateTime<Utc>) -> Result<()> {
    let mut e = AuditEvent::new(AuditKind::UserChanged, now);
    e.actor = Some(admin.id);
    e.detail = Some(format!("user {}: {detail}", target.0));
    store.append_audit(&[e])?;
    Ok(())
}

pub fn create_user(store: &mut Store, admin: &UserRecord, req: &wire::NewUser, now: DateTime<Utc>) -> Result<wire::User> {
    require_admin(admin)?;
    let username = Username::parse(req.username.trim())
        .ok_or_else(|| ApiFailure::invalid("username: 3–64 lowercase letters, digits, '.', '_' or '-'"))?;
    let display = req.display_name.trim();
    if display.is_empty() || display.chars().count() > 100 || display.chars().any(char::is_control) {
        return Err(ApiFailure::invalid("display_name: 1–100 printable characters"));
    }
    let roles = parse_roles(&req.roles)?;
    let practices: Vec<PracticeId> = req.practices.iter().map(|p| PracticeId(*p)).collect();
    if let Some(p) = practices.iter().find(|p| !admin.practices.contains(p)) {
        return Err(ApiFailure::forbidden(format!("you are not an administrator of practice {}", p.0)));
    }
    let patient = req.patient_id.as_ref().map(|p| PatientId(p.clone()));
    if let Some(p) = &patient {
        // A patient user sees that Patient's whole record: it must exist and belong to this admin's practice.
        let exists = store.read_resource("Patient", p.as_str())?.is_some_and(|r| !r.deleted);
        let ours = store.patient_practices(p)?.iter().any(|pr| admin.practices.contains(pr));
        if !exists || !ours {
            return Err(ApiFailure::invalid("patient_id: no such patient in your practices"));
        }
        if !roles.contains(&Role::Patient) {
            return Err(ApiFailure::invalid("patient_id is only for users with the patient role"));
        }
    }
    let hash = hash_password(&req.password, &mut rand::rngs::OsRng).map_err(|e| ApiFailure::invalid(format!("password: {e}")))?;
    let id = store.create_user(
        &portico_store::NewUser {
            username: username.as_str(),
            display_name: display,
            password_hash: &hash,
            roles: &roles,
            practices: &practices,
            patient: patient.as_ref(),
        },
        now,
    )?;
    user_changed(store, admin, id, "created".into(), now)?;
    let u = store.user(id)?.ok_or_else(ApiFailure::internal)?;
    to_user(store, &u)
}

pub fn set_roles(
    store: &mut Store,
    admin: &UserRecord,
    target: i64,
    req: &wire::SetRoles,
    now: DateTime<Utc>,
) -> Result<wire::User> {
    require_admin(admin)?;
    let u = admin_may_manage(store, admin, UserId(target))?;
    let roles = parse_roles(&req.roles)?;
    if u.id == admin.id && !roles.contains(&Role::Administrator) {
        return Err(ApiFailure::invalid("you cannot remove your own administrator role"));
    }
    store.set_roles(u.id, &roles)?;
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    user_changed(store, admin, u.id, format!("roles set to [{}]", names.join(", ")), now)?;
    let u = store.user(u.id)?.ok_or_else(ApiFailure::internal)?;
    to_user(store, &u)
}

/// Sets the user's memberships among the administrator's practices; memberships elsewhere are kept.
pub fn set_practices(
    store: &mut Store,
    admin: &UserRecord,
    target: i64,
    req: &wire::SetPractices,
    now: DateTime<Utc>,
) -> Result<wire::User> {
    require_admin(admin)?;
    let u = admin_may_manage(store, admin, UserId(target))?;
    let wanted: Vec<PracticeId> = req.practices.iter().map(|p| PracticeId(*p)).collect();
    if let Some(p) = wanted.iter().find(|p| !admin.practices.contains(p)) {
        return Err(ApiFailure::forbidden(format!("you are not an administrator of practice {}", p.0)));
    }
    let mut practices: Vec<PracticeId> = u.practices.iter().copied().filter(|p| !admin.practices.contains(p)).collect();
    practices.extend(wanted);
    practices.sort();
    practices.dedup();
    store.set_practices(u.id, &practices)?;
    user_changed(store, admin, u.id, format!("practices set to {:?}", practices.iter().map(|p| p.0).collect::<Vec<_>>()), now)?;
    let u = store.user(u.id)?.ok_or_else(ApiFailure::internal)?;
    to_user(store, &u)
}
