//! `/oauth/authorize` (GET and POST): SMART App Launch 2.0 standalone launch. Server-rendered pages
//! (`pages`) walk a person through sign-in, a patient picker (staff asking for `launch/patient`) and
//! consent; "Allow" makes a grant (a credential of kind `connected_app`) and a single-use code bound to
//! the client, redirect URI, PKCE challenge, user, scopes and patient.
//!
//! The request's parameters ride along as one hidden field and are checked again on every step, so
//! nothing about a request in flight is stored. Errors before the client and its redirect URI are known
//! are pages (never a redirect: an unchecked redirect URI is an open redirector); after, they go back to
//! the app as `error=` with the `state` echoed.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use portico_api as wire;
use portico_domain::{
    is_s256_challenge, random_id, AppType, AuditEvent, AuditKind, CredentialKind, PatientId, PracticeId, RequestedScopes, Role,
    ScopeContext, ScopeSet, Secret, SecretKind, SmartScope, ValidityWindow,
};
use portico_store::{
    AppRecord, AuthCodeRecord, CredentialRecord, GrantOf, NewCredential, PatientQuery, ReadStore, UserRecord, WriteStore,
};

use crate::engine;
use crate::grants::tenant_base;
use crate::pages::{self, AppInfo, CategoryRow, ConsentView, ErrorView, PatientRow, PickerView, ScopeRow, SignInView};
use crate::state::{AppState, ClientAddr, Weight};
use crate::FORM_BODY_LIMIT;

const COOKIE: &str = "portico_authorize";
/// Codes are exchanged within a minute or never.
const CODE_SECS: i64 = 60;
/// Offline access ends after 90 days unless the person picks another date (at most 13 months ahead).
const OFFLINE_DAYS: i64 = 90;
const MAX_GRANT_DAYS: i64 = 397;
/// The request parameters that are carried from step to step.
const REQUEST_PARAMS: [&str; 10] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "aud",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "launch",
];

/// A checked authorization request.
struct Request {
    app: AppRecord,
    redirect_uri: String,
    state: Option<String>,
    scopes: RequestedScopes,
    /// Scopes as requested, in order (for the consent page).
    scope_text: String,
    code_challenge: String,
    nonce: Option<String>,
    /// The tenant base named by `aud`, if not the service's own `/fhir`.
    practice: Option<PracticeId>,
    /// The parameters, to carry to the next step.
    params: BTreeMap<String, String>,
}

/// What goes wrong, and how the person or the app hears of it.
enum Failure {
    /// Shown as a page; no redirect (unknown client, unregistered redirect URI).
    Page(StatusCode, String, String),
    /// Sent back to the app's redirect URI.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
    Unavailable(crate::state::Unavailable),
}

impl From<portico_store::StoreError> for Failure {
    fn from(e: portico_store::StoreError) -> Failure {
        Failure::Unavailable(e.into())
    }
}

impl From<crate::state::Unavailable> for Failure {
    fn from(u: crate::state::Unavailable) -> Failure {
        Failure::Unavailable(u)
    }
}

fn page_error(title: &str, message: impl Into<String>) -> Failure {
    Failure::Page(StatusCode::BAD_REQUEST, title.to_owned(), message.into())
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Page(status, title, message) => {
                let details = Some(format!("HTTP {}", status.as_u16()));
                match pages::error_page(&ErrorView { title, message, details }) {
                    Ok(body) => pages::html(status, body),
                    Err(e) => e.into_response(),
                }
            }
            Failure::Redirect { redirect_uri, error, description, state } => {
                let mut q = url::form_urlencoded::Serializer::new(String::new());
                q.append_pair("error", error).append_pair("error_description", &description);
                if let Some(s) = &state {
                    q.append_pair("state", s);
                }
                redirect(&redirect_uri, &q.finish())
            }
            Failure::Unavailable(u) => {
                let (status, message) = match u {
                    crate::state::Unavailable::Busy => {
                        (StatusCode::SERVICE_UNAVAILABLE, "The service is busy. Try again in a moment.")
                    }
                    crate::state::Unavailable::Broken => {
                        (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on the service.")
                    }
                };
                Failure::Page(status, "Please try again".into(), message.into()).into_response()
            }
        }
    }
}

