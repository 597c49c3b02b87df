//! FHIR resources on every backend: versioned writes and deletes with optimistic locking, reads,
//! compartments, counts, a practice's patients, bulk import (idempotent, last occurrence wins, bundle
//! versions kept), and writers racing on one resource.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use portico_domain::{PatientId, PatientScope, PracticeId};
use portico_fhir::{prepare_bundle, PreparedResource};
use portico_store::{ImportSummary, ReadStore, StoreError, StoredResource, WriteOutcome};
use portico_store_suite::{backends, Fresh};
use serde_json::{json, Value};

const REYNA: &str = "76d2fa2d-66a6-4823-8dab-52cd70822844";

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, minute, 0).unwrap()
}

fn samples() -> Vec<Vec<PreparedResource>> {
    portico_samples::bundles()
        .map(|b| {
            let json: Value = serde_json::from_slice(&b.json().unwrap()).unwrap();
            let mut n = 0;
            prepare_bundle(&json, &mut || {
                n += 1;
                format!("gen-{}-{n}", b.name.len())
            })
            .unwrap()
        })
        .collect()
}

fn obs(id: &str, patient: &str, code: &str) -> Value {
    json!({"resourceType": "Observation", "id": id, "status": "final", "subject": {"reference": format!("Patient/{patient}")},
           "code": {"coding": [{"system": "http://loinc.org", "code": code}]}})
}

fn put(b: &Fresh, id: &str, code: &str, if_match: Option<i64>, minute: u32) -> Result<WriteOutcome, StoreError> {
    let (id, r) = (id.to_owned(), obs(id, "p", code));
    b.write_ok(move |s| s.put_resource("Observation", &id, r, Some(&PatientId("p".into())), None, if_match, at(minute)))
}

fn read(b: &Fresh, ty: &str, id: &str) -> Option<StoredResource> {
    b.read(|s| s.read_resource(ty, id)).unwrap()
}

fn version_in_json(r: &StoredResource) -> (String, String) {
    let v: Value = serde_json::from_str(&r.json).unwrap();
    (v["meta"]["versionId"].as_str().unwrap().to_owned(), v["meta"]["lastUpdated"].as_str().unwrap().to_owned())
}

#[test]
fn versions_if_match_and_deletes() {
    for b in backends() {
        let n = b.name;
        assert!(read(&b, "Observation", "o").is_none(), "{n}");
        let first = put(&b, "o", "1", None, 0).unwrap();
        assert!(first.created, "{n}");
        assert_eq!((first.resource.version, first.resource.deleted), (1, false), "{n}");
        assert_eq!(first.resource.patient, Some(PatientId("p".into())), "{n}");
        let stored = read(&b, "Observation", "o").unwrap();
        assert_eq!(stored.json, first.resource.json, "{n}: served as written");
        assert_eq!(version_in_json(&stored), ("1".into(), "2024-03-01T12:00:00.000Z".into()), "{n}");
        assert_eq!(stored.last_updated, "2024-03-01T12:00:00.000Z", "{n}");

        let second = put(&b, "o", "2", None, 1).unwrap();
        assert!(!second.created, "{n}");
        assert_eq!(second.resource.version, 2, "{n}");
        assert!(matches!(put(&b, "o", "3", Some(1), 2), Err(StoreError::VersionConflict { current: 2 })), "{n}");
        assert_eq!(read(&b, "Observation", "o").unwrap().version, 2, "{n}: a refused write changes nothing");
        assert_eq!(put(&b, "o", "3", Some(2), 3).unwrap().resource.version, 3, "{n}");

        // Deletes: if_match checked, the version moves on, deleting again is a no-op, a missing one is NotFound.
        let del = |id: &str, if_match: Option<i64>| {
            let id = id.to_owned();
            b.write_ok(move |s| s.delete_resource("Observation", &id, if_match, at(9)))
        };
        assert!(matches!(del("o", Some(2)), Err(StoreError::VersionConflict { current: 3 })), "{n}");
        del("o", Some(3)).unwrap();
        let gone = read(&b, "Observation", "o").unwrap();
        assert_eq!((gone.deleted, gone.version, gone.last_updated.as_str()), (true, 4, "2024-03-01T12:09:00.000Z"), "{n}");
        del("o", None).unwrap();
        del("o", Some(1)).unwrap();
        assert_eq!(read(&b, "Observation", "o").unwrap().version, 4, "{n}: deleting the deleted changes nothing");
        assert!(matches!(del("nope", None), Err(StoreError::NotFound)), "{n}");

        // A deleted resource written again is created anew (next version); if_match on it is a conflict at 0.
        assert!(matches!(put(&b, "o", "4", Some(4), 10), Err(StoreError::VersionConflict { current: 0 })), "{n}");
        assert!(matches!(put(&b, "new", "4", Some(1), 10), Err(StoreError::VersionConflict { current: 0 })), "{n}");
        assert!(read(&b, "Observation", "new").is_none(), "{n}");
        let again = put(&b, "o", "4", None, 11).unwrap();
        assert!(again.created, "{n}");
        assert_eq!((again.resource.version, again.resource.deleted), (5, false), "{n}");
        assert_eq!(version_in_json(&read(&b, "Observation", "o").unwrap()).0, "5", "{n}");
    }
}

