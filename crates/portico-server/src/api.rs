//! Management API handlers (`/api`): JSON in, JSON out, `{code, message}` errors. Each handler
//! authenticates the session, parses its input and calls one function of `manage`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use portico_api as wire;
use portico_api::ErrorCode;
use portico_domain::AuditEvent;
use portico_store::{ReadStore, UserRecord, WriteStore};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::engine::FhirOp;
use crate::error::{no_store, ApiFailure, ApiPath};
use crate::fhir::{bearer, query_pairs, render};
use crate::manage;
use crate::state::{AppState, ClientAddr, Weight};
use crate::API_BODY_LIMIT;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(sign_in).delete(sign_out))
        .route("/me", get(me))
        .route("/info", get(info))
        .route("/credentials", get(list_credentials).post(create_credential))
        .route("/credentials/deleted", get(receipts))
        .route("/credentials/{id}", get(get_credential).patch(update_credential).delete(delete_credential))
        .route("/credentials/{id}/regenerate", post(regenerate))
        .route("/credentials/{id}/preview", get(preview))
        .route("/credentials/{id}/preview/fhir/{resource_type}", get(preview_search))
        .route("/credentials/{id}/preview/fhir/{resource_type}/{rid}", get(preview_read))
        .route("/credentials/{id}/preview/fhir/{resource_type}/{rid}/{operation}", get(preview_operation))
        .route("/credentials/{id}/history", get(history))
        .route("/staff-credentials", get(staff_credentials))
        .route("/nudges", get(nudges))
        .route("/nudges/practice", get(practice_nudges))
        .route("/nudges/access-changes/{id}/ack", post(ack_access_change))
        .route("/audit", get(my_audit))
        .route("/audit/export", get(export_audit))
        .route("/users", get(users).post(create_user))
        .route("/users/{id}/roles", put(set_roles))
        .route("/users/{id}/practices", put(set_practices))
        .route("/patients", get(patients))
        .route("/practices", get(practices))
        .route("/apps", get(list_apps).post(register_app))
        .route("/apps/{id}", get(get_app).patch(update_app).delete(delete_app))
        .route("/apps/{id}/rotate-secret", post(rotate_app_secret))
        .route("/apps/{id}/approvals", post(request_approval))
        .route("/approvals", get(approvals))
        .route("/approvals/{app_id}/{practice_id}", put(decide_approval))
        .route("/connected-apps", get(connected_apps))
        .route("/connected-apps/{id}", patch(extend_grant))
        .route("/signup", post(sign_up))
        .fallback(|| async { ApiFailure::not_found("no such endpoint").into_response() })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiFailure::new(ErrorCode::MethodNotAllowed, format!("{method} is not allowed here")).into_response()
        })
}

type ApiResult<T> = Result<T, ApiFailure>;

