//! The audit log through the boundary: appends and the history views, last use, failure counts (with
//! writers racing on one minute), and, on PostgreSQL, that the database itself keeps the log append-only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use portico_domain::{AuditEvent, AuditKind, AuthDoor, PatientId, UserId};
use portico_store::{ReadStore, Result, StoreError, WriteStore};
use portico_store_suite::{backends, pg_simple_query, Fresh};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 10, 12, 0, 0).unwrap()
}

/// An event of credential `credential` (and patient `patient`) `minutes` before `now()`.
fn event(minutes: i64, kind: AuditKind, outcome: &str, credential: Option<&str>, patient: Option<&str>) -> AuditEvent {
    let mut e = AuditEvent::new(kind, now() - Duration::minutes(minutes));
    e.outcome = outcome.into();
    e.credential_id = credential.map(str::to_owned);
    e.patient = patient.map(|p| PatientId(p.into()));
    e
}

fn append(b: &Fresh, events: Vec<AuditEvent>) {
    b.write_ok(move |s| s.append_audit(&events)).unwrap();
}

/// (kind, outcome, detail) of each event of a view.
type Shape = Vec<(String, String, Option<String>)>;

/// A view's events as (kind, outcome, detail), in the order returned.
fn shape(events: &[(i64, AuditEvent)]) -> Shape {
    events.iter().map(|(_, e)| (e.kind.as_str().to_owned(), e.outcome.clone(), e.detail.clone())).collect()
}

#[test]
fn every_field_of_an_event_comes_back_as_appended() {
    let full = AuditEvent {
        at: now() - Duration::milliseconds(1_234),
        kind: AuditKind::FhirAccess,
        outcome: "ok".into(),
        actor: Some(UserId(42)),
        credential_id: Some("c1".into()),
        client_id: Some("pci_app_1".into()),
        token_digest: Some("ab".repeat(32)),
        patient: Some(PatientId("p1".into())),
        resource_types: vec!["Observation:3".into(), "Condition:1".into()],
        count: Some(4),
        detail: Some("search Observation, tab\tand \"quotes\" and ünïcode".into()),
    };
    // Nothing optional set: NULLs stay None, no resource types stays an empty list.
    let bare = event(5, AuditKind::FhirRefused, "403 scope", Some("c1"), Some("p1"));
    for b in backends() {
        append(&b, vec![full.clone(), bare.clone()]);
        let by_credential = b.read(|s| s.app_events_for_credential("c1", 10)).unwrap();
        let by_patient = b.read(|s| s.audit_for_patient(&PatientId("p1".into()), 10)).unwrap();
        for view in [by_credential, by_patient] {
            let events: Vec<AuditEvent> = view.into_iter().map(|(_, e)| e).collect();
            assert_eq!(events, vec![bare.clone(), full.clone()], "{}", b.name);
        }
    }
}

#[test]
fn views_are_newest_first_by_seq_and_limits_count_what_they_return() {
    use AuditKind::*;
    // One call's events share an instant: the log's order is the slice's, newest (last) first.
    let events = vec![
        event(10, TokenIssued, "ok", Some("c1"), None),
        event(10, FhirAccess, "ok", Some("c1"), Some("p1")),
        event(10, Preview, "ok", Some("c1"), Some("p1")),
        event(10, Preview, "ok", Some("c1"), Some("p2")),
        event(10, FhirAccess, "ok", Some("c2"), Some("p1")),
        event(10, FhirRefused, "403 scope", Some("c1"), Some("p2")),
    ];
    let ev = |k: &str, o: &str| (k.to_owned(), o.to_owned(), None::<String>);
    // (view, limit, expected)
    type View = fn(&dyn ReadStore, usize) -> Result<Vec<(i64, AuditEvent)>>;
    let credential_c1: View = |s, n| s.app_events_for_credential("c1", n);
    let patient_p1: View = |s, n| s.audit_for_patient(&PatientId("p1".into()), n);
    let patient_p3: View = |s, n| s.audit_for_patient(&PatientId("p3".into()), n);
    let cases: Vec<(&str, View, usize, Shape)> = vec![
        (
            "c1: previews are not the app's doing",
            credential_c1,
            10,
            vec![ev("fhir_refused", "403 scope"), ev("fhir_access", "ok"), ev("token_issued", "ok")],
        ),
        // The previews between them do not use up the limit.
        ("c1 limited", credential_c1, 2, vec![ev("fhir_refused", "403 scope"), ev("fhir_access", "ok")]),
        (
            "p1: every credential, previews included",
            patient_p1,
            10,
            vec![ev("fhir_access", "ok"), ev("preview", "ok"), ev("fhir_access", "ok")],
        ),
        ("p1 limited", patient_p1, 1, vec![ev("fhir_access", "ok")]),
        ("nobody's", patient_p3, 10, vec![]),
        ("limit 0", credential_c1, 0, vec![]),
    ];
    for b in backends() {
        append(&b, events.clone());
        for (what, view, limit, expected) in &cases {
            let got = b.read(|s| view(s, *limit)).unwrap();
            assert_eq!(shape(&got), *expected, "{}: {what}", b.name);
            let seqs: Vec<i64> = got.iter().map(|(seq, _)| *seq).collect();
            assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{}: {what}: seqs newest first {seqs:?}", b.name);
        }
        // A second call's rows come after the first's, whatever their instants.
        append(&b, vec![event(60, FhirAccess, "ok", Some("c1"), Some("p1"))]);
        let newest = b.read(|s| s.app_events_for_credential("c1", 1)).unwrap();
        assert_eq!(newest[0].1.at, now() - Duration::minutes(60), "{}", b.name);
        assert_eq!(b.read(|s| s.audit_rows()).unwrap(), 7, "{}", b.name);
    }
}