#[test]
fn a_new_patient_joins_its_practice_in_the_same_write() {
    for b in backends() {
        let n = b.name;
        let (p1, p2) = b.write_ok(|s| Ok((s.create_practice("One")?, s.create_practice("Two")?))).unwrap();
        for (id, practice) in [("b", Some(p1)), ("a", Some(p1)), ("c", None), ("d", Some(p2))] {
            let pid = PatientId(id.into());
            b.write_ok(move |s| {
                s.put_resource("Patient", pid.as_str(), json!({"resourceType": "Patient"}), Some(&pid), practice, None, at(0))
            })
            .unwrap();
        }
        let ids = |p: PracticeId| b.read(|s| s.practice_patient_ids(p)).unwrap();
        assert_eq!(ids(p1), [PatientId("a".into()), PatientId("b".into())], "{n}");
        assert_eq!(ids(p2), [PatientId("d".into())], "{n}");
        assert!(ids(PracticeId(99)).is_empty(), "{n}");
        let in_scope = |id: &str, scope: PatientScope| b.read(|s| s.patient_in_scope(&PatientId(id.into()), &scope)).unwrap();
        let cases = [
            ("a", PatientScope::Practices(vec![p1]), true),
            ("a", PatientScope::Practices(vec![p2]), false),
            ("a", PatientScope::Practices(vec![p2, p1]), true),
            ("c", PatientScope::Practices(vec![p1, p2]), false),
            ("a", PatientScope::Practices(vec![]), false),
            ("c", PatientScope::Only(vec![PatientId("c".into())]), true),
            ("a", PatientScope::Only(vec![PatientId("c".into())]), false),
        ];
        for (id, scope, want) in cases {
            assert_eq!(in_scope(id, scope.clone()), want, "{n}: {id} in {scope:?}");
        }
    }
}

fn import(b: &Fresh, resources: Vec<PreparedResource>, minute: u32) -> ImportSummary {
    b.write_ok(move |s| s.import(&resources, at(minute))).unwrap()
}

