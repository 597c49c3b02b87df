//! portico-jose at its boundary: the key file, the published JWKS, id_tokens checked by an independent
//! verifier (jsonwebtoken's own JWK path), client JWKS parsing, and the client assertion table of
//! SMART-CHECKLIST item 41 (plus the positives of items 42 and 43).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_SHA256,
    RSA_PKCS1_SHA384,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{JwkSet, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portico_jose::{
    verify_client_assertion, AssertionError, AssertionExpectations, IdTokenClaims, Jwks, JwksError, KeyError, KeyRing,
    VerifiedAssertion,
};
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// KeyRing

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn claims(nonce: Option<&str>) -> IdTokenClaims {
    IdTokenClaims {
        iss: "https://portico.example/fhir".into(),
        sub: "user-42".into(),
        aud: "pci_smart_app".into(),
        exp: 4_000_000_000,
        iat: 1_800_000_000,
        auth_time: Some(1_799_999_990),
        nonce: nonce.map(str::to_string),
        fhir_user: "Patient/p-1".into(),
        name: Some("Ada Lovelace".into()),
        given_name: Some("Ada".into()),
        family_name: Some("Lovelace".into()),
    }
}

/// Verifies an id_token the way a relying party does: the header's `kid` picks a key from the
/// published JWKS, RS256 only. Returns the claims.
fn verify_id_token(token: &str, jwks: &Value) -> IdTokenClaims {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(portico_jose::ID_TOKEN_SIGNING_ALG, "RS256");
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    let kid = header.kid.expect("the id_token names its key");
    let jwk = set.find(&kid).expect("the id_token's kid is published");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["pci_smart_app"]);
    validation.set_issuer(&["https://portico.example/fhir"]);
    jsonwebtoken::decode::<IdTokenClaims>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims
}

#[test]
#[cfg(unix)]
fn a_new_key_file_is_private_and_reloads_to_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signing-keys.pem");
    let ring = KeyRing::load_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let again = KeyRing::load_or_create(&path).unwrap();
    assert_eq!(again.current_kid(), ring.current_kid());
    assert_eq!(again.jwks(), ring.jwks());
}

#[test]
fn concurrent_first_starts_agree_on_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.pem");
    let start = std::sync::Barrier::new(4);
    let kids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    KeyRing::load_or_create(&path).unwrap().current_kid().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let on_disk = KeyRing::load_or_create(&path).unwrap();
    assert!(kids.iter().all(|k| k == on_disk.current_kid()), "{kids:?} vs {}", on_disk.current_kid());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
}

#[test]
#[cfg(unix)]
fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.pem");
    KeyRing::load_or_create(&path).unwrap();
    for bad in [0o640, 0o604, 0o644, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bad)).unwrap();
        let err = KeyRing::load_or_create(&path).unwrap_err();
        assert!(matches!(err, KeyError::InsecurePermissions { mode, .. } if mode == bad), "{bad:o}: {err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(matches!(KeyRing::rotate(&path), Err(KeyError::InsecurePermissions { .. })));
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    KeyRing::load_or_create(&path).unwrap();
}

