//! Audit retention through the boundary: old successful reads rolled into daily counts (whole days only,
//! "Type:n" lists merged by name, batches adding up to one pass), the history views and last use reading
//! both, a failed roll-up leaving no trace, and roll-ups of two servers at once counting each read once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use portico_domain::{AuditEvent, AuditKind, PatientId};
use portico_store::{ReadStore, Result, StoreError, WriteStore};
use portico_store_suite::{backends, pg_simple_query, Fresh};

/// Noon on 2024-03-10, the reference "now" of these tests.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap()
}

/// Two days' retention from noon: the cutoff is the midnight starting 2024-03-08 (whole days only).
fn two_days_ago() -> DateTime<Utc> {
    now() - Duration::days(2)
}

/// An audit event of credential c1 `hours` before `now()`.
fn event(hours: i64, kind: AuditKind, outcome: &str, patient: Option<&str>, types: &[&str]) -> AuditEvent {
    let mut e = AuditEvent::new(kind, now() - Duration::hours(hours));
    e.outcome = outcome.into();
    e.credential_id = Some("c1".into());
    e.client_id = Some("pci_app_1".into());
    e.token_digest = Some("ab".repeat(32));
    e.patient = patient.map(|p| PatientId(p.into()));
    e.resource_types = types.iter().map(|t| (*t).to_owned()).collect();
    e.count = Some(types.iter().map(|t| t.rsplit_once(':').and_then(|(_, n)| n.parse::<i64>().ok()).unwrap_or(0)).sum());
    e
}

/// Reads, previews and kept kinds on either side of the cutoff.
fn fixture_events() -> Vec<AuditEvent> {
    use AuditKind::*;
    vec![
        // 2024-03-06: two reads of p1, one of p2, one with no patient, and kinds that are kept.
        event(100, FhirAccess, "ok", Some("p1"), &["Observation:3", "Condition:1"]),
        event(99, FhirAccess, "ok", Some("p1"), &["Observation:2"]),
        event(98, FhirAccess, "ok", Some("p2"), &["Patient:1"]),
        event(97, FhirAccess, "ok", None, &[]),
        event(96, TokenIssued, "ok", None, &[]),
        event(95, FhirRefused, "403 scope", Some("p1"), &[]),
        event(94, Preview, "ok", Some("p1"), &["Observation:5"]),
        event(93, Preview, "403 nothing reachable", Some("p1"), &[]),
        // 2024-03-07 (its last hour): one read of p1.
        event(61, FhirAccess, "ok", Some("p1"), &["Observation:1"]),
        // 2024-03-08 from 01:00, after the cutoff though 59 hours old: detailed, kept.
        event(59, FhirAccess, "ok", Some("p1"), &["Observation:7"]),
        event(1, FhirAccess, "ok", Some("p1"), &["Observation:1"]),
    ]
}

fn fixture(b: &Fresh) {
    b.write_ok(|s| s.append_audit(&fixture_events())).unwrap();
}

/// Everything the history views show of the fixture (every event is c1's; its previews are of p1), by seq.
fn everything(s: &dyn ReadStore) -> BTreeMap<i64, AuditEvent> {
    let mut all = BTreeMap::new();
    all.extend(s.app_events_for_credential("c1", 1000).unwrap());
    for p in ["p1", "p2"] {
        all.extend(s.audit_for_patient(&PatientId(p.into()), 1000).unwrap());
    }
    all
}

type DailyRow = (String, String, String, String, i64, i64);

/// (day, kind, patient, resource_types, events, resources) of every daily count, from its summary event.
fn daily(b: &Fresh) -> Vec<DailyRow> {
    let mut rows: Vec<DailyRow> = b
        .read(everything)
        .into_values()
        .filter_map(|e| {
            let detail = e.detail.as_deref()?.strip_suffix(" (daily summary)")?;
            let (events, day) = detail.split_once(' ').map(|(n, rest)| (n, rest.rsplit(' ').next().unwrap()))?;
            Some((
                day.to_owned(),
                e.kind.as_str().to_owned(),
                e.patient.map(|p| p.0).unwrap_or_default(),
                e.resource_types.join(","),
                events.parse().unwrap(),
                e.count.unwrap(),
            ))
        })
        .collect();
    rows.sort();
    rows
}

/// (kind, outcome, hours before now) of every detailed row left, oldest first.
fn left(b: &Fresh) -> Vec<(String, String, i64)> {
    b.read(everything)
        .into_values()
        .filter(|e| !e.detail.as_deref().unwrap_or("").ends_with("(daily summary)"))
        .map(|e| (e.kind.as_str().to_owned(), e.outcome, (now() - e.at).num_hours()))
        .collect()
}

