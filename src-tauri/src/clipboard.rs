//! Copying to the real system clipboard. A copied secret is wiped after 60 seconds if the clipboard still
//! holds it (and no newer secret was copied since), so it does not linger for the next paste.

use std::time::Duration;

use tauri::{AppHandle, Manager};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::error::CommandError;
use crate::service::Desktop;

pub const SECRET_LIFETIME: Duration = Duration::from_secs(60);

pub fn copy(app: &AppHandle, text: String, secret: bool) -> Result<(), CommandError> {
    app.clipboard().write_text(text.clone()).map_err(|e| CommandError::new("internal", format!("Could not copy: {e}")))?;
    if secret {
        let generation = app.state::<Desktop>().next_clipboard_generation();
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(SECRET_LIFETIME).await;
            let current = app.state::<Desktop>().clipboard_generation.load(std::sync::atomic::Ordering::SeqCst);
            let still_there = app.clipboard().read_text().map(|t| t == text).unwrap_or(false);
            if current == generation && still_there {
                if let Err(e) = app.clipboard().write_text(String::new()) {
                    tracing::warn!(error = %e, "could not clear the clipboard");
                }
            }
        });
    }
    Ok(())
}