#[test]
fn import_creates_updates_and_leaves_alone() {
    let records = samples();
    let all: Vec<PreparedResource> = records.iter().flatten().cloned().collect();
    let distinct: std::collections::BTreeSet<(String, String)> =
        all.iter().map(|r| (r.resource_type.clone(), r.id.clone())).collect();
    let mut counts_per_backend = Vec::new();
    let mut compartments = Vec::new();
    for b in backends() {
        let n = b.name;
        let first = import(&b, all.clone(), 0);
        assert_eq!(first, ImportSummary { created: distinct.len(), updated: 0, unchanged: 0 }, "{n}");
        assert_eq!(import(&b, all.clone(), 1), ImportSummary { created: 0, updated: 0, unchanged: distinct.len() }, "{n}");
        let counts = b.read(|s| s.resource_counts()).unwrap();
        assert_eq!(counts.iter().map(|(_, c)| c).sum::<i64>() as usize, distinct.len(), "{n}");
        assert!(counts.windows(2).all(|w| w[0].0 < w[1].0), "{n}: by type {counts:?}");
        counts_per_backend.push(counts);
        let reyna = b.read(|s| s.compartment(&PatientId(REYNA.into()))).unwrap();
        assert!(reyna.len() > 10, "{n}");
        assert!(reyna.iter().all(|r| r.patient.as_ref().map(PatientId::as_str) == Some(REYNA) && !r.deleted), "{n}");
        let keys: Vec<(String, String)> = reyna.iter().map(|r| (r.resource_type.clone(), r.id.clone())).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{n}: by type and id, bytewise");
        compartments.push(keys);

        // Changed content: the next version; a later occurrence in the same call wins; unchanged ones stay.
        let patient = records[0].iter().find(|r| r.resource_type == "Patient").unwrap().clone();
        let mut changed = patient.clone();
        changed.resource["gender"] = json!("other");
        let mut last = patient.clone();
        last.resource["gender"] = json!("unknown");
        let before = read(&b, "Patient", &patient.id).unwrap();
        let summary = import(&b, vec![changed, records[1][0].clone(), last], 2);
        assert_eq!(summary, ImportSummary { created: 0, updated: 1, unchanged: 1 }, "{n}");
        let after = read(&b, "Patient", &patient.id).unwrap();
        let json: Value = serde_json::from_str(&after.json).unwrap();
        assert_eq!((json["gender"].as_str(), after.version), (Some("unknown"), before.version + 1), "{n}");
        assert_eq!(after.last_updated, "2024-03-01T12:02:00.000Z", "{n}");

        // A bundle's own versionId and lastUpdated are kept (a versionId not above the stored one is not).
        let given = |id: &str, version: &str| PreparedResource {
            resource_type: "Observation".into(),
            id: id.into(),
            resource: {
                let mut o = obs(id, REYNA, version);
                o["meta"] = json!({"versionId": version, "lastUpdated": "2001-02-03T04:05:06Z"});
                o
            },
        };
        assert_eq!(import(&b, vec![given("v", "7")], 3).created, 1, "{n}");
        let v = read(&b, "Observation", "v").unwrap();
        assert_eq!((v.version, v.last_updated.as_str()), (7, "2001-02-03T04:05:06Z"), "{n}");
        assert_eq!(v.patient.as_ref().map(PatientId::as_str), Some(REYNA), "{n}: the compartment comes from the JSON");
        assert_eq!(import(&b, vec![given("v", "3")], 4).updated, 1, "{n}");
        assert_eq!(read(&b, "Observation", "v").unwrap().version, 8, "{n}");
        assert_eq!(import(&b, vec![given("v", "20")], 4).updated, 1, "{n}");
        assert_eq!(read(&b, "Observation", "v").unwrap().version, 20, "{n}");

        // A deleted resource imported again is live again, as an update, even with the same content.
        b.write_ok(|s| s.delete_resource("Observation", "v", None, at(5))).unwrap();
        let stored: Value = serde_json::from_str(&read(&b, "Observation", "v").unwrap().json).unwrap();
        let same = PreparedResource { resource_type: "Observation".into(), id: "v".into(), resource: stored };
        assert_eq!(import(&b, vec![same], 6), ImportSummary { created: 0, updated: 1, unchanged: 0 }, "{n}");
        let v = read(&b, "Observation", "v").unwrap();
        assert_eq!((v.deleted, v.version), (false, 22), "{n}");
        assert_eq!(import(&b, Vec::new(), 7), ImportSummary::default(), "{n}");
    }
    assert!(counts_per_backend.windows(2).all(|w| w[0] == w[1]), "{counts_per_backend:?}");
    assert!(compartments.windows(2).all(|w| w[0] == w[1]));
}

/// Many more resources than one round of a bulk load, some already stored (changed or not), with text that
/// COPY must escape.
#[test]
fn a_large_import_in_rounds() {
    let resource = |i: usize, note: &str| PreparedResource {
        resource_type: "Observation".into(),
        id: format!("o{i:05}"),
        resource: json!({"resourceType": "Observation", "id": format!("o{i:05}"), "status": "final",
            "subject": {"reference": format!("Patient/p{}", i % 7)},
            "code": {"coding": [{"system": "http://loinc.org", "code": format!("c{}", i % 13)}], "text": note}}),
    };
    let tricky = "tab\there\\back\nline\r\u{e9}";
    for b in backends() {
        let n = b.name;
        let early: Vec<PreparedResource> = (0..3000).map(|i| resource(i, "first")).collect();
        assert_eq!(import(&b, early, 0).created, 3000, "{n}");
        let all: Vec<PreparedResource> = (0..12000).map(|i| resource(i, if i % 2 == 0 { "first" } else { tricky })).collect();
        assert_eq!(import(&b, all, 1), ImportSummary { created: 9000, updated: 1500, unchanged: 1500 }, "{n}");
        let odd = read(&b, "Observation", "o00001").unwrap();
        let json: Value = serde_json::from_str(&odd.json).unwrap();
        assert_eq!((json["code"]["text"].as_str(), odd.version), (Some(tricky), 2), "{n}");
        assert_eq!(odd.patient.as_ref().map(PatientId::as_str), Some("p1"), "{n}");
        let compartment = b.read(|s| s.compartment(&PatientId("p3".into()))).unwrap();
        assert_eq!(compartment.len(), (0..12000).filter(|i| i % 7 == 3).count(), "{n}");
        assert_eq!(b.read(|s| s.resource_counts()).unwrap(), [("Observation".to_owned(), 12000)], "{n}");
    }
}