fn row(day: &str, kind: &str, patient: &str, types: &str, events: i64, resources: i64) -> DailyRow {
    (day.into(), kind.into(), patient.into(), types.into(), events, resources)
}

fn expected_daily() -> Vec<DailyRow> {
    vec![
        row("2024-03-06", "fhir_access", "", "", 1, 0),
        row("2024-03-06", "fhir_access", "p1", "Condition:1,Observation:5", 2, 6),
        row("2024-03-06", "fhir_access", "p2", "Patient:1", 1, 1),
        row("2024-03-06", "preview", "p1", "Observation:5", 1, 5),
        row("2024-03-07", "fhir_access", "p1", "Observation:1", 1, 1),
    ]
}

fn expected_left() -> Vec<(String, String, i64)> {
    vec![
        ("token_issued".into(), "ok".into(), 96),
        ("fhir_refused".into(), "403 scope".into(), 95),
        ("preview".into(), "403 nothing reachable".into(), 93),
        ("fhir_access".into(), "ok".into(), 59),
        ("fhir_access".into(), "ok".into(), 1),
    ]
}

/// On PostgreSQL, that a plain DELETE on the log is still refused by the database.
fn assert_still_append_only(b: &Fresh) {
    if let Some(url) = b.pg_url() {
        let e = pg_simple_query(url, "DELETE FROM audit").unwrap_err();
        assert!(e.contains("append-only"), "{e}");
    }
}

#[test]
fn old_reads_become_daily_counts_and_everything_else_stays() {
    for b in backends() {
        fixture(&b);
        // The read at 23:00 on the 7th is rolled and the one at 01:00 on the 8th, though 59 hours old, is not.
        assert_eq!(b.write_ok(|s| s.roll_up_audit(two_days_ago(), 100)).unwrap(), 6, "{}", b.name);
        assert_eq!(daily(&b), expected_daily(), "{}", b.name);
        assert_eq!(left(&b), expected_left(), "{}", b.name);
        assert_eq!(b.read(|s| s.audit_rows()).unwrap(), 5, "{}", b.name);
        assert_still_append_only(&b);
    }
}

#[test]
fn rolling_again_changes_nothing() {
    for b in backends() {
        fixture(&b);
        b.write_ok(|s| s.roll_up_audit(two_days_ago(), 100)).unwrap();
        assert_eq!(b.write_ok(|s| s.roll_up_audit(two_days_ago(), 100)).unwrap(), 0, "{}", b.name);
        assert_eq!((daily(&b), left(&b)), (expected_daily(), expected_left()), "{}", b.name);
        assert_still_append_only(&b);
    }
}

#[test]
fn batches_respect_their_limit_and_add_up_to_one_pass() {
    // (batch size, rows rolled by each pass until one finds nothing)
    let cases: [(usize, &[usize]); 4] = [(1, &[1, 1, 1, 1, 1, 1, 0]), (4, &[4, 2, 0]), (6, &[6, 0]), (0, &[0])];
    for (batch, expected) in cases {
        for b in backends() {
            fixture(&b);
            let passes: Vec<usize> =
                (0..expected.len()).map(|_| b.write_ok(move |s| s.roll_up_audit(two_days_ago(), batch)).unwrap()).collect();
            assert_eq!(passes, expected, "{}: batch {batch}", b.name);
            if batch == 0 {
                continue;
            }
            // Later batches add to the counts earlier ones started: the same result as one pass.
            assert_eq!((daily(&b), left(&b)), (expected_daily(), expected_left()), "{}: batch {batch}", b.name);
            assert_still_append_only(&b);
        }
    }
}

#[test]
fn a_failed_roll_up_leaves_the_rows_and_no_counts() {
    for b in backends() {
        fixture(&b);
        // A roll-up whose enclosing unit fails (as when its writer's batch fails) leaves no trace.
        let r: Result<()> = b.write_ok(|store: &mut dyn WriteStore| {
            store.atomically(|s| {
                s.roll_up_audit(two_days_ago(), 100)?;
                Err(StoreError::Conflict("the batch failed".into()))
            })
        });
        assert!(r.is_err(), "{}", b.name);
        assert!(daily(&b).is_empty(), "{}", b.name);
        assert_eq!(b.read(|s| s.audit_rows()).unwrap(), 11, "{}", b.name);
        assert_still_append_only(&b);
        // And the next roll-up does the whole job.
        assert_eq!(b.write_ok(|s| s.roll_up_audit(two_days_ago(), 100)).unwrap(), 6, "{}", b.name);
        assert_eq!((daily(&b), left(&b)), (expected_daily(), expected_left()), "{}", b.name);
    }
}

