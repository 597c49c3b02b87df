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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use portico_store::{Backend, ReadStore, StoreError, WriteJob};
    use tower::ServiceExt as _;

    use crate::{router, AppState, Config};

    /// A store that cannot be read: what a missing or unreadable database file looks like to the server.
    struct Unreadable;

    impl Backend for Unreadable {
        fn read(&self, _: &mut dyn FnMut(&dyn ReadStore)) -> portico_store::Result<()> {
            Err(StoreError::Corrupt("unreadable".into()))
        }
        fn submit(&self, job: Box<dyn WriteJob>) -> portico_store::Result<()> {
            job.finish(Err(StoreError::Corrupt("unreadable".into())));
            Ok(())
        }
    }

    async fn get(path: &str) -> (u16, serde_json::Value) {
        // Trusting only its own host, as on loopback: the probes pass with any Host.
        let state = AppState::new(Unreadable, Config::new("http://127.0.0.1:1").trusting_only([]));
        let req = Request::get(path).header("host", "elsewhere:9").body(Body::empty()).unwrap();
        let res = router(state).oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn alive_while_the_store_is_not_ready() {
        assert_eq!(get("/healthz").await, (200, serde_json::json!({"status": "ok"})));
        let (status, body) = get("/readyz").await;
        assert_eq!((status, &body["status"]), (503, &serde_json::json!("unavailable")), "{body}");
    }
}
