//! Copying to the real system clipboard. A copied secret is wiped after 60 seconds if the clipboard still
//! holds it (and no newer secret was copied since), so it does not linger for the next paste.

use std::time::Duration;

use tauri::{AppHandle, Manager};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::error::CommandError;
use crate::service::Desktop;

/// How long a copied secret may stay on the clipboard: 60 s, or less where PORTICO_CLIPBOARD_CLEAR_SECS
/// says so (the end-to-end test watches it happen in seconds). It can be shortened, never lengthened.
pub fn secret_lifetime() -> Duration {
    let secs = std::env::var("PORTICO_CLIPBOARD_CLEAR_SECS").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(60);
    Duration::from_secs(secs.clamp(1, 60))
}

pub fn copy(app: &AppHandle, text: String, secret: bool) -> Result<(), CommandError> {
    app.clipboard().write_text(text.clone()).map_err(|e| CommandError::new("internal", format!("Could not copy: {e}")))?;
    if secret {
        let generation = app.state::<Desktop>().next_clipboard_generation();
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(secret_lifetime()).await;
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
