//! Tauri commands: the UI's only way in. Each parses its arguments, makes one `portico-client` call over
//! HTTP to the service, and maps the error to `{code, message}`.

use std::sync::atomic::Ordering;

use portico_api as wire;
use portico_client::{AppDeleted, Client, ServiceFeatures};
use serde::Serialize;
use serde_json::Value;
use tauri::{AppHandle, State};
use tauri_plugin_opener::OpenerExt;

use crate::error::CommandError;
use crate::keychain::EMBEDDED_ACCOUNT;
use crate::service::{Desktop, ServiceState};

type Result<T> = std::result::Result<T, CommandError>;

#[derive(Serialize)]
pub struct ServiceStatus {
    mode: &'static str,
    ready: bool,
    base_url: String,
    fhir_base_url: String,
    token_url: String,
    keychain: &'static str,
    keychain_label: &'static str,
    keychain_message: Option<String>,
    startup_ms: u128,
    error: Option<String>,
}

#[tauri::command]
pub async fn service_status(desktop: State<'_, Desktop>) -> Result<ServiceStatus> {
    let state = desktop.state.borrow().clone();
    let (ready, config, error) = match state {
        ServiceState::Ready(c) => (true, Some(c), None),
        ServiceState::Starting => (false, None, None),
        ServiceState::Failed(m) => (false, None, Some(m)),
    };
    Ok(ServiceStatus {
        mode: "embedded",
        ready,
        base_url: config.as_ref().map(|c| c.base_url.clone()).unwrap_or_default(),
        fhir_base_url: config.as_ref().map(|c| c.fhir_base()).unwrap_or_default(),
        token_url: config.as_ref().map(|c| c.token_url()).unwrap_or_default(),
        keychain: desktop.keychain.kind(),
        keychain_label: desktop.keychain.label(),
        keychain_message: desktop.keychain.message().map(str::to_owned),
        startup_ms: desktop.started.elapsed().as_millis(),
        error,
    })
}

#[derive(Serialize)]
pub struct DemoAccount {
    username: &'static str,
    display_name: &'static str,
    roles: Vec<&'static str>,
    password: String,
}

/// The embedded demo's accounts, one per role, so a newcomer can try each in one click. Their password is
/// this launch's own (not the public demo one), so it is known only once the service is up.
#[tauri::command]
pub async fn demo_accounts(desktop: State<'_, Desktop>) -> Result<Vec<DemoAccount>> {
    desktop.ready().await?;
    let Some(password) = desktop.demo_password.get() else { return Ok(Vec::new()) };
    Ok(portico_server::demo::ACCOUNTS
        .iter()
        .map(|a| DemoAccount {
            username: a.username,
            display_name: a.display_name,
            roles: a.roles.iter().map(|r| r.as_str()).collect(),
            password: password.expose().to_owned(),
        })
        .collect())
}

