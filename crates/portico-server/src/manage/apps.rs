//! Third-party apps: registration (a secret shown once), changes, secret rotation and deletion by their
//! developer; practice approvals (the developer asks, an administrator of that practice decides); the
//! caller's connected apps (grants) and their end dates; and self-service developer signup.

use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use portico_api as wire;
use portico_domain::{
    check_registration, check_web_url, effective_access, format_instant, random_id, AppType, ApprovalStatus, AuditEvent,
    AuditKind, ClientAuth, CredentialKind, CredentialName, Platform, PracticeId, Role, Scope, ScopeContext, Secret, SecretKind,
    UserId, Username, ValidityWindow,
};
use portico_store::{
    AppChange, AppRecord, ApprovalRecord, CredentialChange, CredentialRecord, ReadStore, UserRecord, WriteStore,
};
use serde_json::Value;

use crate::error::ApiFailure;
use crate::state::{AppState, Config};

use super::*;

/// The scopes that name no resource but may be asked for beside resource scopes.
const IDENTITY_AND_LAUNCH: [&str; 7] =
    ["openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access"];

/// An inline JWKS larger than this is not a list of a few public keys.
pub const JWKS_LIMIT: usize = 64 * 1024;

/// JWK members that hold private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1): an app
/// publishes its public keys only, and a key that leaked here would be shown to anyone who can view the app.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The longest grace period for an old app secret after a rotation: one week.
const MAX_GRACE_MINUTES: u32 = 7 * 24 * 60;

/// A grant's end date can be set at most this far ahead; the person renews it from Connected apps.
const MAX_GRANT_EXTENSION_DAYS: i64 = 365;

/// What `DELETE /api/apps/{id}` answers.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AppDeleted {
    pub revoked_grants: usize,
}

fn require_registrar(user: &UserRecord) -> Result<()> {
    if user.roles.iter().any(|r| r.registers_apps()) {
        Ok(())
    } else {
        Err(ApiFailure::forbidden("registering apps needs the developer or app_developer role"))
    }
}

fn authorize_url(config: &Config) -> String {
    format!("{}/oauth/authorize", config.base_url)
}

fn practice_names(store: &dyn ReadStore) -> Result<BTreeMap<PracticeId, String>> {
    Ok(store.practices()?.into_iter().collect())
}

fn short(s: &str) -> String {
    s.chars().take(100).collect()
}

// ---- Validation ----

/// A registration as it would be stored, checked as a whole: the same rules for a new app and for one
/// being changed, so an edit cannot reach a state registration would refuse.
struct Draft {
    name: String,
    description: String,
    homepage: Option<String>,
    privacy_policy: Option<String>,
    app_type: AppType,
    platform: Platform,
    auth: ClientAuth,
    redirect_uris: Vec<String>,
    jwks: Option<String>,
    jwks_url: Option<String>,
    scopes: String,
}

