//! The servers the desktop knows: "This computer (demo)" (the embedded service) and any number of remote
//! Portico servers, with which one is current and who last signed in there. Kept in `servers.json` in the
//! app's data folder; it holds no secret (refresh tokens are in the keychain).

use std::path::{Path, PathBuf};

use portico_client::signin::ServerInfo;
use serde::{Deserialize, Serialize};

/// The id of the embedded service in the list.
pub const EMBEDDED_ID: &str = "embedded";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedServer {
    /// Its base URL, which is also its id.
    pub id: String,
    pub info: ServerInfo,
    /// Who signed in there last (for the keychain entry and the list), until they sign out.
    #[serde(default)]
    pub signed_in_as: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SavedServers {
    /// The current server's id; `None` is the embedded service.
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub servers: Vec<SavedServer>,
}

impl SavedServers {
    pub fn current(&self) -> Option<&SavedServer> {
        let id = self.current.as_deref()?;
        self.servers.iter().find(|s| s.id == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut SavedServer> {
        self.servers.iter_mut().find(|s| s.id == id)
    }

    /// Adds a server or refreshes what is known of it; returns its id.
    pub fn upsert(&mut self, info: ServerInfo) -> String {
        let id = info.base_url.clone();
        match self.get_mut(&id) {
            Some(s) => s.info = info,
            None => self.servers.push(SavedServer { id: id.clone(), info, signed_in_as: None }),
        }
        id
    }

    pub fn remove(&mut self, id: &str) -> Option<SavedServer> {
        let i = self.servers.iter().position(|s| s.id == id)?;
        if self.current.as_deref() == Some(id) {
            self.current = None;
        }
        Some(self.servers.remove(i))
    }
}

pub struct ServerFile(PathBuf);

impl ServerFile {
    pub fn new(dir: &Path) -> ServerFile {
        ServerFile(dir.join("servers.json"))
    }

    /// The saved list; a missing or unreadable file is an empty one (the embedded service is always there).
    pub fn load(&self) -> SavedServers {
        match std::fs::read(&self.0) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "servers.json is unreadable; starting with the embedded service only");
                SavedServers::default()
            }),
            Err(_) => SavedServers::default(),
        }
    }

    /// Writes atomically (a temporary file renamed over the old one), so a crash never leaves half a list.
    pub fn save(&self, servers: &SavedServers) -> std::io::Result<()> {
        let tmp = self.0.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(servers).map_err(std::io::Error::other)?)?;
        std::fs::rename(&tmp, &self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(url: &str) -> ServerInfo {
        ServerInfo {
            base_url: url.into(),
            name: "Clinic".into(),
            authorization_endpoint: format!("{url}/oauth/authorize"),
            token_endpoint: format!("{url}/oauth/token"),
            revocation_endpoint: Some(format!("{url}/oauth/revoke")),
            fhir_base_url: format!("{url}/fhir"),
        }
    }

    #[test]
    fn the_list_survives_a_restart_and_removing_the_current_server_falls_back_to_the_embedded_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = ServerFile::new(dir.path());
        assert!(file.load().servers.is_empty());
        let mut list = SavedServers::default();
        let a = list.upsert(info("https://a.example"));
        list.upsert(info("https://b.example"));
        assert_eq!(list.upsert(info("https://a.example")), a, "no duplicate");
        list.current = Some(a.clone());
        list.get_mut(&a).unwrap().signed_in_as = Some("provider".into());
        file.save(&list).unwrap();
        let back = file.load();
        assert_eq!(back.servers.len(), 2);
        assert_eq!(back.current().unwrap().signed_in_as.as_deref(), Some("provider"));
        let mut back = back;
        back.remove(&a);
        assert!(back.current.is_none());
        std::fs::write(dir.path().join("servers.json"), b"{not json").unwrap();
        assert!(file.load().servers.is_empty(), "garbage reads as an empty list");
    }
}
