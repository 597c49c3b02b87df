//! The service's RSA signing keys: one PEM file, the current key first and at most one previous key
//! after it. The previous key only signs nothing; it stays in the JWKS so id_tokens signed before a
//! rotation still verify until the next rotation drops it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair, RSA_PKCS1_SHA256};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::b64url;

const PEM_TAG: &str = "PRIVATE KEY";
/// The one algorithm id_tokens are signed with (discovery's `id_token_signing_alg_values_supported`).
pub const ID_TOKEN_SIGNING_ALG: &str = "RS256";
/// Smallest modulus accepted from a key file: what RFC 7518 §3.3 requires for RS256.
const MIN_RSA_BITS: usize = 2048;
const KEY_FILE_MAX_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write the signing key file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "the signing key file {path} is readable by other users (mode {mode:o}); \
         run `chmod 600` on it (and consider its keys leaked: rotate them)"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("the signing key file {path} is not a PEM file of one or two RSA private keys: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("the signing keys stored in the database are not PEM of one or two RSA private keys: {0}")]
    MalformedStored(String),
    #[error("cannot generate an RSA signing key")]
    Generate,
    #[error("cannot sign the token")]
    Sign,
    #[error("cannot serialize the token's claims: {0}")]
    Claims(#[from] serde_json::Error),
}

/// The claims of an OpenID Connect id_token as SMART App Launch uses them (`fhirUser`). Times are
/// unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// The app's client_id.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `Patient/…`, `Practitioner/…` or an absolute URL of the user's FHIR resource.
    #[serde(rename = "fhirUser")]
    pub fhir_user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
}

/// One RSA key, parsed once: signing reuses the parsed key, which is what makes ≥ 3,000 id_tokens/s
/// possible (parsing and checking a PKCS#8 RSA key costs more than the signature itself).
struct SigningKey {
    pair: RsaKeyPair,
    kid: String,
    jwk: Value,
    /// base64url of `{"alg":"RS256","typ":"JWT","kid":…}`, the same for every token.
    header: String,
}

impl SigningKey {
    fn from_pkcs8(der: &[u8]) -> Result<SigningKey, String> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| format!("not an RSA PKCS#8 key ({e})"))?;
        if pair.public_modulus_len() * 8 < MIN_RSA_BITS {
            return Err(format!("an RSA key shorter than {MIN_RSA_BITS} bits"));
        }
        let public = pair.public_key();
        let n = b64url(public.modulus().big_endian_without_leading_zero());
        let e = b64url(public.exponent().big_endian_without_leading_zero());
        let kid = thumbprint(&n, &e);
        let jwk = json!({ "kty": "RSA", "use": "sig", "alg": ID_TOKEN_SIGNING_ALG, "kid": kid, "n": n, "e": e });
        let header = b64url(json!({ "alg": ID_TOKEN_SIGNING_ALG, "typ": "JWT", "kid": kid }).to_string().as_bytes());
        Ok(SigningKey { pair, kid, jwk, header })
    }

    fn generate() -> Result<SigningKey, KeyError> {
        // aws-lc draws the primes from its own CSPRNG; key generation is I/O-side (first start,
        // rotation), not domain logic, so no RNG is threaded through.
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let der = pair.as_der().map_err(|_| KeyError::Generate)?;
        SigningKey::from_pkcs8(der.as_ref()).map_err(|_| KeyError::Generate)
    }

    fn pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        Ok(self.pair.as_der().map_err(|_| KeyError::Generate)?.as_ref().to_vec())
    }
}

/// RFC 7638 JWK thumbprint (SHA-256) of an RSA public key: the members `e`, `kty`, `n` in
/// lexicographic order, no whitespace.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
}

/// The service's signing keys. Cheap to share behind an `Arc`; signing takes `&self`.
pub struct KeyRing {
    current: SigningKey,
    previous: Option<SigningKey>,
}

impl std::fmt::Debug for KeyRing {
    // Key ids only: the private key must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current_kid", &self.current.kid)
            .field("previous_kid", &self.previous.as_ref().map(|k| k.kid.as_str()))
            .finish()
    }
}

