//! Housekeeping beside the service: expired tokens and sessions are pruned, a bounded batch per writer job
//! so no request waits behind a large delete.

use std::time::Duration;

use crate::state::AppState;

/// How long after expiry a token or session row is kept (a late request is still answered "expired").
const KEEP_AFTER_EXPIRY: chrono::Duration = chrono::Duration::days(1);
const BATCH: usize = 5_000;
const EVERY: Duration = Duration::from_secs(600);

pub async fn run(state: AppState) {
    loop {
        // Batches until a pass finds less than a full batch, then waits for the next round.
        loop {
            match state.write(|store, now| store.prune_expired(now, KEEP_AFTER_EXPIRY, BATCH)).await {
                Ok(Ok(p)) => {
                    if p.tokens + p.sessions > 0 {
                        tracing::info!(tokens = p.tokens, sessions = p.sessions, "pruned expired rows");
                    }
                    if p.tokens < BATCH && p.sessions < BATCH {
                        break;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "pruning failed; will retry");
                    break;
                }
                Err(_) => break,
            }
        }
        tokio::time::sleep(EVERY).await;
    }
}
