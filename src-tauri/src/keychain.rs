//! Where sessions are kept between launches: the OS keychain through `keyring`, never a plain file.
//!
//! The Secret Service (GNOME Keyring, KWallet) keeps entries across reboots; where the desktop has none,
//! the kernel's keyutils keyring keeps them until the person logs out of the computer; where neither
//! works, nothing is kept and the person signs in again at the next launch. The UI says which one holds
//! the session. Entries are per account: the embedded demo's session, or one per remote server and user
//! (a refresh token).

use keyring::Entry;

const SERVICE: &str = "app.portico.desktop";
/// An account name used only to find out whether a backend works here.
const PROBE: &str = "probe";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    SecretService,
    Keyutils,
}

pub enum Keychain {
    Os(Backend),
    /// No usable keychain; the reason is shown to the person.
    Memory(String),
}

fn entry(backend: Backend, account: &str) -> keyring::Result<Entry> {
    Ok(match backend {
        Backend::SecretService => {
            Entry::new_with_credential(Box::new(keyring::secret_service::SsCredential::new_with_target(None, SERVICE, account)?))
        }
        Backend::Keyutils => {
            Entry::new_with_credential(Box::new(keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, account)?))
        }
    })
}

/// A backend works when reading an entry that does not exist says exactly that.
fn works(backend: Backend) -> Result<(), String> {
    let e = entry(backend, PROBE).map_err(|e| e.to_string())?;
    match e.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

impl Keychain {
    pub fn open() -> Keychain {
        // PORTICO_KEYCHAIN=keyutils skips the Secret Service (tests that must not touch a person's keyring).
        let skip_secret_service = std::env::var("PORTICO_KEYCHAIN").is_ok_and(|v| v == "keyutils");
        if !skip_secret_service && works(Backend::SecretService).is_ok() {
            return Keychain::Os(Backend::SecretService);
        }
        match works(Backend::Keyutils) {
            Ok(()) => Keychain::Os(Backend::Keyutils),
            Err(e) => Keychain::Memory(format!("No OS keychain is available ({e}); you will be signed out when Portico closes.")),
        }
    }

    /// `secret_service`, `keyutils` or `memory`, for the UI.
    pub fn kind(&self) -> &'static str {
        match self {
            Keychain::Os(Backend::SecretService) => "secret_service",
            Keychain::Os(Backend::Keyutils) => "keyutils",
            Keychain::Memory(_) => "memory",
        }
    }

    /// Where the session is kept, in words.
    pub fn label(&self) -> &'static str {
        match self {
            Keychain::Os(Backend::SecretService) => {
                "Secret Service (GNOME Keyring or KWallet): you stay signed in across restarts of this computer."
            }
            Keychain::Os(Backend::Keyutils) => {
                "Kernel keyring: you stay signed in until you log out of this computer or restart it."
            }
            Keychain::Memory(_) => "Memory only: you will be signed out when Portico closes.",
        }
    }

    pub fn message(&self) -> Option<&str> {
        match self {
            Keychain::Os(_) => None,
            Keychain::Memory(m) => Some(m),
        }
    }

    pub fn load(&self, account: &str) -> Option<String> {
        match self {
            Keychain::Os(b) => entry(*b, account).ok()?.get_password().ok(),
            Keychain::Memory(_) => None,
        }
    }

    pub fn save(&self, account: &str, secret: &str) {
        if let Keychain::Os(b) = self {
            if let Err(err) = entry(*b, account).and_then(|e| e.set_password(secret)) {
                tracing::warn!(error = %err, "could not store the session in the keychain");
            }
        }
    }

    pub fn forget(&self, account: &str) {
        if let Keychain::Os(b) = self {
            match entry(*b, account).and_then(|e| e.delete_credential()) {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(err) => tracing::warn!(error = %err, "could not remove the session from the keychain"),
            }
        }
    }
}

/// The keychain account of the embedded demo's session.
pub const EMBEDDED_ACCOUNT: &str = "session";

/// The keychain account of a remote sign-in: one per server and user.
pub fn remote_account(server: &str, username: &str) -> String {
    format!("refresh:{username}@{server}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a real Secret Service: scripts/test runs this test again inside a D-Bus session with
    /// gnome-keyring unlocked and PORTICO_TEST_SECRET_SERVICE=1. Without one it checks the fallback instead.
    #[test]
    fn a_session_is_kept_in_the_best_keychain_there_is() {
        let with_secret_service = std::env::var("PORTICO_TEST_SECRET_SERVICE").is_ok_and(|v| v == "1");
        let k = Keychain::open();
        if with_secret_service {
            assert_eq!(k.kind(), "secret_service", "a Secret Service is running: it must be chosen");
            assert!(k.label().contains("across restarts"));
        }
        if let Keychain::Memory(_) = k {
            assert_eq!(k.load("x"), None);
            return;
        }
        let account = remote_account("https://portico.test.example", &format!("unit-{}", std::process::id()));
        k.save(&account, "pcr_unit_test_value");
        assert_eq!(k.load(&account).as_deref(), Some("pcr_unit_test_value"));
        k.save(&account, "pcr_rotated");
        assert_eq!(k.load(&account).as_deref(), Some("pcr_rotated"), "a rotation replaces the entry");
        k.forget(&account);
        assert_eq!(k.load(&account), None);
    }
}