/// Runs `first` as a write job on `a` that holds its transaction open for a while after writing, and
/// `second` as a job on `b` submitted while it does. On PostgreSQL the two run in concurrent transactions
/// (two writer threads of one server, or two servers), so the second really meets the first's
/// uncommitted write; on SQLite the second waits for the first's commit.
fn race<A, B, X, Y>(a: &Fresh, b: &Fresh, first: A, second: B) -> (X, Y)
where
    A: FnOnce(&mut dyn portico_store::WriteStore) -> X + Send + 'static,
    B: FnOnce(&mut dyn portico_store::WriteStore) -> Y + Send + 'static,
    X: Send + 'static,
    Y: Send + 'static,
{
    let (wrote, written) = mpsc::channel();
    std::thread::scope(|scope| {
        let one = scope.spawn(move || {
            a.write(move |s| {
                let out = first(s);
                wrote.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(300));
                out
            })
            .unwrap()
        });
        written.recv().unwrap();
        let two = b.write(second).unwrap();
        (one.join().unwrap(), two)
    })
}

/// The races of one resource's writers, the first on `a`, the second on `b`, over ids that start with `tag`.
fn races(a: &Fresh, b: &Fresh, tag: &str) {
    let n = format!("{} ({tag})", a.name);
    let (o, new) = (format!("{tag}o"), format!("{tag}n"));
    put(a, &o, "0", None, 0).unwrap();
    let write = |id: &str, code: &'static str, if_match: Option<i64>| {
        let id = id.to_owned();
        move |s: &mut dyn portico_store::WriteStore| {
            s.put_resource("Observation", &id, obs(&id, "p", code), Some(&PatientId("p".into())), None, if_match, at(1))
        }
    };
    let code = |id: &str| -> (Option<String>, Option<String>) {
        let stored: Value = serde_json::from_str(&read(a, "Observation", id).unwrap().json).unwrap();
        (stored["meta"]["versionId"].as_str().map(str::to_owned), stored["code"]["coding"][0]["code"].as_str().map(str::to_owned))
    };
    // Both from version 1 with if_match: the second meets the first's write and is refused.
    let (one, two) = race(a, b, write(&o, "a", Some(1)), write(&o, "b", Some(1)));
    assert_eq!(one.unwrap().resource.version, 2, "{n}");
    assert!(matches!(two, Err(StoreError::VersionConflict { current: 2 })), "{n}: {two:?}");
    assert_eq!(code(&o), (Some("2".into()), Some("a".into())), "{n}");
    // Without if_match both win, each with its own version.
    let (one, two) = race(a, b, write(&o, "c", None), write(&o, "d", None));
    assert_eq!((one.unwrap().resource.version, two.unwrap().resource.version), (3, 4), "{n}");
    assert_eq!(code(&o), (Some("4".into()), Some("d".into())), "{n}");
    // Two creations of one new resource: one creates it, the other writes the next version.
    let (one, two) = race(a, b, write(&new, "e", None), write(&new, "f", None));
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!((one.created, one.resource.version), (true, 1), "{n}");
    assert_eq!((two.created, two.resource.version), (false, 2), "{n}");
    assert_eq!(code(&new), (Some("2".into()), Some("f".into())), "{n}");
    // A delete racing an update from the same version: the delete is refused.
    let gone = new.clone();
    let (one, two) = race(a, b, write(&new, "g", Some(2)), move |s| s.delete_resource("Observation", &gone, Some(2), at(4)));
    assert_eq!(one.unwrap().resource.version, 3, "{n}");
    assert!(matches!(two, Err(StoreError::VersionConflict { current: 3 })), "{n}: {two:?}");
    assert!(!read(a, "Observation", &new).unwrap().deleted, "{n}");
    // An update racing a delete: the update from the deleted version is refused, without if_match it revives.
    let gone = new.clone();
    let (one, two) = race(a, b, move |s| s.delete_resource("Observation", &gone, Some(3), at(5)), write(&new, "h", Some(3)));
    one.unwrap();
    assert!(matches!(two, Err(StoreError::VersionConflict { current: 0 })), "{n}: {two:?}");
    let gone = new.clone();
    let (one, two) = race(a, b, move |s| s.delete_resource("Observation", &gone, None, at(6)), write(&new, "i", None));
    one.unwrap();
    let revived = two.unwrap();
    assert_eq!((revived.created, revived.resource.version), (true, 5), "{n}: created anew after the delete");
}

#[test]
fn racing_writers_of_one_resource_never_both_win_from_one_version() {
    for b in backends() {
        races(&b, &b, "one server ");
        races(&b, &b.another_server(), "two servers ");
    }
}

