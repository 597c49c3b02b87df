//! Probes for a load balancer or an orchestrator: `/healthz` says the process answers, `/readyz` that the
//! store answers too. No authentication, nothing audited, no data: they carry only a status word, which is
//! why the Host guard lets them through (see `guard`) and the request log keeps them at debug level.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::{AppState, Weight};

pub const ALIVE_PATH: &str = "/healthz";
pub const READY_PATH: &str = "/readyz";

/// Whether `path` is one of the probes.
pub fn is_probe(path: &str) -> bool {
    path == ALIVE_PATH || path == READY_PATH
}

pub async fn alive() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// One trivial read on a reader connection: the database file opens and answers a query.
pub async fn ready(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.read(Weight::Light, |store, _| store.practice_by_name("").map(|_| ())).await {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "readiness probe: the store failed");
            unavailable("the database cannot be read")
        }
        Err(e) => unavailable(&e.to_string()),
    }
}

fn unavailable(reason: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "reason": reason}))).into_response()
}