fn reply<T: Serialize>(r: ApiResult<T>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn reply_created<T: Serialize>(r: ApiResult<T>) -> Response {
    match r {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn json<T: DeserializeOwned>(body: Body) -> ApiResult<T> {
    let bytes = crate::read_limited(body, API_BODY_LIMIT)
        .await
        .map_err(|_| ApiFailure::new(ErrorCode::PayloadTooLarge, format!("the request body exceeds {API_BODY_LIMIT} bytes")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiFailure::invalid(format!("the request body is not what this endpoint expects: {e}")))
}

/// Runs `f` on a reader with the session's user: for requests that change nothing.
async fn with_user_read<T: Send + 'static>(
    state: &AppState,
    headers: &HeaderMap,
    f: impl FnOnce(&dyn ReadStore, &UserRecord, &AppState, chrono::DateTime<chrono::Utc>) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let token = bearer(headers);
    let st = state.clone();
    state
        .read(Weight::Light, move |store, now| {
            let user = manage::session_user(store, token.as_deref(), now)?;
            f(store, &user, &st, now)
        })
        .await?
}

/// Runs `f` on the writer with the session's user (checked in the same transaction).
async fn with_user<T: Send + 'static>(
    state: &AppState,
    headers: &HeaderMap,
    f: impl FnOnce(&mut dyn WriteStore, &UserRecord, &AppState, chrono::DateTime<chrono::Utc>) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let token = bearer(headers);
    let st = state.clone();
    state
        .write(move |store, now| {
            let user = manage::session_user(store, token.as_deref(), now)?;
            // A change and its audit entry commit together; a refused request leaves nothing behind.
            store.atomically(|store| f(store, &user, &st, now))
        })
        .await?
}

/// A preview: run as the credential on a reader (it may search every type), then its audit events
/// committed before the answer leaves.
async fn with_preview<T: Send + 'static>(
    state: &AppState,
    headers: &HeaderMap,
    f: impl FnOnce(&dyn ReadStore, &UserRecord, &AppState, chrono::DateTime<chrono::Utc>) -> ApiResult<(T, Vec<AuditEvent>)>
        + Send
        + 'static,
) -> ApiResult<T> {
    let token = bearer(headers);
    let st = state.clone();
    let (out, events) = state
        .read(Weight::Heavy, move |store, now| {
            let user = manage::session_user(store, token.as_deref(), now)?;
            f(store, &user, &st, now)
        })
        .await??;
    if !events.is_empty() {
        state.write(move |store, _| store.append_audit(&events)).await??;
    }
    Ok(out)
}

async fn sign_in(State(state): State<AppState>, ClientAddr(addr): ClientAddr, body: Body) -> Response {
    let r = async {
        let req: wire::SignIn = json(body).await?;
        manage::sign_in(&state, req, addr).await
    }
    .await;
    // The answer carries the session token: no cache may keep it.
    no_store(reply(r))
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = bearer(&headers);
    match state.write(move |store, now| manage::sign_out(store, token.as_deref(), now)).await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiFailure::from(e).into_response(),
    }
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(with_user_read(&state, &headers, |store, user, _, _| manage::to_user(store, user)).await)
}

async fn info(State(state): State<AppState>) -> Response {
    let c = state.config();
    Json(wire::ServiceInfo {
        name: c.name.clone(),
        fhir_base_url: c.fhir_base(),
        token_url: c.token_url(),
        revoke_url: c.revoke_url(),
        version: env!("CARGO_PKG_VERSION").into(),
        allow_signup: c.allow_signup,
        sample_app_url: crate::sample_app::installed_dir(c.sample_app_dir.as_deref())
            .map(|_| format!("{}{}", c.base_url, crate::sample_app::PATH)),
    })
    .into_response()
}

async fn list_credentials(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(with_user_read(&state, &headers, |store, user, _, now| manage::list_credentials(store, user, now)).await)
}

async fn create_credential(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: wire::NewCredential = json(body).await?;
        with_user(&state, &headers, move |store, user, st, now| manage::create_credential(store, user, &req, st.config(), now))
            .await
    }
    .await;
    // The answer carries the client secret: no cache may keep it.
    no_store(reply_created(r))
}

async fn get_credential(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>) -> Response {
    reply(with_user_read(&state, &headers, move |store, user, _, now| manage::get_credential(store, user, &id, now)).await)
}

async fn update_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: Body,
) -> Response {
    let r = async {
        let req: wire::CredentialUpdate = json(body).await?;
        with_user(&state, &headers, move |store, user, _, now| manage::update_credential(store, user, &id, &req, now)).await
    }
    .await;
    reply(r)
}

async fn regenerate(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>, body: Body) -> Response {
    let r = async {
        let bytes_empty = body_is_empty(&headers);
        let req: wire::Regenerate = if bytes_empty { wire::Regenerate::default() } else { json(body).await? };
        with_user(&state, &headers, move |store, user, st, now| manage::regenerate(store, user, &id, &req, st.config(), now))
            .await
    }
    .await;
    no_store(reply(r))
}

fn body_is_empty(headers: &HeaderMap) -> bool {
    headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()) == Some("0")
}

async fn delete_credential(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>) -> Response {
    reply(with_user(&state, &headers, move |store, user, _, now| manage::delete_credential(store, user, &id, now)).await)
}

async fn preview(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>) -> Response {
    reply(
        with_preview(&state, &headers, move |store, user, st, now| {
            manage::preview(store, user, &id, &st.config().fhir_base(), now)
        })
        .await,
    )
}

