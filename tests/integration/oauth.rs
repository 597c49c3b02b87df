//! The token and revocation endpoints against RFC 6749 / RFC 7009.

use base64::Engine as _;
use portico_client::{ClientAuthMethod, ClientError};
use reqwest::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::harness::{new_credential, TestServer, REYNA};

struct Case {
    name: &'static str,
    basic: Option<(String, String)>,
    form: Vec<(&'static str, String)>,
    content_type: &'static str,
    status: u16,
    error: &'static str,
    basic_challenge: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_answers_rfc6749() {
    let s = TestServer::start().await;
    let (_patient, issued) = s.patient_app("Phone health app").await;
    let (id, secret) = (issued.client_id.clone(), issued.client_secret.clone());
    let cc = || ("grant_type", "client_credentials".to_owned());
    let form_auth = |sec: &str| vec![cc(), ("client_id", id.clone()), ("client_secret", sec.to_owned())];
    let form = "application/x-www-form-urlencoded";
    let mut wrong = secret.clone().into_bytes();
    wrong[12] = if wrong[12] == b'a' { b'b' } else { b'a' };
    let wrong = String::from_utf8(wrong).expect("ascii");
    let cases = vec![
        Case {
            name: "basic ok",
            basic: Some((id.clone(), secret.clone())),
            form: vec![cc()],
            content_type: form,
            status: 200,
            error: "",
            basic_challenge: false,
        },
        Case {
            name: "post ok",
            basic: None,
            form: form_auth(&secret),
            content_type: form,
            status: 200,
            error: "",
            basic_challenge: false,
        },
        Case {
            name: "narrower scope",
            basic: None,
            form: [form_auth(&secret), vec![("scope", "patient/Observation.rs".to_owned())]].concat(),
            content_type: form,
            status: 200,
            error: "",
            basic_challenge: false,
        },
        Case {
            name: "wrong secret basic",
            basic: Some((id.clone(), wrong.clone())),
            form: vec![cc()],
            content_type: form,
            status: 401,
            error: "invalid_client",
            basic_challenge: true,
        },
        Case {
            name: "wrong secret post",
            basic: None,
            form: form_auth(&wrong),
            content_type: form,
            status: 401,
            error: "invalid_client",
            basic_challenge: false,
        },
        Case {
            name: "unknown client",
            basic: Some(("pci_app_nobody".into(), secret.clone())),
            form: vec![cc()],
            content_type: form,
            status: 401,
            error: "invalid_client",
            basic_challenge: true,
        },
        Case {
            name: "no client auth",
            basic: None,
            form: vec![cc()],
            content_type: form,
            status: 401,
            error: "invalid_client",
            basic_challenge: false,
        },
        Case {
            name: "two auth methods",
            basic: Some((id.clone(), secret.clone())),
            form: form_auth(&secret),
            content_type: form,
            status: 400,
            error: "invalid_request",
            basic_challenge: false,
        },
        Case {
            name: "password grant",
            basic: Some((id.clone(), secret.clone())),
            form: vec![("grant_type", "password".into())],
            content_type: form,
            status: 400,
            error: "unsupported_grant_type",
            basic_challenge: false,
        },
        Case {
            name: "no grant type",
            basic: Some((id.clone(), secret.clone())),
            form: vec![],
            content_type: form,
            status: 400,
            error: "invalid_request",
            basic_challenge: false,
        },
        Case {
            name: "repeated grant type",
            basic: Some((id.clone(), secret.clone())),
            form: vec![cc(), cc()],
            content_type: form,
            status: 400,
            error: "invalid_request",
            basic_challenge: false,
        },
        Case {
            name: "scope beyond credential",
            basic: None,
            form: [form_auth(&secret), vec![("scope", "system/*.cruds".to_owned())]].concat(),
            content_type: form,
            status: 400,
            error: "invalid_scope",
            basic_challenge: false,
        },
        Case {
            name: "write scope on read-only credential",
            basic: None,
            form: [form_auth(&secret), vec![("scope", "patient/Observation.c".to_owned())]].concat(),
            content_type: form,
            status: 400,
            error: "invalid_scope",
            basic_challenge: false,
        },
        Case {
            name: "malformed scope",
            basic: None,
            form: [form_auth(&secret), vec![("scope", "'; DROP TABLE credentials;--".to_owned())]].concat(),
            content_type: form,
            status: 400,
            error: "invalid_scope",
            basic_challenge: false,
        },
        Case {
            name: "JSON body",
            basic: Some((id.clone(), secret.clone())),
            form: vec![cc()],
            content_type: "application/json",
            status: 400,
            error: "invalid_request",
            basic_challenge: false,
        },
    ];
    for c in cases {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(c.form.iter()).finish();
        let mut req = s.http().post(s.config.token_url()).header("Content-Type", c.content_type).body(body);
        if let Some((u, p)) = &c.basic {
            req = req.header(
                "Authorization",
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))),
            );
        }
        let r = req.send().await.expect(c.name);
        assert_eq!(r.status().as_u16(), c.status, "{}", c.name);
        assert_eq!(r.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"), "{}", c.name);
        assert_eq!(r.headers().get(PRAGMA).and_then(|v| v.to_str().ok()), Some("no-cache"), "{}", c.name);
        let challenge = r.headers().get(WWW_AUTHENTICATE).map(|v| v.to_str().unwrap_or("").to_owned());
        assert_eq!(challenge.as_deref().is_some_and(|v| v.starts_with("Basic")), c.basic_challenge, "{}: {challenge:?}", c.name);
        let body: Value = r.json().await.expect(c.name);
        if c.status == 200 {
            assert_eq!(body["token_type"], "Bearer", "{}", c.name);
            assert_eq!(body["expires_in"], 3600, "{}", c.name);
            assert_eq!(body["patient"], REYNA, "{}", c.name);
            assert!(body["access_token"].as_str().is_some_and(|t| t.starts_with("pca_")), "{}", c.name);
            let scope = body["scope"].as_str().unwrap_or("");
            assert!(scope == "patient/*.rs" || scope == "patient/Observation.rs", "{}: {scope}", c.name);
        } else {
            assert_eq!(body["error"], c.error, "{}: {body}", c.name);
            assert!(body["error_description"].is_string(), "{}", c.name);
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowed_scope_is_enforced_with_a_403_naming_the_scope() {
    let s = TestServer::start().await;
    let (_patient, issued) = s.patient_app("Obs only").await;
    let t = s
        .app()
        .token(&issued.client_id, &issued.client_secret, ClientAuthMethod::Post, Some("patient/Observation.rs"))
        .await
        .expect("token");
    assert_eq!(s.get(&format!("Observation?patient={REYNA}"), &t.access_token).await.0, 200);
    let (status, body) = s.get(&format!("Condition?patient={REYNA}"), &t.access_token).await;
    assert_eq!(status, 403);
    assert!(body["issue"][0]["diagnostics"].as_str().unwrap_or("").contains("patient/Condition.s"), "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerate_kills_the_old_secret_and_its_tokens_unless_a_grace_period_is_given() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Regen").await;
    let old_token = s.token(&issued).await.access_token;
    let regen = patient.regenerate(&issued.credential.id, None).await.expect("regenerate");
    assert_eq!(regen.client_id, issued.client_id, "same client id");
    assert_eq!(regen.credential.name, "Regen");
    assert_ne!(regen.client_secret, issued.client_secret);
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &old_token).await.0, 401, "old tokens die with the old secret");
    let old = s.app().token(&issued.client_id, &issued.client_secret, ClientAuthMethod::Basic, None).await;
    assert!(matches!(old, Err(ClientError::OAuth { status: 401, .. })));
    let new_token = s.token(&regen).await.access_token;
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &new_token).await.0, 200);

    // With a grace period the previous secret keeps working until it ends.
    let graced = patient.regenerate(&issued.credential.id, Some(600)).await.expect("regenerate with grace");
    assert!(s.app().token(&regen.client_id, &regen.client_secret, ClientAuthMethod::Basic, None).await.is_ok());
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &new_token).await.0, 200);
    s.advance(601);
    assert!(s.app().token(&regen.client_id, &regen.client_secret, ClientAuthMethod::Basic, None).await.is_err());
    assert!(s.app().token(&graced.client_id, &graced.client_secret, ClientAuthMethod::Basic, None).await.is_ok());
    s.stop().await;
}

