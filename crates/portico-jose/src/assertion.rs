//! SMART Backend Services client authentication: a `private_key_jwt` client assertion (RFC 7523,
//! SMART App Launch 2.0 §Backend Services), checked against the client's registered JWKS.
//!
//! Header rules (what SMART asks a client to send, enforced):
//! - `alg` is RS384 or ES384 (RS256 and ES256 are accepted too); `none` and every HMAC algorithm are
//!   refused before any key is looked at, so a public key can never serve as an HMAC secret;
//! - `kid` is required: the key is picked by `kid`, then by key type, curve and the key's own `alg`;
//! - `typ` is required and must be `JWT` (compared case-insensitively, as RFC 7515 §4.1.9 says media
//!   types are). SMART's spec fixes `typ` to `JWT`, and Inferno, SMART's client-js and authlib all send
//!   it; requiring it keeps an id_token or another JWS type from being replayed as an assertion;
//! - `jku`, when present, must equal the client's registered JWKS URL; keys are never fetched from it;
//! - `crit` is refused: no JWS extension is understood here.
//!
//! Claims: `iss` = the client id, `sub` = `iss`, `aud` = the token endpoint URL (a string, or an array
//! holding it), `exp` after now and at most 300 s (+60 s of clock skew) ahead, `jti` present. `iat`
//! and `nbf` are not required (Inferno and client-js send none). Replay of `jti` is the caller's check:
//! it records `jti` until `exp` and answers [`AssertionError::Replayed`] when it already had it.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use crate::b64url_decode;
use crate::jwks::{Jwks, KeyLookup};

/// The algorithms a client assertion may be signed with, SMART's two first (discovery's
/// `token_endpoint_auth_signing_alg_values_supported`).
pub const ASSERTION_SIGNING_ALGS: [&str; 4] = ["RS384", "ES384", "RS256", "ES256"];
/// Longest lifetime (`exp` − now) an assertion may claim (SMART: "no more than five minutes").
pub const ASSERTION_MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated on top of the lifetime, for a client clock that runs ahead.
pub const ASSERTION_SKEW_SECS: i64 = 60;
/// An assertion is a few hundred bytes; anything past this is refused unparsed.
const ASSERTION_MAX_BYTES: usize = 16 * 1024;
/// Longest `jti` kept: the caller stores it.
const JTI_MAX_CHARS: usize = 255;

/// What the token endpoint knows about the client the assertion claims to be.
#[derive(Debug, Clone, Copy)]
pub struct AssertionExpectations<'a> {
    pub client_id: &'a str,
    /// The token endpoint URL, exactly as discovery advertises it.
    pub token_url: &'a str,
    /// The JWKS URL registered for the client, if it registered one (a `jku` must equal it).
    pub jwks_url: Option<&'a str>,
}

/// A verified assertion: what the caller must record to refuse a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub jti: String,
    /// Unix seconds; keep the `jti` at least until then (plus skew).
    pub exp: i64,
    /// The key that signed it, for the audit.
    pub kid: String,
}

/// Why an assertion was refused. Every variant answers `invalid_client` at the token endpoint; the
/// message is safe to return as `error_description` (it names no key material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("the client assertion is not a compact JWS")]
    Malformed,
    #[error("the client assertion is unsigned (alg none)")]
    AlgNone,
    #[error("the client assertion uses a symmetric algorithm ({0}); sign it with an RS384 or ES384 key")]
    SymmetricAlg(String),
    #[error("the client assertion's algorithm {0} is not supported; use RS384 or ES384")]
    UnsupportedAlg(String),
    #[error("the client assertion's header has a crit member, which is not supported")]
    CriticalHeader,
    #[error("the client assertion's header has no typ (it must be JWT)")]
    MissingTyp,
    #[error("the client assertion's typ must be JWT")]
    WrongTyp,
    #[error("the client assertion's header has no kid")]
    MissingKid,
    #[error("the client assertion's jku is not the client's registered JWKS URL")]
    JkuMismatch,
    /// The caller may re-fetch a JWKS URL once (the client may have rotated its keys) and retry.
    #[error("no key of the client has the kid `{0}`")]
    UnknownKid(String),
    #[error("the key `{0}` does not fit the assertion's algorithm")]
    KeyMismatch(String),
    #[error("the client assertion's signature does not verify")]
    BadSignature,
    #[error("the client assertion's iss is not the client id")]
    IssuerMismatch,
    #[error("the client assertion's sub is not its iss")]
    SubjectMismatch,
    #[error("the client assertion's aud is not the token endpoint URL")]
    AudienceMismatch,
    #[error("the client assertion has no exp (or it is not a number)")]
    MissingExp,
    #[error("the client assertion has expired")]
    Expired,
    #[error("the client assertion's exp is more than five minutes ahead")]
    LifetimeTooLong,
    #[error("the client assertion has no jti (or one longer than 255 characters)")]
    MissingJti,
    /// Returned by the caller, whose store already holds this client's `jti`.
    #[error("the client assertion's jti was already used")]
    Replayed,
}

