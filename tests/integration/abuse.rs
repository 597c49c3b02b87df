//! The service under attack and load: throttled sign-in and token doors, failures counted rather than
//! logged one row each, slow work that does not delay anyone else, and another process holding the
//! database's write lock.

use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use serde_json::Value;

use crate::harness::{TestServer, PASSWORD, REYNA};

async fn token(s: &TestServer, client_id: &str, secret: &str) -> (u16, Option<String>, Value) {
    let r = s
        .http()
        .post(s.config.token_url())
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    let status = r.status().as_u16();
    let retry = r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

/// Defect 2: wrong passwords were accepted without limit. Now: five free failures, then a lockout with
/// 429 and Retry-After during which even the right password is not checked; the lockout ends by itself
/// and the right password works after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_per_account_and_the_lockout_ends() {
    let s = TestServer::start().await;
    for i in 1..=5 {
        let (status, _, body) = s.sign_in_raw("nurse", "wrong password").await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "failure {i}");
    }
    let (status, retry, body) = s.sign_in_raw("nurse", "wrong password").await;
    assert_eq!((status, body["code"].as_str(), retry.as_deref()), (429, Some("too_many_requests"), Some("1")));
    // Locked: the right password is refused too, without being checked (so it cannot be probed).
    let (status, _, _) = s.sign_in_raw("nurse", PASSWORD).await;
    assert_eq!(status, 429);
    // Another account is not affected.
    assert_eq!(s.sign_in_raw("frontdesk", PASSWORD).await.0, 200);
    // The lockout ends; a correct password from a new session then works, and clears the count.
    s.advance(2);
    assert_eq!(s.sign_in_raw("nurse", PASSWORD).await.0, 200);
    assert_eq!(s.sign_in_raw("nurse", "wrong password").await.0, 401);
}

/// Defect 2 (the other half): Argon2 ran while holding the store lock, so a burst of sign-ins stalled
/// Defect 6: every unauthenticated token request appended an audit row. Now they are counted per
/// client id per minute, and the audit log does not grow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_failures_are_counted_not_logged_row_by_row() {
    let s = TestServer::start().await;
    let (_patient, issued) = s.patient_app("Counted").await;
    let rows_before = s.store().audit_rows().expect("rows");
    let mut refused = 0;
    for i in 0..30 {
        let (status, _, body) = token(&s, &format!("pci_app_unknown{i}"), "pcs_app_nothing").await;
        assert!(status == 401 || status == 429, "{status} {body}");
        refused += i64::from(status == 401);
    }
    // A known client with a wrong secret, five times (below its lockout).
    for _ in 0..5 {
        assert_eq!(token(&s, &issued.client_id, "pcs_app_wrong").await.0, 401);
    }
    assert_eq!(s.store().audit_rows().expect("rows"), rows_before, "no audit row per unauthenticated failure");
    let counts = s.store().auth_failures(100).expect("failures");
    let unknown: i64 = counts.iter().filter(|c| c.1 == "token" && c.2 == "unknown client").map(|c| c.3).sum();
    let known: i64 = counts.iter().filter(|c| c.1 == "token" && c.2 == issued.client_id).map(|c| c.3).sum();
    assert_eq!((unknown, known), (refused, 5), "{counts:?}");
    assert!(counts.len() <= 4, "a few aggregate rows, not one per attempt: {counts:?}");
    // No presented string (which could be a pasted secret) is stored.
    assert!(counts.iter().all(|c| !c.2.contains("pcs_") && !c.2.contains("unknown0")), "{counts:?}");
}

/// The token endpoint locks a client id after repeated wrong secrets, answering 429 in RFC 6749 JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_throttles_a_client_with_wrong_secrets() {
    let s = TestServer::start().await;
    let (_patient, issued) = s.patient_app("Guessed").await;
    for _ in 0..5 {
        assert_eq!(token(&s, &issued.client_id, "pcs_app_wrong").await.0, 401);
    }
    let (status, retry, body) = token(&s, &issued.client_id, "pcs_app_wrong").await;
    assert_eq!((status, retry.as_deref(), body["error"].as_str()), (429, Some("1"), Some("invalid_request")), "{body}");
    assert_eq!(token(&s, &issued.client_id, &issued.client_secret).await.0, 429, "the real secret waits too");
    s.advance(2);
    assert_eq!(token(&s, &issued.client_id, &issued.client_secret).await.0, 200);
}

/// Defect 9: another process holding a write lock on the file. A short hold only delays requests (reads
/// run on their own snapshot; their audit events and tokens wait for the lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_holding_the_write_lock_delays_but_does_not_fail_requests() {
    if crate::harness::sqlite_only("SQLite's one write lock per file") {
        return;
    }
    let s = TestServer::start().await;
    let (_patient, issued) = s.patient_app("Patient reader").await;
    let bearer = s.token(&issued).await.access_token;
    let other = rusqlite::Connection::open(&s.db).expect("open");
    other.execute_batch("BEGIN IMMEDIATE; INSERT INTO practices(name) VALUES ('held by another process');").expect("lock");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        other.execute_batch("COMMIT").expect("commit");
    });
    let path = format!("Patient/{REYNA}");
    let (read, tok) = tokio::join!(s.get(&path, &bearer), token(&s, &issued.client_id, &issued.client_secret));
    release.join().expect("release");
    assert_eq!(read.0, 200, "{}", read.1);
    assert_eq!(tok.0, 200, "{}", tok.2);
}

/// Slow work (practice-wide searches of many resources, previews) runs beside point reads without
/// Defect 9: a hold longer than the busy timeout was answered 500. Now it is 503 with Retry-After, in each
/// protocol's format, and the same requests work once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_past_the_busy_timeout_is_answered_503_retry_after() {
    if crate::harness::sqlite_only("SQLite's busy timeout") {
        return;
    }
    let s = TestServer::start_with(|store| store.set_busy_timeout(Duration::from_millis(200)).expect("timeout")).await;
    let (_patient, issued) = s.patient_app("Patient reader").await;
    let bearer = s.token(&issued).await.access_token;
    let other = rusqlite::Connection::open(&s.db).expect("open");
    other.execute_batch("BEGIN IMMEDIATE; INSERT INTO practices(name) VALUES ('held by another process');").expect("lock");
    let path = format!("Patient/{REYNA}");
    let r = s.http().get(s.fhir(&path)).bearer_auth(&bearer).send().await.expect("read");
    let retry = r.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, body): (u16, Value) = (r.status().as_u16(), r.json().await.expect("json"));
    assert_eq!((status, retry.as_deref()), (503, Some("1")), "{body}");
    assert_eq!(body["issue"][0]["code"], "transient", "{body}");
    let (status, retry, body) = token(&s, &issued.client_id, &issued.client_secret).await;
    assert_eq!((status, retry.as_deref(), body["error"].as_str()), (503, Some("1"), Some("temporarily_unavailable")), "{body}");
    other.execute_batch("COMMIT").expect("commit");
    assert_eq!(s.get(&path, &bearer).await.0, 200);
    assert_eq!(token(&s, &issued.client_id, &issued.client_secret).await.0, 200);
}
