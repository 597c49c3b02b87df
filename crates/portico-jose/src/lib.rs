//! JOSE for Portico's SMART authorization server: the service's own RSA signing keys (`KeyRing`: a
//! 0600 PEM file, RFC 7638 key ids, rotation with the previous key still published), the public JWKS
//! it serves at `jwks_uri`, OpenID Connect id_tokens signed RS256, and the verification of SMART
//! backend-services client assertions (`private_key_jwt`, RS384/ES384) against a client's JWKS.
//!
//! Pure apart from the key file: the clock comes in as `now` (unix seconds), the JWKS of a client
//! comes in as text (fetching it is `portico_client::fetch_jwks`), and replay of a `jti` is the
//! caller's check against its database. Knows nothing of HTTP, SQL or the server's types.

mod assertion;
mod jwks;
mod keyring;

pub use assertion::{
    peek_issuer, verify_client_assertion, AssertionError, AssertionExpectations, VerifiedAssertion, ASSERTION_MAX_LIFETIME_SECS,
    ASSERTION_SIGNING_ALGS, ASSERTION_SKEW_SECS,
};
pub use jwks::{Jwks, JwksError, JWKS_MAX_BYTES, JWKS_MAX_KEYS};
pub use keyring::{IdTokenClaims, KeyError, KeyRing, ID_TOKEN_SIGNING_ALG};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// base64url without padding, as every JOSE member is written (RFC 7515 §2).
fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