#[test]
fn history_shows_rolled_days_in_the_logs_order_and_last_used_sees_them() {
    let shape = |events: Vec<(i64, AuditEvent)>| -> Vec<(i64, String, Option<i64>, Option<String>)> {
        events.into_iter().map(|(seq, e)| (seq, e.kind.as_str().to_owned(), e.count, e.detail)).collect()
    };
    let summary = |n: &str, day: &str| Some(format!("{n} on {day} (daily summary)"));
    for b in backends() {
        fixture(&b);
        b.write_ok(|s| s.roll_up_audit(two_days_ago(), 100)).unwrap();
        // A fresh database numbers the fixture's rows from 1 on every backend.
        // The app's history: kept rows and daily counts, newest first by seq (a count takes its newest row's
        // seq), previews left out as before.
        assert_eq!(
            shape(b.read(|s| s.app_events_for_credential("c1", 100)).unwrap()),
            vec![
                (11, "fhir_access".into(), Some(1), None),
                (10, "fhir_access".into(), Some(7), None),
                (9, "fhir_access".into(), Some(1), summary("1 request", "2024-03-07")),
                (6, "fhir_refused".into(), Some(0), None),
                (5, "token_issued".into(), Some(0), None),
                (4, "fhir_access".into(), Some(0), summary("1 request", "2024-03-06")),
                (3, "fhir_access".into(), Some(1), summary("1 request", "2024-03-06")),
                (2, "fhir_access".into(), Some(6), summary("2 requests", "2024-03-06")),
            ],
            "{}",
            b.name
        );
        // A patient's view includes previews of their record, as before.
        let p1 = b.read(|s| s.audit_for_patient(&PatientId("p1".into()), 100)).unwrap();
        let p1_shape: Vec<(i64, Option<String>)> = p1.iter().map(|(s, e)| (*s, e.detail.clone())).collect();
        assert_eq!(
            p1_shape,
            vec![
                (11, None),
                (10, None),
                (9, summary("1 request", "2024-03-07")),
                (8, None),
                (7, summary("1 request", "2024-03-06")),
                (6, None),
                (2, summary("2 requests", "2024-03-06")),
            ],
            "{}",
            b.name
        );
        // The limit counts both kinds of entry, and keeps the newest.
        let three = shape(b.read(|s| s.app_events_for_credential("c1", 3)).unwrap());
        assert_eq!(three.iter().map(|e| e.0).collect::<Vec<_>>(), [11, 10, 9], "{}", b.name);
        let two = b.read(|s| s.audit_for_patient(&PatientId("p1".into()), 2)).unwrap();
        assert_eq!(two.iter().map(|e| e.0).collect::<Vec<_>>(), [11, 10], "{}", b.name);
        // A daily count carries what its rows had in common, the merged "Type:n" list, and its newest time.
        let (_, day) = &p1[6];
        assert_eq!(day.resource_types, vec!["Condition:1".to_owned(), "Observation:5".to_owned()], "{}", b.name);
        assert_eq!(day.at, now() - Duration::hours(99), "{}: dated by its newest read", b.name);
        assert_eq!(
            (day.outcome.as_str(), day.credential_id.as_deref(), day.client_id.as_deref(), day.token_digest.as_deref()),
            ("ok", Some("c1"), Some("pci_app_1"), None),
            "{}",
            b.name
        );
        assert_eq!(day.actor, None, "{}", b.name);
        // Last use: the newest read (1 hour ago) is kept in detail.
        assert_eq!(b.read(|s| s.last_used("c1")).unwrap(), Some(now() - Duration::hours(1)), "{}", b.name);
    }
}

#[test]
fn last_used_still_sees_a_rolled_up_day() {
    for b in backends() {
        b.write_ok(|s| s.append_audit(&[event(100, AuditKind::FhirAccess, "ok", Some("p1"), &["Patient:1"])])).unwrap();
        let before = b.read(|s| s.last_used("c1")).unwrap();
        assert_eq!(before, Some(now() - Duration::hours(100)), "{}", b.name);
        assert_eq!(b.write_ok(|s| s.roll_up_audit(now(), 10)).unwrap(), 1, "{}", b.name);
        assert_eq!(b.read(|s| s.audit_rows()).unwrap(), 0, "{}", b.name);
        assert_eq!(b.read(|s| s.last_used("c1")).unwrap(), before, "{}", b.name);
    }
}