/// A token lives no longer than the secret that minted it: when the grace period ends, every token minted
/// with the old secret (before or during the grace) stops on the very next request, while tokens of the new
/// secret live on; a second regeneration ends the first secret's tokens at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_stop_with_the_secret_that_minted_them() {
    let s = TestServer::start().await;
    let (patient, first) = s.patient_app("Graced").await;
    let read = |token: String| {
        let s = &s;
        async move { s.get(&format!("Patient/{REYNA}"), &token).await.0 }
    };
    let before = s.token(&first).await.access_token;
    let second = patient.regenerate(&first.credential.id, Some(600)).await.expect("regenerate with grace");
    let during_old = s.token(&first).await.access_token;
    let during_new = s.token(&second).await.access_token;
    for t in [&before, &during_old, &during_new] {
        assert_eq!(read(t.clone()).await, 200, "every token works during the grace period");
    }
    // Regenerating again within the grace: the first secret is gone, and so are its tokens.
    let third = patient.regenerate(&first.credential.id, Some(300)).await.expect("regenerate again");
    let of_third = s.token(&third).await.access_token;
    for (label, t, want) in [
        ("minted by the first secret before the grace", &before, 401),
        ("minted by the first secret during the grace", &during_old, 401),
        ("minted by the second secret, now in its own grace", &during_new, 200),
        ("minted by the third secret", &of_third, 200),
    ] {
        assert_eq!(read(t.clone()).await, want, "{label}");
    }
    s.advance(301);
    for (label, t, want) in [
        ("minted by the second secret, after its grace", &during_new, 401),
        ("minted by the third secret, after the grace", &of_third, 200),
    ] {
        assert_eq!(read(t.clone()).await, want, "{label}");
    }
    let fresh = s.token(&third).await.access_token;
    assert_eq!(read(fresh).await, 200, "the current secret still mints working tokens");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_and_can_be_revoked_by_their_client() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Expiry").await;
    let t1 = s.token(&issued).await.access_token;
    let t2 = s.token(&issued).await.access_token;
    // Another client cannot revoke this client's token (RFC 7009 still answers 200).
    let other = patient.create_credential(&new_credential("patient_app", "Other")).await.expect("create");
    assert_eq!(s.revoke(&other, &t1).await, 200);
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &t1).await.0, 200);
    assert_eq!(s.revoke(&issued, &t1).await, 200);
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &t1).await.0, 401, "revoked on the very next request");
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &t2).await.0, 200, "other tokens live on");
    s.advance(3601);
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &t2).await.0, 401, "expired after expires_in");
    s.stop().await;
}