#[test]
fn appending_nothing_is_harmless() {
    for b in backends() {
        b.write_ok(|s| s.append_audit(&[])).unwrap();
        assert_eq!(b.read(|s| s.audit_rows()).unwrap(), 0, "{}", b.name);
    }
}

#[test]
fn last_use_is_the_newest_successful_token_or_read() {
    use AuditKind::*;
    // (what, events of the log, expected minutes before now)
    let cases: Vec<(&str, Vec<AuditEvent>, Option<i64>)> = vec![
        ("never", vec![], None),
        ("a token", vec![event(30, TokenIssued, "ok", Some("c1"), None)], Some(30)),
        (
            "the newest of tokens and reads, not the last appended",
            vec![event(5, FhirAccess, "ok", Some("c1"), Some("p1")), event(30, TokenIssued, "ok", Some("c1"), None)],
            Some(5),
        ),
        (
            "refusals, previews and other credentials are not use",
            vec![
                event(1, FhirRefused, "403 scope", Some("c1"), None),
                event(2, TokenRefused, "invalid_client", Some("c1"), None),
                event(3, Preview, "ok", Some("c1"), Some("p1")),
                event(4, FhirAccess, "ok", Some("c2"), Some("p1")),
                event(50, FhirAccess, "ok", Some("c1"), Some("p1")),
            ],
            Some(50),
        ),
        ("only refusals", vec![event(1, TokenRefused, "invalid_client", Some("c1"), None)], None),
    ];
    for (what, events, expected) in cases {
        for b in backends() {
            append(&b, events.clone());
            let expected = expected.map(|m| now() - Duration::minutes(m));
            assert_eq!(b.read(|s| s.last_used("c1")).unwrap(), expected, "{}: {what}", b.name);
        }
    }
}

#[test]
fn failures_are_counted_per_minute_door_and_subject_newest_first() {
    let at = |minute: u32, second: u32| Utc.with_ymd_and_hms(2024, 3, 10, 12, minute, second).unwrap();
    let records = [
        (AuthDoor::Token, "pci_dev_b", at(1, 5)),
        (AuthDoor::Token, "pci_dev_b", at(1, 59)),
        (AuthDoor::SignIn, "user:7", at(1, 30)),
        (AuthDoor::Token, "pci_dev_a", at(1, 0)),
        (AuthDoor::Token, "pci_dev_b", at(2, 0)),
        (AuthDoor::Token, "pci_dev_b", at(0, 59)),
    ];
    let row = |m: &str, d: &str, s: &str, n: i64| (m.to_owned(), d.to_owned(), s.to_owned(), n);
    let expected = vec![
        row("2024-03-10T12:02Z", "token", "pci_dev_b", 1),
        row("2024-03-10T12:01Z", "sign_in", "user:7", 1),
        row("2024-03-10T12:01Z", "token", "pci_dev_a", 1),
        row("2024-03-10T12:01Z", "token", "pci_dev_b", 2),
        row("2024-03-10T12:00Z", "token", "pci_dev_b", 1),
    ];
    for b in backends() {
        for (door, subject, t) in records {
            b.write_ok(move |s| s.record_auth_failure(door, subject, t)).unwrap();
        }
        assert_eq!(b.read(|s| s.auth_failures(100)).unwrap(), expected, "{}", b.name);
        assert_eq!(b.read(|s| s.auth_failures(2)).unwrap(), expected[..2], "{}", b.name);
    }
}