#[test]
fn a_key_file_that_is_not_keys_is_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.pem");
    let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    for text in ["", "not pem at all", cert] {
        write_private(&path, text);
        let err = KeyRing::load_or_create(&path).unwrap_err();
        assert!(matches!(err, KeyError::Malformed { .. }), "{text:?}: {err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "a bad key file is never overwritten");
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn the_jwks_has_public_members_only_and_a_thumbprint_kid() {
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::load_or_create(&dir.path().join("keys.pem")).unwrap();
    let jwks = ring.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_object().unwrap();
    let mut members: Vec<&str> = key.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!((key["kty"].as_str(), key["alg"].as_str(), key["use"].as_str()), (Some("RSA"), Some("RS256"), Some("sig")));
    assert_eq!(key["e"], "AQAB");
    assert_eq!(URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap().len(), 256, "RSA 2048");
    // The kid is the RFC 7638 thumbprint, as an independent implementation computes it.
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    assert_eq!(set.keys[0].thumbprint(ThumbprintHash::SHA256).unwrap(), ring.current_kid());
    assert_eq!(key["kid"], ring.current_kid());
    // And the set is one our own client-JWKS parser accepts (it refuses private members).
    assert_eq!(Jwks::parse(&jwks.to_string()).unwrap().len(), 1);
}

#[test]
fn an_id_token_verifies_with_the_published_key_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::load_or_create(&dir.path().join("keys.pem")).unwrap();
    for nonce in [Some("n-0S6_WzA2Mj"), None] {
        let token = ring.sign_id_token(&claims(nonce)).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(), Some(ring.current_kid()));
        assert_eq!(verify_id_token(&token, &ring.jwks()), claims(nonce));
        let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(payload["fhirUser"], "Patient/p-1");
        assert_eq!(payload.get("nonce").is_some(), nonce.is_some(), "no nonce member unless one was sent");
    }
}

#[test]
fn rotation_publishes_the_old_key_until_the_next_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.pem");
    let first = KeyRing::load_or_create(&path).unwrap();
    let before = first.sign_id_token(&claims(None)).unwrap();

    let second = KeyRing::rotate(&path).unwrap();
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    assert_ne!(second.current_kid(), first.current_kid());
    assert_eq!(second.kids(), [second.current_kid(), first.current_kid()]);
    let after = second.sign_id_token(&claims(None)).unwrap();
    assert_eq!(jsonwebtoken::decode_header(&after).unwrap().kid.as_deref(), Some(second.current_kid()));
    // Both tokens verify against what is published now.
    verify_id_token(&before, &second.jwks());
    verify_id_token(&after, &second.jwks());
    assert_eq!(KeyRing::load_or_create(&path).unwrap().kids(), second.kids(), "the rotation is on disk");

    let third = KeyRing::rotate(&path).unwrap();
    assert_eq!(third.kids(), [third.current_kid(), second.current_kid()]);
    let kids: HashSet<&str> = third.kids().into_iter().collect();
    assert_eq!(kids.len(), 2, "unique kids");
    assert!(!kids.contains(first.current_kid()), "the key before last is no longer published");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn debug_shows_key_ids_not_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::load_or_create(&dir.path().join("keys.pem")).unwrap();
    let debug = format!("{ring:?}");
    assert!(debug.contains(ring.current_kid()), "{debug}");
    let n = ring.jwks()["keys"][0]["n"].as_str().unwrap().to_string();
    assert!(!debug.contains(&n[..16]) && debug.len() < 200, "{debug}");
}

// ---------------------------------------------------------------------------------------------
// Client JWKS

struct ClientKeys {
    rsa: RsaKeyPair,
    /// Another RSA key, not in the client's JWKS: signs the "bad signature" case under rsa's kid.
    stranger: RsaKeyPair,
    ec384: EcdsaKeyPair,
    ec256: EcdsaKeyPair,
    jwks: Jwks,
    jwks_json: Value,
}

fn rsa_jwk(pair: &RsaKeyPair, kid: &str) -> Value {
    let public = pair.public_key();
    json!({
        "kty": "RSA", "kid": kid, "use": "sig",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    })
}

fn ec_jwk(pair: &EcdsaKeyPair, crv: &str, kid: &str) -> Value {
    let point = pair.public_key().as_ref();
    let half = (point.len() - 1) / 2;
    json!({ "kty": "EC", "crv": crv, "kid": kid, "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..]) })
}

fn client() -> &'static ClientKeys {
    static KEYS: OnceLock<ClientKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let stranger = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let ec384 = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let ec256 = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let mut rsa_key = rsa_jwk(&rsa, "rsa-1");
        rsa_key["alg"] = json!("RS384");
        let jwks_json = json!({ "keys": [
            rsa_key,
            rsa_jwk(&rsa, "rsa-any-alg"),
            ec_jwk(&ec384, "P-384", "ec-1"),
            ec_jwk(&ec256, "P-256", "ec-256"),
            // An encryption key and a key of a type we do not verify with: skipped, not refused.
            json!({ "kty": "RSA", "kid": "enc-1", "use": "enc", "n": "AQAB", "e": "AQAB" }),
            json!({ "kty": "OKP", "kid": "ed-1", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }),
        ]});
        let jwks = Jwks::parse(&jwks_json.to_string()).unwrap();
        ClientKeys { rsa, stranger, ec384, ec256, jwks, jwks_json }
    })
}

