//! The app-management calls against the contract (`notes/api-contract.md`, wire types in portico-api):
//! each method sends the documented method, path and body, and decodes the documented answer. A stand-in
//! service on 127.0.0.1 records what arrives and answers from a table; no Portico server is involved, so
//! these hold whichever side of the contract is built first.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use portico_api as wire;
use portico_client::{Client, ClientError, ServiceFeatures};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    auth: Option<String>,
    body: Value,
}

/// Answers every request with the next `(status, body)` of `answers`, recording what it received.
async fn stand_in(answers: Vec<(u16, Value)>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for (status, answer) in answers {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = sock.read(&mut chunk).await.expect("read");
                assert!(n > 0, "connection closed before the request ended");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
            };
            let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            while buf.len() < head_end + len {
                let n = sock.read(&mut chunk).await.expect("read body");
                buf.extend_from_slice(&chunk[..n]);
            }
            let mut first = head.lines().next().unwrap_or_default().split(' ');
            let method = first.next().unwrap_or_default().to_owned();
            let path = first.next().unwrap_or_default().to_owned();
            let body_bytes = &buf[head_end..head_end + len];
            let body = if body_bytes.is_empty() { Value::Null } else { serde_json::from_slice(body_bytes).expect("json body") };
            log.lock().expect("log").push(Seen { method, path, auth: header("authorization"), body });
            let text = answer.to_string();
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            sock.write_all(reply.as_bytes()).await.expect("write");
        }
    });
    (base, seen)
}

fn app_json() -> Value {
    json!({
        "id": "app-1", "client_id": "pci_smart_abc", "name": "Sleep Coach", "description": "",
        "homepage": null, "privacy_policy": null, "app_type": "patient", "platform": "web",
        "client_auth": "client_secret_basic", "secret_hint": "pcs_smart_…x1", "previous_secret_valid_until": null,
        "redirect_uris": ["https://a.example/cb"], "jwks": null, "jwks_url": null, "scopes": "patient/*.rs",
        "active": true, "owner": "dev", "created_at": "2025-01-02T03:04:05Z", "approvals": [], "connected_users": 0
    })
}

fn issued_json() -> Value {
    json!({
        "app": app_json(), "client_secret": "pcs_smart_secret", "token_url": "http://x/token",
        "authorize_url": "http://x/oauth/authorize", "fhir_base_url": "http://x/fhir"
    })
}

fn approval_json(status: &str) -> Value {
    json!({
        "app_id": "app-1", "app_name": "Sleep Coach", "client_id": "pci_smart_abc", "practice_id": 2,
        "practice_name": "Hillcrest", "status": status, "reason": null, "requested_by": "dev",
        "requested_at": "2025-01-02T03:04:05Z", "decided_by": null, "decided_at": null,
        "description": "Tracks sleep", "homepage": "https://sleep.example", "privacy_policy": null,
        "app_type": "patient", "platform": "web", "client_auth": "client_secret_basic",
        "redirect_uris": ["https://sleep.example/cb"], "scopes": "patient/*.rs", "owner": "dev"
    })
}

fn connected_json() -> Value {
    json!({
        "id": "grant-1", "app_id": "app-1", "client_id": "pci_smart_abc", "name": "Sleep Coach", "description": "",
        "homepage": null, "privacy_policy": null, "developer": "dev", "scope": "patient/*.rs",
        "scope_descriptions": ["Read your record"], "patient": "p1", "since": "2025-01-02T03:04:05Z",
        "last_used_at": null, "expires_at": null, "active_tokens": 1, "refresh_tokens": 1, "usable": true,
        "approved_by": ["Hillcrest"]
    })
}

type Call = Box<dyn Fn(Client) -> Pin<Box<dyn Future<Output = Result<Value, ClientError>>>>>;

fn call<F, Fut, T>(f: F) -> Call
where
    F: Fn(Client) -> Fut + 'static,
    Fut: Future<Output = Result<T, ClientError>> + 'static,
    T: serde::Serialize,
{
    Box::new(move |c| {
        let fut = f(c);
        Box::pin(async move { fut.await.map(|v| serde_json::to_value(v).expect("serialize")) })
    })
}

