//! Bad input of every kind gets the protocol's own error and changes nothing.

use portico_domain::Role;
use serde_json::{json, Value};

use crate::harness::{declare_oversized, new_credential, TestServer, REYNA};

/// Everything a bad request could have changed: resources by type, credentials, users.
fn fingerprint(s: &TestServer) -> String {
    let store = s.store();
    let counts = store.resource_counts().expect("counts");
    let users = store.users(None).expect("users").len();
    let creds: usize =
        store.users(None).expect("users").iter().map(|u| store.credentials_of(u.id).map(|c| c.len()).unwrap_or(0)).sum();
    format!("{counts:?} users={users} credentials={creds}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let s = TestServer::start().await;
    s.add_user("bad-dev", &[Role::Developer, Role::Provider], &[1], None);
    let dev = s.client("bad-dev").await;
    let issued = dev.create_credential(&new_credential("developer", "bad input")).await.expect("create");
    let t = s.token(&issued).await.access_token;
    let session = dev.session_token().expect("session").to_owned();
    let before = fingerprint(&s);
    let http = s.http();

    // FHIR: (method, path, body) → status, and the body is always an OperationOutcome.
    let fhir_cases: Vec<(&str, String, Option<String>, u16)> = vec![
        ("POST", "Observation".into(), Some("{not json".into()), 400),
        ("POST", "Observation".into(), Some("[1,2,3]".into()), 400),
        ("POST", "Observation".into(), Some(json!({"resourceType":"Patient"}).to_string()), 400),
        (
            "POST",
            "Observation".into(),
            Some(json!({"resourceType":"Observation","status":"final","code":{"text":"x"}}).to_string()),
            422,
        ),
        ("PUT", format!("Patient/{REYNA}"), Some(json!({"resourceType":"Patient","id":"other"}).to_string()), 400),
        ("PUT", "Patient/bad$id".into(), Some(json!({"resourceType":"Patient","id":"bad$id"}).to_string()), 400),
        ("GET", "Patient?name=%27%20OR%201%3D1--".into(), None, 200),
        ("GET", "Patient?_id=%27%20OR%20%271%27%3D%271".into(), None, 400),
        ("GET", "Observation?code=%3Cscript%3Ealert(1)%3C%2Fscript%3E".into(), None, 200),
        ("GET", "Patient/..%2F..%2Fetc%2Fpasswd".into(), None, 404),
        ("GET", "Observation?date=ge2019-02-30".into(), None, 400),
        ("DELETE", "Patient/does-not-exist".into(), None, 404),
    ];
    for (method, path, body, want) in fhir_cases {
        let mut req = http.request(method.parse().expect("method"), s.fhir(&path)).bearer_auth(&t);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/fhir+json").body(b);
        }
        let r = req.send().await.expect("request");
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
        let b: Value = r.json().await.expect("json body");
        if want == 200 {
            assert_eq!(b["total"], 0, "{method} {path}: injection-like strings match nothing");
        } else {
            assert_eq!(b["resourceType"], "OperationOutcome", "{method} {path}");
        }
    }

    // Oversized bodies, refused from their declared length in each protocol's own format.
    let big = 2 * 1024 * 1024;
    let bearer = format!("Bearer {t}");
    let (status, b) = declare_oversized(&s, "POST", "/fhir/Observation", "application/fhir+json", &bearer, big).await;
    assert_eq!((status, b["resourceType"].as_str()), (413, Some("OperationOutcome")), "{b}");
    let (status, b) = declare_oversized(&s, "POST", "/oauth/token", "application/x-www-form-urlencoded", "Basic eDp5", big).await;
    assert_eq!((status, b["error"].as_str()), (400, Some("invalid_request")), "{b}");
    let (status, b) =
        declare_oversized(&s, "POST", "/api/credentials", "application/json", &format!("Bearer {session}"), big).await;
    assert_eq!((status, b["code"].as_str()), (413, Some("payload_too_large")), "{b}");

    // Management API: {code, message}.
    let api_cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "api/credentials", "{\"kind\":".into(), 400, "invalid_input"),
        ("POST", "api/credentials", json!({"kind":"developer","name":42}).to_string(), 400, "invalid_input"),
        ("POST", "api/credentials", json!({"kind":"root","name":"x"}).to_string(), 400, "invalid_input"),
        ("POST", "api/credentials", json!({"kind":"developer","name":"Robert'); DROP TABLE credentials;--","valid_from":"2030-01-01T00:00:00Z","valid_to":"2029-01-01T00:00:00Z"}).to_string(), 400, "invalid_input"),
        ("POST", "api/credentials", json!({"kind":"provider","name":"p","patients":["no-such-patient"]}).to_string(), 400, "invalid_input"),
        ("PATCH", "api/credentials/nope", json!({"active":false}).to_string(), 404, "not_found"),
        ("POST", "api/session", json!({"username":"x"}).to_string(), 400, "invalid_input"),
    ];
    for (method, path, body, want, code) in api_cases {
        let r = http
            .request(method.parse().expect("method"), format!("{}/{path}", s.base))
            .bearer_auth(&session)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
        let b: Value = r.json().await.expect("json");
        assert_eq!(b["code"], code, "{method} {path}: {b}");
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A body over the limit that is actually sent is refused the same way. Its own client: the server
    // closes that connection, which must not be reused for other requests. (The client may also fail to
    // finish writing once the server has answered; then there is no status to check.)
    let r = s.http().post(s.fhir("Observation")).bearer_auth(&t).body(vec![b' '; 1024 * 1024 + 10]).send().await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    }
    assert_eq!(fingerprint(&s), before, "bad input changed the store");
    s.stop().await;
}