async fn run_preview(state: AppState, headers: HeaderMap, id: String, op: FhirOp) -> Response {
    let r = with_preview(&state, &headers, move |store, user, st, now| {
        manage::preview_fhir(store, user, &id, op, &st.config().fhir_base(), now)
    })
    .await;
    match r {
        Ok(Ok(ok)) => render(ok),
        Ok(Err(e)) => e.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn preview_search(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((id, resource_type)): ApiPath<(String, String)>,
    uri: Uri,
) -> Response {
    let params = query_pairs(uri.query());
    run_preview(state, headers, id, FhirOp::Search { resource_type, params, handling: Default::default() }).await
}

async fn preview_read(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((id, resource_type, rid)): ApiPath<(String, String, String)>,
) -> Response {
    run_preview(state, headers, id, FhirOp::Read { resource_type, id: rid }).await
}

async fn preview_operation(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((id, resource_type, rid, operation)): ApiPath<(String, String, String, String)>,
) -> Response {
    if resource_type != "Patient" || operation != "$everything" {
        return ApiFailure::not_found("only Patient/{id}/$everything is supported").into_response();
    }
    run_preview(state, headers, id, FhirOp::Everything { id: rid }).await
}

fn limit(uri: &Uri) -> usize {
    query_pairs(uri.query()).into_iter().find(|(k, _)| k == "limit").and_then(|(_, v)| v.parse().ok()).unwrap_or(200)
}

async fn history(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>, uri: Uri) -> Response {
    let n = limit(&uri);
    reply(with_user_read(&state, &headers, move |store, user, _, _| manage::history(store, user, &id, n)).await)
}

async fn my_audit(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let n = limit(&uri);
    reply(with_user_read(&state, &headers, move |store, user, _, _| manage::my_audit(store, user, n)).await)
}

/// The patient's access history as a download: `?format=csv` (the default) or `?format=fhir`. Read on the
/// heavy lane: it is every event of the record, not a page.
async fn export_audit(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let asked = query_pairs(uri.query()).into_iter().find(|(k, _)| k == "format").map(|(_, v)| v);
    let r = async {
        let format = match asked.as_deref() {
            None => wire::AccessHistoryFormat::Csv,
            Some(f) => wire::AccessHistoryFormat::parse(f).ok_or_else(|| ApiFailure::invalid("format must be csv or fhir"))?,
        };
        let token = bearer(&headers);
        let st = state.clone();
        state
            .read(Weight::Heavy, move |store, now| {
                let user = manage::session_user(store, token.as_deref(), now)?;
                manage::export_access_history(store, &user, format, st.config(), now)
            })
            .await?
    }
    .await;
    match r {
        Ok(export) => {
            let disposition = format!("attachment; filename=\"{}\"", export.filename);
            // Who read a health record is itself sensitive: no cache keeps it.
            no_store(
                (
                    [
                        (axum::http::header::CONTENT_TYPE, export.content_type.to_owned()),
                        (axum::http::header::CONTENT_DISPOSITION, disposition),
                    ],
                    export.body,
                )
                    .into_response(),
            )
        }
        Err(e) => e.into_response(),
    }
}

async fn receipts(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(with_user_read(&state, &headers, |store, user, _, _| manage::receipts(store, user)).await)
}

async fn staff_credentials(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let query = query_pairs(uri.query());
    reply(with_user_read(&state, &headers, move |store, user, _, now| manage::staff_credentials(store, user, query, now)).await)
}

async fn nudges(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(with_user_read(&state, &headers, |store, user, _, now| manage::my_nudges(store, user, now)).await)
}

async fn practice_nudges(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let r = async {
        let days = match query_pairs(uri.query()).into_iter().find(|(k, _)| k == "unused_days") {
            None => None,
            Some((_, v)) => {
                Some(v.parse::<i64>().map_err(|_| ApiFailure::invalid("unused_days must be a whole number of days"))?)
            }
        };
        with_user_read(&state, &headers, move |store, user, _, now| manage::practice_nudges(store, user, days, now)).await
    }
    .await;
    reply(r)
}

async fn ack_access_change(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<i64>) -> Response {
    reply(with_user(&state, &headers, move |store, user, _, now| manage::acknowledge_access_change(store, user, id, now)).await)
}

async fn users(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let query = query_pairs(uri.query());
    reply(with_user_read(&state, &headers, move |store, user, _, _| manage::users(store, user, query)).await)
}

async fn create_user(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: wire::NewUser = json(body).await?;
        // Only a signed-in administrator makes the service spend Argon2's time on a password.
        with_user_read(&state, &headers, |_, user, _, _| manage::require_admin(user)).await?;
        let hash = manage::hash_new_password(&state, req.password.clone()).await?;
        with_user(&state, &headers, move |store, user, _, now| manage::create_user(store, user, &req, &hash, now)).await
    }
    .await;
    reply_created(r)
}

async fn set_roles(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<i64>, body: Body) -> Response {
    let r = async {
        let req: wire::SetRoles = json(body).await?;
        with_user(&state, &headers, move |store, user, _, now| manage::set_roles(store, user, id, &req, now)).await
    }
    .await;
    reply(r)
}

async fn set_practices(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<i64>, body: Body) -> Response {
    let r = async {
        let req: wire::SetPractices = json(body).await?;
        with_user(&state, &headers, move |store, user, _, now| manage::set_practices(store, user, id, &req, now)).await
    }
    .await;
    reply(r)
}

async fn patients(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let req = manage::PatientsRequest::from_pairs(query_pairs(uri.query()));
    reply(with_user_read(&state, &headers, move |store, user, _, _| manage::patients(store, user, &req)).await)
}

async fn practices(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(with_user_read(&state, &headers, |store, _, _, _| manage::practices(store)).await)
}

async fn list_apps(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(with_user_read(&state, &headers, |store, user, _, now| manage::list_apps(store, user, now)).await)
}

async fn register_app(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let r = async {
        let req: wire::NewApp = json(body).await?;
        with_user(&state, &headers, move |store, user, st, now| manage::register_app(store, user, &req, st.config(), now)).await
    }
    .await;
    // The answer may carry the app's client secret: no cache may keep it.
    no_store(reply_created(r))
}

async fn get_app(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>) -> Response {
    reply(with_user_read(&state, &headers, move |store, user, _, now| manage::get_app(store, user, &id, now)).await)
}

async fn update_app(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>, body: Body) -> Response {
    let r = async {
        let req: wire::AppUpdate = json(body).await?;
        with_user(&state, &headers, move |store, user, _, now| manage::update_app(store, user, &id, &req, now)).await
    }
    .await;
    reply(r)
}

async fn delete_app(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>) -> Response {
    reply(with_user(&state, &headers, move |store, user, _, now| manage::delete_app(store, user, &id, now)).await)
}

async fn rotate_app_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: Body,
) -> Response {
    let r = async {
        let req: wire::RotateAppSecret =
            if body_is_empty(&headers) { wire::RotateAppSecret::default() } else { json(body).await? };
        with_user(&state, &headers, move |store, user, st, now| {
            manage::rotate_app_secret(store, user, &id, &req, st.config(), now)
        })
        .await
    }
    .await;
    no_store(reply(r))
}