impl KeyRing {
    /// Loads the key file, or creates it (mode 0600) with a new RSA 2048 key when it does not exist.
    /// Refuses a file that other users can read: its key may already be in someone else's hands.
    pub fn load_or_create(path: &Path) -> Result<KeyRing, KeyError> {
        match load(path) {
            Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                let ring = KeyRing { current: SigningKey::generate()?, previous: None };
                match write_key_file(path, &ring, Publish::CreateNew) {
                    Ok(()) => Ok(ring),
                    // Another process created it between our read and our write: theirs wins, so
                    // that both sign with the key the file holds.
                    Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => load(path),
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
    }

    /// Makes a new current key; the old current key stays published (in `jwks`) as the previous
    /// key until the next rotation, and the one before it is dropped. Returns the new ring; the
    /// file is replaced atomically.
    pub fn rotate(path: &Path) -> Result<KeyRing, KeyError> {
        let old = load(path)?;
        let ring = KeyRing { current: SigningKey::generate()?, previous: Some(old.current) };
        write_key_file(path, &ring, Publish::Replace)?;
        Ok(ring)
    }

    /// A ring of one new key, kept nowhere yet (see [`KeyRing::to_pem`]).
    pub fn generate() -> Result<KeyRing, KeyError> {
        Ok(KeyRing { current: SigningKey::generate()?, previous: None })
    }

    /// A new current key, this ring's current key kept as the previous one (the one before it dropped).
    pub fn rotated(self) -> Result<KeyRing, KeyError> {
        Ok(KeyRing { current: SigningKey::generate()?, previous: Some(self.current) })
    }

    /// The ring as the key file holds it (PKCS#8 PEM, current key first): for a store that keeps it elsewhere
    /// (servers sharing a database keep it there). Private keys: never log it.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        let mut blocks = vec![pem::Pem::new(PEM_TAG, self.current.pkcs8()?)];
        if let Some(previous) = &self.previous {
            blocks.push(pem::Pem::new(PEM_TAG, previous.pkcs8()?));
        }
        Ok(pem::encode_many(&blocks))
    }

    /// A ring from [`KeyRing::to_pem`]'s text.
    pub fn from_pem(text: &str) -> Result<KeyRing, KeyError> {
        parse_ring(text).map_err(KeyError::MalformedStored)
    }

    /// The `kid` id_tokens are signed with now.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// Every published key id, current first.
    pub fn kids(&self) -> Vec<&str> {
        std::iter::once(&self.current).chain(self.previous.as_ref()).map(|k| k.kid.as_str()).collect()
    }

    /// The JWKS served at `jwks_uri`: public members only (`kty`, `use`, `alg`, `kid`, `n`, `e`).
    pub fn jwks(&self) -> Value {
        let mut keys = vec![self.current.jwk.clone()];
        // A rotation always makes a fresh key, so equal kids would mean the same key twice.
        if let Some(previous) = self.previous.as_ref().filter(|p| p.kid != self.current.kid) {
            keys.push(previous.jwk.clone());
        }
        json!({ "keys": keys })
    }

    /// An RS256 compact JWS of `claims` with the current key's `kid` in its header.
    pub fn sign_id_token(&self, claims: &IdTokenClaims) -> Result<String, KeyError> {
        let payload = b64url(&serde_json::to_vec(claims)?);
        let mut token = String::with_capacity(self.current.header.len() + payload.len() + 350);
        token.push_str(&self.current.header);
        token.push('.');
        token.push_str(&payload);
        let mut signature = vec![0; self.current.pair.public_modulus_len()];
        // PKCS#1 v1.5 is deterministic; aws-lc ignores the RNG argument.
        self.current
            .pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), token.as_bytes(), &mut signature)
            .map_err(|_| KeyError::Sign)?;
        token.push('.');
        token.push_str(&b64url(&signature));
        Ok(token)
    }
}

fn load(path: &Path) -> Result<KeyRing, KeyError> {
    let io_err = |source| KeyError::Io { path: path.to_path_buf(), source };
    let malformed = |reason: String| KeyError::Malformed { path: path.to_path_buf(), reason };
    let file = File::open(path).map_err(io_err)?;
    // Checked on the open handle, so the file checked is the file read.
    let meta = file.metadata().map_err(io_err)?;
    check_private(path, &meta)?;
    let mut text = String::new();
    file.take(KEY_FILE_MAX_BYTES).read_to_string(&mut text).map_err(io_err)?;
    parse_ring(&text).map_err(malformed)
}

/// One or two PKCS#8 RSA keys in PEM, current first.
fn parse_ring(text: &str) -> Result<KeyRing, String> {
    let blocks = pem::parse_many(text).map_err(|e| e.to_string())?;
    let mut keys = Vec::with_capacity(blocks.len());
    for block in &blocks {
        if block.tag() != PEM_TAG {
            return Err(format!("a `{}` block where a `{PEM_TAG}` was expected", block.tag()));
        }
        keys.push(SigningKey::from_pkcs8(block.contents())?);
    }
    if keys.len() > 2 {
        return Err("more than two keys in it".into());
    }
    let mut keys = keys.into_iter();
    let current = keys.next().ok_or_else(|| "no key in it".to_owned())?;
    Ok(KeyRing { current, previous: keys.next() })
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::InsecurePermissions { path: path.to_path_buf(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata) -> Result<(), KeyError> {
    // Windows has no mode bits; the file lives in the user's profile directory, whose ACL is private.
    Ok(())
}

enum Publish {
    /// First start: never overwrite a key another process just wrote.
    CreateNew,
    /// Rotation: replace the file in one step.
    Replace,
}

/// Writes the whole file beside its destination with mode 0600, syncs it, then links or renames it
/// into place, so a crash never leaves a half-written key file behind.
fn write_key_file(path: &Path, ring: &KeyRing, publish: Publish) -> Result<(), KeyError> {
    let io_err = |source| KeyError::Io { path: path.to_path_buf(), source };
    let text = ring.to_pem()?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Unique per process and call: two threads of one process may create or rotate at once.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(".{name}.{}-{}.tmp", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed)));
    // A crashed earlier run of a process with the same id may have left one behind.
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = private_file(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        match publish {
            Publish::CreateNew => match fs::hard_link(&tmp, path) {
                // A file system without hard links (FAT, some network mounts): rename, which only
                // loses to a concurrent first start in the instant between this check and the rename.
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists && !path.exists() => fs::rename(&tmp, path),
                other => other,
            },
            Publish::Replace => fs::rename(&tmp, path),
        }?;
        // The new directory entry survives a crash only once the directory is synced.
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        Ok(())
    })();
    let _ = fs::remove_file(&tmp);
    result.map_err(io_err)
}

fn private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::thumbprint;

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1: the RSA key of RFC 7517 appendix A.1 and its SHA-256 thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX\
                 jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSq\
                 zs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHa\
                 Q-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
