//! People: users, their roles and practice memberships, and password hashing.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::{CryptoRng, RngCore};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PracticeId(pub i64);

/// What a user may do. A user may hold several; Developer combines with any other. (Serialized as
/// [`Role::as_str`] names it.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Administrator,
    Provider,
    Developer,
    Nurse,
    FrontDesk,
    Patient,
    /// A third-party app developer (self-service signup): registers apps and asks practices to approve
    /// them, nothing else. Not staff, in no practice, reaches no health data.
    AppDeveloper,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::Administrator, Role::Provider, Role::Developer, Role::Nurse, Role::FrontDesk, Role::Patient, Role::AppDeveloper];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Provider => "provider",
            Role::Developer => "developer",
            Role::Nurse => "nurse",
            Role::FrontDesk => "front_desk",
            Role::Patient => "patient",
            Role::AppDeveloper => "app_developer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Clinical roles may change health records; a developer key inherits this from its owner.
    pub fn writes_clinical_data(self) -> bool {
        matches!(self, Role::Provider | Role::Nurse)
    }

    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Patient | Role::AppDeveloper)
    }

    /// May register third-party apps and request practice approval for them.
    pub fn registers_apps(self) -> bool {
        matches!(self, Role::Developer | Role::AppDeveloper)
    }
}

/// A login name: 3–64 characters of lowercase letters, digits, `.`, `_` and `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Option<Username> {
        let ok =
            (3..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        ok.then(|| Username(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs 8 to 256 characters")]
    Length,
    #[error("password hashing failed")]
    Hash,
}

/// Argon2id with the crate's default (OWASP-recommended) parameters and a fresh salt.
pub fn hash_password(password: &str, rng: &mut (impl RngCore + CryptoRng)) -> Result<String, PasswordError> {
    if !(8..=256).contains(&password.chars().count()) {
        return Err(PasswordError::Length);
    }
    let salt = SaltString::generate(rng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| PasswordError::Hash)
}

/// Constant-time verification (done inside argon2). A malformed stored hash simply fails.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let mut rng = rand::rngs::OsRng;
        let h = hash_password("correct horse", &mut rng).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(matches!(hash_password("short", &mut rng), Err(PasswordError::Length)));
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(!Role::AppDeveloper.is_staff() && !Role::AppDeveloper.writes_clinical_data());
        let registrars: Vec<Role> = Role::ALL.into_iter().filter(|r| r.registers_apps()).collect();
        assert_eq!(registrars, [Role::Developer, Role::AppDeveloper]);
    }

    #[test]
    fn usernames() {
        for (s, ok) in [("admin", true), ("dr.who-2", true), ("ab", false), ("Admin", false), ("a b c", false)] {
            assert_eq!(Username::parse(s).is_some(), ok, "{s}");
        }
    }
}