#[test]
fn type_counts_merge_by_name_within_a_pass_and_across_passes() {
    // (each read's resource types on one day of one patient, the merged list of their daily count)
    let cases: [(&[&[&str]], &str); 5] = [
        (&[&["Observation:3", "Condition:1"], &["Observation:2"]], "Condition:1,Observation:5"),
        (&[&[], &[]], ""),
        // An entry without a count (old rows) counts once, so its type is never lost.
        (&[&["Observation"], &["Observation:2"]], "Observation:3"),
        (&[&["Weird:x"]], "Weird:x:1"),
        // Sorted by name in binary order, as SQLite's: capitals first.
        (&[&["b:1"], &["B:1", "a:2"], &["a:1", "_:1"]], "B:1,_:1,a:3,b:1"),
    ];
    for (reads, expected) in cases {
        // One pass over every read, and one pass per read (each adding to the count the last one left).
        for batch in [100, 1] {
            for b in backends() {
                let events: Vec<AuditEvent> = reads
                    .iter()
                    .enumerate()
                    .map(|(i, types)| event(100 - i as i64, AuditKind::FhirAccess, "ok", Some("p1"), types))
                    .collect();
                b.write_ok(move |s| s.append_audit(&events)).unwrap();
                while b.write_ok(move |s| s.roll_up_audit(two_days_ago(), batch)).unwrap() > 0 {}
                let rows = daily(&b);
                assert_eq!(rows.len(), 1, "{}: {reads:?}", b.name);
                assert_eq!(rows[0].3, expected, "{}: {reads:?}, batch {batch}", b.name);
                assert_eq!(rows[0].4, reads.len() as i64, "{}: {reads:?}, batch {batch}", b.name);
            }
        }
    }
}

#[test]
fn roll_ups_running_at_once_count_each_read_once() {
    const THREADS: usize = 4;
    for b in backends() {
        // Many days of reads, so the roll-ups have plenty to fight over.
        let mut events = fixture_events();
        for day in 5..42 {
            for p in ["p1", "p2", "p3"] {
                events.push(event(24 * day + 2, AuditKind::FhirAccess, "ok", Some(p), &["Observation:2", "Condition:1"]));
                events.push(event(24 * day + 1, AuditKind::FhirAccess, "ok", Some(p), &["Observation:1", "Encounter:1"]));
            }
        }
        let reads = 6 + 37 * 6;
        b.write_ok(move |s| s.append_audit(&events)).unwrap();
        // Two servers on one database, each with its own connections and writer threads, rolling small batches at once.
        let other = b.another_server();
        let servers = [&b, &other];
        let rolled: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let server = servers[t % servers.len()];
                    scope.spawn(move || {
                        let mut rolled = 0;
                        loop {
                            match server.write_ok(|s| s.roll_up_audit(two_days_ago(), 5)) {
                                Ok(0) => return rolled,
                                Ok(n) => rolled += n,
                                // A deadlock or lock timeout is the caller's to retry, as the server does.
                                Err(StoreError::Busy) => {}
                                Err(e) => panic!("{e}"),
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(rolled, reads, "{}: every read rolled once", b.name);
        assert_eq!(b.read(|s| s.audit_rows()).unwrap(), 5, "{}", b.name);
        let rows = daily(&b);
        let (events, resources): (i64, i64) = rows.iter().fold((0, 0), |(e, r), row| (e + row.4, r + row.5));
        assert_eq!((events, resources), (reads as i64, 6 + 1 + 5 + 1 + 37 * 3 * (3 + 2)), "{}", b.name);
        for row in rows.iter().filter(|r| r.0.as_str() < "2024-03-06") {
            assert_eq!((row.3.as_str(), row.4), ("Condition:1,Encounter:1,Observation:3", 2), "{}: {row:?}", b.name);
        }
        assert_eq!(rows.iter().filter(|r| r.0.as_str() >= "2024-03-06").cloned().collect::<Vec<_>>(), expected_daily());
    }
}

#[test]
fn old_reads_are_found_through_the_partial_index() {
    for b in backends() {
        let Some(url) = b.pg_url() else { continue };
        let plan = pg_simple_query(
            url,
            "SET enable_seqscan = off; EXPLAIN SELECT seq FROM audit
             WHERE kind IN ('fhir_access', 'preview') AND outcome = 'ok' AND at < '2024-01-01' ORDER BY at, seq LIMIT 10",
        )
        .unwrap();
        let plan: Vec<String> = plan.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
        assert!(plan.iter().any(|p| p.contains("audit_reads_by_time")), "{plan:?}");
        assert!(!plan.iter().any(|p| p.contains("Sort")), "the index gives the order: {plan:?}");
    }
}
