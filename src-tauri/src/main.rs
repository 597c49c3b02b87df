//! Portico's desktop shell. It works with the Portico service embedded in-process (127.0.0.1, SQLite in
//! the OS app-data folder, demo data on first run) or with a clinic's remote Portico server (signed in
//! through the system browser, readable offline from its own cache), and talks to either only through
//! `portico-client` over HTTP. Tauri commands are thin: parse, call the client, map the
//! error. The session token lives in the OS keychain (or, where there is none, in memory only); the
//! clipboard is the real one, and copied secrets are cleared after 60 seconds.

mod clipboard;
mod commands;
mod error;
mod export;
mod keychain;
mod remote;
mod servers;
mod service;
mod sync;

use std::time::Instant;

use tauri::{Manager, RunEvent};

use crate::service::Desktop;

fn main() {
    let started = Instant::now();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,portico=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_clipboard_manager::init())
        // Used from Rust only (open_sample_app, open_external); the page has no opener permission.
        .plugin(tauri_plugin_opener::init())
        .manage(Desktop::new(started))
        .invoke_handler(tauri::generate_handler![
            commands::service_status,
            commands::demo_accounts,
            commands::restore_session,
            commands::sign_in,
            commands::sign_out,
            commands::list_credentials,
            commands::create_credential,
            commands::update_credential,
            commands::regenerate_credential,
            commands::delete_credential,
            commands::receipts,
            commands::preview,
            commands::preview_fhir,
            commands::history,
            commands::users,
            commands::set_roles,
            commands::set_practices,
            commands::staff_credentials,
            commands::nudges,
            commands::practice_nudges,
            commands::acknowledge_access_change,
            commands::patients,
            commands::patients_by_id,
            commands::practices,
            commands::capability_statement,
            commands::service_features,
            commands::sign_up,
            commands::list_apps,
            commands::register_app,
            commands::update_app,
            commands::delete_app,
            commands::rotate_app_secret,
            commands::request_approval,
            commands::approvals,
            commands::decide_approval,
            commands::connected_apps,
            commands::extend_grant,
            commands::open_sample_app,
            commands::open_external,
            commands::copy_text,
            commands::ui_ready,
            commands::report_timing,
            commands::servers,
            commands::add_server,
            commands::remove_server,
            commands::switch_server,
            commands::sign_in_browser,
            commands::cancel_sign_in,
            commands::connection_status,
            commands::sync_now,
            commands::cancel_outbox,
            commands::dismiss_outcomes,
            commands::export_access_history,
        ])
        .setup(|app| {
            let data_dir = match std::env::var_os("PORTICO_DATA_DIR") {
                Some(d) => d.into(),
                None => app.path().app_data_dir()?,
            };
            std::fs::create_dir_all(&data_dir)?;
            // The saved servers and the offline cache; the embedded service starts only if it is current.
            app.state::<Desktop>().open(data_dir);
            // SIGTERM (a session ending, a test harness) quits like closing the window, so the service
            // shuts down cleanly too.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    term.recv().await;
                    handle.exit(0);
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("Portico could not start its window: {e}");
            eprintln!("Without a display, run the same flow headless: portico demo");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            // Quitting shuts the embedded service down cleanly: in-flight requests finish, SQLite closes.
            tauri::async_runtime::block_on(handle.state::<Desktop>().stop_service());
        }
    });
}