#[test]
fn a_client_jwks_keeps_its_signing_keys() {
    let keys = &client().jwks;
    assert_eq!(keys.kids().collect::<Vec<_>>(), ["rsa-1", "rsa-any-alg", "ec-1", "ec-256"]);
    assert_eq!(client().jwks_json["keys"].as_array().unwrap().len(), 6);
}

#[test]
fn client_jwks_refusals() {
    let rsa = rsa_jwk(&client().rsa, "rsa-1");
    let with = |extra: Value| {
        let mut key = rsa.clone();
        key.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({ "keys": [key] }).to_string()
    };
    let short_n = b64(&[0xff; 128]);
    let off_curve = json!({ "kty": "EC", "crv": "P-384", "kid": "ec", "x": b64(&[1; 48]), "y": b64(&[2; 48]) });
    let many: Vec<Value> = (0..21).map(|i| rsa_jwk(&client().rsa, &format!("k{i}"))).collect();
    let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(64 * 1024));
    let table: Vec<(&str, String, JwksError)> = vec![
        ("private RSA member d", with(json!({ "d": "AQAB" })), JwksError::PrivateKey { kid: "rsa-1".into(), member: "d" }),
        ("private CRT member p", with(json!({ "p": "AQAB" })), JwksError::PrivateKey { kid: "rsa-1".into(), member: "p" }),
        (
            "symmetric key",
            json!({ "keys": [{ "kty": "oct", "kid": "s", "k": "c2VjcmV0" }] }).to_string(),
            JwksError::PrivateKey { kid: "s".into(), member: "k" },
        ),
        (
            "1024-bit RSA",
            with(json!({ "n": short_n })),
            JwksError::BadKey { kid: "rsa-1".into(), reason: "an RSA key of 1024 bits; at least 2048 are required".into() },
        ),
        (
            "EC point off its curve",
            json!({ "keys": [off_curve] }).to_string(),
            JwksError::BadKey { kid: "ec".into(), reason: "the point is not on its curve".into() },
        ),
        ("not JSON", "{keys".into(), JwksError::NotAJwks),
        ("no keys array", json!({ "kty": "RSA" }).to_string(), JwksError::NotAJwks),
        ("21 keys", json!({ "keys": many }).to_string(), JwksError::TooManyKeys),
        ("over 64 KiB", big, JwksError::TooLarge),
        ("only an encryption key", with(json!({ "use": "enc" })), JwksError::NoUsableKey),
        ("empty", json!({ "keys": [] }).to_string(), JwksError::NoUsableKey),
        ("duplicate kid", json!({ "keys": [rsa, rsa] }).to_string(), JwksError::DuplicateKid("rsa-1".into())),
    ];
    for (name, text, expected) in table {
        assert_eq!(Jwks::parse(&text).unwrap_err(), expected, "{name}");
    }
    assert!(JwksError::PrivateKey { kid: "k".into(), member: "d" }.to_string().contains("publish only the public key"));
}

// ---------------------------------------------------------------------------------------------
// Client assertions (SMART-CHECKLIST F.41–43)

const NOW: i64 = 1_800_000_000;
const CLIENT: &str = "pci_smart_backend";
const TOKEN_URL: &str = "https://portico.example/oauth/token";
const JWKS_URL: &str = "https://app.example/.well-known/jwks.json";

#[derive(Clone, Copy)]
enum Signer {
    Rs384,
    Rs256,
    Es384,
    Es256,
    /// RS384 with a key that is not the client's.
    Stranger,
    /// HS256 keyed with the client's public JWK text (the RS/HS confusion attack).
    Hs256PublicKey,
    Unsigned,
}