/// Signs back in with the session token from the keychain, if the service still accepts it.
#[tauri::command]
pub async fn restore_session(desktop: State<'_, Desktop>) -> Result<Option<wire::User>> {
    let config = desktop.ready().await?;
    let Some(token) = desktop.keychain.load(EMBEDDED_ACCOUNT) else { return Ok(None) };
    let client = Client::new(&config.base_url)?.with_session(token);
    match client.me().await {
        Ok(user) => {
            *desktop.client.lock().await = Some(client);
            Ok(Some(user))
        }
        Err(e) if e.status() == Some(401) => {
            desktop.keychain.forget(EMBEDDED_ACCOUNT);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

#[tauri::command]
pub async fn sign_in(desktop: State<'_, Desktop>, username: String, password: String) -> Result<wire::User> {
    let config = desktop.ready().await?;
    let mut client = Client::new(&config.base_url)?;
    let session = client.sign_in(&username, &password).await?;
    desktop.keychain.save(EMBEDDED_ACCOUNT, &session.token);
    *desktop.client.lock().await = Some(client);
    Ok(session.user)
}

#[tauri::command]
pub async fn sign_out(desktop: State<'_, Desktop>) -> Result<()> {
    let client = desktop.client.lock().await.take();
    desktop.keychain.forget(EMBEDDED_ACCOUNT);
    if let Some(mut c) = client {
        // The local session is gone either way; a failed server call only leaves a session that expires.
        if let Err(e) = c.sign_out().await {
            tracing::warn!(error = %e, "sign-out call failed");
        }
    }
    Ok(())
}

#[tauri::command]
pub async fn list_credentials(desktop: State<'_, Desktop>) -> Result<Vec<wire::Credential>> {
    Ok(desktop.signed_in().await?.credentials().await?)
}

#[tauri::command]
pub async fn create_credential(desktop: State<'_, Desktop>, req: wire::NewCredential) -> Result<wire::IssuedSecret> {
    Ok(desktop.signed_in().await?.create_credential(&req).await?)
}

#[tauri::command]
pub async fn update_credential(
    desktop: State<'_, Desktop>,
    id: String,
    change: wire::CredentialUpdate,
) -> Result<wire::Credential> {
    Ok(desktop.signed_in().await?.update_credential(&id, &change).await?)
}

#[tauri::command]
pub async fn regenerate_credential(
    desktop: State<'_, Desktop>,
    id: String,
    grace_seconds: Option<u32>,
) -> Result<wire::IssuedSecret> {
    Ok(desktop.signed_in().await?.regenerate(&id, grace_seconds).await?)
}

#[tauri::command]
pub async fn delete_credential(desktop: State<'_, Desktop>, id: String) -> Result<wire::Deleted> {
    Ok(desktop.signed_in().await?.delete_credential(&id).await?)
}

#[tauri::command]
pub async fn receipts(desktop: State<'_, Desktop>) -> Result<Vec<wire::RevocationReceipt>> {
    Ok(desktop.signed_in().await?.receipts().await?)
}

#[tauri::command]
pub async fn preview(desktop: State<'_, Desktop>, id: String) -> Result<wire::Preview> {
    Ok(desktop.signed_in().await?.preview(&id).await?)
}

#[tauri::command]
pub async fn preview_fhir(desktop: State<'_, Desktop>, id: String, path: String) -> Result<Value> {
    Ok(desktop.signed_in().await?.preview_fhir(&id, &path).await?)
}

#[tauri::command]
pub async fn history(desktop: State<'_, Desktop>, id: String) -> Result<Vec<wire::AccessEvent>> {
    Ok(desktop.signed_in().await?.history(&id).await?)
}

#[tauri::command]
pub async fn users(desktop: State<'_, Desktop>) -> Result<Vec<wire::User>> {
    Ok(desktop.signed_in().await?.users().await?)
}

#[tauri::command]
pub async fn set_roles(desktop: State<'_, Desktop>, user_id: i64, roles: Vec<String>) -> Result<wire::User> {
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    Ok(desktop.signed_in().await?.set_roles(user_id, &roles).await?)
}

#[tauri::command]
pub async fn set_practices(desktop: State<'_, Desktop>, user_id: i64, practices: Vec<i64>) -> Result<wire::User> {
    Ok(desktop.signed_in().await?.set_practices(user_id, &practices).await?)
}

#[tauri::command]
pub async fn staff_credentials(desktop: State<'_, Desktop>) -> Result<Vec<wire::Credential>> {
    Ok(desktop.signed_in().await?.staff_credentials().await?)
}

#[tauri::command]
pub async fn patients(desktop: State<'_, Desktop>, query: Option<String>) -> Result<Vec<wire::PatientSummary>> {
    Ok(desktop.signed_in().await?.patients(query.as_deref()).await?)
}

#[tauri::command]
pub async fn practices(desktop: State<'_, Desktop>) -> Result<Vec<wire::Practice>> {
    Ok(desktop.signed_in().await?.practices().await?)
}

#[tauri::command]
pub async fn capability_statement(desktop: State<'_, Desktop>) -> Result<Value> {
    let config = desktop.ready().await?;
    Ok(Client::new(&config.base_url)?.capability_statement().await?)
}

/// What the service offers besides its URLs: sign-up, the sample app. Asked without a session, because the
/// sign-in screen needs it.
#[tauri::command]
pub async fn service_features(desktop: State<'_, Desktop>) -> Result<ServiceFeatures> {
    let config = desktop.ready().await?;
    Ok(Client::new(&config.base_url)?.features().await?)
}

/// Creates a developer account and signs in as it, keeping the session like `sign_in` does.
#[tauri::command]
pub async fn sign_up(desktop: State<'_, Desktop>, req: wire::Signup) -> Result<wire::User> {
    let config = desktop.ready().await?;
    let mut client = Client::new(&config.base_url)?;
    let session = client.sign_up(&req).await?;
    desktop.keychain.save(EMBEDDED_ACCOUNT, &session.token);
    *desktop.client.lock().await = Some(client);
    Ok(session.user)
}

#[tauri::command]
pub async fn list_apps(desktop: State<'_, Desktop>) -> Result<Vec<wire::App>> {
    Ok(desktop.signed_in().await?.apps().await?)
}

#[tauri::command]
pub async fn register_app(desktop: State<'_, Desktop>, req: wire::NewApp) -> Result<wire::IssuedAppSecret> {
    Ok(desktop.signed_in().await?.register_app(&req).await?)
}

#[tauri::command]
pub async fn update_app(desktop: State<'_, Desktop>, id: String, change: wire::AppUpdate) -> Result<wire::App> {
    Ok(desktop.signed_in().await?.update_app(&id, &change).await?)
}

#[tauri::command]
pub async fn delete_app(desktop: State<'_, Desktop>, id: String) -> Result<AppDeleted> {
    Ok(desktop.signed_in().await?.delete_app(&id).await?)
}

#[tauri::command]
pub async fn rotate_app_secret(
    desktop: State<'_, Desktop>,
    id: String,
    grace_minutes: Option<u32>,
) -> Result<wire::IssuedAppSecret> {
    Ok(desktop.signed_in().await?.rotate_app_secret(&id, grace_minutes).await?)
}

#[tauri::command]
pub async fn request_approval(desktop: State<'_, Desktop>, app_id: String, practice_id: i64) -> Result<wire::Approval> {
    Ok(desktop.signed_in().await?.request_approval(&app_id, practice_id).await?)
}

#[tauri::command]
pub async fn approvals(desktop: State<'_, Desktop>) -> Result<Vec<wire::Approval>> {
    Ok(desktop.signed_in().await?.approvals().await?)
}

#[tauri::command]
pub async fn decide_approval(
    desktop: State<'_, Desktop>,
    app_id: String,
    practice_id: i64,
    decision: wire::ApprovalDecision,
) -> Result<wire::Approval> {
    Ok(desktop.signed_in().await?.decide_approval(&app_id, practice_id, &decision).await?)
}

#[tauri::command]
pub async fn connected_apps(desktop: State<'_, Desktop>) -> Result<Vec<wire::ConnectedApp>> {
    Ok(desktop.signed_in().await?.connected_apps().await?)
}

#[tauri::command]
pub async fn extend_grant(desktop: State<'_, Desktop>, id: String, change: wire::ExtendGrant) -> Result<wire::ConnectedApp> {
    Ok(desktop.signed_in().await?.extend_grant(&id, &change).await?)
}

/// "Try a sample app": opens the service's sample SMART app in the system browser. The URL comes from the
/// service, never from the page.
#[tauri::command]
pub async fn open_sample_app(app: AppHandle, desktop: State<'_, Desktop>) -> Result<String> {
    let config = desktop.ready().await?;
    let features = Client::new(&config.base_url)?.features().await?;
    let url =
        features.sample_app_url.ok_or_else(|| CommandError::new("not_found", "This service does not serve a sample app."))?;
    open_in_browser(&app, &url)?;
    Ok(url)
}

/// Opens an app's homepage or privacy policy in the system browser (the window itself never navigates
/// away from Portico). Only web URLs: https, or http on a loopback address as the service allows them.
#[tauri::command]
pub fn open_external(app: AppHandle, url: String) -> Result<()> {
    if !is_web_url(&url) {
        return Err(CommandError::new("invalid_input", "Only https links (or http on this computer) are opened."));
    }
    open_in_browser(&app, &url)
}

fn open_in_browser(app: &AppHandle, url: &str) -> Result<()> {
    app.opener().open_url(url, None::<&str>).map_err(|e| {
        tracing::warn!(error = %e, "could not open the system browser");
        CommandError::new("internal", "The system browser could not be opened.")
    })
}

/// https anywhere, http only on 127.0.0.1, localhost or [::1]: the same rule the service applies to an
/// app's homepage and privacy policy, checked again here because anything else could launch a handler.
fn is_web_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if url.len() > 2000 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let host_ok = |rest: &str, loopback_only: bool| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty() || authority.contains('@') {
            return false;
        }
        let host = if authority.starts_with('[') {
            authority.split_inclusive(']').next().unwrap_or("")
        } else {
            authority.split(':').next().unwrap_or("")
        };
        !host.is_empty() && (!loopback_only || matches!(host, "127.0.0.1" | "localhost" | "[::1]"))
    };
    if let Some(rest) = lower.strip_prefix("https://") {
        host_ok(rest, false)
    } else if let Some(rest) = lower.strip_prefix("http://") {
        host_ok(rest, true)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_web_urls_open() {
        for (url, ok) in [
            ("https://sleep.example/privacy", true),
            ("http://127.0.0.1:4000/sample-app/", true),
            ("http://localhost/x", true),
            ("http://[::1]:9/", true),
            ("http://sleep.example/", false),
            ("http://127.0.0.1.evil.example/", false),
            ("http://localhost@evil.example/", false),
            ("file:///etc/passwd", false),
            ("javascript:alert(1)", false),
            ("https://", false),
            ("https://a.example/ x", false),
        ] {
            assert_eq!(super::is_web_url(url), ok, "{url}");
        }
    }
}

#[tauri::command]
pub fn copy_text(app: AppHandle, text: String, secret: bool) -> Result<()> {
    crate::clipboard::copy(&app, text, secret)
}

/// Start-up timing for the benchmark: printed once, when the first screen is interactive.
#[tauri::command]
pub fn ui_ready(desktop: State<'_, Desktop>, screen: String) {
    if !desktop.ui_ready_reported.swap(true, Ordering::SeqCst) {
        println!(
            "PORTICO_UI_READY ms={} screen={}",
            desktop.started.elapsed().as_millis(),
            screen.chars().take(32).collect::<String>()
        );
    }
}

#[tauri::command]
pub fn report_timing(name: String, ms: f64) {
    println!("PORTICO_TIMING name={} ms={ms:.1}", name.chars().take(32).collect::<String>());
}
