//! FHIR R4 HTTP handlers: parse the request into an [`FhirOp`], hand it to the engine, render the answer.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use portico_domain::PracticeId;
use portico_fhir::capability::{capability_statement, smart_configuration as smart_config, Endpoints};
use portico_fhir::outcome::IssueCode;
use portico_fhir::search::{is_json_format, Handling};
use serde_json::Value;

use crate::engine::{self, FhirOk, FhirOp};
use crate::error::{FhirError, FhirPath, FHIR_JSON};
use crate::state::{AppState, Unavailable, Weight};
use crate::FHIR_BODY_LIMIT;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metadata", get(metadata))
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .route("/{resource_type}", get(search_get).post(create))
        .route("/{resource_type}/_search", post(search_post))
        .route("/{resource_type}/{id}", get(read).put(update).delete(delete))
        .route("/{resource_type}/{id}/{operation}", get(operation))
        .fallback(unknown)
        .method_not_allowed_fallback(|method: Method| async move {
            FhirError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                IssueCode::NotSupported,
                format!("{method} is not supported at this address"),
            )
            .into_response()
        })
        .route_layer(axum::middleware::from_fn(json_only))
}

/// Portico speaks FHIR JSON only. A client that asks for nothing else (`Accept: application/fhir+xml`, or
/// `_format=xml`) is told so with 406 (in JSON, the one format it will get) instead of JSON it did not ask for.
async fn json_only(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // The SMART configuration is plain JSON for whoever asks, whatever they accept (SMART App Launch §2.3).
    if req.uri().path().ends_with("/.well-known/smart-configuration") {
        return next.run(req).await;
    }
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    // The query is decoded only when it can name a format, so a plain request pays nothing for this.
    let format = match req.uri().query() {
        Some(q) if q.contains("_format") => query_pairs(Some(q)).into_iter().find(|(k, _)| k == "_format").map(|(_, v)| v),
        _ => None,
    };
    let refused = match &format {
        Some(f) => !is_json_format(f),
        None => !accept.trim().is_empty() && !accept.split(',').any(|m| is_json_format(m.split(';').next().unwrap_or(""))),
    };
    if refused {
        return FhirError::new(
            StatusCode::NOT_ACCEPTABLE,
            IssueCode::NotSupported,
            "this server answers in FHIR JSON only (application/fhir+json); XML is not supported",
        )
        .into_response();
    }
    next.run(req).await
}

/// The service's URLs as the discovery documents state them.
pub struct Urls {
    fhir_base: String,
    token: String,
    revoke: String,
    authorize: String,
    introspect: String,
    manage: String,
    jwks: String,
    issuer: String,
}

impl Urls {
    /// For the FHIR base `fhir_base` (the service's `/fhir`, or a practice's `/t/{id}/fhir`).
    pub fn of(state: &AppState, fhir_base: String) -> Urls {
        let c = state.config();
        Urls {
            fhir_base,
            token: c.token_url(),
            revoke: c.revoke_url(),
            authorize: format!("{}/oauth/authorize", c.base_url),
            introspect: format!("{}/oauth/introspect", c.base_url),
            manage: format!("{}/oauth/manage", c.base_url),
            jwks: format!("{}/oauth/jwks", c.base_url),
            issuer: c.base_url.clone(),
        }
    }

    pub fn endpoints(&self) -> Endpoints<'_> {
        Endpoints {
            fhir_base: &self.fhir_base,
            token: &self.token,
            revoke: &self.revoke,
            authorize: &self.authorize,
            introspect: &self.introspect,
            manage: &self.manage,
            jwks: &self.jwks,
            issuer: &self.issuer,
        }
    }
}

async fn metadata(State(state): State<AppState>) -> Response {
    let urls = Urls::of(&state, request_base(&state));
    let date = portico_domain::format_instant(state.now());
    fhir_json(StatusCode::OK, &capability_statement(&urls.endpoints(), &date))
}

pub async fn smart_configuration(State(state): State<AppState>) -> Response {
    let urls = Urls::of(&state, request_base(&state));
    axum::Json(smart_config(&urls.endpoints())).into_response()
}

pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    let urls = Urls::of(&state, state.config().fhir_base());
    axum::Json(portico_fhir::capability::openid_configuration(&urls.endpoints())).into_response()
}

async fn unknown(method: Method) -> Response {
    FhirError::new(StatusCode::NOT_FOUND, IssueCode::NotSupported, format!("no FHIR interaction matches this {method} request"))
        .into_response()
}

async fn search_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    FhirPath(resource_type): FhirPath<String>,
    uri: Uri,
) -> Response {
    let params = query_pairs(uri.query());
    let pretty = wants_pretty(&params);
    let handling = handling(&headers);
    let response = handle(state, &headers, Ok(FhirOp::Search { resource_type, params, handling }), pretty).await;
    preference_applied(response, handling)
}

async fn search_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    FhirPath(resource_type): FhirPath<String>,
    uri: Uri,
    body: Body,
) -> Response {
    let handling = handling(&headers);
    let op = async {
        let bytes = read_body(body).await?;
        let mut params = query_pairs(uri.query());
        params.extend(url::form_urlencoded::parse(&bytes).into_owned());
        Ok(FhirOp::Search { resource_type, params, handling })
    }
    .await;
    let pretty = matches!(&op, Ok(FhirOp::Search { params, .. }) if wants_pretty(params));
    preference_applied(handle(state, &headers, op, pretty).await, handling)
}

/// `Prefer: handling=lenient` (R4 search.html#errors, RFC 7240): the client would rather have an answer without the
/// parameters the server does not support than none. Strict otherwise.
fn handling(headers: &HeaderMap) -> Handling {
    let lenient = headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split([',', ';'])).any(|p| {
        p.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("handling") && v.trim().trim_matches('"').eq_ignore_ascii_case("lenient")
        })
    });
    if lenient {
        Handling::Lenient
    } else {
        Handling::Strict
    }
}

/// RFC 7240 §3: a server that honoured a preference says so.
fn preference_applied(mut response: Response, handling: Handling) -> Response {
    if handling == Handling::Lenient && response.status().is_success() {
        response.headers_mut().insert("preference-applied", HeaderValue::from_static("handling=lenient"));
    }
    response
}

/// `_pretty=true` (R4 http.html#pretty) on any interaction: indented JSON. The search parser
/// checks the value; here only `true` matters.
fn wants_pretty(params: &[(String, String)]) -> bool {
    params.iter().rev().find(|(k, _)| k == "_pretty").is_some_and(|(_, v)| v == "true")
}

async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    FhirPath((resource_type, id)): FhirPath<(String, String)>,
    uri: Uri,
) -> Response {
    let pretty = wants_pretty(&query_pairs(uri.query()));
    handle(state, &headers, Ok(FhirOp::Read { resource_type, id }), pretty).await
}

async fn operation(
    State(state): State<AppState>,
    headers: HeaderMap,
    FhirPath((resource_type, id, operation)): FhirPath<(String, String, String)>,
    uri: Uri,
) -> Response {
    let pretty = wants_pretty(&query_pairs(uri.query()));
    let op = if resource_type == "Patient" && operation == "$everything" {
        Ok(FhirOp::Everything { id })
    } else {
        Err(FhirError::new(StatusCode::NOT_FOUND, IssueCode::NotSupported, "only Patient/{id}/$everything is supported here"))
    };
    handle(state, &headers, op, pretty).await
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    FhirPath(resource_type): FhirPath<String>,
    body: Body,
) -> Response {
    let op = async { Ok(FhirOp::Create { resource_type, body: json_body(body).await? }) }.await;
    handle(state, &headers, op, false).await
}

async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    FhirPath((resource_type, id)): FhirPath<(String, String)>,
    body: Body,
) -> Response {
    let op = async {
        let if_match = if_match(&headers)?;
        Ok(FhirOp::Update { resource_type, id, body: json_body(body).await?, if_match })
    }
    .await;
    handle(state, &headers, op, false).await
}

