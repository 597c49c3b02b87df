//! Remote servers: the list the Servers screen shows, adding one (its discovery document, certificate
//! problems in words), switching, and the sign-in through the system browser with its session kept in
//! the keychain: restored at start-up (offline too, from the cache), ended at sign-out by revoking the
//! refresh token at the server.

use std::time::{Duration, Instant};

use portico_api as wire;
use portico_client::signin::{self, BrowserSignIn, ConnectError};
use portico_client::Client;
use portico_offline::Account;
use serde::Serialize;
use tauri::AppHandle;

use crate::error::CommandError;
use crate::keychain::remote_account;
use crate::servers::{SavedServer, EMBEDDED_ID};
use crate::service::{renew_at, Desktop, RemoteSession, Session};

/// How long a browser sign-in waits for the person.
const SIGN_IN_WAIT: Duration = Duration::from_secs(300);

#[derive(Serialize)]
pub struct ServerEntry {
    id: String,
    kind: &'static str,
    url: Option<String>,
    name: String,
    current: bool,
    signed_in_as: Option<String>,
}

fn connect_error(e: ConnectError) -> CommandError {
    CommandError::new(e.code(), e.to_string())
}

fn remote_entry(s: &SavedServer, current: bool) -> ServerEntry {
    ServerEntry {
        id: s.id.clone(),
        kind: "remote",
        url: Some(s.info.base_url.clone()),
        name: s.info.name.clone(),
        current,
        signed_in_as: s.signed_in_as.clone(),
    }
}

pub fn entries(desktop: &Desktop) -> Vec<ServerEntry> {
    let Ok(list) = desktop.servers.lock() else { return Vec::new() };
    let mut out = vec![ServerEntry {
        id: EMBEDDED_ID.into(),
        kind: "embedded",
        url: None,
        name: "This computer (demo)".into(),
        current: list.current.is_none(),
        signed_in_as: None,
    }];
    out.extend(list.servers.iter().map(|s| remote_entry(s, list.current.as_deref() == Some(s.id.as_str()))));
    out
}

pub async fn add(desktop: &Desktop, url: &str) -> Result<ServerEntry, CommandError> {
    let info = signin::discover(&desktop.http, url).await.map_err(connect_error)?;
    let entry = {
        let mut list = desktop.servers.lock().map_err(|_| CommandError::new("internal", "The server list is unavailable."))?;
        let id = list.upsert(info);
        let current = list.current.as_deref() == Some(id.as_str());
        list.servers.iter().find(|s| s.id == id).map(|s| remote_entry(s, current))
    };
    desktop.save_servers();
    entry.ok_or_else(|| CommandError::new("internal", "The server was not added."))
}

pub async fn switch(desktop: &Desktop, id: &str) -> Result<(), CommandError> {
    // The other server's sign-in stays in the keychain, so switching back restores it.
    *desktop.session.lock().await = None;
    desktop.went_online();
    {
        let mut list = desktop.servers.lock().map_err(|_| CommandError::new("internal", "The server list is unavailable."))?;
        if id == EMBEDDED_ID {
            list.current = None;
        } else if list.servers.iter().any(|s| s.id == id) {
            list.current = Some(id.to_owned());
        } else {
            return Err(CommandError::new("not_found", "That server is not in the list."));
        }
    }
    desktop.save_servers();
    if id == EMBEDDED_ID {
        desktop.start_service();
    }
    Ok(())
}

pub async fn remove(desktop: &Desktop, id: &str) -> Result<(), CommandError> {
    if id == EMBEDDED_ID {
        return Err(CommandError::new("invalid_input", "This computer's demo service cannot be removed."));
    }
    if desktop.current_server().is_some_and(|s| s.id == id) {
        let session = desktop.session.lock().await.take();
        if let Some(Session::Remote(r)) = session {
            sign_out(desktop, r).await?;
        }
        switch(desktop, EMBEDDED_ID).await?;
    }
    let removed = desktop.servers.lock().ok().and_then(|mut l| l.remove(id));
    if let Some(SavedServer { info, signed_in_as: Some(user), .. }) = removed {
        // Signed in there but not current: end that sign-in too, and forget what this computer kept.
        let account = remote_account(&info.base_url, &user);
        if let Some(token) = desktop.keychain.load(&account) {
            if let Err(e) = signin::revoke(&desktop.http, &info, &token).await {
                tracing::warn!(error = %e, "could not end the sign-in at a removed server");
            }
        }
        desktop.keychain.forget(&account);
        desktop.forget_account(&Account { server: info.base_url.clone(), user });
    }
    desktop.save_servers();
    Ok(())
}