/// Trimmed; empty means absent.
fn optional(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl Draft {
    fn from_new(req: &wire::NewApp) -> Result<Draft> {
        let app_type = AppType::parse(&req.app_type).ok_or_else(|| ApiFailure::invalid("app_type: patient or system"))?;
        let platform =
            Platform::parse(&req.platform).ok_or_else(|| ApiFailure::invalid("platform: web, native, browser or service"))?;
        let auth = ClientAuth::parse(&req.client_auth).ok_or_else(|| {
            ApiFailure::invalid("client_auth: none, client_secret_basic, client_secret_post or private_key_jwt")
        })?;
        Ok(Draft {
            name: req.name.clone(),
            description: req.description.clone(),
            homepage: optional(req.homepage.as_deref()),
            privacy_policy: optional(req.privacy_policy.as_deref()),
            app_type,
            platform,
            auth,
            redirect_uris: req.redirect_uris.clone(),
            jwks: optional(req.jwks.as_deref()),
            jwks_url: optional(req.jwks_url.as_deref()),
            scopes: req.scopes.clone(),
        })
    }

    /// The app as it would be after `req`: absent fields keep their value, an empty string clears an
    /// optional one (homepage, privacy policy, JWKS, JWKS URL).
    fn from_update(a: &AppRecord, req: &wire::AppUpdate) -> Draft {
        let keep = |new: &Option<String>, old: &Option<String>| match new {
            Some(v) => optional(Some(v)),
            None => old.clone(),
        };
        Draft {
            name: req.name.clone().unwrap_or_else(|| a.name.clone()),
            description: req.description.clone().unwrap_or_else(|| a.description.clone()),
            homepage: keep(&req.homepage, &a.homepage),
            privacy_policy: keep(&req.privacy_policy, &a.privacy_policy),
            app_type: a.app_type,
            platform: a.platform,
            auth: a.client_auth,
            redirect_uris: req.redirect_uris.clone().unwrap_or_else(|| a.redirect_uris.clone()),
            jwks: keep(&req.jwks, &a.jwks),
            jwks_url: keep(&req.jwks_url, &a.jwks_url),
            scopes: req.scopes.clone().unwrap_or_else(|| a.scopes.clone()),
        }
    }

    /// Every rule, each refusal naming its field; returns the draft normalized (trimmed name and
    /// description, redirect URIs without repeats, scopes single-spaced without repeats).
    fn checked(mut self) -> Result<Draft> {
        self.name = CredentialName::parse(&self.name).map_err(|e| ApiFailure::invalid(format!("name: {e}")))?.as_str().to_owned();
        self.description = self.description.trim().to_owned();
        if self.description.chars().count() > 1000 || self.description.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ApiFailure::invalid("description: at most 1000 printable characters"));
        }
        for (field, url) in [("homepage", &self.homepage), ("privacy_policy", &self.privacy_policy), ("jwks_url", &self.jwks_url)]
        {
            if let Some(u) = url {
                check_web_url(field, u).map_err(|e| ApiFailure::invalid(e.to_string()))?;
            }
        }
        if self.jwks.is_some() && self.jwks_url.is_some() {
            return Err(ApiFailure::invalid("jwks: give either an inline JWKS or a JWKS URL, not both"));
        }
        if let Some(j) = &self.jwks {
            check_jwks(j)?;
        }
        let mut uris: Vec<String> = Vec::new();
        for u in &self.redirect_uris {
            if !uris.contains(u) {
                uris.push(u.clone());
            }
        }
        self.redirect_uris = uris;
        let has_keys = self.jwks.is_some() || self.jwks_url.is_some();
        check_registration(self.app_type, self.platform, self.auth, &self.redirect_uris, has_keys)
            .map_err(|e| ApiFailure::invalid(e.to_string()))?;
        self.scopes = check_scopes(self.app_type, &self.scopes)?;
        Ok(self)
    }
}

/// An inline JWKS: a JSON object whose "keys" array holds public keys only.
pub fn check_jwks(text: &str) -> Result<()> {
    if text.len() > JWKS_LIMIT {
        return Err(ApiFailure::invalid("jwks: at most 64 KiB"));
    }
    let v: Value = serde_json::from_str(text).map_err(|_| ApiFailure::invalid("jwks: not valid JSON"))?;
    let keys = v
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or_else(|| ApiFailure::invalid("jwks: must be a JSON object with a \"keys\" array"))?;
    if keys.is_empty() {
        return Err(ApiFailure::invalid("jwks: the \"keys\" array is empty"));
    }
    for (i, k) in keys.iter().enumerate() {
        let key = k.as_object().ok_or_else(|| ApiFailure::invalid(format!("jwks: key {i} is not a JSON object")))?;
        if !key.get("kty").is_some_and(Value::is_string) {
            return Err(ApiFailure::invalid(format!("jwks: key {i} has no \"kty\"")));
        }
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| key.contains_key(**m)) {
            return Err(ApiFailure::invalid(format!(
                "jwks: key {i} holds private key material (\"{m}\"); publish only public keys"
            )));
        }
    }
    Ok(())
}

