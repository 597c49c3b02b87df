//! Housekeeping beside the service: expired tokens and sessions are pruned, and successful reads older than
//! the audit retention period are rolled into daily counts, a bounded batch per writer job so no request
//! waits behind a large delete.

use std::time::Duration;

use crate::state::AppState;

/// How long after expiry a token or session row is kept (a late request is still answered "expired").
const KEEP_AFTER_EXPIRY: chrono::Duration = chrono::Duration::days(1);
const BATCH: usize = 5_000;
const EVERY: Duration = Duration::from_secs(600);
/// The first pass waits this long after start, so it never competes with a start's own writes (seeding,
/// the first sign-ins) or with another program finishing its writes to the same database.
const FIRST_PASS_AFTER: Duration = Duration::from_secs(60);
/// Audit rows rolled up per writer job: ~7 ms of the writer in a release build (5,000 took 35–60 ms), and
/// every write, the audit of each read included, waits behind the job in progress.
const ROLL_UP_BATCH: usize = 1_000;

pub async fn run(state: AppState) {
    tokio::time::sleep(FIRST_PASS_AFTER).await;
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
        forget_quiet_throttles(&state).await;
        roll_up_reads(&state).await;
        tokio::time::sleep(EVERY).await;
    }
}

/// Forgets throttle keys whose failures are older than any policy remembers them and that are not locked,
/// so a flood of distinct usernames or client ids leaves no lasting rows.
async fn forget_quiet_throttles(state: &AppState) {
    let forget =
        portico_domain::ThrottlePolicy::PER_KEY.forget_after.max(portico_domain::ThrottlePolicy::PER_ADDRESS.forget_after);
    loop {
        match state.write(move |store, now| store.prune_throttle(now - forget, BATCH)).await {
            Ok(Ok(n)) if n == BATCH => continue,
            Ok(Ok(_)) | Err(_) => break,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "forgetting old throttle keys failed; will retry");
                break;
            }
        }
    }
}

/// Rolls reads from days that ended more than `audit_read_retention_days` ago into daily counts, a batch
/// per writer job until a job finds less than a batch; returns how many audit rows it rolled.
pub(crate) async fn roll_up_reads(state: &AppState) -> usize {
    let keep = chrono::Duration::days(i64::from(state.config().audit_read_retention_days));
    let mut rolled = 0;
    loop {
        let job = move |store: &mut dyn portico_store::WriteStore, now: chrono::DateTime<chrono::Utc>| match now
            .checked_sub_signed(keep)
        {
            Some(cutoff) => store.roll_up_audit(cutoff, ROLL_UP_BATCH),
            // A retention longer than the calendar reaches back: nothing is old enough.
            None => Ok(0),
        };
        match state.write(job).await {
            Ok(Ok(n)) => {
                rolled += n;
                if n < ROLL_UP_BATCH {
                    break;
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "rolling up old audit reads failed; will retry");
                break;
            }
            Err(_) => break,
        }
    }
    if rolled > 0 {
        tracing::info!(rows = rolled, "rolled old audit reads into daily counts");
    }
    rolled
}

/// Closes idle reader connections once reads have been quiet for two checks in a row, so the page caches
/// grown under load are given back rather than kept for the life of the process.
pub async fn release_when_quiet(state: AppState) {
    let mut quiet_checks = 0;
    loop {
        tokio::time::sleep(QUIET_CHECK).await;
        quiet_checks = if state.reads_idle() { quiet_checks + 1 } else { 0 };
        if quiet_checks == 2 {
            let closed = state.release_idle_readers();
            if closed > 0 {
                tracing::debug!(closed, "idle reader connections closed");
            }
        }
    }
}

const QUIET_CHECK: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, Utc};
    use portico_domain::{AuditEvent, AuditKind, PatientId};
    use portico_store::{Database, Store};

    use crate::{AppState, Config};

    #[tokio::test]
    async fn reads_past_the_retention_period_are_rolled_up_through_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let now = Utc::now();
        let mut store = Store::open(&path).unwrap();
        // (days old, kind, how many): reads past 30 days go, more than one writer job's worth, while a newer
        // read and an old token issue stay.
        let rows = [
            (40, AuditKind::FhirAccess, 1_200),
            (35, AuditKind::FhirAccess, 1_300),
            (10, AuditKind::FhirAccess, 1),
            (40, AuditKind::TokenIssued, 1),
        ];
        let events: Vec<AuditEvent> = rows
            .iter()
            .flat_map(|(days, kind, n)| std::iter::repeat_n((*days, *kind), *n))
            .map(|(days, kind)| {
                let mut e = AuditEvent::new(kind, now - Duration::days(days));
                e.credential_id = Some("c1".into());
                e.patient = Some(PatientId("p1".into()));
                e.resource_types = vec!["Observation:2".into()];
                e.count = Some(2);
                e
            })
            .collect();
        store.append_audit(&events).unwrap();
        let mut config = Config::new("http://127.0.0.1:1");
        config.audit_read_retention_days = 30;
        let state = AppState::with_clock(Database::new(store).unwrap(), config, Arc::new(move || now));
        assert_eq!(super::roll_up_reads(&state).await, 2_500, "batch after batch until none is left");
        assert_eq!(super::roll_up_reads(&state).await, 0);
        let reader = Store::open(&path).unwrap();
        assert_eq!(reader.audit_rows().unwrap(), 2);
        let history = reader.app_events_for_credential("c1", 10).unwrap();
        let summaries: Vec<Option<i64>> = history
            .iter()
            .filter(|(_, e)| e.detail.as_deref().is_some_and(|d| d.ends_with("(daily summary)")))
            .map(|(_, e)| e.count)
            .collect();
        assert_eq!(summaries, vec![Some(2_600), Some(2_400)], "one summary per day, each with its resources");
    }
}
