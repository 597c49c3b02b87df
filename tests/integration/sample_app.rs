//! The sample SMART app: its files served safely at /sample-app/ (no way out of its directory, known
//! types only, a CSP), the page shown without a build, `/api/info`'s `sample_app_url`, and the demo's
//! registration of `pci_smart_sample` working through the real pages on whatever port the service has.

use portico_client::{AuthorizeRequest, SmartApp};
use portico_domain::{ApprovalStatus, ClientAuth, Platform, PracticeId};
use portico_server::demo;

use crate::harness::*;

/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A built app (index, launch page, one asset) inside `root/dist`, a file beside it that must stay
/// private, and a symlink inside that points at it.
fn fake_build(root: &std::path::Path) -> std::path::PathBuf {
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(dist.join("index.html"), "<!doctype html><title>sample index</title>").unwrap();
    std::fs::write(dist.join("launch.html"), "<!doctype html><title>sample launch</title>").unwrap();
    std::fs::write(dist.join("assets/index-abc.js"), "console.log('app')").unwrap();
    std::fs::write(dist.join(".env"), "SECRET=1").unwrap();
    std::fs::write(root.join("private.html"), "PRIVATE").unwrap();
    std::os::unix::fs::symlink(root.join("private.html"), dist.join("assets/escape.html")).unwrap();
    dist
}

/// The raw request line goes out exactly as written (no client-side `..` normalization).
async fn raw_get(base: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn serves_only_the_apps_own_files_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let dist = fake_build(dir.path());
    let server = TestServer::start_configured(
        |_| {},
        |mut c| {
            c.sample_app_dir = Some(dist.clone());
            c
        },
    )
    .await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let html = "text/html; charset=utf-8";
    for (path, status, content_type, body) in [
        ("/sample-app/", 200, html, Some("sample index")),
        ("/sample-app/?code=abc&state=x%2Fy", 200, html, Some("sample index")),
        ("/sample-app/launch.html", 200, html, Some("sample launch")),
        ("/sample-app/assets/index-abc.js", 200, "text/javascript; charset=utf-8", Some("console.log")),
        ("/sample-app/missing.js", 404, html, Some("no such file")),
        ("/sample-app/.env", 404, html, None),
        ("/sample-app/assets/escape.html", 404, html, None),
        ("/sample-app/..%2fprivate.html", 404, html, None),
        ("/sample-app/index.html%00.js", 404, html, None),
    ] {
        let r = http.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], content_type, "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"), "{path}: {csp}");
        let text = r.text().await.unwrap();
        assert!(!text.contains("PRIVATE") && !text.contains("SECRET"), "{path} leaked a file outside the app");
        if let Some(b) = body {
            assert!(text.contains(b), "{path}: {text}");
        }
    }
    // Paths an HTTP client would normalize away (dot segments, also percent-encoded), sent as they are.
    for path in [
        "/sample-app/../private.html",
        "/sample-app/assets/../../private.html",
        "/sample-app/%2e%2e/private.html",
        "/sample-app/assets/%2E%2E/%2e%2e/private.html",
        "/sample-app/./index.html",
    ] {
        let (status, text) = raw_get(&server.base, path).await;
        assert!(!text.contains("PRIVATE"), "{path}");
        assert_eq!(status, 404, "{path}");
    }
    let r = http.get(format!("{}/sample-app", server.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(r.headers()["location"], "/sample-app/");

    let info: serde_json::Value = http.get(format!("{}/api/info", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["sample_app_url"], format!("{}/sample-app/", server.base));
}

#[tokio::test]
async fn without_a_build_it_says_so_and_advertises_nothing() {
    let empty = tempfile::tempdir().unwrap();
    for dir in [None, Some(empty.path().to_owned())] {
        let server = TestServer::start_configured(
            |_| {},
            |mut c| {
                c.sample_app_dir = dir.clone();
                c
            },
        )
        .await;
        let r = reqwest::get(format!("{}/sample-app/", server.base)).await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{dir:?}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert!(r.text().await.unwrap().contains("The sample app is not installed"), "{dir:?}");
        let info: serde_json::Value = reqwest::get(format!("{}/api/info", server.base)).await.unwrap().json().await.unwrap();
        assert_eq!(info["sample_app_url"], serde_json::Value::Null, "{dir:?}");
    }
}

#[tokio::test]
async fn the_demo_registers_and_approves_the_sample_app_once() {
    let server = TestServer::start().await;
    let mut store = server.store();
    let app = store.app_by_client_id(demo::SAMPLE_APP_CLIENT_ID).unwrap().expect("seeded");
    assert_eq!((app.client_auth, app.platform), (ClientAuth::None, Platform::Browser));
    assert_eq!(app.redirect_uris, [demo::SAMPLE_APP_REDIRECT_URI]);
    assert_eq!(app.scopes, demo::SAMPLE_APP_SCOPES);
    assert_eq!(store.user(app.owner).unwrap().unwrap().username.as_str(), "developer");
    let approvals = store.approvals_of_app(&app.id).unwrap();
    assert_eq!(approvals.len(), 1);
    assert_eq!((approvals[0].practice, approvals[0].status), (PracticeId(1), ApprovalStatus::Approved));

    // Seeding again (every start of `serve --demo` and of the desktop) changes nothing.
    let again = demo::seed(&mut *store, chrono::Utc::now()).unwrap();
    assert!(again.already_seeded);
    let same = store.app_by_client_id(demo::SAMPLE_APP_CLIENT_ID).unwrap().unwrap();
    assert_eq!(same.id, app.id);
    assert_eq!(store.approvals_of_app(&app.id).unwrap().len(), 1);
}

/// What the sample app does in a browser, minus the browser: its registered loopback redirect URI matches
/// the service's real port, the patient consents, and the code becomes a token that reads her record.
#[tokio::test]
async fn the_sample_app_launches_on_the_services_own_port() {
    let server = TestServer::start().await;
    let redirect = format!("{}/sample-app/", server.base);
    let smart = SmartApp::new(&server.base, demo::SAMPLE_APP_CLIENT_ID).unwrap();
    let req = AuthorizeRequest {
        client_id: demo::SAMPLE_APP_CLIENT_ID.into(),
        redirect_uri: redirect.clone(),
        scope: "launch/patient openid fhirUser patient/*.rs".into(),
        state: "s-1".into(),
        aud: server.config.fhir_base(),
        code_challenge: CHALLENGE.into(),
    };
    let mut pages = Vec::new();
    let done = smart.authorize_as(&req, "patient", PASSWORD, |t| pages.push(t.to_owned())).await.unwrap();
    assert_eq!(pages.len(), 2, "sign-in, then consent: {pages:?}");
    assert_eq!(done.state, "s-1");
    let token = smart.exchange_code(&done.code, &redirect, VERIFIER).await.unwrap();
    assert_eq!(token.patient.as_deref(), Some(REYNA));
    assert!(token.refresh_token.is_none(), "no offline_access asked, no refresh token");
    let (status, patient) = server.get(&format!("Patient/{REYNA}"), &token.access_token).await;
    assert_eq!(status, 200);
    assert_eq!(patient["id"], REYNA);
    // RFC 7009 from a public client: the next read is refused.
    smart.revoke(&token.access_token, "access_token").await.unwrap();
    assert_eq!(server.get(&format!("Patient/{REYNA}"), &token.access_token).await.0, 401);
}