#[test]
fn failures_counted_at_once_by_many_writers_and_servers_are_all_counted() {
    const THREADS: usize = 8;
    const EACH: usize = 25;
    for b in backends() {
        // A second server on the same database, each with its own connections and writer threads.
        let other = b.another_server();
        let servers = [&b, &other];
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let server = servers[t % servers.len()];
                scope.spawn(move || {
                    for _ in 0..EACH {
                        server.write_ok(|s| s.record_auth_failure(AuthDoor::Token, "pci_dev_x", now())).unwrap();
                    }
                });
            }
        });
        let counts = b.read(|s| s.auth_failures(10)).unwrap();
        assert_eq!(
            counts,
            vec![("2024-03-10T12:00Z".to_owned(), "token".to_owned(), "pci_dev_x".to_owned(), (THREADS * EACH) as i64)],
            "{}",
            b.name
        );
    }
}

#[test]
fn an_undone_unit_leaves_no_audit_and_no_failure_count() {
    for b in backends() {
        let r: Result<()> = b.write_ok(|store: &mut dyn WriteStore| {
            store.atomically(|s| {
                s.append_audit(&[event(1, AuditKind::SignIn, "ok", None, None)])?;
                s.record_auth_failure(AuthDoor::SignIn, "user:1", now())?;
                Err(StoreError::Conflict("changed my mind".into()))
            })
        });
        assert!(r.is_err(), "{}", b.name);
        b.write_ok(|store: &mut dyn WriteStore| {
            store.atomically(|s| s.append_audit(&[event(1, AuditKind::SignIn, "ok", None, None)]))
        })
        .unwrap();
        assert_eq!(b.read(|s| s.audit_rows()).unwrap(), 1, "{}", b.name);
        assert!(b.read(|s| s.auth_failures(10)).unwrap().is_empty(), "{}", b.name);
    }
}

#[test]
fn the_database_itself_refuses_to_change_the_audit_log() {
    for b in backends() {
        let Some(url) = b.pg_url() else { continue };
        append(
            &b,
            vec![
                event(10, AuditKind::FhirAccess, "ok", Some("c1"), Some("p1")),
                event(9, AuditKind::TokenIssued, "ok", Some("c1"), None),
            ],
        );
        // A daily count to refuse the deletion of.
        b.write_ok(|s| s.roll_up_audit(now() + Duration::days(1), 10)).unwrap();
        append(&b, vec![event(8, AuditKind::FhirAccess, "ok", Some("c1"), Some("p1"))]);
        let rows = || pg_simple_query(url, "SELECT count(*) FROM audit").unwrap()[0][0].clone();
        assert_eq!(rows().as_deref(), Some("2"));
        let refused = [
            "UPDATE audit SET outcome = 'x'",
            // Refused as a statement: even one that would change no row.
            "UPDATE audit SET outcome = 'x' WHERE false",
            "DELETE FROM audit",
            "DELETE FROM audit WHERE kind = 'fhir_access'",
            "TRUNCATE audit",
            "TRUNCATE audit_daily",
            "DELETE FROM audit_daily",
            // The roll-up's way out lets only successful reads go, even to a session that sets its flag.
            "SET portico.audit_roll_up = 'on'; DELETE FROM audit WHERE kind = 'token_issued'",
            "SELECT audit_roll_up_delete(array_agg(seq)) FROM audit",
        ];
        for sql in refused {
            let e = pg_simple_query(url, sql).expect_err(sql);
            assert!(e.contains("append-only"), "{sql}: {e}");
        }
        assert_eq!(rows().as_deref(), Some("2"), "nothing changed");
        // What the log is for still works: appending, and the roll-up's own delete.
        pg_simple_query(url, "INSERT INTO audit (at, kind, outcome) VALUES ('2024-03-01T00:00:00.000Z', 'fhir_access', 'ok')")
            .unwrap();
        assert_eq!(b.write_ok(|s| s.roll_up_audit(now() + Duration::days(1), 10)).unwrap(), 2);
        assert_eq!(rows().as_deref(), Some("1"));
        assert!(pg_simple_query(url, "DELETE FROM audit").is_err(), "still refused after a roll-up");
        let days = pg_simple_query(url, "SELECT count(*) FROM audit_daily").unwrap();
        assert_eq!(days[0][0].as_deref(), Some("2"));
    }
}
