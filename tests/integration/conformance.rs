//! Conformance details of what exists: RFC 6750's challenge without a token, RFC 7009 for a client that
//! may not use the service, and FHIR content negotiation (JSON only, so XML is refused with 406).

use portico_api as wire;
use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::harness::{TestServer, REYNA};

/// RFC 6750 §3.1: a request without credentials gets a challenge without an error code; a bad token gets
/// `error="invalid_token"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_challenge_names_an_error_only_when_a_token_was_sent() {
    let s = TestServer::start().await;
    let url = s.fhir(&format!("Patient/{REYNA}"));
    let cases: &[(Option<&str>, &str)] = &[
        (None, "Bearer realm=\"portico\""),
        (Some("pca_not_a_real_token"), "Bearer realm=\"portico\", error=\"invalid_token\""),
    ];
    for (token, challenge) in cases {
        let mut req = s.http().get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("request");
        let got = r.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!((r.status().as_u16(), got.as_deref()), (401, Some(*challenge)), "token {token:?}");
    }
}

/// RFC 7009: revocation needs an authenticated client; a deactivated credential's secret is not one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_client_cannot_revoke() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Revoker").await;
    let token = s.token(&issued).await.access_token;
    let off = wire::CredentialUpdate { active: Some(false), ..Default::default() };
    patient.update_credential(&issued.credential.id, &off).await.expect("deactivate");
    assert_eq!(s.revoke(&issued, &token).await, 401);
    let on = wire::CredentialUpdate { active: Some(true), ..Default::default() };
    patient.update_credential(&issued.credential.id, &on).await.expect("reactivate");
    assert_eq!(s.revoke(&issued, &token).await, 200);
}

/// FHIR content negotiation: JSON in any of its names is served; a client that accepts only XML (or
/// something else) is answered 406 with an OperationOutcome instead of JSON it did not ask for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_json_is_served_and_xml_is_refused_with_406() {
    let s = TestServer::start().await;
    let (_patient, issued) = s.patient_app("Negotiator").await;
    let bearer = s.token(&issued).await.access_token;
    // (Accept header, _format, expected status)
    let cases: &[(Option<&str>, Option<&str>, u16)] = &[
        (None, None, 200),
        (Some("application/fhir+json"), None, 200),
        (Some("application/json"), None, 200),
        (Some("*/*"), None, 200),
        (Some("application/fhir+xml;q=0.9, application/fhir+json;q=0.5"), None, 200),
        (Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), None, 200),
        (Some("application/fhir+xml"), None, 406),
        (Some("application/xml"), None, 406),
        (None, Some("xml"), 406),
        (None, Some("application/fhir+xml"), 406),
        (None, Some("json"), 200),
        (None, Some("application/fhir+json"), 200),
        (Some("application/fhir+xml"), Some("json"), 200),
    ];
    for (accept, format, status) in cases {
        let mut path = format!("Patient/{REYNA}");
        if let Some(f) = format {
            path.push_str(&format!("?_format={}", f.replace('+', "%2B")));
        }
        let mut req = s.http().get(s.fhir(&path)).bearer_auth(&bearer);
        if let Some(a) = accept {
            req = req.header(ACCEPT, *a);
        }
        let r = req.send().await.expect("request");
        let got = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(got, *status, "Accept {accept:?}, _format {format:?}: {body}");
        let expected_type = if *status == 200 { "Patient" } else { "OperationOutcome" };
        assert_eq!(body["resourceType"], expected_type, "Accept {accept:?}, _format {format:?}");
    }
}

/// A credential says how many of its tokens would be accepted now (revoked, expired and dead-secret tokens
/// excluded), and the audit records the scope a token request asked for beside the scope it got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_count_live_tokens_and_the_audit_keeps_the_requested_scope() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Counted tokens").await;
    let id = issued.credential.id.clone();
    let live = |c: wire::Credential| c.active_tokens;
    assert_eq!(live(patient.credential(&id).await.expect("credential")), 0);
    let first = s.token(&issued).await.access_token;
    let narrow = s
        .app()
        .token(&issued.client_id, &issued.client_secret, portico_client::ClientAuthMethod::Basic, Some("patient/Observation.rs"))
        .await
        .expect("narrow token");
    assert_eq!(narrow.scope, "patient/Observation.rs");
    assert_eq!(live(patient.credential(&id).await.expect("credential")), 2);
    assert_eq!(s.revoke(&issued, &first).await, 200);
    assert_eq!(live(patient.credential(&id).await.expect("credential")), 1);
    // Regenerated without grace: the old secret's tokens are dead at once.
    patient.regenerate(&id, None).await.expect("regenerate");
    assert_eq!(live(patient.credential(&id).await.expect("credential")), 0);

    let history = patient.history(&id).await.expect("history");
    let issued_details: Vec<String> =
        history.iter().filter(|e| e.kind == "token_issued").filter_map(|e| e.detail.clone()).collect();
    assert!(
        issued_details.iter().any(|d| d == "granted patient/Observation.rs; requested patient/Observation.rs"),
        "{issued_details:?}"
    );
    assert!(issued_details.iter().any(|d| d.ends_with("; requested (none)")), "{issued_details:?}");
}