/// Signs in to the current remote server through the system browser; resolves when the browser comes back.
pub async fn sign_in_browser(app: &AppHandle, desktop: &Desktop) -> Result<wire::User, CommandError> {
    let server = desktop
        .current_server()
        .ok_or_else(|| CommandError::new("invalid_input", "Choose a remote server first; this computer's demo signs in here."))?;
    let flow = BrowserSignIn::start(&server.info).await.map_err(connect_error)?;
    crate::commands::open_in_browser(app, flow.url())?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    if let Ok(mut slot) = desktop.sign_in_cancel.lock() {
        *slot = Some(tx);
    }
    let tokens = tokio::select! {
        r = flow.finish(&desktop.http, SIGN_IN_WAIT) => r.map_err(connect_error)?,
        _ = rx => return Err(CommandError::new("cancelled", "Sign-in cancelled.")),
    };
    let client = Client::new(&server.info.base_url)?.with_session(tokens.access_token.clone());
    let user = client.me().await?;
    desktop.keychain.save(&remote_account(&server.info.base_url, &user.username), &tokens.refresh_token);
    if let Ok(mut list) = desktop.servers.lock() {
        if let Some(s) = list.get_mut(&server.id) {
            s.signed_in_as = Some(user.username.clone());
        }
    }
    desktop.save_servers();
    *desktop.session.lock().await = Some(Session::Remote(Box::new(RemoteSession {
        client,
        server: server.info,
        username: user.username.clone(),
        refresh_token: tokens.refresh_token,
        renew_at: renew_at(tokens.expires_in),
    })));
    desktop.went_online();
    // Kept for an offline start-up: who was signed in (the answer above, not asked for again).
    if let (Some(who), Ok(json)) = (desktop.account().await, serde_json::to_value(&user)) {
        desktop.remember(&who, "me", &json);
    }
    Ok(user)
}

/// Back in from the keychain's refresh token; offline, the person as cached (their lists come from the cache).
pub async fn restore(desktop: &Desktop, server: SavedServer) -> Result<Option<wire::User>, CommandError> {
    let Some(username) = server.signed_in_as.clone() else { return Ok(None) };
    let account = remote_account(&server.info.base_url, &username);
    let Some(refresh_token) = desktop.keychain.load(&account) else { return Ok(None) };
    let mut session = RemoteSession {
        client: Client::new(&server.info.base_url)?,
        server: server.info.clone(),
        username: username.clone(),
        refresh_token,
        renew_at: Instant::now(),
    };
    match desktop.renew(&mut session).await {
        Ok(()) => {
            *desktop.session.lock().await = Some(Session::Remote(Box::new(session)));
            desktop.went_online();
            Ok(Some(desktop.cached("me", |c| async move { c.me().await }).await?))
        }
        Err(ConnectError::Refused(_)) => {
            // The sign-in ended at the server (signed out elsewhere, expired): sign in again.
            desktop.keychain.forget(&account);
            if let Ok(mut list) = desktop.servers.lock() {
                if let Some(s) = list.get_mut(&server.id) {
                    s.signed_in_as = None;
                }
            }
            desktop.save_servers();
            Ok(None)
        }
        Err(_) => {
            *desktop.session.lock().await = Some(Session::Remote(Box::new(session)));
            desktop.went_offline();
            // The person as last seen; their lists then come from the cache too.
            desktop.cached("me", |c| async move { c.me().await }).await.map(Some)
        }
    }
}

/// Ends a remote sign-in: revoked at the server (its refresh token and every session it minted), forgotten
/// in the keychain, and what this computer cached of it removed.
pub async fn sign_out(desktop: &Desktop, r: Box<RemoteSession>) -> Result<(), CommandError> {
    let revoked = signin::revoke(&desktop.http, &r.server, &r.refresh_token).await;
    desktop.keychain.forget(&remote_account(&r.server.base_url, &r.username));
    if let Ok(mut list) = desktop.servers.lock() {
        if let Some(s) = list.get_mut(&r.server.base_url) {
            s.signed_in_as = None;
        }
    }
    desktop.save_servers();
    desktop.forget_account(&Account { server: r.server.base_url.clone(), user: r.username.clone() });
    match revoked {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "the server did not confirm the sign-out");
            Err(CommandError::new(
                "unavailable",
                "Signed out on this computer, but the server could not be told; the sign-in ends there when it expires.",
            ))
        }
    }
}
