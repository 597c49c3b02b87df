//! SMART Backend Services at the token endpoint: `client_credentials` with a `private_key_jwt` assertion
//! (RS384 and ES384), the assertion negatives of SMART-CHECKLIST item 41 as one table through the real
//! endpoint, `jti` replay, a secret never accepted for a system app, and access capped by practice approval.

use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair, ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA384};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Utc;
use portico_domain::{AppType, ApprovalStatus, ClientAuth, Platform, PracticeId};
use portico_store::AppRecord;
use serde_json::{json, Value};

use crate::harness::*;

const CLIENT: &str = "pci_smart_backend";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub struct Keys {
    pub rsa: RsaKeyPair,
    pub stranger: RsaKeyPair,
    ec: EcdsaKeyPair,
    pub jwks: Value,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let stranger = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let ec = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let point = ec.public_key().as_ref();
        let half = (point.len() - 1) / 2;
        let jwks = json!({ "keys": [
            rsa_jwk(&rsa, "rsa-1"),
            { "kty": "EC", "crv": "P-384", "kid": "ec-1", "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..]) },
        ]});
        Keys { rsa, stranger, ec, jwks }
    })
}

/// The public JWK of an RSA key, for RS384.
pub fn rsa_jwk(pair: &RsaKeyPair, kid: &str) -> Value {
    let public = pair.public_key();
    json!({ "kty": "RSA", "kid": kid, "alg": "RS384", "use": "sig",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()) })
}

#[derive(Clone, Copy)]
pub enum Signer {
    Rs384,
    Es384,
    Stranger,
    Hs256WithPublicKey,
    Unsigned,
}

pub fn sign(header: &Value, claims: &Value, signer: Signer) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let k = keys();
    let rng = SystemRandom::new();
    let rsa = |pair: &RsaKeyPair| {
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(&RSA_PKCS1_SHA384, &rng, input.as_bytes(), &mut sig).unwrap();
        sig
    };
    let signature = match signer {
        Signer::Rs384 => rsa(&k.rsa),
        Signer::Stranger => rsa(&k.stranger),
        Signer::Es384 => k.ec.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Signer::Hs256WithPublicKey => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k.jwks["keys"][0].to_string().as_bytes());
            aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Signer::Unsigned => Vec::new(),
    };
    format!("{input}.{}", b64(&signature))
}

fn register(server: &TestServer, approved: bool) {
    let mut store = server.store();
    let now = Utc::now();
    let dev = store.user_by_username("developer").unwrap().unwrap();
    let admin = store.user_by_username("admin").unwrap().unwrap();
    store
        .insert_app(&AppRecord {
            id: "app-backend".into(),
            client_id: CLIENT.into(),
            owner: dev.id,
            name: "Nightly export".into(),
            description: String::new(),
            homepage: None,
            privacy_policy: None,
            app_type: AppType::System,
            platform: Platform::Service,
            client_auth: ClientAuth::PrivateKeyJwt,
            secret_digest: None,
            secret_hint: None,
            previous: None,
            jwks: Some(keys().jwks.to_string()),
            jwks_url: None,
            redirect_uris: vec![],
            scopes: "system/Patient.rs system/Observation.rs".into(),
            active: true,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        })
        .unwrap();
    store.request_approval("app-backend", PracticeId(1), dev.id, now).unwrap();
    if approved {
        store.decide_approval("app-backend", PracticeId(1), ApprovalStatus::Approved, None, admin.id, now).unwrap();
    }
}

/// The server's clock (tests step it past the failure throttle's locks).
fn server_now(server: &TestServer) -> i64 {
    Utc::now().timestamp() + server.offset.load(std::sync::atomic::Ordering::SeqCst)
}

fn claims(server: &TestServer, jti: &str) -> Value {
    let now = server_now(server);
    json!({ "iss": CLIENT, "sub": CLIENT, "aud": format!("{}/oauth/token", server.base), "exp": now + 240, "jti": jti })
}

pub fn header(alg: &str, kid: &str) -> Value {
    json!({ "alg": alg, "kid": kid, "typ": "JWT" })
}

fn patch(mut v: Value, changes: Value) -> Value {
    for (k, c) in changes.as_object().unwrap() {
        if c.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = c.clone();
        }
    }
    v
}