/// The `iss` of an assertion, unverified: only to find which client's keys to verify it with.
pub fn peek_issuer(assertion: &str) -> Result<String, AssertionError> {
    let (_, payload, _) = split(assertion)?;
    let claims = json_object(payload)?;
    claims.get("iss").and_then(Value::as_str).map(str::to_string).ok_or(AssertionError::IssuerMismatch)
}

/// Verifies a client assertion at unix time `now` against the client's keys. See the module
/// documentation for the rules; each refusal has its own variant.
pub fn verify_client_assertion(
    assertion: &str,
    expect: &AssertionExpectations<'_>,
    keys: &Jwks,
    now: i64,
) -> Result<VerifiedAssertion, AssertionError> {
    let (header_part, _, _) = split(assertion)?;
    let header = json_object(header_part)?;

    let alg_name = header.get("alg").and_then(Value::as_str).ok_or(AssertionError::Malformed)?;
    let alg = match alg_name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        a if a.eq_ignore_ascii_case("none") => return Err(AssertionError::AlgNone),
        a if a.starts_with("HS") => return Err(AssertionError::SymmetricAlg(printable(a, 20))),
        a => return Err(AssertionError::UnsupportedAlg(printable(a, 20))),
    };
    if header.contains_key("crit") {
        return Err(AssertionError::CriticalHeader);
    }
    match header.get("typ") {
        None => return Err(AssertionError::MissingTyp),
        Some(typ) if !typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT")) => return Err(AssertionError::WrongTyp),
        Some(_) => {}
    }
    let kid = header.get("kid").and_then(Value::as_str).filter(|k| !k.is_empty()).ok_or(AssertionError::MissingKid)?;
    if let Some(jku) = header.get("jku") {
        if jku.as_str().is_none() || jku.as_str() != expect.jwks_url {
            return Err(AssertionError::JkuMismatch);
        }
    }
    let key = keys.find(kid, alg, alg_name).map_err(|e| match e {
        KeyLookup::UnknownKid => AssertionError::UnknownKid(printable(kid, 100)),
        KeyLookup::Mismatch => AssertionError::KeyMismatch(printable(kid, 100)),
    })?;

    // jsonwebtoken checks the signature only: its own time checks read the system clock, and the
    // claims below each need their own refusal.
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<Map<String, Value>>(assertion, key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            return Err(match e.kind() {
                ErrorKind::InvalidSignature => AssertionError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => AssertionError::KeyMismatch(printable(kid, 100)),
                _ => AssertionError::Malformed,
            })
        }
    };

    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(expect.client_id) {
        return Err(AssertionError::IssuerMismatch);
    }
    if claims.get("sub").and_then(Value::as_str) != iss {
        return Err(AssertionError::SubjectMismatch);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == expect.token_url,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(expect.token_url)),
        _ => false,
    };
    if !aud_ok {
        return Err(AssertionError::AudienceMismatch);
    }
    let exp = claims.get("exp").and_then(numeric_date).ok_or(AssertionError::MissingExp)?;
    if exp <= now {
        return Err(AssertionError::Expired);
    }
    if exp > now + ASSERTION_MAX_LIFETIME_SECS + ASSERTION_SKEW_SECS {
        return Err(AssertionError::LifetimeTooLong);
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.chars().count() <= JTI_MAX_CHARS)
        .ok_or(AssertionError::MissingJti)?;
    Ok(VerifiedAssertion { jti: jti.to_string(), exp, kid: kid.to_string() })
}

/// An attacker-chosen header value made fit for `error_description`, which RFC 6749 §5.2 limits to
/// printable ASCII without `"` and `\\`; cut to `max` characters.
fn printable(value: &str, max: usize) -> String {
    value.chars().filter(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\')).take(max).collect()
}

/// The three parts of a compact JWS (a JWE has five and is refused).
fn split(assertion: &str) -> Result<(&str, &str, &str), AssertionError> {
    if assertion.len() > ASSERTION_MAX_BYTES {
        return Err(AssertionError::Malformed);
    }
    let mut parts = assertion.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => Err(AssertionError::Malformed),
    }
}

fn json_object(part: &str) -> Result<Map<String, Value>, AssertionError> {
    let bytes = b64url_decode(part).ok_or(AssertionError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AssertionError::Malformed)
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional; the fraction is dropped.
fn numeric_date(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}
