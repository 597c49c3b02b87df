//! The local service trusts only its own app: a request under another `Host` (DNS rebinding) or a browser's
//! cross-site request to `/api` is refused before any handler runs, in the protocol's own error format; the
//! app's own requests (reqwest: `Host: 127.0.0.1:port`, no `Origin`, JSON bodies) work as before.

use serde_json::{json, Value};

use portico_client::Client;
use portico_server::demo::DEMO_PASSWORD;
use portico_server::embedded::{Demo, Embedded};

use crate::harness::{raw_exchange, template, TestServer, PASSWORD};

/// One HTTP/1.1 request written by hand, so `Host` and `Origin` are exactly what a test says.
async fn raw(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut head = format!("{method} {path} HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    raw_exchange(base, &head, body.as_bytes()).await
}

/// Extra request headers, as (name, value).
type Headers<'a> = Vec<(&'a str, &'a str)>;

fn sessions(s: &TestServer) -> i64 {
    s.sql_count("SELECT count(*) FROM sessions", &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_cross_site_requests_are_refused() {
    let s = TestServer::start().await;
    let own = s.base.trim_start_matches("http://");
    let port = own.rsplit(':').next().expect("port");
    let other_port = format!("127.0.0.1:{}", port.parse::<u16>().expect("port").wrapping_add(1));
    let other_port = other_port.as_str();
    let rebound = format!("attacker.example:{port}");
    let rebound = rebound.as_str();
    let localhost = format!("localhost:{port}");
    let localhost = localhost.as_str();
    let own_origin = s.base.as_str();
    let sign_in = json!({ "username": "patient", "password": PASSWORD }).to_string();
    let sign_in = sign_in.as_str();
    let before = sessions(&s);
    // (method, path, Host, extra headers, body) → status, and the field that names the error format.
    let cases: Vec<(&str, &str, &str, Headers, &str, u16, &str)> = vec![
        ("GET", "/fhir/metadata", rebound, vec![], "", 421, "resourceType"),
        ("GET", "/fhir/metadata", localhost, vec![], "", 421, "resourceType"),
        ("GET", "/fhir/metadata", other_port, vec![], "", 421, "resourceType"),
        ("GET", "/api/info", rebound, vec![], "", 421, "code"),
        ("POST", "/api/session", rebound, vec![("Content-Type", "application/json")], sign_in, 421, "code"),
        ("POST", "/oauth/token", rebound, vec![("Content-Type", "application/x-www-form-urlencoded")], "", 421, "error"),
        ("GET", "/.well-known/smart-configuration", rebound, vec![], "", 421, "error"),
        // A page on another site posting a "simple" (no preflight) request.
        (
            "POST",
            "/api/session",
            own,
            vec![("Content-Type", "text/plain"), ("Origin", "http://attacker.example")],
            sign_in,
            403,
            "code",
        ),
        (
            "POST",
            "/api/session",
            own,
            vec![("Content-Type", "application/json"), ("Origin", "http://attacker.example")],
            sign_in,
            403,
            "code",
        ),
        ("POST", "/api/session", own, vec![("Content-Type", "application/json"), ("Origin", "null")], sign_in, 403, "code"),
        ("GET", "/api/info", own, vec![("Origin", "http://attacker.example")], "", 403, "code"),
        // Without an Origin, a body must still be declared JSON.
        ("POST", "/api/session", own, vec![("Content-Type", "text/plain")], sign_in, 415, "code"),
        ("POST", "/api/session", own, vec![], sign_in, 415, "code"),
        ("POST", "/api/session", own, vec![("Content-Type", "application/x-www-form-urlencoded")], sign_in, 415, "code"),
    ];
    for (method, path, host, extra, body, want, field) in &cases {
        let mut headers = vec![("Host", *host)];
        headers.extend(extra.iter().copied());
        let (status, b) = raw(&s.base, method, path, &headers, body).await;
        assert_eq!(status, *want, "{method} {path} Host {host} {extra:?}: {b}");
        assert!(b.get(*field).is_some(), "{method} {path} Host {host} {extra:?}: {b}");
    }
    assert_eq!(sessions(&s), before, "no refused sign-in created a session");

    // The app's own requests still work: its Host, no Origin or its own, JSON bodies.
    let good: Vec<(&str, &str, Headers, &str)> = vec![
        ("GET", "/fhir/metadata", vec![], ""),
        ("GET", "/api/info", vec![], ""),
        ("POST", "/api/session", vec![("Content-Type", "application/json")], sign_in),
        ("POST", "/api/session", vec![("Content-Type", "application/json; charset=utf-8"), ("Origin", own_origin)], sign_in),
    ];
    for (method, path, extra, body) in &good {
        let mut headers = vec![("Host", own)];
        headers.extend(extra.iter().copied());
        let (status, b) = raw(&s.base, method, path, &headers, body).await;
        assert_eq!(status, 200, "{method} {path} {extra:?}: {b}");
    }
    assert_eq!(sessions(&s), before + 2);
    s.stop().await;
}

/// The desktop app's embedded demo: guarded the same way, and its accounts refuse the public demo password.
/// Each launch sets a new password of its own (also on a store seeded earlier with the public one), which
/// the previous launch's password no longer opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktops_embedded_demo_has_a_password_of_its_own() {
    if crate::harness::sqlite_only("the desktop's embedded service keeps a SQLite file") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("portico.db");
    std::fs::copy(template(), &db).expect("a store seeded with the public demo password");
    let mut earlier: Option<String> = None;
    for launch in 1..=2 {
        let service = Embedded::start(&db, Demo::PerLaunchPassword).await.expect("start");
        let base = service.config.base_url.clone();
        let own = service.demo_password.as_ref().expect("a demo password").expose().to_owned();
        let mut cases = vec![("the public demo password", DEMO_PASSWORD.to_owned(), false), ("this launch's", own.clone(), true)];
        cases.extend(earlier.take().map(|p| ("the previous launch's", p, false)));
        for (label, password, works) in cases {
            let signed_in = Client::new(&base).expect("client").sign_in("admin", &password).await;
            assert_eq!(signed_in.is_ok(), works, "launch {launch}: {label}");
        }
        let port = base.rsplit(':').next().expect("port");
        let (status, _) = raw(&base, "GET", "/api/info", &[("Host", &format!("attacker.example:{port}"))], "").await;
        assert_eq!(status, 421, "launch {launch}: a rebound host name is refused");
        service.shutdown().await.expect("shutdown");
        earlier = Some(own);
    }
}
