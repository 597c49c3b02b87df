//! Credentials: create (secret shown once), list, view, change, regenerate and delete.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use portico_api as wire;
use portico_domain::{
    effective_access, random_id, AuditEvent, AuditKind, CredentialKind, CredentialName, PatientId, PracticeId, Role, Secret,
    ValidityWindow,
};
use portico_store::{
    CredentialChange, CredentialRecord, NewCredential, ReadStore, StaffKeyListing, StaffKeySort, UserRecord, WriteStore,
};

use crate::error::ApiFailure;
use crate::state::Config;

use super::listing::{clip, page, Params};
use super::*;

pub fn to_credential(store: &dyn ReadStore, c: &CredentialRecord, now: DateTime<Utc>) -> Result<wire::Credential> {
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
        CredentialKind::ConnectedApp | CredentialKind::BackendApp => {
            format!("What was consented: {}", c.scope.as_deref().unwrap_or("nothing"))
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
        active_tokens: {
            // The previous secret's tokens count while its grace period runs, as `engine::authorize` has it.
            let grace = c.previous.as_ref().is_some_and(|(_, until)| *until > now);
            let oldest = if grace { c.secret_generation - 1 } else { c.secret_generation };
            u32::try_from(store.live_token_count(&c.id, oldest, now)?).unwrap_or(u32::MAX)
        },
    })
}

fn window(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<ValidityWindow> {
    ValidityWindow::new(from, to).ok_or_else(|| ApiFailure::invalid("valid_to must be after valid_from"))
}

/// Checks a provider key's patient list: each patient must belong to one of the owner's practices.
fn check_patients(store: &dyn ReadStore, owner: &UserRecord, patients: &[String]) -> Result<Vec<PatientId>> {
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
    store: &mut dyn WriteStore,
    user: &UserRecord,
    req: &wire::NewCredential,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<wire::IssuedSecret> {
    let (kind, role) = CredentialKind::parse(&req.kind)
        .and_then(|k| Some((k, k.required_role()?)))
        .ok_or_else(|| ApiFailure::invalid("kind must be patient_app, developer or provider"))?;
    if !user.has(role) {
        return Err(ApiFailure::forbidden(format!("creating a {} credential needs the {} role", kind.as_str(), role.as_str())));
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
            grant: None,
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
fn issued(store: &dyn ReadStore, id: &str, secret: &Secret, config: &Config, now: DateTime<Utc>) -> Result<wire::IssuedSecret> {
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

pub fn list_credentials(store: &dyn ReadStore, user: &UserRecord, now: DateTime<Utc>) -> Result<Vec<wire::Credential>> {
    store.credentials_of(user.id)?.iter().filter(|c| !c.kind.is_grant()).map(|c| to_credential(store, c, now)).collect()
}

/// `GET /api/staff-credentials`: one page of the developer and provider keys whose owners belong to the
/// administrator's practices, searched, filtered, sorted and paged by the store; see [`wire::StaffKeyQuery`].
pub fn staff_credentials(
    store: &dyn ReadStore,
    user: &UserRecord,
    query: Vec<(String, String)>,
    now: DateTime<Utc>,
) -> Result<wire::Page<wire::StaffKey>> {
    require_admin(user)?;
    let params = Params::new(query, &["q", "kind", "practice", "sort", "dir", "offset", "limit"])?;
    let search = params.search()?;
    let kind = match params.get("kind") {
        None => None,
        Some("developer") => Some(CredentialKind::Developer),
        Some("provider") => Some(CredentialKind::Provider),
        Some(other) => return Err(ApiFailure::invalid(format!("kind: developer or provider (not '{}')", clip(other)))),
    };
    let practice = params.practice(user)?;
    let (sort, descending) = params.order(
        &[
            ("name", StaffKeySort::Name),
            ("owner", StaffKeySort::Owner),
            ("created", StaffKeySort::Created),
            ("last_used", StaffKeySort::LastUsed),
            ("valid_to", StaffKeySort::ValidTo),
        ],
        StaffKeySort::Created,
        true,
    )?;
    let (offset, limit) = params.window()?;
    let (total, rows) = store.staff_credentials_page(&StaffKeyListing {
        visible_to: &user.practices,
        search: search.as_deref(),
        kind,
        practice,
        sort,
        descending,
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        limit: limit as usize,
    })?;
    let names = practice_names(store)?;
    let items = rows
        .iter()
        .map(|c| {
            let owner = store.user(c.owner)?;
            Ok(wire::StaffKey {
                credential: to_credential(store, c, now)?,
                owner_name: owner.as_ref().map(|o| o.display_name.clone()).unwrap_or_default(),
                owner_practices: owner.map(|o| wire_practices(&o.practices, &names)).unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(page(items, total, offset, limit))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Intent {
    View,
    /// Change it, or see its data (preview): the owner alone.
    OwnerOnly,
    Revoke,
}

/// Owners may do everything with their credentials; administrators may view and revoke staff keys whose
/// owner shares one of their practices. Anyone else gets "not found".
pub(super) fn load_credential(store: &dyn ReadStore, user: &UserRecord, id: &str, intent: Intent) -> Result<CredentialRecord> {
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

pub(super) fn live(c: CredentialRecord) -> Result<CredentialRecord> {
    if c.deleted_at.is_some() {
        return Err(ApiFailure::not_found("this credential was deleted"));
    }
    Ok(c)
}

pub fn get_credential(store: &dyn ReadStore, user: &UserRecord, id: &str, now: DateTime<Utc>) -> Result<wire::Credential> {
    let c = live(load_credential(store, user, id, Intent::View)?)?;
    to_credential(store, &c, now)
}

pub fn update_credential(
    store: &mut dyn WriteStore,
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
    store: &mut dyn WriteStore,
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
pub fn delete_credential(store: &mut dyn WriteStore, user: &UserRecord, id: &str, now: DateTime<Utc>) -> Result<wire::Deleted> {
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