/// 303 to `uri` with `query` appended (after `?`, or `&` when the registered URI has a query).
fn redirect(uri: &str, query: &str) -> Response {
    let sep = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{sep}{query}");
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Parameters of a GET query or a POST form, each at most once; on the steps after the first (which carry
/// the request in `request`), `scope` is instead the consent page's ticked scopes, any number of them.
fn parse_params(raw: &[u8]) -> Result<(BTreeMap<String, String>, Vec<String>), Failure> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw).into_owned().collect();
    let carried = pairs.iter().any(|(k, _)| k == "request");
    let mut map = BTreeMap::new();
    let mut ticked = Vec::new();
    for (k, v) in pairs {
        if carried && k == "scope" {
            ticked.push(v);
            continue;
        }
        if map.contains_key(&k) {
            let name: String = k.chars().take(40).collect();
            return Err(page_error("This request is malformed", format!("The parameter '{name}' appears twice.")));
        }
        map.insert(k, v);
    }
    Ok((map, ticked))
}

/// The authorize request itself: from the query of a first GET/POST, or from the `request` hidden field.
fn request_params(params: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Failure> {
    match params.get("request") {
        None => {
            Ok(params.iter().filter(|(k, _)| REQUEST_PARAMS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        Some(carried) => {
            let bad = || {
                page_error(
                    "This request is malformed",
                    "The sign-in form was changed or is incomplete. Start again from the app.",
                )
            };
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(carried).map_err(|_| bad())?;
            serde_json::from_slice(&bytes).map_err(|_| bad())
        }
    }
}

fn carry(params: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let json = serde_json::to_vec(params).unwrap_or_default();
    vec![("request".to_owned(), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))]
}

/// `aud` must name this service's FHIR base, or one practice's (`/t/{id}/fhir`), compared after
/// normalising the scheme and host case and a trailing slash.
fn check_aud(store: &dyn ReadStore, aud: &str, fhir_base: &str) -> Result<Option<Option<PracticeId>>, Failure> {
    let norm = |u: &str| {
        let u = u.trim_end_matches('/');
        match u.split_once("://") {
            Some((scheme, rest)) => {
                let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
                format!("{}://{}/{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), path)
            }
            None => u.to_owned(),
        }
    };
    let aud = norm(aud);
    if aud == norm(fhir_base) {
        return Ok(Some(None));
    }
    for (id, _) in store.practices()? {
        if aud == norm(&tenant_base(fhir_base, id.0)) {
            return Ok(Some(Some(id)));
        }
    }
    Ok(None)
}

/// Checks the request: client and redirect URI first (failures are pages), then everything else
/// (failures go back to the app).
fn check(store: &dyn ReadStore, p: BTreeMap<String, String>, fhir_base: &str) -> Result<Request, Failure> {
    let client_id = p.get("client_id").cloned().unwrap_or_default();
    let Some(app) = store.app_by_client_id(&client_id)? else {
        return Err(page_error("Unknown app", "The app that sent you here is not registered with this service."));
    };
    if !app.usable() {
        return Err(page_error(
            "This app is disabled",
            "The app that sent you here has been disabled or removed (invalid_client).",
        ));
    }
    let redirect_uri = match p.get("redirect_uri") {
        Some(r) if app.redirect_uris.iter().any(|u| portico_domain::redirect_uri_matches(u, r)) => r.clone(),
        Some(_) => {
            return Err(page_error(
                "Unregistered return address",
                "The app asked to send you back to an address it has not registered. Nothing was shared.",
            ))
        }
        None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
        None => return Err(page_error("Missing return address", "The app did not say where to send you back (redirect_uri).")),
    };
    let state = p.get("state").cloned();
    let fail = |error: &'static str, description: &str| Failure::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description: description.to_owned(),
        state: state.clone(),
    };
    if app.app_type == AppType::System {
        return Err(fail("unauthorized_client", "a system app cannot use the authorization endpoint"));
    }
    if p.get("response_type").map(String::as_str) != Some("code") {
        return Err(fail("unsupported_response_type", "response_type must be code"));
    }
    let challenge = p.get("code_challenge").cloned().unwrap_or_default();
    if p.get("code_challenge_method").map(String::as_str) != Some("S256") || !is_s256_challenge(&challenge) {
        return Err(fail("invalid_request", "PKCE is required: code_challenge_method=S256 with a 43-character code_challenge"));
    }
    let practice = match p.get("aud") {
        None => return Err(fail("invalid_request", "aud (the FHIR base URL) is required")),
        Some(aud) => match check_aud(store, aud, fhir_base)? {
            Some(practice) => practice,
            None => return Err(fail("invalid_request", "aud is not a FHIR base of this service")),
        },
    };
    let scope_text = p.get("scope").cloned().unwrap_or_default();
    let scopes = RequestedScopes::parse(&scope_text);
    let registered = RequestedScopes::parse(&app.scopes);
    let beyond = scopes.scopes().into_iter().find(|s| !registered_covers(&registered, s));
    if let Some(s) = beyond {
        return Err(fail("invalid_scope", &format!("the app is not registered for the scope {}", s)));
    }
    if scopes.resources.is_empty() && !scopes.openid {
        return Err(fail("invalid_scope", "no scope the service can grant was requested"));
    }
    if scopes.resources.0.iter().any(|s| s.context == ScopeContext::System) {
        return Err(fail("invalid_scope", "system/ scopes are for backend services"));
    }
    let approved = store.approved_practices(&app.id)?;
    if approved.is_empty() || practice.is_some_and(|t| !approved.contains(&t)) {
        return Err(fail("unauthorized_client", "no practice has approved this app yet"));
    }
    Ok(Request {
        redirect_uri,
        state,
        scope_text,
        code_challenge: challenge,
        nonce: p.get("nonce").cloned(),
        practice,
        scopes,
        app,
        params: p,
    })
}

fn registered_covers(registered: &RequestedScopes, s: &SmartScope) -> bool {
    match s {
        SmartScope::Resource(r) => registered.resources.0.iter().any(|a| a.covers(r)),
        SmartScope::OpenId => registered.openid,
        SmartScope::FhirUser => registered.fhir_user,
        SmartScope::Profile => registered.profile,
        SmartScope::Launch => registered.launch,
        SmartScope::LaunchPatient => registered.launch_patient,
        SmartScope::OfflineAccess => registered.offline,
        SmartScope::OnlineAccess => registered.online,
    }
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == COOKIE).then(|| v.to_owned())
    })
}