fn sign(header: &Value, claims: &Value, signer: Signer) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let keys = client();
    let rng = SystemRandom::new();
    let rsa = |pair: &RsaKeyPair, alg| {
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(alg, &rng, input.as_bytes(), &mut sig).unwrap();
        sig
    };
    let signature = match signer {
        Signer::Rs384 => rsa(&keys.rsa, &RSA_PKCS1_SHA384),
        Signer::Rs256 => rsa(&keys.rsa, &RSA_PKCS1_SHA256),
        Signer::Stranger => rsa(&keys.stranger, &RSA_PKCS1_SHA384),
        Signer::Es384 => keys.ec384.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Signer::Es256 => keys.ec256.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        Signer::Hs256PublicKey => {
            let secret = keys.jwks_json["keys"][0].to_string();
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
            aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Signer::Unsigned => Vec::new(),
    };
    format!("{input}.{}", b64(&signature))
}

fn header(alg: &str, kid: &str) -> Value {
    json!({ "alg": alg, "kid": kid, "typ": "JWT" })
}

/// What Inferno and client-js send: no iat, no nbf.
fn assertion_claims(jti: &str) -> Value {
    json!({ "iss": CLIENT, "sub": CLIENT, "aud": TOKEN_URL, "exp": NOW + 300, "jti": jti })
}

fn with(mut value: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            value.as_object_mut().unwrap().remove(k);
        } else {
            value[k] = v.clone();
        }
    }
    value
}

struct Case {
    name: &'static str,
    header: Value,
    claims: Value,
    signer: Signer,
    expected: Result<(), AssertionError>,
}

/// A valid RS384 assertion with one change to its header or claims.
fn case(name: &'static str, header_change: Value, claims_change: Value, expected: Result<(), AssertionError>) -> Case {
    Case {
        name,
        header: with(header("RS384", "rsa-1"), header_change),
        claims: with(assertion_claims(name), claims_change),
        signer: Signer::Rs384,
        expected,
    }
}