async fn post(server: &TestServer, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new().post(format!("{}/oauth/token", server.base)).form(form).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn with_assertion(server: &TestServer, assertion: &str, scope: &str) -> (u16, Value) {
    post(
        server,
        &[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ],
    )
    .await
}

#[tokio::test]
async fn backend_services_tokens_and_assertion_negatives() {
    let server = TestServer::start().await;
    register(&server, true);
    let token_url = format!("{}/oauth/token", server.base);

    // RS384 and ES384 both work; the token is short-lived, has no refresh token, and reaches the approved
    // practice only.
    for (i, (alg, kid, signer)) in [("RS384", "rsa-1", Signer::Rs384), ("ES384", "ec-1", Signer::Es384)].into_iter().enumerate() {
        let a = sign(&header(alg, kid), &claims(&server, &format!("ok-{i}")), signer);
        let (s, t) = with_assertion(&server, &a, "system/Patient.rs").await;
        assert_eq!(s, 200, "{alg}: {t}");
        assert_eq!(t["scope"], "system/Patient.rs");
        assert!(t["expires_in"].as_i64().is_some_and(|e| e > 0 && e <= 300));
        assert!(t.get("refresh_token").is_none());
        let access = t["access_token"].as_str().unwrap();
        let (s, bundle) = server.get("Patient?_count=100", access).await;
        assert_eq!(s, 200);
        let ids: Vec<String> =
            bundle["entry"].as_array().unwrap().iter().map(|e| e["resource"]["id"].as_str().unwrap().to_owned()).collect();
        let practice1 = server.patients_of(1);
        assert!(!ids.is_empty() && ids.iter().all(|id| practice1.contains(id)), "only the approving practice's patients");
        let (s, _) = server.get("Condition?_count=1", access).await;
        assert_eq!(s, 403, "a type beyond the granted scope");
    }

    // Item 41, one row each: every one is 401 invalid_client. Each failure counts against the client, so a
    // success follows each row and clears the count (the throttle has its own tests).
    let now = server_now(&server);
    let c = |jti: &str| claims(&server, jti);
    let rows: Vec<(&str, Value, Value, Signer)> = vec![
        ("bad signature", header("RS384", "rsa-1"), c("n1"), Signer::Stranger),
        ("alg none", json!({ "alg": "none", "kid": "rsa-1", "typ": "JWT" }), c("n2"), Signer::Unsigned),
        ("HS256 keyed with the public key", header("HS256", "rsa-1"), c("n3"), Signer::Hs256WithPublicKey),
        ("unknown kid", header("RS384", "nobody"), c("n4"), Signer::Rs384),
        ("iss differs from sub", header("RS384", "rsa-1"), patch(c("n5"), json!({ "sub": "someone" })), Signer::Rs384),
        (
            "unknown iss",
            header("RS384", "rsa-1"),
            patch(c("n6"), json!({ "iss": "pci_smart_nobody", "sub": "pci_smart_nobody" })),
            Signer::Rs384,
        ),
        (
            "aud not the token URL",
            header("RS384", "rsa-1"),
            patch(c("n7"), json!({ "aud": "https://elsewhere/token" })),
            Signer::Rs384,
        ),
        ("exp in the past", header("RS384", "rsa-1"), patch(c("n8"), json!({ "exp": now - 10 })), Signer::Rs384),
        ("exp too far ahead", header("RS384", "rsa-1"), patch(c("n9"), json!({ "exp": now + 3600 })), Signer::Rs384),
        ("no jti", header("RS384", "rsa-1"), patch(c("x"), json!({ "jti": null })), Signer::Rs384),
        ("no kid", json!({ "alg": "RS384", "typ": "JWT" }), c("n11"), Signer::Rs384),
        ("no typ", json!({ "alg": "RS384", "kid": "rsa-1" }), c("n12"), Signer::Rs384),
        (
            "jku not the registered JWKS URL",
            json!({ "alg": "RS384", "kid": "rsa-1", "typ": "JWT", "jku": "https://evil.example/jwks" }),
            c("n13"),
            Signer::Rs384,
        ),
    ];
    for (name, h, cl, signer) in rows {
        let (s, body) = with_assertion(&server, &sign(&h, &cl, signer), "system/Patient.rs").await;
        assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")), "{name}: {body}");
        let ok = sign(&header("RS384", "rsa-1"), &claims(&server, &format!("ok-after-{name}")), Signer::Rs384);
        assert_eq!(with_assertion(&server, &ok, "system/Patient.rs").await.0, 200, "after {name}");
    }
    // A replayed jti (the first use succeeds).
    let a = sign(&header("RS384", "rsa-1"), &c("replay"), Signer::Rs384);
    assert_eq!(with_assertion(&server, &a, "system/Patient.rs").await.0, 200);
    let (s, body) = with_assertion(&server, &a, "system/Patient.rs").await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")), "replayed jti: {body}");

    // Other refusals at the endpoint.
    let fresh = |jti: &str| sign(&header("RS384", "rsa-1"), &c(jti), Signer::Rs384);
    let (s, body) = with_assertion(&server, &fresh("scope"), "system/Condition.rs").await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_scope")), "beyond the registered scopes");
    let (s, body) = post(
        &server,
        &[("grant_type", "client_credentials"), ("client_assertion_type", "urn:wrong"), ("client_assertion", &fresh("t"))],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")), "wrong assertion type");
    let (s, body) = post(
        &server,
        &[("grant_type", "not_a_grant_type"), ("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &fresh("g"))],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (s, body) =
        post(&server, &[("grant_type", "client_credentials"), ("client_id", CLIENT), ("client_secret", "pcs_smart_guess")]).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")), "a secret is never accepted for a system app");
    assert!(token_url.ends_with("/oauth/token"));

    // Withdrawing the approval cuts the app off on its next request.
    let (s, t) = with_assertion(&server, &fresh("before-withdraw"), "system/Patient.rs").await;
    assert_eq!(s, 200);
    let mut store = server.store();
    let admin = store.user_by_username("admin").unwrap().unwrap();
    store
        .decide_approval("app-backend", PracticeId(1), ApprovalStatus::Withdrawn, Some("contract ended"), admin.id, Utc::now())
        .unwrap();
    let (s, _) = server.get("Patient?_count=1", t["access_token"].as_str().unwrap()).await;
    assert_eq!(s, 401, "withdrawn approval: the token stops at once");
    let (s, body) = with_assertion(&server, &fresh("after-withdraw"), "system/Patient.rs").await;
    assert_eq!((s, body["error"].as_str()), (400, Some("unauthorized_client")));
    server.stop().await;
}

#[tokio::test]
async fn an_unapproved_system_app_gets_unauthorized_client() {
    let server = TestServer::start().await;
    register(&server, false);
    let a = sign(&header("RS384", "rsa-1"), &claims(&server, "pending"), Signer::Rs384);
    let (s, body) = with_assertion(&server, &a, "system/Patient.rs").await;
    assert_eq!((s, body["error"].as_str()), (400, Some("unauthorized_client")), "{body}");
    server.stop().await;
}