/// A value only the page rendered for this session can carry: a cross-site form cannot forge "Allow".
fn csrf_for(session: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(format!("portico-authorize-csrf:{session}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d[..16])
}

pub async fn get(State(state): State<AppState>, addr: ClientAddr, headers: HeaderMap, uri: Uri) -> Response {
    let raw = uri.query().unwrap_or("").as_bytes().to_vec();
    flow(state, addr, headers, raw).await
}

pub async fn post(State(state): State<AppState>, addr: ClientAddr, headers: HeaderMap, body: Body) -> Response {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return page_error("This request is malformed", "The form must be sent as application/x-www-form-urlencoded.")
            .into_response();
    }
    match crate::read_limited(body, FORM_BODY_LIMIT).await {
        Ok(bytes) => flow(state, addr, headers, bytes.to_vec()).await,
        Err(()) => page_error("This request is too large", "The form is larger than the service accepts.").into_response(),
    }
}

async fn flow(state: AppState, ClientAddr(addr): ClientAddr, headers: HeaderMap, raw: Vec<u8>) -> Response {
    match step(&state, addr, &headers, &raw).await {
        Ok(r) => r,
        Err(f) => f.into_response(),
    }
}

async fn step(state: &AppState, addr: Option<std::net::IpAddr>, headers: &HeaderMap, raw: &[u8]) -> Result<Response, Failure> {
    let (form, ticked) = parse_params(raw)?;
    let params = request_params(&form)?;
    if params.get("client_id").map(String::as_str) == Some(wire::DESKTOP_CLIENT_ID) {
        let hidden = carry(&params);
        return Ok(crate::desktop_signin::authorize(state, addr, &params, &form, hidden).await);
    }
    let fhir_base = state.config().fhir_base();
    let action = form.get("action").cloned().unwrap_or_default();
    let cookie = session_cookie(headers);
    let (req, user) = {
        let (fhir_base, cookie) = (fhir_base.clone(), cookie.clone());
        state
            .read(Weight::Light, move |store, now| -> Result<_, Failure> {
                let req = check(store, params, &fhir_base)?;
                let user = cookie.and_then(|c| crate::manage::session_user(store, Some(&c), now).ok());
                Ok((req, user))
            })
            .await??
    };
    let hidden = carry(&req.params);
    // Sign-in: the management API's sign-in (throttled, hashing off the writer), kept in a cookie for /oauth.
    let (user, session, new_cookie) = match (user, action.as_str()) {
        (_, "sign_in") => {
            let sign_in = wire::SignIn {
                username: form.get("username").cloned().unwrap_or_default(),
                password: form.get("password").cloned().unwrap_or_default(),
            };
            let username = sign_in.username.clone();
            match crate::manage::sign_in(state, sign_in, addr).await {
                Ok(s) => {
                    let user = state.read(Weight::Light, {
                        let token = s.token.clone();
                        move |store, now| crate::manage::session_user(store, Some(&token), now).ok()
                    });
                    match user.await? {
                        Some(u) => (u, s.token.clone(), Some(s.token)),
                        None => return sign_in_page(&req, hidden, username, Some("Sign-in failed. Try again.".into())),
                    }
                }
                Err(e) => return sign_in_page(&req, hidden, username, Some(e.message)),
            }
        }
        (Some(u), _) => (u, cookie.unwrap_or_default(), None),
        (None, _) => return sign_in_page(&req, hidden, String::new(), None),
    };
    let mut response = decide(state, req, user, &session, &form, ticked, &action, hidden).await?;
    if let Some(token) = new_cookie {
        let secure = if state.config().base_url.starts_with("https://") { "; Secure" } else { "" };
        let value = format!("{COOKIE}={token}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=3600{secure}");
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

fn sign_in_page(
    req: &Request,
    hidden: Vec<(String, String)>,
    username: String,
    error: Option<String>,
) -> Result<Response, Failure> {
    let view = SignInView {
        app_name: req.app.name.clone(),
        app_homepage: req.app.homepage.clone(),
        error,
        username,
        hidden,
        action: "/oauth/authorize".into(),
        desktop: false,
    };
    let status = if view.error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    Ok(pages::html(status, pages::sign_in(&view).map_err(|_| page_error("Error", "The page could not be shown."))?))
}

/// After sign-in: who the app would read, then consent (or the picker first).
#[allow(clippy::too_many_arguments)]
async fn decide(
    state: &AppState,
    req: Request,
    user: UserRecord,
    session: &str,
    form: &BTreeMap<String, String>,
    ticked: Vec<String>,
    action: &str,
    mut hidden: Vec<(String, String)>,
) -> Result<Response, Failure> {
    let fail = |error: &'static str, description: &str| Failure::Redirect {
        redirect_uri: req.redirect_uri.clone(),
        error,
        description: description.to_owned(),
        state: req.state.clone(),
    };
    let staff = user.roles.iter().any(|r| r.is_staff()) && !user.practices.is_empty();
    let wants_patient = req.scopes.launch_patient || req.scopes.resources.0.iter().any(|s| s.context == ScopeContext::Patient);
    // Whose record: a patient's own; a staff member's pick.
    let patient: Option<PatientId> = if user.has(Role::Patient) && user.patient.is_some() {
        if req.scopes.resources.0.iter().any(|s| s.context == ScopeContext::User) && !staff {
            return Err(fail("invalid_scope", "user/ scopes are for clinic staff"));
        }
        user.patient.clone()
    } else if staff {
        if wants_patient {
            let chosen = form.get("patient").cloned().filter(|p| !p.is_empty());
            match chosen {
                Some(p) => Some(PatientId(p)),
                None => return picker(state, &req, &user, form, hidden).await,
            }
        } else {
            None
        }
    } else {
        return Err(Failure::Page(
            StatusCode::FORBIDDEN,
            "This account cannot authorize apps".into(),
            "Sign in as a patient, or as clinic staff, to let an app see health data.".into(),
        ));
    };
    if let Some(p) = &patient {
        hidden.push(("patient".into(), p.0.clone()));
    }
    hidden.push(("csrf".into(), csrf_for(session)));
    // The patient (for staff: one of their practices'), and a practice of theirs that approves the app.
    let (practices, approved, practice_names, developer, patient_name) = {
        let (patient, app_id, owner) = (patient.clone(), req.app.id.clone(), req.app.owner);
        state
            .read(Weight::Light, move |store, _| -> Result<_, Failure> {
                let (practices, name) = match &patient {
                    Some(p) => {
                        let name = store
                            .read_resource("Patient", &p.0)?
                            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.json).ok())
                            .map(|json| portico_store::display_name(&json))
                            .filter(|n| !n.is_empty());
                        (store.patient_practices(p)?, name)
                    }
                    None => (Vec::new(), None),
                };
                let names: BTreeMap<PracticeId, String> = store.practices()?.into_iter().collect();
                let developer = store.user(owner)?.map(|u| u.display_name);
                Ok((practices, store.approved_practices(&app_id)?, names, developer, name))
            })
            .await??
    };
    if let Some(p) = &patient {
        if staff && !user.has(Role::Patient) && !practices.iter().any(|pr| user.practices.contains(pr)) {
            return Err(page_error("Not your patient", format!("Patient {} is not a patient of your practices.", p.0)));
        }
    }
    let reach: Vec<PracticeId> = if patient.is_some() { practices.clone() } else { user.practices.clone() };
    let approving: Vec<PracticeId> =
        reach.iter().filter(|p| approved.contains(p) && req.practice.is_none_or(|t| t == **p)).copied().collect();
    if approving.is_empty() {
        return Err(fail("unauthorized_client", "no practice of this record has approved the app"));
    }
    match action {
        "deny" => {
            check_csrf(form, session)?;
            let (app, who) = (req.app.clone(), user.id);
            state
                .write(move |store, now| {
                    let mut e = AuditEvent::new(AuditKind::AuthorizeRefused, now);
                    e.actor = Some(who);
                    e.client_id = Some(app.client_id.clone());
                    e.outcome = "access_denied: the person said no".into();
                    store.append_audit(&[e])
                })
                .await??;
            Err(fail("access_denied", "the person did not allow access"))
        }
        "allow" => {
            check_csrf(form, session)?;
            let granted = chosen_scopes(&req, &ticked);
            if granted.resources.is_empty() && !granted.openid {
                return Err(fail("access_denied", "no access was allowed"));
            }
            let end =
                end_date(form.get("end_date"), &req.scopes, state.now()).map_err(|m| page_error("Choose another end date", m))?;
            let code = Secret::generate(SecretKind::AuthCode, &mut rand::rngs::OsRng);
            let digest = code.digest();
            let (app, user_id, redirect_uri, challenge, nonce, tenant) =
                (req.app.clone(), user.id, req.redirect_uri.clone(), req.code_challenge.clone(), req.nonce.clone(), req.practice);
            let patient2 = patient.clone();
            let requested = req.scope_text.clone();
            state
                .write(move |store, now| -> Result<(), portico_store::StoreError> {
                    store.atomically(|store| {
                        make_grant(store, &app, user_id, patient2, &granted, &requested, end, tenant, now).and_then(|grant| {
                            store.insert_auth_code(&AuthCodeRecord {
                                digest,
                                credential_id: grant.id,
                                redirect_uri,
                                code_challenge: challenge,
                                nonce,
                                issued_at: now,
                                expires_at: now + Duration::seconds(CODE_SECS),
                                used_at: None,
                            })
                        })
                    })
                })
                .await??;
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("code", code.expose());
            if let Some(s) = &req.state {
                q.append_pair("state", s);
            }
            Ok(redirect(&req.redirect_uri, &q.finish()))
        }
        _ => {
            let shown = ConsentFacts { approving, names: &practice_names, developer, patient_name };
            consent_page(state, &req, &user, patient, &ticked, form, shown, hidden, action == "preview").await
        }
    }
}

