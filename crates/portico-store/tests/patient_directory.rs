//! SQLite's own upgrade path: Patients stored before the patient directory existed (migration 0011) are in
//! it once the database is opened. What the directory answers, and that it follows every write, is held on
//! every backend by the store suite (`crates/portico-store-suite/tests/directory.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use portico_domain::{PatientId, PracticeId};
use portico_fhir::{prepare_bundle, PreparedResource};
use portico_store::{PatientQuery, PatientSummary, Store};
use serde_json::{json, Value};

const REYNA: &str = "76d2fa2d-66a6-4823-8dab-52cd70822844";
const PATRIA: &str = "148f10e1-2182-4297-ac1f-39bb9eca6f1a";

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

fn patient(id: &str, given: &str, family: &str, birth: &str, mrn: Option<&str>) -> Value {
    let mut p = json!({"resourceType": "Patient", "id": id, "name": [{"family": family, "given": [given]}], "birthDate": birth});
    if let Some(m) = mrn {
        portico_fhir::patient::set_mrn(&mut p, "urn:test:mrn", m);
    }
    p
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
}

/// All samples (patients alternating between practices 1 and 2, Reyna in 1) plus a few made-up patients.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("directory.db");
    let mut store = Store::open(&path).unwrap();
    let records = samples();
    let all: Vec<PreparedResource> = records.iter().flatten().cloned().collect();
    store.import(&all, Utc::now()).unwrap();
    let p1 = store.create_practice("One").unwrap();
    let p2 = store.create_practice("Two").unwrap();
    for (i, record) in records.iter().enumerate() {
        let id = record.iter().find(|r| r.resource_type == "Patient").unwrap().id.clone();
        store.assign_patient(&PatientId(id.clone()), if id == REYNA || i % 2 == 0 { p1 } else { p2 }).unwrap();
    }
    let made = [
        ("zoe", patient("zoe", "Zoë", "García-Núñez", "1980-02-29", Some("MRN-0042")), Some(p1)),
        ("ana", patient("ana", "Ana", "Núñez", "1980-03-01", Some("mrn-0043")), Some(p2)),
        ("both", patient("both", "Bo", "Both", "1980", Some("0099")), Some(p1)),
        ("nowhere", patient("nowhere", "Ana", "Nowhere", "1990-01-01", None), None),
    ];
    for (id, json, practice) in made {
        store.put_resource("Patient", id, json, Some(&PatientId(id.into())), practice, None, Utc::now()).unwrap();
    }
    store.assign_patient(&PatientId("both".into()), p2).unwrap();
    Fixture { _dir: dir, path, store }
}

fn ids(found: &[PatientSummary]) -> Vec<String> {
    found.iter().map(|p| p.id.0.clone()).collect()
}

fn search(store: &Store, practices: &[i64], q: &str) -> Vec<String> {
    let ps: Vec<PracticeId> = practices.iter().map(|p| PracticeId(*p)).collect();
    ids(&store.patients(&ps, &PatientQuery::text(q), 50).unwrap())
}

const QUERIES: &[&str] = &[
    "",
    "p",
    "pat",
    "PATRIA",
    "schim",
    "patria schim",
    "schimmel, patria",
    "corkery",
    "z",
    "zoe",
    "ZOË",
    "nunez",
    "garcia-n",
    "núñez a",
    "ana",
    "1974",
    "1974-05",
    "1974-05-21",
    "1974-13",
    "1980-02-30",
    "1980",
    "mrn-004",
    "MRN-0042",
    "mr",
    "0",
    "00",
    "0099",
    "d2f8f862",
    "d2f8f862-3856-490d-b56f-98e0ed984b1e",
    "148f10e1",
    "148f10e",
    PATRIA,
    "zoe",
    "x y z",
    "!!!",
    "'",
    "dustin",
    "ritchie586",
    "mr.",
    "pharmd",
];

#[test]
fn patients_stored_before_the_directory_are_in_it() {
    let f = fixture();
    let before: Vec<Vec<String>> = QUERIES.iter().map(|q| search(&f.store, &[1, 2], q)).collect();
    drop(f.store);
    {
        let conn = rusqlite::Connection::open(&f.path).unwrap();
        conn.execute_batch(
            "DROP TABLE patient_name_words; DROP TABLE patient_directory; DROP TABLE throttle; DROP TABLE signing_keys;
             PRAGMA user_version = 10;",
        )
        .unwrap();
    }
    let store = Store::open(&f.path).unwrap();
    let after: Vec<Vec<String>> = QUERIES.iter().map(|q| search(&store, &[1, 2], q)).collect();
    assert_eq!(before, after);
    assert!(!after[0].is_empty());
}
