//! A client's JWK Set (registered inline or fetched from its JWKS URL), parsed once into verification
//! keys, so verifying an assertion decodes no base64 key material.

use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use crate::b64url_decode;

/// Largest JWKS text accepted: real sets are a few KiB; more is a mistake or an attack.
pub const JWKS_MAX_BYTES: usize = 64 * 1024;
/// Most keys accepted in one set.
pub const JWKS_MAX_KEYS: usize = 20;
const MIN_RSA_BITS: usize = 2048;
/// Members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the JWKS is larger than {JWKS_MAX_BYTES} bytes")]
    TooLarge,
    #[error("the JWKS is not a JSON object with a `keys` array")]
    NotAJwks,
    #[error("the JWKS has more than {JWKS_MAX_KEYS} keys")]
    TooManyKeys,
    #[error(
        "key `{kid}` holds private key material (`{member}`): publish only the public key, \
         and treat this private key as leaked"
    )]
    PrivateKey { kid: String, member: &'static str },
    #[error("key `{kid}`: {reason}")]
    BadKey { kid: String, reason: String },
    #[error("two keys share the kid `{0}`")]
    DuplicateKid(String),
    #[error("the JWKS has no signing key with a kid of type RSA (2048 bits or more) or EC P-256/P-384")]
    NoUsableKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    EcP256,
    EcP384,
}

impl KeyType {
    fn fits(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (KeyType::Rsa, Algorithm::RS256 | Algorithm::RS384)
                | (KeyType::EcP256, Algorithm::ES256)
                | (KeyType::EcP384, Algorithm::ES384)
        )
    }
}

#[derive(Clone)]
struct ClientKey {
    kid: String,
    key_type: KeyType,
    /// The key's own `alg`, when it names one: then only that algorithm may use it.
    alg: Option<String>,
    decoding: DecodingKey,
}

/// The verification keys of one client.
#[derive(Clone)]
pub struct Jwks {
    keys: Vec<ClientKey>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.iter().map(|k| (&k.kid, k.key_type))).finish()
    }
}

/// Why no key was picked for an assertion.
pub(crate) enum KeyLookup {
    UnknownKid,
    /// The kid exists, but for another key type, curve or algorithm than the header's `alg`.
    Mismatch,
}

impl Jwks {
    /// Parses a JWK Set. Keys that cannot sign assertions we accept are skipped (encryption keys,
    /// unsupported types or curves, keys without `kid`); a set holding a private or symmetric key is
    /// refused outright, because it means a secret was published.
    pub fn parse(text: &str) -> Result<Jwks, JwksError> {
        if text.len() > JWKS_MAX_BYTES {
            return Err(JwksError::TooLarge);
        }
        let value: Value = serde_json::from_str(text).map_err(|_| JwksError::NotAJwks)?;
        let entries = value.get("keys").and_then(Value::as_array).ok_or(JwksError::NotAJwks)?;
        if entries.len() > JWKS_MAX_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        let mut keys: Vec<ClientKey> = Vec::with_capacity(entries.len());
        for entry in entries {
            let jwk = entry.as_object().ok_or(JwksError::NotAJwks)?;
            let kid = str_member(jwk, "kid");
            if let Some(member) = PRIVATE_MEMBERS.into_iter().find(|m| jwk.contains_key(*m)) {
                return Err(JwksError::PrivateKey { kid: kid.unwrap_or("(no kid)").to_string(), member });
            }
            let Some(key) = parse_key(jwk)? else { continue };
            if keys.iter().any(|k| k.kid == key.kid && k.key_type == key.key_type) {
                return Err(JwksError::DuplicateKid(key.kid));
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(Jwks { keys })
    }

    /// How many usable keys the set has.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The kids of the usable keys, in the set's order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The key for a JWS header's `kid` and `alg`: same kid, a key type and curve that fit the
    /// algorithm, and the key's own `alg` (if any) equal to it.
    pub(crate) fn find(&self, kid: &str, alg: Algorithm, alg_name: &str) -> Result<&DecodingKey, KeyLookup> {
        let mut same_kid = self.keys.iter().filter(|k| k.kid == kid).peekable();
        if same_kid.peek().is_none() {
            return Err(KeyLookup::UnknownKid);
        }
        same_kid
            .find(|k| k.key_type.fits(alg) && k.alg.as_deref().is_none_or(|a| a == alg_name))
            .map(|k| &k.decoding)
            .ok_or(KeyLookup::Mismatch)
    }
}

fn str_member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

/// `Ok(None)` for a key we skip, an error for a key that claims to be usable but is broken.
fn parse_key(jwk: &Map<String, Value>) -> Result<Option<ClientKey>, JwksError> {
    let Some(kid) = str_member(jwk, "kid").filter(|k| !k.is_empty()) else {
        // The header must name its key (we enforce `kid`), so a key without one can never be picked.
        return Ok(None);
    };
    if str_member(jwk, "use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    if let Some(ops) = jwk.get("key_ops").and_then(Value::as_array) {
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return Ok(None);
        }
    }
    let bad = |reason: &str| JwksError::BadKey { kid: kid.to_string(), reason: reason.to_string() };
    let alg = str_member(jwk, "alg").map(str::to_string);
    let (key_type, decoding) = match str_member(jwk, "kty") {
        Some("RSA") => {
            let n = str_member(jwk, "n").and_then(b64url_decode).ok_or_else(|| bad("`n` is not base64url"))?;
            let e = str_member(jwk, "e").and_then(b64url_decode).ok_or_else(|| bad("`e` is not base64url"))?;
            let n_bits = significant_bits(&n);
            if n_bits < MIN_RSA_BITS {
                return Err(bad(&format!("an RSA key of {n_bits} bits; at least {MIN_RSA_BITS} are required")));
            }
            if significant_bits(&e) == 0 {
                return Err(bad("`e` is zero"));
            }
            (KeyType::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        Some("EC") => {
            let (key_type, coordinate_len, curve) = match str_member(jwk, "crv") {
                Some("P-256") => (KeyType::EcP256, 32, &ECDSA_P256_SHA256_FIXED),
                Some("P-384") => (KeyType::EcP384, 48, &ECDSA_P384_SHA384_FIXED),
                _ => return Ok(None),
            };
            let x = str_member(jwk, "x").and_then(b64url_decode).ok_or_else(|| bad("`x` is not base64url"))?;
            let y = str_member(jwk, "y").and_then(b64url_decode).ok_or_else(|| bad("`y` is not base64url"))?;
            if x.len() != coordinate_len || y.len() != coordinate_len {
                return Err(bad("`x` or `y` has the wrong length for its curve"));
            }
            // The uncompressed point (SEC 1 §2.3.3), checked to lie on the curve now rather than
            // failing every verification later as a "bad signature".
            let point: Vec<u8> = [&[0x04][..], &x, &y].concat();
            ParsedPublicKey::new(curve, &point).map_err(|_| bad("the point is not on its curve"))?;
            (key_type, DecodingKey::from_ec_der(&point))
        }
        _ => return Ok(None),
    };
    Ok(Some(ClientKey { kid: kid.to_string(), key_type, alg, decoding }))
}

fn significant_bits(big_endian: &[u8]) -> usize {
    match big_endian.iter().position(|b| *b != 0) {
        Some(i) => (big_endian.len() - i) * 8 - big_endian[i].leading_zeros() as usize,
        None => 0,
    }
}