fn check_csrf(form: &BTreeMap<String, String>, session: &str) -> Result<(), Failure> {
    use subtle::ConstantTimeEq as _;
    let ok: bool = form.get("csrf").is_some_and(|c| c.as_bytes().ct_eq(csrf_for(session).as_bytes()).into());
    if ok {
        Ok(())
    } else {
        Err(Failure::Page(StatusCode::FORBIDDEN, "This form has expired".into(), "Start again from the app.".into()))
    }
}

/// What the person allowed: the ticked resource scopes that the request covers (a category scope is a
/// narrowing of its type's scope), plus the requested non-resource scopes.
fn chosen_scopes(req: &Request, ticked: &[String]) -> RequestedScopes {
    let mut chosen = req.scopes.clone();
    let picked: Vec<portico_domain::Scope> = ticked
        .iter()
        .filter_map(|t| portico_domain::Scope::parse(t).ok())
        .filter(|s| req.scopes.resources.0.iter().any(|r| r.covers(s)))
        .collect();
    // A type ticked whole makes its categories redundant.
    let whole: Vec<&portico_domain::Scope> = picked.iter().filter(|s| s.category().is_none()).collect();
    chosen.resources =
        ScopeSet(picked.iter().filter(|s| s.category().is_none() || !whole.iter().any(|w| w.covers(s))).cloned().collect());
    chosen
}

