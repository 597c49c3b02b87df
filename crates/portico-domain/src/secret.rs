//! The secret format. Every secret Portico issues is 256 bits from the caller's CSPRNG, written as
//! `<prefix><52 base32 chars><7 base32 chars of CRC-32>`. The prefix names the kind so secret scanners can
//! spot a leaked one; the checksum lets scanners (and we) reject a mistyped or made-up value without a
//! database look-up. Only the SHA-256 digest is ever stored; comparisons are constant time.

use rand::RngCore;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Crockford-style lowercase base32 without the ambiguous letters i, l, o, u.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const BODY_CHARS: usize = 52; // ceil(256 / 5)
const CHECK_CHARS: usize = 7; // ceil(32 / 5)
                              // The body must carry at least 256 bits of the CSPRNG's output.
const _: () = assert!(BODY_CHARS * 5 >= 256);

/// What a secret is for; each kind has its own recognisable prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    /// Client secret of a patient's app credential.
    PatientApp,
    /// Client secret of a developer key.
    Developer,
    /// Secret access key of a provider key.
    Provider,
    /// An OAuth access token.
    AccessToken,
    /// A management-API session token.
    Session,
    /// Client secret of a registered third-party app.
    AppSecret,
    /// An OAuth authorization code.
    AuthCode,
    /// An OAuth refresh token.
    RefreshToken,
}

impl SecretKind {
    pub const ALL: [SecretKind; 8] = [
        SecretKind::PatientApp,
        SecretKind::Developer,
        SecretKind::Provider,
        SecretKind::AccessToken,
        SecretKind::Session,
        SecretKind::AppSecret,
        SecretKind::AuthCode,
        SecretKind::RefreshToken,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::PatientApp => "pcs_app_",
            SecretKind::Developer => "pcs_dev_",
            SecretKind::Provider => "pcs_prv_",
            SecretKind::AccessToken => "pca_",
            SecretKind::Session => "pcu_",
            SecretKind::AppSecret => "pcs_smart_",
            SecretKind::AuthCode => "pcc_",
            SecretKind::RefreshToken => "pcr_",
        }
    }
}

/// A secret value. It has no `Display` and a redacted `Debug`, so it cannot end up in a log line by accident;
/// the only way out is the explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub fn generate(kind: SecretKind, rng: &mut impl RngCore) -> Secret {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let body = base32(&bytes, BODY_CHARS);
        let check = checksum(kind.prefix(), &body);
        Secret(format!("{}{body}{check}", kind.prefix()))
    }

    /// Accepts a presented value only if it has the prefix of `kind`, the right length and alphabet, and a
    /// matching checksum.
    pub fn parse(kind: SecretKind, presented: &str) -> Option<Secret> {
        let rest = presented.strip_prefix(kind.prefix())?;
        if rest.len() != BODY_CHARS + CHECK_CHARS || !rest.bytes().all(|b| ALPHABET.contains(&b)) {
            return None;
        }
        let (body, check) = rest.split_at(BODY_CHARS);
        (checksum(kind.prefix(), body) == check).then(|| Secret(presented.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> Digest {
        Digest(Sha256::digest(self.0.as_bytes()).into())
    }

    /// A short, non-secret reminder of which secret this is: the prefix and the last four characters
    /// (checksum characters, which carry no entropy of the body).
    pub fn hint(&self) -> String {
        let tail = &self.0[self.0.len().saturating_sub(4)..];
        let prefix = self.0.split_inclusive('_').take_while(|p| p.ends_with('_')).collect::<String>();
        format!("{prefix}…{tail}")
    }
}

/// SHA-256 of a secret: what the store keeps.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 32]);

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({}…)", &self.to_hex()[..8])
    }
}

impl Digest {
    /// Constant-time equality, for comparing a presented secret with the stored one.
    pub fn ct_eq(&self, other: &Digest) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Digest> {
        bytes.try_into().ok().map(Digest)
    }
}

/// A random identifier (client ids, credential ids): 128 bits in base32 behind a prefix. Not secret.
pub fn random_id(prefix: &str, rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    format!("{prefix}{}", base32(&bytes, 26))
}

fn checksum(prefix: &str, body: &str) -> String {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(prefix.as_bytes());
    hasher.update(body.as_bytes());
    base32(&hasher.finalize().to_be_bytes(), CHECK_CHARS)
}

fn base32(bytes: &[u8], chars: usize) -> String {
    let mut out = String::with_capacity(chars);
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out.truncate(chars);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn every_kind_round_trips_and_rejects_tampering() {
        let mut rng = StdRng::seed_from_u64(7);
        for kind in SecretKind::ALL {
            let s = Secret::generate(kind, &mut rng);
            assert!(s.expose().starts_with(kind.prefix()));
            assert_eq!(Secret::parse(kind, s.expose()), Some(s.clone()));
            // One changed body character breaks the checksum.
            let mut chars: Vec<char> = s.expose().chars().collect();
            let i = kind.prefix().len() + 3;
            chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
            let tampered: String = chars.into_iter().collect();
            assert_eq!(Secret::parse(kind, &tampered), None, "{kind:?}");
            for other in SecretKind::ALL.into_iter().filter(|k| *k != kind) {
                assert_eq!(Secret::parse(other, s.expose()), None);
            }
        }
    }

    #[test]
    fn secrets_carry_256_bits_and_differ() {
        let mut rng = StdRng::seed_from_u64(1);
        let a = Secret::generate(SecretKind::PatientApp, &mut rng);
        let b = Secret::generate(SecretKind::PatientApp, &mut rng);
        assert_ne!(a, b);
        assert!(!a.digest().ct_eq(&b.digest()));
        assert!(a.digest().ct_eq(&a.digest()));
    }

    #[test]
    fn debug_and_hint_do_not_reveal_the_body() {
        let mut rng = StdRng::seed_from_u64(2);
        let s = Secret::generate(SecretKind::Provider, &mut rng);
        let body = &s.expose()[8..40];
        assert!(!format!("{s:?}").contains(body));
        let hint = s.hint();
        assert!(hint.starts_with("pcs_prv_…"), "{hint}");
        assert!(!hint.contains(body));
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in ["", "pcs_app_", "pcs_app_short", "PCS_APP_", "pca_!!!!"] {
            assert_eq!(Secret::parse(SecretKind::PatientApp, bad), None, "{bad}");
        }
    }
}
