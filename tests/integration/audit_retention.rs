//! Audit retention: reads older than the retention period become daily counts, and a credential's history
//! and a patient's own audit still show what was read on those days.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use portico_api as wire;
use portico_server::Config;

use crate::harness::{TestServer, REYNA};

const DAY: i64 = 24 * 3600;

/// Per UTC day: (reads, resources, "Type:n" merged) of the successful reads among `events`.
fn reads_per_day(events: &[wire::AccessEvent]) -> BTreeMap<String, (usize, i64, BTreeMap<String, i64>)> {
    let mut days: BTreeMap<String, (usize, i64, BTreeMap<String, i64>)> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == "fhir_access") {
        let d = days.entry(e.at.format("%Y-%m-%d").to_string()).or_default();
        d.0 += 1;
        d.1 += e.count.unwrap_or(0);
        for t in &e.resource_types {
            let (name, n) = t.rsplit_once(':').expect("Type:n");
            *d.2.entry(name.to_owned()).or_default() += n.parse::<i64>().expect("n");
        }
    }
    days
}

/// The daily summaries among `events`, in the same shape, read back from their detail and fields.
fn summaries(events: &[wire::AccessEvent]) -> BTreeMap<String, (usize, i64, BTreeMap<String, i64>)> {
    let mut days = BTreeMap::new();
    for e in events.iter().filter(|e| e.detail.as_deref().is_some_and(|d| d.ends_with("(daily summary)"))) {
        assert_eq!(e.kind, "fhir_access");
        let detail = e.detail.as_deref().expect("detail");
        // "3 requests on 2024-03-06 (daily summary)"
        let mut words = detail.split(' ');
        let n: usize = words.next().expect("n").parse().expect("a number");
        let day = words.nth(2).expect("day").to_owned();
        let types = e
            .resource_types
            .iter()
            .map(|t| {
                let (name, n) = t.rsplit_once(':').expect("Type:n");
                (name.to_owned(), n.parse::<i64>().expect("n"))
            })
            .collect();
        days.insert(day, (n, e.count.expect("count"), types));
    }
    days
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_still_shows_reads_rolled_into_daily_counts() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Phone health app").await;
    let id = issued.credential.id.clone();
    let t = s.token(&issued).await.access_token;
    for path in [
        format!("Observation?patient={REYNA}&_count=14"),
        format!("MedicationRequest?patient={REYNA}&_count=2"),
        format!("Patient/{REYNA}"),
    ] {
        assert_eq!(s.get(&path, &t).await.0, 200, "{path}");
    }
    let before = patient.history(&id).await.expect("history");
    let read_days = reads_per_day(&before);
    assert_eq!(read_days.values().map(|d| d.0).sum::<usize>(), 3, "{before:?}");
    let last_used = patient.credential(&id).await.expect("credential").last_used_at;
    let rows_before = s.store().audit_rows().expect("rows");

    // 100 days later, housekeeping rolls reads from days that ended more than 90 days ago (what
    // `maintenance` does on its next round, run here at once through a second connection).
    s.advance(100 * DAY);
    let now = Utc::now() + Duration::days(100);
    let retention = Duration::days(i64::from(Config::DEFAULT_AUDIT_READ_RETENTION_DAYS));
    assert_eq!(s.store().roll_up_audit(now - retention, 5_000).expect("roll up"), 3);
    assert_eq!(s.store().audit_rows().expect("rows"), rows_before - 3, "only the three reads left the log");
    // The session from 100 days ago has expired: sign in again (which adds a sign-in, not an app event).
    let patient = s.client("patient").await;

    // The history has one daily entry per day instead of the three reads, with the same counts, and the
    // events that are kept forever around it in the same order.
    let after = patient.history(&id).await.expect("history");
    assert_eq!(summaries(&after), read_days, "{after:?}");
    let kinds =
        |h: &[wire::AccessEvent]| h.iter().filter(|e| e.kind != "fhir_access").map(|e| e.kind.clone()).collect::<Vec<_>>();
    assert_eq!(kinds(&after), kinds(&before));
    assert!(after.iter().all(|e| e.credential_name.as_deref() == Some("Phone health app")));
    assert_eq!(patient.credential(&id).await.expect("credential").last_used_at, last_used, "last used sees the rolled day");
    // The patient's own audit answers "what did this app see of me, and when" for those days too.
    let mine: Vec<wire::AccessEvent> = patient
        .my_audit()
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.credential_id.as_deref() == Some(id.as_str()))
        .collect();
    assert_eq!(summaries(&mine), read_days);

    // A read today stays a detailed entry, newest first, above the summary.
    let t = s.token(&issued).await.access_token;
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &t).await.0, 200);
    let latest = patient.history(&id).await.expect("history");
    assert_eq!(latest[0].kind, "fhir_access");
    assert_eq!(latest[0].resource_types, vec!["Patient:1".to_owned()]);
    assert!(latest[0].detail.as_deref().is_some_and(|d| !d.ends_with("(daily summary)")));
    s.stop().await;
}