#[test]
fn client_assertion_table() {
    use AssertionError as E;
    let ok = Ok(());
    let expect = AssertionExpectations { client_id: CLIENT, token_url: TOKEN_URL, jwks_url: Some(JWKS_URL) };
    let none = json!({});
    let table = vec![
        // Positives (items 42, 43): RS384 and ES384, keys picked by kid; no iat or nbf.
        case("RS384", none.clone(), none.clone(), ok.clone()),
        Case {
            name: "ES384",
            header: header("ES384", "ec-1"),
            claims: assertion_claims("ES384"),
            signer: Signer::Es384,
            expected: ok.clone(),
        },
        Case {
            name: "RS256",
            header: header("RS256", "rsa-any-alg"),
            claims: assertion_claims("RS256"),
            signer: Signer::Rs256,
            expected: ok.clone(),
        },
        Case {
            name: "ES256",
            header: header("ES256", "ec-256"),
            claims: assertion_claims("ES256"),
            signer: Signer::Es256,
            expected: ok.clone(),
        },
        case(
            "aud as an array holding the token URL",
            none.clone(),
            json!({ "aud": ["https://other.example", TOKEN_URL] }),
            ok.clone(),
        ),
        case("jku equal to the registered JWKS URL", json!({ "jku": JWKS_URL }), none.clone(), ok.clone()),
        case("typ in lower case", json!({ "typ": "jwt" }), none.clone(), ok.clone()),
        case("exp at the limit (300 s + 60 s skew)", none.clone(), json!({ "exp": NOW + 360 }), ok.clone()),
        case("iat and nbf present", none.clone(), json!({ "iat": NOW, "nbf": NOW }), ok.clone()),
        // The 13 negatives of item 41, in its order.
        Case {
            name: "bad signature",
            header: header("RS384", "rsa-1"),
            claims: assertion_claims("bad signature"),
            signer: Signer::Stranger,
            expected: Err(E::BadSignature),
        },
        Case {
            name: "alg none",
            header: header("none", "rsa-1"),
            claims: assertion_claims("alg none"),
            signer: Signer::Unsigned,
            expected: Err(E::AlgNone),
        },
        Case {
            name: "HS256 keyed with the public key",
            header: header("HS256", "rsa-1"),
            claims: assertion_claims("hs256"),
            signer: Signer::Hs256PublicKey,
            expected: Err(E::SymmetricAlg("HS256".into())),
        },
        case("unknown kid", json!({ "kid": "rotated-away" }), none.clone(), Err(E::UnknownKid("rotated-away".into()))),
        case("iss ≠ sub", none.clone(), json!({ "sub": "someone-else" }), Err(E::SubjectMismatch)),
        case("unknown iss", none.clone(), json!({ "iss": "pci_smart_other", "sub": "pci_smart_other" }), Err(E::IssuerMismatch)),
        case(
            "aud ≠ token URL",
            none.clone(),
            json!({ "aud": "https://portico.example/oauth/authorize" }),
            Err(E::AudienceMismatch),
        ),
        case("exp in the past", none.clone(), json!({ "exp": NOW - 1 }), Err(E::Expired)),
        case("exp more than 300 s (+60 s skew) ahead", none.clone(), json!({ "exp": NOW + 361 }), Err(E::LifetimeTooLong)),
        case("missing jti", none.clone(), json!({ "jti": null }), Err(E::MissingJti)),
        // Replay is the caller's check (its jti store): this row replays the RS384 row's jti.
        case("jti replayed", none.clone(), json!({ "jti": "RS384" }), Err(E::Replayed)),
        case("missing typ", json!({ "typ": null }), none.clone(), Err(E::MissingTyp)),
        case("missing kid", json!({ "kid": null }), none.clone(), Err(E::MissingKid)),
        case("jku ≠ registered JWKS URL", json!({ "jku": "https://evil.example/jwks.json" }), none.clone(), Err(E::JkuMismatch)),
        // Around them.
        case("typ not JWT", json!({ "typ": "at+jwt" }), none.clone(), Err(E::WrongTyp)),
        case("missing exp", none.clone(), json!({ "exp": null }), Err(E::MissingExp)),
        case("exp now", none.clone(), json!({ "exp": NOW }), Err(E::Expired)),
        case("missing aud", none.clone(), json!({ "aud": null }), Err(E::AudienceMismatch)),
        case(
            "aud array without the token URL",
            none.clone(),
            json!({ "aud": ["https://other.example"] }),
            Err(E::AudienceMismatch),
        ),
        case("missing sub", none.clone(), json!({ "sub": null }), Err(E::SubjectMismatch)),
        case("crit header", json!({ "crit": ["exp"] }), none.clone(), Err(E::CriticalHeader)),
        case("alg RS512", json!({ "alg": "RS512" }), none.clone(), Err(E::UnsupportedAlg("RS512".into()))),
        // Header values echoed in error_description keep to RFC 6749's printable ASCII.
        case(
            "unknown kid with quotes and non-ASCII",
            json!({ "kid": "k\"é\\ 1" }),
            none.clone(),
            Err(E::UnknownKid("k1".into())),
        ),
        Case {
            name: "RS384 under an EC key's kid",
            header: header("RS384", "ec-1"),
            claims: assertion_claims("kty mismatch"),
            signer: Signer::Rs384,
            expected: Err(E::KeyMismatch("ec-1".into())),
        },
        Case {
            name: "RS256 with a key registered for RS384",
            header: header("RS256", "rsa-1"),
            claims: assertion_claims("alg mismatch"),
            signer: Signer::Rs256,
            expected: Err(E::KeyMismatch("rsa-1".into())),
        },
        Case {
            name: "ES256 under the P-384 key",
            header: header("ES256", "ec-1"),
            claims: assertion_claims("curve mismatch"),
            signer: Signer::Es256,
            expected: Err(E::KeyMismatch("ec-1".into())),
        },
    ];
    // Stands in for the caller's store of used jtis (a unique index in the database).
    let mut used: HashSet<String> = HashSet::new();
    let mut failures = Vec::new();
    for case in &table {
        let token = sign(&case.header, &case.claims, case.signer);
        let got = verify_client_assertion(&token, &expect, &client().jwks, NOW).and_then(|v: VerifiedAssertion| {
            if used.insert(v.jti.clone()) {
                Ok(v)
            } else {
                Err(AssertionError::Replayed)
            }
        });
        let got_unit = got.as_ref().map(|_| ()).map_err(Clone::clone);
        if got_unit != case.expected {
            failures.push(format!("{}: expected {:?}, got {:?}", case.name, case.expected, got));
        }
        if let Err(e) = &got {
            let text = e.to_string();
            assert!(text.chars().all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\'), "not an error_description: {text}");
        }
        if let Ok(v) = got {
            assert_eq!((v.jti.as_str(), v.exp), (case.claims["jti"].as_str().unwrap(), case.claims["exp"].as_i64().unwrap()));
            assert_eq!(v.kid, case.header["kid"].as_str().unwrap());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_advertised_algorithm_is_accepted() {
    let expect = AssertionExpectations { client_id: CLIENT, token_url: TOKEN_URL, jwks_url: None };
    for alg in portico_jose::ASSERTION_SIGNING_ALGS {
        let (kid, signer) = match alg {
            "RS384" => ("rsa-1", Signer::Rs384),
            "RS256" => ("rsa-any-alg", Signer::Rs256),
            "ES384" => ("ec-1", Signer::Es384),
            "ES256" => ("ec-256", Signer::Es256),
            other => panic!("no test key for {other}"),
        };
        let token = sign(&header(alg, kid), &assertion_claims(alg), signer);
        assert!(verify_client_assertion(&token, &expect, &client().jwks, NOW).is_ok(), "{alg}");
    }
    assert_eq!(&portico_jose::ASSERTION_SIGNING_ALGS[..2], ["RS384", "ES384"], "SMART's two come first");
}

#[test]
fn malformed_assertions_are_refused_unparsed() {
    let expect = AssertionExpectations { client_id: CLIENT, token_url: TOKEN_URL, jwks_url: None };
    let valid = sign(&header("RS384", "rsa-1"), &assertion_claims("m"), Signer::Rs384);
    let mut parts = valid.split('.');
    let (h, p, s) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let tampered = format!("{h}.{}.{s}", b64(with(assertion_claims("m"), json!({ "exp": NOW + 100 })).to_string().as_bytes()));
    let cases = [
        ("", AssertionError::Malformed),
        ("abc", AssertionError::Malformed),
        (&format!("{h}.{p}"), AssertionError::Malformed),
        (&format!("{h}.{p}.{s}.x.y"), AssertionError::Malformed),
        (&format!("%%%.{p}.{s}"), AssertionError::Malformed),
        (&format!("{h}.{p}.%%%"), AssertionError::Malformed),
        (&format!("{}.{p}.{s}", b64(b"[1]")), AssertionError::Malformed),
        (&format!("{}.{p}.{s}", "A".repeat(20_000)), AssertionError::Malformed),
        // A payload changed after signing.
        (&tampered, AssertionError::BadSignature),
    ];
    for (token, expected) in cases {
        assert_eq!(verify_client_assertion(token, &expect, &client().jwks, NOW), Err(expected), "{token:.60}");
    }
    // A jku is refused when the client registered no JWKS URL (its keys are inline).
    let jku = sign(&with(header("RS384", "rsa-1"), json!({ "jku": JWKS_URL })), &assertion_claims("j"), Signer::Rs384);
    assert_eq!(verify_client_assertion(&jku, &expect, &client().jwks, NOW), Err(AssertionError::JkuMismatch));
    assert_eq!(portico_jose::peek_issuer(&valid).as_deref(), Ok(CLIENT));
}
