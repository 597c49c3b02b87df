//! Where the session token is kept between launches: the OS keychain through `keyring`, or, where no
//! keychain works, nowhere but memory (never a plain file).

use keyring::Entry;

const SERVICE: &str = "app.portico.desktop";
const ACCOUNT: &str = "session";

pub enum Keychain {
    Os(Entry),
    /// No usable keychain; the reason is shown to the user.
    Memory(String),
}

impl Keychain {
    pub fn open() -> Keychain {
        let entry = match Entry::new(SERVICE, ACCOUNT) {
            Ok(e) => e,
            Err(e) => {
                return Keychain::Memory(format!(
                    "No OS keychain is available ({e}); you will be signed out when Portico closes."
                ))
            }
        };
        // Probe once: a missing entry is fine, anything else means the backend does not work here.
        match entry.get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) => Keychain::Os(entry),
            Err(e) => {
                Keychain::Memory(format!("The OS keychain cannot be used ({e}); you will be signed out when Portico closes."))
            }
        }
    }

    pub fn is_os(&self) -> bool {
        matches!(self, Keychain::Os(_))
    }

    pub fn message(&self) -> Option<&str> {
        match self {
            Keychain::Os(_) => None,
            Keychain::Memory(m) => Some(m),
        }
    }

    pub fn load(&self) -> Option<String> {
        match self {
            Keychain::Os(e) => e.get_password().ok(),
            Keychain::Memory(_) => None,
        }
    }

    pub fn save(&self, token: &str) {
        if let Keychain::Os(e) = self {
            if let Err(err) = e.set_password(token) {
                tracing::warn!(error = %err, "could not store the session in the keychain");
            }
        }
    }

    pub fn forget(&self) {
        if let Keychain::Os(e) = self {
            match e.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(err) => tracing::warn!(error = %err, "could not remove the session from the keychain"),
            }
        }
    }
}
