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
use crate::remote;
use crate::service::{Desktop, ServiceState, Session};
use portico_offline::Action;

type Result<T> = std::result::Result<T, CommandError>;

#[derive(Serialize)]
pub struct ServiceStatus {
    mode: &'static str,
    ready: bool,
    server_name: String,
    base_url: String,
    fhir_base_url: String,
    token_url: String,
    keychain: &'static str,
    keychain_label: &'static str,
    keychain_message: Option<String>,
    startup_ms: u128,
    error: Option<String>,
}

fn status_of(desktop: &Desktop) -> ServiceStatus {
    let (keychain, keychain_label, keychain_message) =
        (desktop.keychain.kind(), desktop.keychain.label(), desktop.keychain.message().map(str::to_owned));
    let startup_ms = desktop.started.elapsed().as_millis();
    if let Some(server) = desktop.current_server() {
        return ServiceStatus {
            mode: "remote",
            ready: true,
            server_name: server.info.name,
            base_url: server.info.base_url,
            fhir_base_url: server.info.fhir_base_url,
            token_url: server.info.token_endpoint,
            keychain,
            keychain_label,
            keychain_message,
            startup_ms,
            error: None,
        };
    }
    let state = desktop.state.borrow().clone();
    let (ready, config, error) = match state {
        ServiceState::Ready(c) => (true, Some(c), None),
        ServiceState::Starting | ServiceState::Idle => (false, None, None),
        ServiceState::Failed(m) => (false, None, Some(m)),
    };
    ServiceStatus {
        mode: "embedded",
        ready,
        server_name: "This computer (demo)".into(),
        base_url: config.as_ref().map(|c| c.base_url.clone()).unwrap_or_default(),
        fhir_base_url: config.as_ref().map(|c| c.fhir_base()).unwrap_or_default(),
        token_url: config.as_ref().map(|c| c.token_url()).unwrap_or_default(),
        keychain,
        keychain_label,
        keychain_message,
        startup_ms,
        error,
    }
}

#[tauri::command]
pub async fn service_status(desktop: State<'_, Desktop>) -> Result<ServiceStatus> {
    Ok(status_of(&desktop))
}

#[derive(Serialize)]
pub struct DemoAccount {
    username: &'static str,
    display_name: &'static str,
    roles: Vec<&'static str>,
    password: String,
}