/// The scopes an app may ask for: SMART resource scopes, or identity and launch scopes. A system app acts
/// for no person, so it asks for `system/` scopes only; a patient-facing app never for `system/` ones.
/// Returns them single-spaced, without repeats.
pub fn check_scopes(app_type: AppType, scopes: &str) -> Result<String> {
    let words: Vec<&str> = scopes.split_whitespace().collect();
    if words.is_empty() {
        return Err(ApiFailure::invalid("scopes: list at least one scope the app may ask for"));
    }
    if words.len() > 100 || scopes.len() > 4000 {
        return Err(ApiFailure::invalid("scopes: at most 100 scopes"));
    }
    let mut out: Vec<&str> = Vec::new();
    for w in words {
        let context = if IDENTITY_AND_LAUNCH.contains(&w) {
            None
        } else {
            let scope = Scope::parse(w).map_err(|_| {
                ApiFailure::invalid(format!(
                    "scopes: '{}' is not a SMART scope (e.g. patient/Observation.rs, openid, fhirUser, launch/patient, offline_access)",
                    short(w)
                ))
            })?;
            Some(scope.context)
        };
        match (app_type, context) {
            (AppType::System, Some(ScopeContext::System))
            | (AppType::Patient, Some(ScopeContext::Patient | ScopeContext::User)) => {}
            (AppType::Patient, None) => {}
            (AppType::System, _) => {
                return Err(ApiFailure::invalid(format!(
                    "scopes: a system app asks only for system/ scopes ('{}' is not one)",
                    short(w)
                )))
            }
            (AppType::Patient, Some(ScopeContext::System)) => {
                return Err(ApiFailure::invalid(format!(
                    "scopes: a patient-facing app cannot ask for system/ scopes ('{}')",
                    short(w)
                )))
            }
        }
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(out.join(" "))
}

// ---- Views ----

fn to_approval(
    store: &dyn ReadStore,
    r: &ApprovalRecord,
    app: &AppRecord,
    names: &BTreeMap<PracticeId, String>,
) -> Result<wire::Approval> {
    Ok(wire::Approval {
        app_id: app.id.clone(),
        app_name: app.name.clone(),
        client_id: app.client_id.clone(),
        practice_id: r.practice.0,
        practice_name: names.get(&r.practice).cloned().unwrap_or_default(),
        status: r.status.as_str().to_owned(),
        reason: r.reason.clone(),
        requested_by: username_of(store, r.requested_by)?,
        requested_at: r.requested_at,
        decided_by: r.decided_by.map(|u| username_of(store, u)).transpose()?,
        decided_at: r.decided_at,
        description: app.description.clone(),
        homepage: app.homepage.clone(),
        privacy_policy: app.privacy_policy.clone(),
        app_type: app.app_type.as_str().to_owned(),
        platform: app.platform.as_str().to_owned(),
        client_auth: app.client_auth.as_str().to_owned(),
        redirect_uris: app.redirect_uris.clone(),
        scopes: app.scopes.clone(),
        owner: username_of(store, app.owner)?,
    })
}

pub fn to_app(store: &dyn ReadStore, a: &AppRecord, now: DateTime<Utc>) -> Result<wire::App> {
    let names = practice_names(store)?;
    let approvals =
        store.approvals_of_app(&a.id)?.iter().map(|r| to_approval(store, r, a, &names)).collect::<Result<Vec<_>>>()?;
    Ok(wire::App {
        id: a.id.clone(),
        client_id: a.client_id.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        homepage: a.homepage.clone(),
        privacy_policy: a.privacy_policy.clone(),
        app_type: a.app_type.as_str().to_owned(),
        platform: a.platform.as_str().to_owned(),
        client_auth: a.client_auth.as_str().to_owned(),
        secret_hint: a.secret_hint.clone(),
        previous_secret_valid_until: a.previous.as_ref().map(|(_, until)| *until).filter(|u| *u > now),
        redirect_uris: a.redirect_uris.clone(),
        jwks: a.jwks.clone(),
        jwks_url: a.jwks_url.clone(),
        scopes: a.scopes.clone(),
        active: a.active,
        owner: username_of(store, a.owner)?,
        created_at: a.created_at,
        approvals,
        connected_users: u32::try_from(store.live_grant_count(&a.id)?).unwrap_or(u32::MAX),
    })
}

fn issued(
    store: &dyn ReadStore,
    id: &str,
    secret: Option<&Secret>,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<wire::IssuedAppSecret> {
    let a = store.app(id)?.ok_or_else(ApiFailure::internal)?;
    Ok(wire::IssuedAppSecret {
        app: to_app(store, &a, now)?,
        client_secret: secret.map(|s| s.expose().to_owned()),
        token_url: config.token_url(),
        authorize_url: authorize_url(config),
        fhir_base_url: config.fhir_base(),
    })
}

fn app_event(kind: AuditKind, actor: UserId, a: &AppRecord, detail: String, now: DateTime<Utc>) -> AuditEvent {
    let mut e = AuditEvent::new(kind, now);
    e.actor = Some(actor);
    e.client_id = Some(a.client_id.clone());
    e.detail = Some(format!("app {}: {detail}", a.id));
    e
}

/// The caller's own live app; anyone else's (or a deleted one) is "not found".
fn own_app(store: &dyn ReadStore, user: &UserRecord, id: &str) -> Result<AppRecord> {
    store.app(id)?.filter(|a| a.deleted_at.is_none() && a.owner == user.id).ok_or_else(|| ApiFailure::not_found("no such app"))
}

// ---- Registrations ----

pub fn list_apps(store: &dyn ReadStore, user: &UserRecord, now: DateTime<Utc>) -> Result<Vec<wire::App>> {
    require_registrar(user)?;
    store.apps_of(user.id)?.iter().map(|a| to_app(store, a, now)).collect()
}

/// The owner sees their app; an administrator also sees an app that asked one of their practices for
/// approval, to judge the request by its details (links, redirect URIs, scopes).
pub fn get_app(store: &dyn ReadStore, user: &UserRecord, id: &str, now: DateTime<Utc>) -> Result<wire::App> {
    let missing = || ApiFailure::not_found("no such app");
    let a = store.app(id)?.filter(|a| a.deleted_at.is_none()).ok_or_else(missing)?;
    let asked_my_practice = || -> Result<bool> {
        Ok(user.has(Role::Administrator) && store.approvals_of_app(&a.id)?.iter().any(|r| user.practices.contains(&r.practice)))
    };
    if a.owner != user.id && !asked_my_practice()? {
        return Err(missing());
    }
    to_app(store, &a, now)
}

pub fn register_app(
    store: &mut dyn WriteStore,
    user: &UserRecord,
    req: &wire::NewApp,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<wire::IssuedAppSecret> {
    require_registrar(user)?;
    let d = Draft::from_new(req)?.checked()?;
    let mut rng = rand::rngs::OsRng;
    // Only a client that authenticates with a secret gets one: a public client could not keep it, and a
    // private_key_jwt client proves itself with its key.
    let secret = d.auth.uses_secret().then(|| Secret::generate(SecretKind::AppSecret, &mut rng));
    let record = AppRecord {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: random_id("pci_smart_", &mut rng),
        owner: user.id,
        name: d.name,
        description: d.description,
        homepage: d.homepage,
        privacy_policy: d.privacy_policy,
        app_type: d.app_type,
        platform: d.platform,
        client_auth: d.auth,
        secret_digest: secret.as_ref().map(Secret::digest),
        secret_hint: secret.as_ref().map(Secret::hint),
        previous: None,
        jwks: d.jwks,
        jwks_url: d.jwks_url,
        redirect_uris: d.redirect_uris,
        scopes: d.scopes,
        active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    store.insert_app(&record)?;
    let detail = format!("registered ({} app, {})", record.app_type.as_str(), record.client_auth.as_str());
    store.append_audit(&[app_event(AuditKind::AppRegistered, user.id, &record, detail, now)])?;
    issued(store, &record.id, secret.as_ref(), config, now)
}

pub fn update_app(
    store: &mut dyn WriteStore,
    user: &UserRecord,
    id: &str,
    req: &wire::AppUpdate,
    now: DateTime<Utc>,
) -> Result<wire::App> {
    require_registrar(user)?;
    let a = own_app(store, user, id)?;
    let d = Draft::from_update(&a, req).checked()?;
    let mut changed: Vec<&str> = Vec::new();
    let mut pick = |field: &'static str, differs: bool| {
        if differs {
            changed.push(field);
        }
        differs
    };
    let change = AppChange {
        name: pick("name", d.name != a.name).then(|| d.name.clone()),
        description: pick("description", d.description != a.description).then(|| d.description.clone()),
        homepage: pick("homepage", d.homepage != a.homepage).then(|| d.homepage.clone()),
        privacy_policy: pick("privacy policy", d.privacy_policy != a.privacy_policy).then(|| d.privacy_policy.clone()),
        redirect_uris: pick("redirect URIs", d.redirect_uris != a.redirect_uris).then(|| d.redirect_uris.clone()),
        scopes: pick("scopes", d.scopes != a.scopes).then(|| d.scopes.clone()),
        jwks: pick("JWKS", d.jwks != a.jwks).then(|| d.jwks.clone()),
        jwks_url: pick("JWKS URL", d.jwks_url != a.jwks_url).then(|| d.jwks_url.clone()),
        active: req.active.filter(|on| *on != a.active),
    };
    let mut detail: Vec<String> = Vec::new();
    if !changed.is_empty() {
        detail.push(format!("changed: {}", changed.join(", ")));
    }
    match change.active {
        Some(true) => detail.push("enabled".into()),
        Some(false) => detail.push("disabled: its tokens stop on their next request".into()),
        None => {}
    }
    if !detail.is_empty() {
        store.update_app(&a.id, &change, now)?;
        store.append_audit(&[app_event(AuditKind::AppChanged, user.id, &a, detail.join("; "), now)])?;
    }
    let updated = store.app(&a.id)?.ok_or_else(ApiFailure::internal)?;
    to_app(store, &updated, now)
}

/// Soft-deletes the app: every grant made to it, and their tokens, die with it.
pub fn delete_app(store: &mut dyn WriteStore, user: &UserRecord, id: &str, now: DateTime<Utc>) -> Result<AppDeleted> {
    let a = own_app(store, user, id)?;
    let revoked = store.delete_app(&a.id, now)?.ok_or_else(|| ApiFailure::not_found("no such app"))?;
    let detail = format!("deleted; {revoked} grants revoked");
    store.append_audit(&[app_event(AuditKind::AppDeleted, user.id, &a, detail, now)])?;
    Ok(AppDeleted { revoked_grants: revoked })
}

pub fn rotate_app_secret(
    store: &mut dyn WriteStore,
    user: &UserRecord,
    id: &str,
    req: &wire::RotateAppSecret,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<wire::IssuedAppSecret> {
    require_registrar(user)?;
    let a = own_app(store, user, id)?;
    if !a.client_auth.uses_secret() {
        return Err(ApiFailure::invalid(format!(
            "this app has no secret to rotate: it authenticates with {}",
            a.client_auth.as_str()
        )));
    }
    let grace = req.grace_minutes.filter(|m| *m > 0);
    if grace.is_some_and(|m| m > MAX_GRACE_MINUTES) {
        return Err(ApiFailure::invalid(format!("grace_minutes: 0 to {MAX_GRACE_MINUTES} (7 days)")));
    }
    let secret = Secret::generate(SecretKind::AppSecret, &mut rand::rngs::OsRng);
    let until = grace.map(|m| now + Duration::minutes(i64::from(m)));
    store.replace_app_secret(&a.id, secret.digest(), &secret.hint(), until, now)?;
    let detail = match grace {
        Some(m) => format!("secret rotated; the old one works for {m} more minutes"),
        None => "secret rotated; the old one stopped working".to_owned(),
    };
    store.append_audit(&[app_event(AuditKind::AppChanged, user.id, &a, detail, now)])?;
    issued(store, &a.id, Some(&secret), config, now)
}

// ---- Practice approvals ----

pub fn request_approval(
    store: &mut dyn WriteStore,
    user: &UserRecord,
    app_id: &str,
    req: &wire::ApprovalRequest,
    now: DateTime<Utc>,
) -> Result<wire::Approval> {
    require_registrar(user)?;
    let a = own_app(store, user, app_id)?;
    if !a.active {
        return Err(ApiFailure::invalid("this app is disabled: enable it before asking for approval"));
    }
    let practice = PracticeId(req.practice_id);
    let names = practice_names(store)?;
    if !names.contains_key(&practice) {
        return Err(ApiFailure::invalid("practice_id: no such practice"));
    }
    let current = store.approvals_of_app(&a.id)?.into_iter().find(|r| r.practice == practice);
    if current.is_some_and(|r| r.status == ApprovalStatus::Approved) {
        return Err(ApiFailure::new(wire::ErrorCode::Conflict, "this practice has already approved the app"));
    }
    store.request_approval(&a.id, practice, user.id, now)?;
    let detail = format!("approval requested from practice {}", practice.0);
    store.append_audit(&[app_event(AuditKind::ApprovalRequested, user.id, &a, detail, now)])?;
    approval_of(store, &a, practice, &names)
}

fn approval_of(
    store: &dyn ReadStore,
    a: &AppRecord,
    practice: PracticeId,
    names: &BTreeMap<PracticeId, String>,
) -> Result<wire::Approval> {
    let r = store.approvals_of_app(&a.id)?.into_iter().find(|r| r.practice == practice).ok_or_else(ApiFailure::internal)?;
    to_approval(store, &r, a, names)
}

/// Requests and decisions for the administrator's practices, pending ones first (then newest first).
/// Administrators: every request and decision for their practices, pending first. Other staff: the apps
/// their practices approved (what reaches their patients' data), read-only.
pub fn approvals(store: &dyn ReadStore, user: &UserRecord) -> Result<Vec<wire::Approval>> {
    let admin = user.has(Role::Administrator);
    if !admin && !user.roles.iter().any(|r| r.is_staff()) {
        return Err(ApiFailure::forbidden("the apps of a practice are for its staff"));
    }
    if user.practices.is_empty() {
        return Ok(Vec::new());
    }
    let names = practice_names(store)?;
    let mut apps: BTreeMap<String, AppRecord> = BTreeMap::new();
    let mut out = Vec::new();
    for r in store.approvals_for_practices(&user.practices)? {
        if !apps.contains_key(&r.app_id) {
            let Some(a) = store.app(&r.app_id)? else { continue };
            apps.insert(r.app_id.clone(), a);
        }
        if let Some(a) = apps.get(&r.app_id).filter(|_| admin || r.status == ApprovalStatus::Approved) {
            out.push(to_approval(store, &r, a, &names)?);
        }
    }
    // A stable sort keeps the store's newest-first order within each group.
    out.sort_by_key(|a| a.status != ApprovalStatus::Pending.as_str());
    Ok(out)
}

/// An administrator of the practice approves, denies (with a reason) or withdraws an approval (with a
/// reason). Withdrawal needs nothing more: effective access reads the approvals on every request, so the
/// app's tokens stop reaching that practice's data on their next request.
pub fn decide_approval(
    store: &mut dyn WriteStore,
    user: &UserRecord,
    app_id: &str,
    practice_id: i64,
    req: &wire::ApprovalDecision,
    now: DateTime<Utc>,
) -> Result<wire::Approval> {
    require_admin(user)?;
    let missing = || ApiFailure::not_found("no such approval request");
    let practice = PracticeId(practice_id);
    // An administrator of another practice learns nothing about this one's requests.
    if !user.practices.contains(&practice) {
        return Err(missing());
    }
    let a = store.app(app_id)?.filter(|a| a.deleted_at.is_none()).ok_or_else(missing)?;
    let current = store.approvals_of_app(&a.id)?.into_iter().find(|r| r.practice == practice).ok_or_else(missing)?;
    let status = ApprovalStatus::parse(&req.status)
        .filter(|s| *s != ApprovalStatus::Pending)
        .ok_or_else(|| ApiFailure::invalid("status: approved, denied or withdrawn"))?;
    let reason = optional(req.reason.as_deref());
    if let Some(r) = &reason {
        if r.chars().count() > 500 || r.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ApiFailure::invalid("reason: at most 500 printable characters"));
        }
    }
    if status != ApprovalStatus::Approved && reason.is_none() {
        return Err(ApiFailure::invalid(format!("reason: say why the app is {} (the developer sees it)", status.as_str())));
    }
    let conflict = |m: &str| Err(ApiFailure::new(wire::ErrorCode::Conflict, m));
    use ApprovalStatus::*;
    match (current.status, status) {
        (_, Approved) | (Pending, Denied) | (Approved, Withdrawn) => {}
        (Approved, _) => return conflict("this app is approved: withdraw the approval instead"),
        (_, Withdrawn) => return conflict("only an approval can be withdrawn; deny a pending request instead"),
        _ => return conflict("only a pending request can be denied"),
    }
    store.decide_approval(&a.id, practice, status, reason.as_deref(), user.id, now)?;
    let mut detail = format!("{} at practice {}", status.as_str(), practice.0);
    if let Some(r) = &reason {
        detail.push_str(&format!(": {}", r.chars().take(200).collect::<String>()));
    }
    store.append_audit(&[app_event(AuditKind::ApprovalDecided, user.id, &a, detail, now)])?;
    approval_of(store, &a, practice, &practice_names(store)?)
}

// ---- Connected apps ----

fn to_connected(
    store: &dyn ReadStore,
    owner: &UserRecord,
    c: &CredentialRecord,
    now: DateTime<Utc>,
) -> Result<wire::ConnectedApp> {
    let app_id = c.app_id.as_deref().ok_or_else(ApiFailure::internal)?;
    let a = store.app(app_id)?.ok_or_else(ApiFailure::internal)?;
    let names = practice_names(store)?;
    let approved_by = store
        .approved_practices(&a.id)?
        .into_iter()
        // A grant made at a practice's own base reaches that practice alone.
        .filter(|p| c.practice.is_none_or(|g| g == *p))
        .filter_map(|p| names.get(&p).cloned())
        .collect();
    let usable = effective_access(&store.credential_facts(c)?, &owner.facts(), now).is_ok();
    let scope = c.scope.clone().unwrap_or_default();
    Ok(wire::ConnectedApp {
        id: c.id.clone(),
        app_id: a.id.clone(),
        client_id: a.client_id.clone(),
        name: a.name.clone(),
        description: a.description.clone(),
        homepage: a.homepage.clone(),
        privacy_policy: a.privacy_policy.clone(),
        developer: username_of(store, a.owner)?,
        scope_descriptions: portico_domain::RequestedScopes::parse(&scope).descriptions(),
        scope,
        patient: c.patients.first().or(owner.patient.as_ref()).map(|p| p.0.clone()),
        since: c.created_at,
        last_used_at: store.last_used(&c.id)?,
        expires_at: c.window.to,
        active_tokens: u32::try_from(store.live_token_count(&c.id, c.secret_generation, now)?).unwrap_or(u32::MAX),
        refresh_tokens: u32::try_from(store.live_refresh_tokens(&c.id, now)?).unwrap_or(u32::MAX),
        usable,
        approved_by,
    })
}

/// The apps the caller authorized (patients and staff alike), newest first.
pub fn connected_apps(store: &dyn ReadStore, user: &UserRecord, now: DateTime<Utc>) -> Result<Vec<wire::ConnectedApp>> {
    store
        .credentials_of(user.id)?
        .iter()
        .filter(|c| c.kind == CredentialKind::ConnectedApp)
        .map(|c| to_connected(store, user, c, now))
        .collect()
}

/// Sets the end date of one's own grant: in the future, at most a year ahead.
pub fn extend_grant(
    store: &mut dyn WriteStore,
    user: &UserRecord,
    id: &str,
    req: &wire::ExtendGrant,
    now: DateTime<Utc>,
) -> Result<wire::ConnectedApp> {
    let c = store
        .credential(id)?
        .filter(|c| c.owner == user.id && c.kind == CredentialKind::ConnectedApp && c.deleted_at.is_none())
        .ok_or_else(|| ApiFailure::not_found("no such connected app"))?;
    let to = req.expires_at.ok_or_else(|| ApiFailure::invalid("expires_at: choose an end date, at most a year ahead"))?;
    if to <= now {
        return Err(ApiFailure::invalid("expires_at: must be in the future"));
    }
    if to > now + Duration::days(MAX_GRANT_EXTENSION_DAYS) {
        return Err(ApiFailure::invalid("expires_at: at most a year ahead"));
    }
    let window = ValidityWindow::new(c.window.from, Some(to))
        .ok_or_else(|| ApiFailure::invalid("expires_at: must be after the grant's start"))?;
    store.update_credential(&c.id, &CredentialChange { window: Some(window), ..Default::default() }, now)?;
    let mut e = AuditEvent::new(AuditKind::CredentialUpdated, now);
    e.actor = Some(user.id);
    e.credential_id = Some(c.id.clone());
    e.detail = Some(format!("grant end date set to {}", format_instant(to)));
    store.append_audit(&[e])?;
    let updated = store.credential(&c.id)?.ok_or_else(ApiFailure::internal)?;
    to_connected(store, user, &updated, now)
}

// ---- Developer signup ----

fn person_name(field: &str, v: &str, required: bool) -> Result<String> {
    let t = v.trim();
    let ok = (!required || !t.is_empty()) && t.chars().count() <= 100 && !t.chars().any(char::is_control);
    if ok {
        Ok(t.to_owned())
    } else if required {
        Err(ApiFailure::invalid(format!("{field}: 1–100 printable characters")))
    } else {
        Err(ApiFailure::invalid(format!("{field}: at most 100 printable characters")))
    }
}

/// A plausible address: one `@` with something on each side and a dot in the domain. Whether it
/// receives mail is not ours to check.
fn check_email(v: &str) -> Result<String> {
    let t = v.trim();
    let ok = t.len() <= 254
        && !t.chars().any(|c| c.is_whitespace() || c.is_control())
        && t.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(t.to_owned())
    } else {
        Err(ApiFailure::invalid("email: an address such as name@example.com"))
    }
}

/// The checked account a signup asks for: its username and display name ("Given Family (Company)").
pub fn check_signup(req: &wire::Signup) -> Result<(Username, String)> {
    let username = Username::parse(req.username.trim())
        .ok_or_else(|| ApiFailure::invalid("username: 3–64 lowercase letters, digits, '.', '_' or '-'"))?;
    let given = person_name("given_name", &req.given_name, true)?;
    let family = person_name("family_name", &req.family_name, true)?;
    check_email(&req.email)?;
    let company = person_name("company", &req.company, false)?;
    if !(8..=256).contains(&req.password.chars().count()) {
        return Err(ApiFailure::invalid("password: a password needs 8 to 256 characters"));
    }
    let display = if company.is_empty() { format!("{given} {family}") } else { format!("{given} {family} ({company})") };
    Ok((username, display))
}

/// Creates an app-developer account, when the service allows signup. Every attempt counts against the
/// caller's address (an account is what an abuser would want, so success is no reason to forget), and the
/// password is hashed on the hashing lane before anything is written.
pub async fn sign_up(state: &AppState, req: wire::Signup, addr: Option<IpAddr>) -> Result<wire::User> {
    if !state.config().allow_signup {
        return Err(ApiFailure::forbidden("signup is not enabled on this service"));
    }
    // An address key of its own ("addr:" puts it under the per-address policy), so signups and sign-ins
    // from one address do not use up each other's allowance.
    let keys: Vec<String> = addr.map(|a| format!("addr:signup:{a}")).into_iter().collect();
    state.throttle_check(&keys).await?.map_err(ApiFailure::throttled)?;
    let _ = state.throttle_failed(&keys).await;
    let (username, display) = check_signup(&req)?;
    let hash = hash_new_password(state, req.password).await?;
    state
        .write(move |store, now| {
            store.atomically(|store| {
                let id = store.create_user(
                    &portico_store::NewUser {
                        username: username.as_str(),
                        display_name: &display,
                        password_hash: &hash,
                        roles: &[Role::AppDeveloper],
                        practices: &[],
                        patient: None,
                    },
                    now,
                )?;
                let mut e = AuditEvent::new(AuditKind::UserChanged, now);
                e.actor = Some(id);
                e.detail = Some(format!("user {}: signed up as app_developer", id.0));
                store.append_audit(&[e])?;
                let u = store.user(id)?.ok_or_else(ApiFailure::internal)?;
                to_user(store, &u)
            })
        })
        .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_jwks() {
        let public = r#"{"keys":[{"kty":"RSA","kid":"1","n":"abc","e":"AQAB"}]}"#;
        let big = format!(r#"{{"keys":[{{"kty":"RSA","n":"{}","e":"AQAB"}}]}}"#, "a".repeat(JWKS_LIMIT));
        for (jwks, refusal) in [
            (public, None),
            (r#"{"keys":[{"kty":"RSA","n":"abc","e":"AQAB","d":"secret"}]}"#, Some("private key material (\"d\")")),
            (r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#, Some("(\"k\")")),
            (r#"{"keys":[]}"#, Some("empty")),
            (r#"{"keys":[{"n":"abc"}]}"#, Some("no \"kty\"")),
            (r#"{"keys":["x"]}"#, Some("not a JSON object")),
            (r#"[{"kty":"RSA"}]"#, Some("\"keys\" array")),
            ("{nope", Some("not valid JSON")),
            (big.as_str(), Some("64 KiB")),
        ] {
            match (check_jwks(jwks), refusal) {
                (Ok(()), None) => {}
                (Err(e), Some(why)) => assert!(e.message.contains(why), "{}: {}", &jwks[..jwks.len().min(40)], e.message),
                (r, want) => panic!("{}: {:?} wanted {want:?}", &jwks[..jwks.len().min(40)], r.map_err(|e| e.message)),
            }
        }
    }

    #[test]
    fn scopes_per_app_type() {
        use AppType::*;
        for (t, scopes, expect) in [
            (
                Patient,
                "patient/*.rs openid fhirUser launch/patient offline_access",
                Ok("patient/*.rs openid fhirUser launch/patient offline_access"),
            ),
            (Patient, "  user/Observation.rs   user/Observation.rs ", Ok("user/Observation.rs")),
            (
                Patient,
                "patient/Observation.read online_access profile launch",
                Ok("patient/Observation.read online_access profile launch"),
            ),
            (System, "system/*.rs system/Patient.r", Ok("system/*.rs system/Patient.r")),
            (Patient, "", Err("at least one")),
            (Patient, "system/*.rs", Err("cannot ask for system/")),
            (System, "patient/*.rs", Err("only for system/")),
            (System, "system/*.rs openid", Err("only for system/")),
            (Patient, "patient/*.rx", Err("not a SMART scope")),
            (Patient, "admin", Err("not a SMART scope")),
        ] {
            match (check_scopes(t, scopes), expect) {
                (Ok(got), Ok(want)) => assert_eq!(got, want),
                (Err(e), Err(why)) => assert!(e.message.contains(why), "{scopes}: {}", e.message),
                (got, want) => panic!("{scopes}: {:?} wanted {want:?}", got.map_err(|e| e.message)),
            }
        }
    }
}