/// Two servers importing the same records at once: the second's creations meet the first's uncommitted
/// rows, wait for them, and go round again as comparisons (unchanged, or updated when they differ); nothing
/// is created twice and no version is skipped or repeated.
#[test]
fn racing_imports_of_the_same_records() {
    let records: Vec<PreparedResource> = samples().into_iter().take(3).flatten().collect();
    let n_records = records.len();
    let changed: Vec<PreparedResource> = records
        .iter()
        .cloned()
        .map(|mut r| {
            r.resource["text"] = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">again</div>"});
            r
        })
        .collect();
    for b in backends() {
        let n = b.name;
        let other = b.another_server();
        let (same_a, same_b) = (records.clone(), records.clone());
        let (one, two) = race(&b, &other, move |s| s.import(&same_a, at(0)), move |s| s.import(&same_b, at(1)));
        assert_eq!(one.unwrap(), ImportSummary { created: n_records, updated: 0, unchanged: 0 }, "{n}");
        assert_eq!(two.unwrap(), ImportSummary { created: 0, updated: 0, unchanged: n_records }, "{n}");
        let (again, changed) = (records.clone(), changed.clone());
        let (one, two) = race(&other, &b, move |s| s.import(&again, at(2)), move |s| s.import(&changed, at(3)));
        assert_eq!(one.unwrap(), ImportSummary { created: 0, updated: 0, unchanged: n_records }, "{n}");
        assert_eq!(two.unwrap(), ImportSummary { created: 0, updated: n_records, unchanged: 0 }, "{n}");
        let first = &records[0];
        let stored = read(&b, &first.resource_type, &first.id).unwrap();
        assert_eq!(stored.version, 2, "{n}");
        assert_eq!(b.read(|s| s.resource_counts()).unwrap().iter().map(|(_, c)| c).sum::<i64>() as usize, n_records, "{n}");
    }
}

/// An import on a connection of its own (as the CLI uses one), outside the writer threads: one
/// transaction, in rounds, as through a writer.
#[test]
fn an_import_on_a_connection_of_its_own() {
    let resources: Vec<PreparedResource> = (0..7000)
        .map(|i| PreparedResource {
            resource_type: "Observation".into(),
            id: format!("d{i}"),
            resource: obs(&format!("d{i}"), "p", "x"),
        })
        .collect();
    for b in backends() {
        let n = b.name;
        let mut direct = b.direct();
        let summary = direct.store().import(&resources, at(0)).unwrap();
        assert_eq!(summary, ImportSummary { created: 7000, updated: 0, unchanged: 0 }, "{n}");
        assert_eq!(direct.store().import(&resources[..10], at(1)).unwrap().unchanged, 10, "{n}");
        assert_eq!(b.read(|s| s.compartment(&PatientId("p".into()))).unwrap().len(), 7000, "{n}");
    }
}

#[test]
fn many_writers_from_one_version_one_wins() {
    for b in backends() {
        let n = b.name;
        put(&b, "o", "0", None, 0).unwrap();
        let barrier = std::sync::Barrier::new(8);
        let outcomes: Vec<Result<WriteOutcome, StoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (b, barrier) = (&b, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        put(b, "o", &format!("w{i}"), Some(1), 1)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        let refused = outcomes.iter().filter(|o| matches!(o, Err(StoreError::VersionConflict { current: 2 }))).count();
        assert_eq!((won, refused), (1, 7), "{n}: {outcomes:?}");
        assert_eq!(read(&b, "Observation", "o").unwrap().version, 2, "{n}");
    }
}

#[test]
fn reads_on_a_snapshot_see_types_counted_live() {
    for b in backends() {
        let n = b.name;
        for (id, code) in [("x", "1"), ("y", "2")] {
            put(&b, id, code, None, 0).unwrap();
        }
        let pid = PatientId("p".into());
        b.write_ok(move |s| s.put_resource("Patient", "p", json!({"resourceType": "Patient"}), Some(&pid), None, None, at(0)))
            .unwrap();
        b.write_ok(|s| s.delete_resource("Observation", "y", None, at(1))).unwrap();
        let counts = b.read(|s: &dyn ReadStore| s.resource_counts()).unwrap();
        assert_eq!(counts, [("Observation".to_owned(), 1), ("Patient".to_owned(), 1)], "{n}: deleted ones not counted");
        let compartment = b.read(|s| s.compartment(&PatientId("p".into()))).unwrap();
        let keys: Vec<(&str, &str)> = compartment.iter().map(|r| (r.resource_type.as_str(), r.id.as_str())).collect();
        assert_eq!(keys, [("Observation", "x"), ("Patient", "p")], "{n}");
    }
}