async fn request_approval(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: Body,
) -> Response {
    let r = async {
        let req: wire::ApprovalRequest = json(body).await?;
        with_user(&state, &headers, move |store, user, _, now| manage::request_approval(store, user, &id, &req, now)).await
    }
    .await;
    reply_created(r)
}

async fn approvals(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(with_user_read(&state, &headers, |store, user, _, _| manage::approvals(store, user)).await)
}

async fn decide_approval(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((app_id, practice_id)): ApiPath<(String, i64)>,
    body: Body,
) -> Response {
    let r = async {
        let req: wire::ApprovalDecision = json(body).await?;
        with_user(&state, &headers, move |store, user, _, now| {
            manage::decide_approval(store, user, &app_id, practice_id, &req, now)
        })
        .await
    }
    .await;
    reply(r)
}

async fn connected_apps(State(state): State<AppState>, headers: HeaderMap) -> Response {
    reply(with_user_read(&state, &headers, |store, user, _, now| manage::connected_apps(store, user, now)).await)
}

async fn extend_grant(State(state): State<AppState>, headers: HeaderMap, ApiPath(id): ApiPath<String>, body: Body) -> Response {
    let r = async {
        let req: wire::ExtendGrant = json(body).await?;
        with_user(&state, &headers, move |store, user, _, now| manage::extend_grant(store, user, &id, &req, now)).await
    }
    .await;
    reply(r)
}

async fn sign_up(State(state): State<AppState>, ClientAddr(addr): ClientAddr, body: Body) -> Response {
    let r = async {
        let req: wire::Signup = json(body).await?;
        manage::sign_up(&state, req, addr).await
    }
    .await;
    reply_created(r)
}