async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    FhirPath((resource_type, id)): FhirPath<(String, String)>,
) -> Response {
    let op = if_match(&headers).map(|if_match| FhirOp::Delete { resource_type, id, if_match });
    handle(state, &headers, op, false).await
}

tokio::task_local! {
    /// The practice whose FHIR base (`/t/{practice}/fhir`) the request came in at; unset at `/fhir`.
    static TENANT: PracticeId;
}

/// The practice of the base this request came in at, if it is a practice's own.
fn tenant() -> Option<PracticeId> {
    TENANT.try_with(|p| *p).ok()
}

/// The FHIR base of this request: the service's, or the practice's.
fn request_base(state: &AppState) -> String {
    match tenant() {
        Some(p) => crate::grants::tenant_base(&state.config().fhir_base(), p.0),
        None => state.config().fhir_base(),
    }
}

/// `/t/{practice}/fhir/...`: the same FHIR API for one practice. A token is accepted only at the base it was
/// issued for (its `aud`), so a token of a practice's base reaches that practice's data and nothing else.
pub async fn tenant_dispatch(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    use tower::ServiceExt as _;
    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix("/t/").unwrap_or("");
    let (practice, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let tail = tail.strip_prefix("fhir").unwrap_or("");
    let not_found = || FhirError::not_found("no such practice FHIR base").into_response();
    let Ok(id) = practice.parse::<i64>() else {
        return not_found();
    };
    let known = state.read(Weight::Light, move |store, _| store.practices().map(|ps| ps.iter().any(|(p, _)| p.0 == id))).await;
    if !matches!(known, Ok(Ok(true))) {
        return not_found();
    }
    let (mut parts, body) = req.into_parts();
    let target = match parts.uri.query() {
        Some(q) => format!("/fhir{tail}?{q}"),
        None => format!("/fhir{tail}"),
    };
    let Ok(uri) = target.parse() else {
        return not_found();
    };
    parts.uri = uri;
    // The outer route's path parameters must not reach the FHIR routes' extractors; the peer address must.
    let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().cloned();
    parts.extensions = axum::http::Extensions::new();
    if let Some(peer) = peer {
        parts.extensions.insert(peer);
    }
    let router = Router::new().nest("/fhir", routes()).with_state(state);
    let request = axum::extract::Request::from_parts(parts, body);
    match TENANT.scope(PracticeId(id), router.oneshot(request)).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// Authorizes first (so a request without a valid token learns nothing else), then runs the parsed op.
/// Reads run on a reader snapshot and their audit events are committed by the writer before the answer
/// leaves; writes run on the writer, the change and its audit events in one savepoint.
async fn handle(state: AppState, headers: &HeaderMap, op: Result<FhirOp, FhirError>, pretty: bool) -> Response {
    let bearer = bearer(headers);
    let fhir_base = request_base(&state);
    let tenant = tenant();
    let writes = op.as_ref().is_ok_and(FhirOp::writes);
    let result: Result<Result<Response, FhirError>, Unavailable> = if writes {
        state
            .write(move |store, now| {
                store.atomically(|store| -> Result<Result<FhirOk, FhirError>, portico_store::StoreError> {
                    let (result, events) = match authorized(&*store, bearer.as_deref(), op, tenant, now) {
                        Ok((who, op)) => engine::execute(store, &who, op, &fhir_base, now),
                        Err((e, events)) => (Err(e), events),
                    };
                    store.append_audit(&events)?;
                    Ok(result)
                })
            })
            .await
            .map(|r| r.map_err(FhirError::from).and_then(|r| r).map(|ok| render_as(ok, pretty)))
    } else {
        let weight = if op.as_ref().is_ok_and(FhirOp::is_heavy) { Weight::Heavy } else { Weight::Light };
        let read = state
            .read(weight, move |store, now| {
                let (result, events) = match authorized(store, bearer.as_deref(), op, tenant, now) {
                    Ok((who, op)) => engine::execute_read(store, &who, op, &fhir_base, now),
                    Err((e, events)) => (Err(e), events),
                };
                // Rendered here, off the async runtime: a large bundle is milliseconds of serialization.
                (result.map(|ok| render_as(ok, pretty)), events)
            })
            .await;
        match read {
            Ok((result, events)) if events.is_empty() => Ok(result),
            // The access is on record before it is answered.
            Ok((result, events)) => state.write(move |store, _| store.append_audit(&events)).await.map(|w| match w {
                Ok(()) => result,
                Err(e) => Err(FhirError::from(e)),
            }),
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => e.into_response(),
        Err(e) => FhirError::from(e).into_response(),
    }
}

/// Resolves the token, then hands back who asks and the parsed op; a refused token yields its audit event
/// (when there is one to keep).
fn authorized(
    store: &dyn portico_store::ReadStore,
    bearer: Option<&str>,
    op: Result<FhirOp, FhirError>,
    tenant: Option<PracticeId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(engine::Principal, FhirOp), (FhirError, Vec<portico_domain::AuditEvent>)> {
    let who = engine::authorize(store, bearer, now).map_err(|(e, event)| (e, event.map(|e| vec![*e]).unwrap_or_default()))?;
    // A token works at the base it was issued for (its grant's practice, or `/fhir`), nowhere else.
    if who.credential.practice != tenant {
        let mut e = portico_domain::AuditEvent::new(portico_domain::AuditKind::FhirRefused, now);
        e.outcome = "token used at another FHIR base than its audience".into();
        e.credential_id = Some(who.credential.id.clone());
        return Err((FhirError::unauthorized("this access token was issued for another FHIR base"), vec![e]));
    }
    let op = op.map_err(|e| (e, Vec::new()))?;
    Ok((who, op))
}

pub fn render(ok: FhirOk) -> Response {
    render_as(ok, false)
}

/// `pretty`: indented JSON (`_pretty=true`), at the price of parsing a body that was kept as text.
fn render_as(ok: FhirOk, pretty: bool) -> Response {
    let body_text = match (ok.body_text, &ok.body) {
        (Some(text), _) if pretty => {
            serde_json::from_str::<Value>(&text).ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).or(Some(text))
        }
        (Some(text), _) => Some(text),
        (None, Some(b)) if pretty => serde_json::to_string_pretty(b).ok(),
        (None, _) => None,
    };
    let mut r = match (body_text, &ok.body) {
        (Some(text), _) => (ok.status, [(header::CONTENT_TYPE, FHIR_JSON)], text).into_response(),
        (None, Some(b)) => fhir_json(ok.status, b),
        (None, None) => ok.status.into_response(),
    };
    let h = r.headers_mut();
    if let Some((version, last_updated)) = &ok.version {
        if let Ok(v) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
            h.insert(header::ETAG, v);
        }
        if let Some(t) = portico_domain::parse_instant(last_updated) {
            if let Ok(v) = HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
                h.insert(header::LAST_MODIFIED, v);
            }
        }
    }
    if let Some(loc) = ok.location.as_deref().and_then(|l| HeaderValue::from_str(l).ok()) {
        h.insert(header::LOCATION, loc);
    }
    r
}

pub fn fhir_json(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], body.to_string()).into_response()
}

pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, FhirError> {
    crate::read_limited(body, FHIR_BODY_LIMIT).await.map_err(|_| {
        FhirError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            IssueCode::TooLong,
            format!("the request body exceeds {FHIR_BODY_LIMIT} bytes"),
        )
    })
}

async fn json_body(body: Body) -> Result<Value, FhirError> {
    let bytes = read_body(body).await?;
    serde_json::from_slice(&bytes).map_err(|e| FhirError::bad_request(format!("the body is not valid JSON: {e}")))
}

/// `If-Match: W/"3"` (or `"3"`) → 3.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, FhirError> {
    let Some(v) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let s = v.to_str().unwrap_or("");
    let s = s.trim().trim_start_matches("W/").trim_matches('"');
    s.parse::<i64>().map(Some).map_err(|_| FhirError::bad_request("If-Match must be a version ETag such as W/\"3\""))
}
