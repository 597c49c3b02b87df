//! Fixtures for `scripts/bench-smart`: what the SMART figures consume, made straight in a seeded demo store
//! so that making them is not what gets measured. Registers (idempotently) a public patient app, a
//! confidential one and a system app with a fresh RSA key, approved by the demo practice; then writes into
//! OUT_DIR: `codes.txt` (authorization codes of one grant of the demo patient, PKCE verifier `VERIFIER`),
//! `refresh.txt` (live refresh tokens, each of a grant of its own), `introspect.env` (the confidential app's id and secret
//! and an access token of it) and `assertions.txt` (RS384 client assertions of the system app for
//! `BASE_URL/oauth/token`, each with its own jti, valid five minutes).
//!
//! Usage: smart_bench_fixtures DB BASE_URL OUT_DIR CODES REFRESH ASSERTIONS

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair, RSA_PKCS1_SHA384};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{Duration, Utc};
use portico_domain::{
    AppType, ApprovalStatus, ClientAuth, CredentialKind, Platform, PracticeId, Secret, SecretKind, ValidityWindow,
};
use portico_store::{AppRecord, AuthCodeRecord, GrantOf, NewCredential, RefreshTokenRecord, Store, TokenRecord};
use serde_json::json;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://127.0.0.1/bench/callback";
const SCOPE: &str = "launch/patient openid fhirUser offline_access patient/*.rs";

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, base, out, codes, refresh, assertions] = args.as_slice() else {
        panic!("usage: smart_bench_fixtures DB BASE_URL OUT_DIR CODES REFRESH ASSERTIONS");
    };
    let (codes, refresh, assertions): (usize, usize, usize) =
        (codes.parse().unwrap(), refresh.parse().unwrap(), assertions.parse().unwrap());
    let out = PathBuf::from(out);
    let mut store = Store::open(std::path::Path::new(db)).unwrap();
    let now = Utc::now();
    let developer = store.user_by_username("developer").unwrap().expect("a seeded demo store");
    let admin = store.user_by_username("admin").unwrap().unwrap();
    let patient = store.user_by_username("patient").unwrap().unwrap();
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let public = rsa.public_key();
    let jwks = json!({ "keys": [{ "kty": "RSA", "kid": "bench-1", "alg": "RS384", "use": "sig",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()) }] });
    let secret = Secret::generate(SecretKind::AppSecret, &mut rand::rngs::OsRng);
    let apps = [
        ("pci_smart_bench_public", AppType::Patient, Platform::Browser, ClientAuth::None, None, SCOPE),
        ("pci_smart_bench_confidential", AppType::Patient, Platform::Web, ClientAuth::SecretBasic, None, SCOPE),
        (
            "pci_smart_bench_system",
            AppType::System,
            Platform::Service,
            ClientAuth::PrivateKeyJwt,
            Some(jwks.to_string()),
            "system/*.rs",
        ),
    ];
    for (client_id, app_type, platform, auth, jwks, scopes) in apps {
        let id = format!("app-{client_id}");
        assert!(store.app(&id).unwrap().is_none(), "{client_id} exists already: run the fixtures on a fresh store");
        store
            .insert_app(&AppRecord {
                id: id.clone(),
                client_id: client_id.into(),
                owner: developer.id,
                name: client_id.into(),
                description: String::new(),
                homepage: None,
                privacy_policy: None,
                app_type,
                platform,
                client_auth: auth,
                secret_digest: (auth == ClientAuth::SecretBasic).then(|| secret.digest()),
                secret_hint: None,
                previous: None,
                jwks,
                jwks_url: None,
                redirect_uris: if app_type == AppType::Patient { vec![REDIRECT.into()] } else { vec![] },
                scopes: scopes.into(),
                active: true,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            })
            .unwrap();
        store.request_approval(&id, PracticeId(1), developer.id, now).unwrap();
        store.decide_approval(&id, PracticeId(1), ApprovalStatus::Approved, None, admin.id, now).unwrap();
    }
    // One grant per patient app, as consent would make it.
    let patient_id = patient.patient.clone().expect("the demo patient has a record");
    let grant = |store: &mut Store, app: &str| -> String {
        let id = uuid::Uuid::new_v4().to_string();
        store
            .insert_credential(
                &NewCredential {
                    id: &id,
                    kind: CredentialKind::ConnectedApp,
                    owner: patient.id,
                    name: app,
                    note: None,
                    client_id: &format!("pci_grant_{}", uuid::Uuid::new_v4().simple()),
                    secret_digest: Secret::generate(SecretKind::AppSecret, &mut rand::rngs::OsRng).digest(),
                    secret_hint: "",
                    window: ValidityWindow { from: None, to: Some(now + Duration::days(90)) },
                    active: true,
                    created_by: patient.id,
                    patients: std::slice::from_ref(&patient_id),
                    grant: Some(GrantOf { app_id: &format!("app-{app}"), scope: SCOPE, practice: None }),
                },
                now,
            )
            .unwrap();
        id
    };
    let public_grant = grant(&mut store, "pci_smart_bench_public");
    let confidential_grant = grant(&mut store, "pci_smart_bench_confidential");

    let mut file = std::io::BufWriter::new(std::fs::File::create(out.join("codes.txt")).unwrap());
    for _ in 0..codes {
        let code = Secret::generate(SecretKind::AuthCode, &mut rand::rngs::OsRng);
        store
            .insert_auth_code(&AuthCodeRecord {
                digest: code.digest(),
                credential_id: public_grant.clone(),
                redirect_uri: REDIRECT.into(),
                code_challenge: CHALLENGE.into(),
                nonce: None,
                issued_at: now,
                // Longer than a real code's minute: the bench uses them over its run.
                expires_at: now + Duration::hours(1),
                used_at: None,
            })
            .unwrap();
        writeln!(file, "{}", code.expose()).unwrap();
    }
    file.flush().unwrap();
    // Each refresh token is its own grant (family): a token that wrk happened to send twice revokes its own
    // family only, not every other chain of the run.
    let mut file = std::io::BufWriter::new(std::fs::File::create(out.join("refresh.txt")).unwrap());
    for _ in 0..refresh {
        let family = grant(&mut store, "pci_smart_bench_public");
        let r = Secret::generate(SecretKind::RefreshToken, &mut rand::rngs::OsRng);
        store
            .insert_refresh_token(&RefreshTokenRecord {
                digest: r.digest(),
                credential_id: family,
                issued_at: now,
                expires_at: now + Duration::days(90),
                used_at: None,
                revoked_at: None,
            })
            .unwrap();
        writeln!(file, "{}", r.expose()).unwrap();
    }
    file.flush().unwrap();
    let access = Secret::generate(SecretKind::AccessToken, &mut rand::rngs::OsRng);
    store
        .insert_token(&TokenRecord {
            digest: access.digest(),
            credential_id: confidential_grant,
            scope: SCOPE.into(),
            patient: Some(patient_id),
            issued_at: now,
            expires_at: now + Duration::hours(2),
            revoked_at: None,
            secret_generation: 0,
        })
        .unwrap();
    std::fs::write(
        out.join("introspect.env"),
        format!("CONF_ID=pci_smart_bench_confidential\nCONF_SECRET={}\nCONF_TOKEN={}\n", secret.expose(), access.expose()),
    )
    .unwrap();
    std::fs::write(out.join("pkce.env"), format!("VERIFIER={VERIFIER}\nREDIRECT={REDIRECT}\n")).unwrap();

    let rng = SystemRandom::new();
    let header = b64(json!({ "alg": "RS384", "kid": "bench-1", "typ": "JWT" }).to_string().as_bytes());
    let mut file = std::io::BufWriter::new(std::fs::File::create(out.join("assertions.txt")).unwrap());
    let exp = now.timestamp() + 290;
    for i in 0..assertions {
        let claims = json!({ "iss": "pci_smart_bench_system", "sub": "pci_smart_bench_system",
            "aud": format!("{base}/oauth/token"), "exp": exp, "jti": format!("bench-{i}-{}", uuid::Uuid::new_v4().simple()) });
        let input = format!("{header}.{}", b64(claims.to_string().as_bytes()));
        let mut sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(&RSA_PKCS1_SHA384, &rng, input.as_bytes(), &mut sig).unwrap();
        writeln!(file, "{input}.{}", b64(&sig)).unwrap();
    }
    file.flush().unwrap();
}