#[tokio::test]
async fn each_call_follows_the_contract() {
    let new_app = wire::NewApp {
        name: "Sleep Coach".into(),
        app_type: "patient".into(),
        platform: "web".into(),
        client_auth: "client_secret_basic".into(),
        redirect_uris: vec!["https://a.example/cb".into()],
        scopes: "patient/*.rs".into(),
        ..Default::default()
    };
    let expires = "2026-01-01T00:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().expect("time");
    // (what, call, method, path, body sent, answer)
    let table: Vec<(&str, Call, &str, &str, Value, Value)> = vec![
        ("list apps", call(|c| async move { c.apps().await }), "GET", "/api/apps", Value::Null, json!([app_json()])),
        (
            "register",
            call(move |c| {
                let a = new_app.clone();
                async move { c.register_app(&a).await }
            }),
            "POST",
            "/api/apps",
            json!({"name": "Sleep Coach", "description": "", "homepage": null, "privacy_policy": null,
                   "app_type": "patient", "platform": "web", "client_auth": "client_secret_basic",
                   "redirect_uris": ["https://a.example/cb"], "jwks": null, "jwks_url": null, "scopes": "patient/*.rs"}),
            issued_json(),
        ),
        ("get, id escaped", call(|c| async move { c.app("a/b c").await }), "GET", "/api/apps/a%2Fb%20c", Value::Null, app_json()),
        (
            "disable",
            call(|c| async move { c.update_app("app-1", &wire::AppUpdate { active: Some(false), ..Default::default() }).await }),
            "PATCH",
            "/api/apps/app-1",
            json!({"name": null, "description": null, "homepage": null, "privacy_policy": null, "redirect_uris": null,
                   "jwks": null, "jwks_url": null, "scopes": null, "active": false}),
            app_json(),
        ),
        (
            "delete",
            call(|c| async move { c.delete_app("app-1").await }),
            "DELETE",
            "/api/apps/app-1",
            Value::Null,
            json!({"revoked_grants": 3}),
        ),
        (
            "rotate with grace",
            call(|c| async move { c.rotate_app_secret("app-1", Some(60)).await }),
            "POST",
            "/api/apps/app-1/rotate-secret",
            json!({"grace_minutes": 60}),
            issued_json(),
        ),
        (
            "request approval",
            call(|c| async move { c.request_approval("app-1", 2).await }),
            "POST",
            "/api/apps/app-1/approvals",
            json!({"practice_id": 2}),
            approval_json("pending"),
        ),
        (
            "list approvals",
            call(|c| async move { c.approvals().await }),
            "GET",
            "/api/approvals",
            Value::Null,
            json!([approval_json("pending")]),
        ),
        (
            "deny with reason",
            call(|c| async move {
                c.decide_approval("app-1", 2, &wire::ApprovalDecision { status: "denied".into(), reason: Some("No BAA".into()) })
                    .await
            }),
            "PUT",
            "/api/approvals/app-1/2",
            json!({"status": "denied", "reason": "No BAA"}),
            approval_json("denied"),
        ),
        (
            "connected apps",
            call(|c| async move { c.connected_apps().await }),
            "GET",
            "/api/connected-apps",
            Value::Null,
            json!([connected_json()]),
        ),
        (
            "extend a grant",
            call(move |c| async move { c.extend_grant("grant-1", &wire::ExtendGrant { expires_at: Some(expires) }).await }),
            "PATCH",
            "/api/connected-apps/grant-1",
            json!({"expires_at": "2026-01-01T00:00:00Z"}),
            connected_json(),
        ),
        (
            "revoke a grant",
            call(|c| async move { c.delete_credential("grant-1").await }),
            "DELETE",
            "/api/credentials/grant-1",
            Value::Null,
            json!({"id": "grant-1", "deleted_now": true, "tokens_revoked": 2, "at": "2025-01-02T03:04:05Z"}),
        ),
        (
            "grant preview",
            call(|c| async move { c.preview("grant-1").await }),
            "GET",
            "/api/credentials/grant-1/preview",
            Value::Null,
            json!({"credential_id": "grant-1", "patients": ["p1"], "counts": [], "total": 0}),
        ),
        (
            "grant history",
            call(|c| async move { c.history("grant-1").await }),
            "GET",
            "/api/credentials/grant-1/history",
            Value::Null,
            json!([]),
        ),
    ];

    let answers = table.iter().map(|(_, _, _, _, _, answer)| (200, answer.clone())).collect();
    let (base, seen) = stand_in(answers).await;
    let client = Client::new(&base).expect("client").with_session("session-token");
    for (i, (what, f, method, path, body, answer)) in table.iter().enumerate() {
        let got = f(client.clone()).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let s = seen.lock().expect("log")[i].clone();
        assert_eq!((s.method.as_str(), s.path.as_str()), (*method, *path), "{what}");
        assert_eq!(&s.body, body, "{what}: body sent");
        assert_eq!(s.auth.as_deref(), Some("Bearer session-token"), "{what}: session");
        // The answer decodes into the typed value without losing a field the UI shows.
        assert_eq!(&got, answer, "{what}: answer");
    }
}