fn end_date(value: Option<&String>, scopes: &RequestedScopes, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(v) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(scopes.offline.then(|| now + Duration::days(OFFLINE_DAYS)));
    };
    let date = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| "The end date must be a date (yyyy-mm-dd).".to_owned())?;
    // Access ends at the end of the chosen day (UTC).
    let end = date.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc()).ok_or("The end date is out of range.")?;
    if end <= now {
        return Err("The end date must be today or later.".into());
    }
    if end > now + Duration::days(MAX_GRANT_DAYS) {
        return Err("The end date can be at most 13 months ahead.".into());
    }
    Ok(Some(end))
}

/// Replaces the person's earlier grant to this app (its tokens die: one grant per person and app) with
/// the new one.
#[allow(clippy::too_many_arguments)]
fn make_grant(
    store: &mut dyn WriteStore,
    app: &AppRecord,
    user: portico_domain::UserId,
    patient: Option<PatientId>,
    granted: &RequestedScopes,
    requested: &str,
    end: Option<DateTime<Utc>>,
    tenant: Option<PracticeId>,
    now: DateTime<Utc>,
) -> Result<CredentialRecord, portico_store::StoreError> {
    while let Some(old) = store.grant_of(&app.id, user)? {
        if store.delete_credential(&old.id, now)?.is_none() {
            break;
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let secret = Secret::generate(SecretKind::AppSecret, &mut rand::rngs::OsRng);
    let client_id = random_id(CredentialKind::ConnectedApp.client_id_prefix(), &mut rand::rngs::OsRng);
    let scope = granted.to_string();
    let patients: Vec<PatientId> = patient.iter().cloned().collect();
    store.insert_credential(
        &NewCredential {
            id: &id,
            kind: CredentialKind::ConnectedApp,
            owner: user,
            name: &app.name,
            note: None,
            client_id: &client_id,
            // Never disclosed: the app authenticates as itself, a grant has no secret of its own.
            secret_digest: secret.digest(),
            secret_hint: "",
            window: ValidityWindow { from: None, to: end },
            active: true,
            created_by: user,
            patients: &patients,
            grant: Some(GrantOf { app_id: &app.id, scope: &scope, practice: tenant }),
        },
        now,
    )?;
    let mut e = AuditEvent::new(AuditKind::Authorized, now);
    e.actor = Some(user);
    e.credential_id = Some(id.clone());
    e.client_id = Some(app.client_id.clone());
    e.patient = patient;
    e.detail = Some(format!("granted {scope}; requested {requested}"));
    store.append_audit(&[e])?;
    store.credential(&id)?.ok_or(portico_store::StoreError::NotFound)
}

async fn picker(
    state: &AppState,
    req: &Request,
    user: &UserRecord,
    form: &BTreeMap<String, String>,
    hidden: Vec<(String, String)>,
) -> Result<Response, Failure> {
    let query = form.get("q").cloned().unwrap_or_default();
    let (practices, q) = (user.practices.clone(), query.clone());
    // Read like the desktop's picker (a name's words, a birth date, an MRN or an id); overlong text finds nothing.
    let asked = if q.chars().count() > wire::PATIENTS_MAX_QUERY { None } else { Some(PatientQuery::text(&q)) };
    let found = match asked {
        Some(asked) => state.read(Weight::Light, move |store, _| store.patients(&practices, &asked, 50)).await??,
        None => Vec::new(),
    };
    let view = PickerView {
        app_name: req.app.name.clone(),
        query,
        patients: found
            .into_iter()
            .take(50)
            .map(|p| PatientRow { id: p.id.0, name: p.name, birth_date: p.birth_date, gender: p.gender, mrn: p.mrn })
            .collect(),
        hidden,
        action: "/oauth/authorize".into(),
        error: None,
    };
    Ok(pages::html(
        StatusCode::OK,
        pages::patient_picker(&view).map_err(|_| page_error("Error", "The page could not be shown."))?,
    ))
}

/// What the consent page says about who approved the app, who made it and whose record it is.
struct ConsentFacts<'a> {
    approving: Vec<PracticeId>,
    names: &'a BTreeMap<PracticeId, String>,
    developer: Option<String>,
    patient_name: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn consent_page(
    state: &AppState,
    req: &Request,
    user: &UserRecord,
    patient: Option<PatientId>,
    ticked: &[String],
    form: &BTreeMap<String, String>,
    shown: ConsentFacts<'_>,
    hidden: Vec<(String, String)>,
    posted: bool,
) -> Result<Response, Failure> {
    let ConsentFacts { approving, names, developer, patient_name } = shown;
    // First view: everything requested is ticked; after "Update preview": what the person ticked.
    let chosen = if posted { chosen_scopes(req, ticked) } else { req.scopes.clone() };
    let is_ticked = |s: &portico_domain::Scope| chosen.resources.0.iter().any(|c| c == s);
    let mut rows = Vec::new();
    for s in &req.scopes.resources.0 {
        let categories = match (&s.resource_type, s.category()) {
            (Some(t), None) => portico_domain::offered_categories(t)
                .into_iter()
                .filter_map(|(c, label)| {
                    let narrowed = s.with_category(c).ok()?;
                    Some(CategoryRow { checked: is_ticked(&narrowed), value: narrowed.to_string(), label: label.to_owned() })
                })
                .collect(),
            _ => Vec::new(),
        };
        rows.push(ScopeRow {
            value: s.to_string(),
            description: portico_domain::describe(&s.to_string()).unwrap_or_else(|| s.to_string()),
            resource_type: Some(s.resource_type.clone().unwrap_or_else(|| "*".into())),
            checked: is_ticked(s),
            categories,
        });
    }
    for s in req.scopes.scopes().into_iter().filter(|s| !matches!(s, SmartScope::Resource(_))) {
        rows.push(ScopeRow {
            value: s.to_string(),
            description: s.describe(),
            resource_type: None,
            checked: true,
            categories: Vec::new(),
        });
    }
    let now = state.now();
    let end_value = form.get("end_date").cloned().filter(|v| !v.is_empty());
    let end_error = end_date(end_value.as_ref(), &req.scopes, now).err();
    let default_end =
        end_value.or_else(|| req.scopes.offline.then(|| (now + Duration::days(OFFLINE_DAYS)).format("%Y-%m-%d").to_string()));
    // The preview: the would-be grant run through the one enforcement path, as any preview is.
    let preview = {
        let (app, user_id, patient, scope, tenant) =
            (req.app.clone(), user.id, patient.clone(), chosen.to_string(), req.practice);
        let fhir_base = state.config().fhir_base();
        state
            .read(Weight::Heavy, move |store, now| {
                let draft = CredentialRecord {
                    id: "consent-preview".into(),
                    kind: CredentialKind::ConnectedApp,
                    owner: user_id,
                    name: app.name.clone(),
                    note: None,
                    client_id: app.client_id.clone(),
                    secret_digest: portico_domain::Digest([0; 32]),
                    secret_hint: String::new(),
                    previous: None,
                    secret_generation: 0,
                    window: ValidityWindow::default(),
                    active: true,
                    created_at: now,
                    created_by: user_id,
                    updated_at: now,
                    deleted_at: None,
                    patients: patient.into_iter().collect(),
                    app_id: Some(app.id.clone()),
                    scope: Some(scope),
                    practice: tenant,
                };
                match engine::principal_for_preview(store, draft, now) {
                    Ok(Ok(who)) => crate::manage::counts(store, &who, &fhir_base, now),
                    _ => Vec::new(),
                }
            })
            .await?
    };
    let view = ConsentView {
        app: AppInfo {
            name: req.app.name.clone(),
            description: Some(req.app.description.clone()).filter(|d| !d.is_empty()),
            homepage: req.app.homepage.clone(),
            privacy_policy: req.app.privacy_policy.clone(),
            approved_by: approving.iter().filter_map(|p| names.get(p).cloned()).collect(),
            developer,
        },
        user_display: format!("{} ({})", user.display_name, user.username),
        patient_display: patient.map(|p| patient_name.unwrap_or(p.0)),
        scopes: rows,
        openid: req.scopes.openid,
        fhir_user: req.scopes.fhir_user,
        offline_access: req.scopes.offline,
        default_end_date: default_end,
        min_end_date: Some(now.format("%Y-%m-%d").to_string()),
        preview: preview.into_iter().map(|(t, n)| (t, n as u64)).collect(),
        error: end_error,
        hidden,
        action: "/oauth/authorize".into(),
    };
    Ok(pages::html(StatusCode::OK, pages::consent(&view).map_err(|_| page_error("Error", "The page could not be shown."))?))
}