/// The embedded demo's accounts, one per role, so a newcomer can try each in one click. Their password is
/// this launch's own (not the public demo one), so it is known only once the service is up. None on a
/// remote server.
#[tauri::command]
pub async fn demo_accounts(desktop: State<'_, Desktop>) -> Result<Vec<DemoAccount>> {
    if desktop.current_server().is_some() {
        return Ok(Vec::new());
    }
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

/// Signs back in from the keychain: the embedded demo's session token, or a remote server's refresh token
/// (renewed now; when the server cannot be reached, the person sees what was cached, offline).
#[tauri::command]
pub async fn restore_session(desktop: State<'_, Desktop>) -> Result<Option<wire::User>> {
    match desktop.current_server() {
        Some(server) => remote::restore(&desktop, server).await,
        None => {
            let config = desktop.ready().await?;
            let Some(token) = desktop.keychain.load(EMBEDDED_ACCOUNT) else { return Ok(None) };
            let client = Client::new(&config.base_url)?.with_session(token);
            match client.me().await {
                Ok(user) => {
                    *desktop.session.lock().await = Some(Session::Embedded(client));
                    Ok(Some(user))
                }
                Err(e) if e.status() == Some(401) => {
                    desktop.keychain.forget(EMBEDDED_ACCOUNT);
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Password sign-in, for the embedded service (a remote server signs in through the browser).
#[tauri::command]
pub async fn sign_in(desktop: State<'_, Desktop>, username: String, password: String) -> Result<wire::User> {
    if desktop.current_server().is_some() {
        return Err(CommandError::new("invalid_input", "This server signs you in through your browser."));
    }
    let config = desktop.ready().await?;
    let mut client = Client::new(&config.base_url)?;
    let session = client.sign_in(&username, &password).await?;
    desktop.keychain.save(EMBEDDED_ACCOUNT, &session.token);
    *desktop.session.lock().await = Some(Session::Embedded(client));
    Ok(session.user)
}

#[tauri::command]
pub async fn sign_out(desktop: State<'_, Desktop>) -> Result<()> {
    let session = desktop.session.lock().await.take();
    match session {
        Some(Session::Remote(r)) => remote::sign_out(&desktop, r).await,
        Some(Session::Embedded(mut c)) => {
            desktop.keychain.forget(EMBEDDED_ACCOUNT);
            // The local session is gone either way; a failed server call only leaves a session that expires.
            if let Err(e) = c.sign_out().await {
                tracing::warn!(error = %e, "sign-out call failed");
            }
            Ok(())
        }
        None => {
            desktop.keychain.forget(EMBEDDED_ACCOUNT);
            Ok(())
        }
    }
}

#[tauri::command]
pub async fn list_credentials(desktop: State<'_, Desktop>) -> Result<Vec<wire::Credential>> {
    desktop.cached("credentials", |c| async move { c.credentials().await }).await
}

#[tauri::command]
pub async fn create_credential(desktop: State<'_, Desktop>, req: wire::NewCredential) -> Result<wire::IssuedSecret> {
    desktop.needs_server("Creating a credential (its secret is shown only once)")?;
    desktop.expect_change(&["credentials", "staff_credentials"]);
    Ok(desktop.signed_in().await?.create_credential(&req).await?)
}

#[tauri::command]
pub async fn update_credential(
    desktop: State<'_, Desktop>,
    id: String,
    change: wire::CredentialUpdate,
) -> Result<wire::Credential> {
    let name = desktop.name_of(&id).await;
    let only_window = change.name.is_none() && change.note.is_none() && change.patients.is_none();
    let action = match (&change.active, &change.valid_from, &change.valid_to) {
        (Some(active), None, None) if only_window => Some(Action::SetCredentialActive { id: id.clone(), name, active: *active }),
        (None, from, to) if only_window && (from.is_some() || to.is_some()) => Some(Action::SetValidity {
            id: id.clone(),
            name,
            valid_from: from.flatten().map(|t| t.to_rfc3339()),
            valid_to: to.flatten().map(|t| t.to_rfc3339()),
        }),
        _ => None,
    };
    match action {
        Some(action) => {
            desktop
                .or_queue(
                    action,
                    &["credentials", "staff_credentials"],
                    |c| async move { c.update_credential(&id, &change).await },
                )
                .await
        }
        None => {
            desktop.needs_server("Editing a credential")?;
            desktop.expect_change(&["credentials", "staff_credentials"]);
            Ok(desktop.signed_in().await?.update_credential(&id, &change).await?)
        }
    }
}

#[tauri::command]
pub async fn regenerate_credential(
    desktop: State<'_, Desktop>,
    id: String,
    grace_seconds: Option<u32>,
) -> Result<wire::IssuedSecret> {
    desktop.needs_server("Regenerating a secret")?;
    desktop.expect_change(&["credentials", "staff_credentials"]);
    Ok(desktop.signed_in().await?.regenerate(&id, grace_seconds).await?)
}

#[tauri::command]
pub async fn delete_credential(desktop: State<'_, Desktop>, id: String) -> Result<wire::Deleted> {
    let action = Action::DeleteCredential { id: id.clone(), name: desktop.name_of(&id).await };
    desktop
        .or_queue(
            action,
            &["credentials", "staff_credentials", "connected_apps"],
            |c| async move { c.delete_credential(&id).await },
        )
        .await
}

#[tauri::command]
pub async fn receipts(desktop: State<'_, Desktop>) -> Result<Vec<wire::RevocationReceipt>> {
    desktop.cached("receipts", |c| async move { c.receipts().await }).await
}

#[tauri::command]
pub async fn preview(desktop: State<'_, Desktop>, id: String) -> Result<wire::Preview> {
    desktop
        .cached(&format!("preview:{id}"), |c| {
            let id = id.clone();
            async move { c.preview(&id).await }
        })
        .await
}

#[tauri::command]
pub async fn preview_fhir(desktop: State<'_, Desktop>, id: String, path: String) -> Result<Value> {
    Ok(desktop.signed_in().await?.preview_fhir(&id, &path).await?)
}

#[tauri::command]
pub async fn history(desktop: State<'_, Desktop>, id: String) -> Result<Vec<wire::AccessEvent>> {
    desktop
        .cached(&format!("history:{id}"), |c| {
            let id = id.clone();
            async move { c.history(&id).await }
        })
        .await
}

/// Administrators: one page of the users they manage, as the service searched, filtered, sorted and paged it.
/// In remote mode each page asked for is cached under its own query, so what was seen stays readable offline.
#[tauri::command]
pub async fn users(desktop: State<'_, Desktop>, query: Option<wire::UserQuery>) -> Result<wire::Page<wire::User>> {
    let query = query.unwrap_or_default();
    let key = format!("users:{}", serde_json::to_string(&query).unwrap_or_default());
    desktop
        .cached(&key, |c| {
            let query = query.clone();
            async move { c.users(&query).await }
        })
        .await
}

#[tauri::command]
pub async fn set_roles(desktop: State<'_, Desktop>, user_id: i64, roles: Vec<String>) -> Result<wire::User> {
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    desktop.needs_server("Changing roles")?;
    Ok(desktop.signed_in().await?.set_roles(user_id, &roles).await?)
}

#[tauri::command]
pub async fn set_practices(desktop: State<'_, Desktop>, user_id: i64, practices: Vec<i64>) -> Result<wire::User> {
    desktop.needs_server("Changing practices")?;
    Ok(desktop.signed_in().await?.set_practices(user_id, &practices).await?)
}

/// What needs attention among the person's own credentials and connected apps; from the cache when offline.
#[tauri::command]
pub async fn nudges(desktop: State<'_, Desktop>) -> Result<Vec<wire::Nudge>> {
    desktop.cached("nudges", |c| async move { c.nudges().await }).await
}

/// Administrators: the practice-wide view of staff keys to review, per "unused for N days".
#[tauri::command]
pub async fn practice_nudges(desktop: State<'_, Desktop>, unused_days: Option<u32>) -> Result<Vec<wire::Nudge>> {
    let key = format!("practice_nudges:{}", unused_days.unwrap_or(60));
    desktop.cached(&key, move |c| async move { c.practice_nudges(unused_days).await }).await
}

/// "Got it" on an access-change notice (the owner's own). Needs the server: the notice stays until it says so.
#[tauri::command]
pub async fn acknowledge_access_change(desktop: State<'_, Desktop>, notice_id: i64) -> Result<wire::AccessChangeAcknowledged> {
    desktop.needs_server("Acknowledging a change")?;
    desktop.expect_change(&["nudges"]);
    Ok(desktop.signed_in().await?.acknowledge_access_change(notice_id).await?)
}

/// Administrators: one page of the staff keys of their practices; cached per query in remote mode like
/// `users`, and what the page says of the whole list kept for "changed on the server" and the outbox's names.
#[tauri::command]
pub async fn staff_credentials(
    desktop: State<'_, Desktop>,
    query: Option<wire::StaffKeyQuery>,
) -> Result<wire::Page<wire::StaffKey>> {
    let query = query.unwrap_or_default();
    let key = format!("staff_credentials:{}", serde_json::to_string(&query).unwrap_or_default());
    let (page, fresh) = desktop
        .cached_fresh(&key, |c| {
            let query = query.clone();
            async move { c.staff_credentials(&query).await }
        })
        .await?;
    if fresh {
        desktop.remember_staff_keys(&query, &page).await;
    }
    Ok(page)
}

/// A search as the person types: never cached (each keystroke's answer is only good for that keystroke).
#[tauri::command]
pub async fn patients(
    desktop: State<'_, Desktop>,
    query: Option<String>,
    limit: Option<usize>,
) -> Result<Vec<wire::PatientSummary>> {
    Ok(desktop.signed_in().await?.patients(query.as_deref(), limit).await?)
}

/// The summaries of given patients (chips, preview names); in remote mode kept for offline use.
#[tauri::command]
pub async fn patients_by_id(desktop: State<'_, Desktop>, ids: Vec<String>) -> Result<Vec<wire::PatientSummary>> {
    desktop.patients_by_id(ids).await
}

#[tauri::command]
pub async fn practices(desktop: State<'_, Desktop>) -> Result<Vec<wire::Practice>> {
    desktop.cached("practices", |c| async move { c.practices().await }).await
}

#[tauri::command]
pub async fn capability_statement(desktop: State<'_, Desktop>) -> Result<Value> {
    let base = desktop.base_url().await?;
    desktop
        .cached("capability_statement", |_| {
            let base = base.clone();
            async move { Client::new(&base)?.capability_statement().await }
        })
        .await
}

/// What the service offers besides its URLs: sign-up, the sample app. Asked without a session, because the
/// sign-in screen needs it.
#[tauri::command]
pub async fn service_features(desktop: State<'_, Desktop>) -> Result<ServiceFeatures> {
    let base = desktop.base_url().await?;
    match Client::new(&base)?.features().await {
        Ok(f) => Ok(f),
        // Offline, a remote server offers nothing extra (sign-up, the sample app) until it is back.
        Err(e) if e.is_unreachable() && desktop.current_server().is_some() => Ok(ServiceFeatures::default()),
        Err(e) => Err(e.into()),
    }
}

/// Creates a developer account and signs in as it, keeping the session like `sign_in` does.
#[tauri::command]
pub async fn sign_up(desktop: State<'_, Desktop>, req: wire::Signup) -> Result<wire::User> {
    if desktop.current_server().is_some() {
        return Err(CommandError::new("invalid_input", "Create an account on this server's own sign-in page."));
    }
    let config = desktop.ready().await?;
    let mut client = Client::new(&config.base_url)?;
    let session = client.sign_up(&req).await?;
    desktop.keychain.save(EMBEDDED_ACCOUNT, &session.token);
    *desktop.session.lock().await = Some(Session::Embedded(client));
    Ok(session.user)
}

#[tauri::command]
pub async fn list_apps(desktop: State<'_, Desktop>) -> Result<Vec<wire::App>> {
    desktop.cached("apps", |c| async move { c.apps().await }).await
}

#[tauri::command]
pub async fn register_app(desktop: State<'_, Desktop>, req: wire::NewApp) -> Result<wire::IssuedAppSecret> {
    desktop.needs_server("Registering an app (its secret is shown only once)")?;
    desktop.expect_change(&["apps"]);
    Ok(desktop.signed_in().await?.register_app(&req).await?)
}

#[tauri::command]
pub async fn update_app(desktop: State<'_, Desktop>, id: String, change: wire::AppUpdate) -> Result<wire::App> {
    desktop.needs_server("Editing an app")?;
    desktop.expect_change(&["apps"]);
    Ok(desktop.signed_in().await?.update_app(&id, &change).await?)
}

#[tauri::command]
pub async fn delete_app(desktop: State<'_, Desktop>, id: String) -> Result<AppDeleted> {
    let action = Action::DeleteApp { id: id.clone(), name: desktop.name_of(&id).await };
    desktop.or_queue(action, &["apps"], |c| async move { c.delete_app(&id).await }).await
}

#[tauri::command]
pub async fn rotate_app_secret(
    desktop: State<'_, Desktop>,
    id: String,
    grace_minutes: Option<u32>,
) -> Result<wire::IssuedAppSecret> {
    desktop.needs_server("Rotating a secret")?;
    Ok(desktop.signed_in().await?.rotate_app_secret(&id, grace_minutes).await?)
}

#[tauri::command]
pub async fn request_approval(desktop: State<'_, Desktop>, app_id: String, practice_id: i64) -> Result<wire::Approval> {
    desktop.needs_server("Asking for approval")?;
    desktop.expect_change(&["apps", "approvals"]);
    Ok(desktop.signed_in().await?.request_approval(&app_id, practice_id).await?)
}

#[tauri::command]
pub async fn approvals(desktop: State<'_, Desktop>) -> Result<Vec<wire::Approval>> {
    desktop.cached("approvals", |c| async move { c.approvals().await }).await
}

#[tauri::command]
pub async fn decide_approval(
    desktop: State<'_, Desktop>,
    app_id: String,
    practice_id: i64,
    decision: wire::ApprovalDecision,
) -> Result<wire::Approval> {
    let approve = match decision.status.as_str() {
        "approved" => Some(true),
        "denied" => Some(false),
        _ => None,
    };
    let Some(approve) = approve else {
        desktop.needs_server("Withdrawing an approval")?;
        desktop.expect_change(&["approvals"]);
        return Ok(desktop.signed_in().await?.decide_approval(&app_id, practice_id, &decision).await?);
    };
    let (app_name, practice_name) = approval_names(&desktop, &app_id, practice_id).await;
    let action = Action::DecideApproval {
        app_id: app_id.clone(),
        app_name,
        practice_id,
        practice_name,
        approve,
        reason: decision.reason.clone(),
    };
    desktop.or_queue(action, &["approvals"], |c| async move { c.decide_approval(&app_id, practice_id, &decision).await }).await
}

#[tauri::command]
pub async fn connected_apps(desktop: State<'_, Desktop>) -> Result<Vec<wire::ConnectedApp>> {
    desktop.cached("connected_apps", |c| async move { c.connected_apps().await }).await
}

#[tauri::command]
pub async fn extend_grant(desktop: State<'_, Desktop>, id: String, change: wire::ExtendGrant) -> Result<wire::ConnectedApp> {
    desktop.needs_server("Changing an end date")?;
    desktop.expect_change(&["connected_apps"]);
    Ok(desktop.signed_in().await?.extend_grant(&id, &change).await?)
}

/// "Try a sample app": opens the service's sample SMART app in the system browser. The URL comes from the
/// service, never from the page.
#[tauri::command]
pub async fn open_sample_app(app: AppHandle, desktop: State<'_, Desktop>) -> Result<String> {
    let base = desktop.base_url().await?;
    let features = Client::new(&base)?.features().await?;
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

pub fn open_in_browser(app: &AppHandle, url: &str) -> Result<()> {
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

/// A timing the UI measured, printed for the benchmarks with the time since the process started.
#[tauri::command]
pub fn report_timing(desktop: State<'_, Desktop>, name: String, ms: f64) {
    println!(
        "PORTICO_TIMING name={} ms={ms:.1} since_start_ms={}",
        name.chars().take(32).collect::<String>(),
        desktop.started.elapsed().as_millis()
    );
}

/// The app's and the practice's names as the person saw them in the approvals list (for the outbox's words):
/// read from the cache, like `Desktop::name_of`, never fetched just for a label.
async fn approval_names(desktop: &Desktop, app_id: &str, practice_id: i64) -> (String, String) {
    let who = desktop.account().await;
    let listed: Option<Vec<wire::Approval>> = who.and_then(|who| desktop.recall(&who, "approvals"));
    listed
        .into_iter()
        .flatten()
        .find(|a| a.app_id == app_id && a.practice_id == practice_id)
        .map(|a| (a.app_name, a.practice_name))
        .unwrap_or_else(|| (app_id.to_owned(), format!("practice {practice_id}")))
}

// ---- servers and remote sign-in ----

#[tauri::command]
pub fn servers(desktop: State<'_, Desktop>) -> Vec<remote::ServerEntry> {
    remote::entries(&desktop)
}

#[tauri::command]
pub async fn add_server(desktop: State<'_, Desktop>, url: String) -> Result<remote::ServerEntry> {
    remote::add(&desktop, &url).await
}

#[tauri::command]
pub async fn remove_server(desktop: State<'_, Desktop>, id: String) -> Result<()> {
    remote::remove(&desktop, &id).await
}

#[tauri::command]
pub async fn switch_server(desktop: State<'_, Desktop>, id: String) -> Result<ServiceStatus> {
    remote::switch(&desktop, &id).await?;
    Ok(status_of(&desktop))
}

#[tauri::command]
pub async fn sign_in_browser(app: AppHandle, desktop: State<'_, Desktop>) -> Result<wire::User> {
    remote::sign_in_browser(&app, &desktop).await
}

#[tauri::command]
pub fn cancel_sign_in(desktop: State<'_, Desktop>) {
    if let Some(tx) = desktop.sign_in_cancel.lock().ok().and_then(|mut c| c.take()) {
        let _ = tx.send(());
    }
}

#[tauri::command]
pub async fn connection_status(desktop: State<'_, Desktop>) -> Result<crate::sync::ConnectionStatus> {
    Ok(desktop.status().await)
}

#[tauri::command]
pub async fn sync_now(desktop: State<'_, Desktop>) -> Result<crate::sync::ConnectionStatus> {
    Ok(desktop.sync().await)
}

#[tauri::command]
pub async fn cancel_outbox(desktop: State<'_, Desktop>, id: i64) -> Result<()> {
    if desktop.cancel_outbox(id).await? {
        Ok(())
    } else {
        Err(CommandError::new("conflict", "It is being sent right now, or was already sent."))
    }
}

#[tauri::command]
pub async fn dismiss_outcomes(desktop: State<'_, Desktop>) -> Result<()> {
    desktop.dismiss_outcomes().await
}

#[derive(Serialize)]
pub struct Exported {
    path: String,
    bytes: usize,
}

/// The patient's whole access history as a file in their Downloads folder (`PORTICO_DOWNLOAD_DIR` instead,
/// for tests): CSV for a spreadsheet, or FHIR R4 AuditEvents for another health system. Never overwrites a
/// file: a second export the same day gets `-2`, `-3`...
#[tauri::command]
pub async fn export_access_history(app: AppHandle, desktop: State<'_, Desktop>, format: String) -> Result<Exported> {
    let format =
        wire::AccessHistoryFormat::parse(&format).ok_or_else(|| CommandError::new("invalid_input", "Export as csv or fhir."))?;
    desktop.needs_server("Exporting your access history")?;
    let bytes = desktop.signed_in().await?.export_access_history(format).await?;
    let dir = match std::env::var_os("PORTICO_DOWNLOAD_DIR") {
        Some(d) => std::path::PathBuf::from(d),
        None => tauri::Manager::path(&app)
            .download_dir()
            .map_err(|_| CommandError::new("internal", "This computer has no Downloads folder to save to."))?,
    };
    let path = crate::export::save(&dir, format, chrono::Utc::now().date_naive(), &bytes)
        .map_err(|e| CommandError::new("internal", format!("The file could not be saved in {}: {e}", dir.display())))?;
    Ok(Exported { path: path.display().to_string(), bytes: bytes.len() })
}