#[tokio::test]
async fn a_refusal_arrives_as_its_code_and_message() {
    let (base, _) = stand_in(vec![(403, json!({"code": "forbidden", "message": "administrators of that practice only"}))]).await;
    let client = Client::new(&base).expect("client").with_session("t");
    let decision = wire::ApprovalDecision { status: "approved".into(), reason: None };
    match client.decide_approval("app-1", 9, &decision).await {
        Err(ClientError::Api { status: 403, code: wire::ErrorCode::Forbidden, message }) => {
            assert_eq!(message, "administrators of that practice only")
        }
        other => panic!("expected a forbidden API error, got {other:?}"),
    }
}

#[tokio::test]
async fn sign_up_creates_the_account_then_signs_in_as_it() {
    let user = json!({"id": 7, "username": "newdev", "display_name": "New Dev", "roles": ["app_developer"],
                      "practices": [], "patient_id": null});
    let (base, seen) = stand_in(vec![
        (201, user.clone()),
        (200, json!({"token": "pcsess_new", "expires_at": "2025-01-02T03:04:05Z", "user": user})),
    ])
    .await;
    let mut client = Client::new(&base).expect("client");
    let req = wire::Signup {
        username: "newdev".into(),
        given_name: "New".into(),
        family_name: "Dev".into(),
        email: "new@dev.example".into(),
        company: "".into(),
        password: "long enough pw".into(),
    };
    let session = client.sign_up(&req).await.expect("sign up");
    assert_eq!(session.user.roles, ["app_developer"]);
    assert_eq!(client.session_token(), Some("pcsess_new"));
    let seen = seen.lock().expect("log").clone();
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/api/signup"));
    assert_eq!(seen[0].body["email"], "new@dev.example");
    assert_eq!((seen[1].method.as_str(), seen[1].path.as_str()), ("POST", "/api/session"));
    assert_eq!(seen[1].body, json!({"username": "newdev", "password": "long enough pw"}));
}

#[tokio::test]
async fn features_are_read_leniently() {
    let (base, _) = stand_in(vec![
        (200, json!({"fhir_base_url": "f", "token_url": "t", "revoke_url": "r", "version": "0.1.0"})),
        (
            200,
            json!({"fhir_base_url": "f", "token_url": "t", "revoke_url": "r", "version": "0.1.0",
                     "allow_signup": true, "sample_app_url": "http://127.0.0.1:1/sample-app/"}),
        ),
    ])
    .await;
    let client = Client::new(&base).expect("client");
    // A service from before the fields: neither sign-up nor a sample app is offered.
    assert_eq!(client.features().await.expect("old info"), ServiceFeatures::default());
    assert_eq!(
        client.features().await.expect("new info"),
        ServiceFeatures { allow_signup: true, sample_app_url: Some("http://127.0.0.1:1/sample-app/".into()) }
    );
}