/// Defect 1: 64,000 ids in one `_id` held the store for 40 s and then failed with a 500. Now every multi-value
/// parameter is capped, and the answer is a prompt 400 that names the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_id_list_is_refused_at_once() {
    let s = TestServer::start().await;
    s.add_user("many-ids", &[Role::Developer], &[1], None);
    let dev = s.client("many-ids").await;
    let issued = dev.create_credential(&new_credential("developer", "many ids")).await.expect("create");
    let t = s.token(&issued).await.access_token;
    let ids: Vec<String> = (0..64_000).map(|i| format!("{:08x}", i)).collect();
    let body = format!("_id={}", ids.join(","));
    assert!(body.len() > 500_000, "the defect's size: {} bytes", body.len());
    let started = std::time::Instant::now();
    let r = s
        .http()
        .post(s.fhir("Observation/_search"))
        .bearer_auth(&t)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("request");
    let elapsed = started.elapsed();
    assert_eq!(r.status().as_u16(), 400);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["resourceType"], "OperationOutcome");
    let text = b["issue"][0]["diagnostics"].as_str().unwrap_or_default();
    assert!(text.contains("64000 values") && text.contains("at most 100"), "{b}");
    // Far below the 40 s it took, even in a debug build on a loaded machine.
    assert!(elapsed < std::time::Duration::from_secs(5), "took {elapsed:?}");
    // The limit itself is allowed.
    let r = s
        .http()
        .post(s.fhir("Observation/_search"))
        .bearer_auth(&t)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("_id={}", ids[..100].join(",")))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_refuses_updates_and_deletes() {
    let s = TestServer::start().await;
    let c = s.client("patient").await;
    c.create_credential(&new_credential("patient_app", "audited")).await.expect("create");
    // Refused by the database itself, to any program that can reach it.
    let n = s.sql_count("SELECT count(*) FROM audit", &[]);
    assert!(n >= 2);
    for tamper in ["UPDATE audit SET outcome = 'tampered'", "DELETE FROM audit"] {
        let refused = s.sql(tamper, &[]).expect_err(tamper);
        assert!(refused.contains("append-only"), "{tamper}: {refused}");
    }
    assert_eq!(s.sql_count("SELECT count(*) FROM audit", &[]), n);
    s.stop().await;
}

/// Requests that match no handler, or whose path does not parse, still get the protocol's error format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_requests_get_the_protocols_error_format() {
    let s = TestServer::start().await;
    let session = s.client("admin").await.session_token().expect("session").to_owned();
    let http = s.http();
    // (method, path, status, which body field must be present)
    let cases: &[(&str, &str, u16, &str)] = &[
        ("GET", "/fhir/Patient/%FF", 404, "resourceType"),
        ("PATCH", "/fhir/Patient/1", 405, "resourceType"),
        ("PUT", "/api/users/abc/roles", 404, "code"),
        ("DELETE", "/api/me", 405, "code"),
        ("GET", "/oauth/token", 405, "error"),
        ("GET", "/nowhere", 404, "error"),
    ];
    for (method, path, status, field) in cases {
        let r = http
            .request(method.parse().expect("method"), format!("{}{path}", s.base))
            .bearer_auth(&session)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), *status, "{method} {path}");
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(body.get(*field).is_some(), "{method} {path}: {body}");
    }
    // The server is still fine after all that (no poisoned state).
    assert_eq!(http.get(s.fhir("metadata")).send().await.expect("metadata").status().as_u16(), 200);
    s.stop().await;
}
