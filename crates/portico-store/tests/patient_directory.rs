//! The patient directory answers what a plain reading of the Patients' JSON answers (names by any word's
//! start, birth dates, MRNs, ids; only the practices asked; in name order), follows every write, import and
//! delete, and is filled for Patients stored before it existed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use portico_domain::{PatientId, PracticeId};
use portico_fhir::patient::card;
use portico_fhir::search::fold;
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

/// The same question answered from the JSON, by hand: the rules of `PatientQuery::text` read literally.
fn by_hand(rows: &[(String, Value, Vec<i64>)], practices: &[i64], q: &str) -> Vec<String> {
    let q = q.trim();
    let words: Vec<String> = q
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| fold(w.trim_matches(|c: char| matches!(c, '.' | '(' | ')' | '"' | '-' | '\'' | '’'))))
        .filter(|w| !w.is_empty())
        .collect();
    let date = portico_store::birth_date_prefix(q);
    let code = (!q.contains(char::is_whitespace)).then_some(q);
    let mut hits: Vec<(u8, String, String)> = Vec::new();
    for (id, json, of) in rows {
        if !of.iter().any(|p| practices.contains(p)) {
            continue;
        }
        let c = card(json);
        let mrn = c.mrn.as_deref().map(fold);
        let mut rank = None::<u8>;
        let mut hit = |r: u8| rank = Some(rank.map_or(r, |x| x.min(r)));
        if q.is_empty() {
            hit(1);
        }
        if let Some(code) = code {
            let key = fold(code);
            if mrn.as_deref() == Some(key.as_str()) || id == code {
                hit(0);
            }
            let mrn_prefix = key.chars().count() >= 3 || key.chars().any(|c| c.is_ascii_digit());
            if (mrn_prefix && mrn.as_deref().is_some_and(|m| m.starts_with(&key))) || (code.len() >= 8 && id.starts_with(code)) {
                hit(2);
            }
        }
        if !words.is_empty() && words.iter().all(|w| c.words.iter().any(|x| x.starts_with(w.as_str()))) {
            hit(1);
        }
        if date.as_deref().is_some_and(|d| c.birth_date.as_deref().is_some_and(|b| b.starts_with(d))) {
            hit(1);
        }
        if let Some(r) = rank {
            hits.push((r, c.sort_key, id.clone()));
        }
    }
    hits.sort();
    hits.into_iter().take(50).map(|(_, _, id)| id).collect()
}

fn live_patients(path: &std::path::Path) -> Vec<(String, Value, Vec<i64>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut st = conn
        .prepare(
            "SELECT r.id, r.json, (SELECT group_concat(practice_id) FROM patient_practices WHERE patient_id = r.id)
             FROM resources r WHERE r.type = 'Patient' AND r.deleted = 0",
        )
        .unwrap();
    let rows = st
        .query_map([], |r| {
            let json: String = r.get(1)?;
            let of: Option<String> = r.get(2)?;
            Ok((
                r.get(0)?,
                serde_json::from_str(&json).unwrap(),
                of.unwrap_or_default().split(',').filter_map(|p| p.parse().ok()).collect(),
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
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
fn answers_match_a_plain_reading_of_the_json() {
    let f = fixture();
    let rows = live_patients(&f.path);
    for practices in [vec![1], vec![2], vec![1, 2], vec![], vec![3]] {
        for q in QUERIES {
            assert_eq!(search(&f.store, &practices, q), by_hand(&rows, &practices, q), "q={q:?} practices={practices:?}");
        }
    }
}

#[test]
fn the_table_of_what_a_person_types() {
    let f = fixture();
    let s = |practices: &[i64], q: &str| search(&f.store, practices, q);
    let cases: &[(&[i64], &str, &[&str])] = &[
        (&[1], "schim", &[PATRIA]),
        (&[1], "patria sch", &[PATRIA]),
        (&[1], "Schimmel, Patria", &[PATRIA]),
        (&[1], "corkery", &[PATRIA]),
        (&[1], "ZOË", &["zoe"]),
        (&[1], "nunez", &["zoe"]),
        (&[2], "nunez", &["ana"]),
        (&[1, 2], "nunez", &["ana", "zoe"]),
        (&[1], "1974-05-21", &[PATRIA]),
        (&[1], "1980-02-29", &["zoe"]),
        (&[1], "1980", &["both", "zoe"]),
        (&[1], "mrn-0042", &["zoe"]),
        (&[1, 2], "MRN-004", &["ana", "zoe"]),
        (&[1], "0099", &["both"]),
        (&[1], "d2f8f862-3856-490d-b56f-98e0ed984b1e", &[PATRIA]),
        (&[1], PATRIA, &[PATRIA]),
        (&[1], "148f10e1", &[PATRIA]),
        (&[1], "148f", &[]),
        // Another practice's patients are not there, however they are asked for.
        (&[2], "schim", &[]),
        (&[2], PATRIA, &[]),
        (&[2], "1974-05-21", &[]),
        (&[1], "nowhere", &[]),
        (&[], "", &[]),
        (&[1], "no such name", &[]),
    ];
    for (practices, q, want) in cases {
        assert_eq!(s(practices, q), *want, "q={q:?} practices={practices:?}");
    }
    // An exact identifier comes before names that merely start alike.
    let mut p = patient("named", "Mrn-0042x", "Person", "2000-01-01", None);
    p["name"][0]["given"] = json!(["mrn-0042"]);
    let mut store = f.store;
    store.put_resource("Patient", "named", p, Some(&PatientId("named".into())), Some(PracticeId(1)), None, Utc::now()).unwrap();
    assert_eq!(search(&store, &[1], "mrn-0042"), ["zoe", "named"]);
}

#[test]
fn a_summary_says_what_a_picker_shows() {
    let f = fixture();
    let got = f.store.patients(&[PracticeId(1), PracticeId(2)], &PatientQuery::text("both"), 20).unwrap();
    assert_eq!(got.len(), 1);
    let p = &got[0];
    assert_eq!((p.name.as_str(), p.birth_date.as_deref(), p.mrn.as_deref()), ("Bo Both", Some("1980"), Some("0099")));
    assert_eq!(p.practices, [PracticeId(1), PracticeId(2)]);
    let patria = f.store.patients(&[PracticeId(1)], &PatientQuery::text(PATRIA), 20).unwrap();
    assert_eq!(patria[0].name, "Patria Schimmel");
    assert_eq!(patria[0].gender.as_deref(), Some("female"));
    assert_eq!(patria[0].mrn.as_deref(), Some("d2f8f862-3856-490d-b56f-98e0ed984b1e"));
}

#[test]
fn all_and_ids_and_limits() {
    let f = fixture();
    let one = [PracticeId(1)];
    let all = f.store.patients(&one, &PatientQuery::All, 100).unwrap();
    let mut sorted: Vec<String> = all.iter().map(|p| fold(&p.name)).collect();
    sorted.sort();
    assert_eq!(all.iter().map(|p| fold(&p.name)).collect::<Vec<_>>(), sorted, "by name");
    assert_eq!(all.len(), 12, "10 samples, zoe and both: {:?}", ids(&all));
    assert_eq!(f.store.patients(&one, &PatientQuery::All, 3).unwrap().len(), 3);
    assert_eq!(ids(&f.store.patients(&one, &PatientQuery::All, 3).unwrap()), ids(&all[..3]));
    let asked = PatientQuery::Ids(["zoe", "ana", "nowhere", "missing", PATRIA].iter().map(|i| PatientId((*i).into())).collect());
    assert_eq!(ids(&f.store.patients(&one, &asked, 50).unwrap()), [PATRIA, "zoe"], "only visible ones, by name");
    assert!(f.store.patients(&one, &PatientQuery::Ids(Vec::new()), 50).unwrap().is_empty());
}

#[test]
fn the_directory_follows_writes_deletes_and_imports() {
    let mut f = fixture();
    let zoe = PatientId("zoe".into());
    f.store
        .put_resource(
            "Patient",
            "zoe",
            patient("zoe", "Zoë", "Okafor", "1981-01-01", Some("X1")),
            Some(&zoe),
            None,
            None,
            Utc::now(),
        )
        .unwrap();
    assert_eq!(search(&f.store, &[1], "okafor"), ["zoe"]);
    assert!(search(&f.store, &[1], "garcia").is_empty(), "the old name is gone");
    assert!(search(&f.store, &[1], "mrn-0042").is_empty(), "the old MRN is gone");
    assert_eq!(search(&f.store, &[1], "x1"), ["zoe"]);
    f.store.delete_resource("Patient", "zoe", None, Utc::now()).unwrap();
    assert!(search(&f.store, &[1], "okafor").is_empty());
    assert!(f.store.patients(&[PracticeId(1)], &PatientQuery::Ids(vec![zoe.clone()]), 5).unwrap().is_empty());
    // Imported again (a bundle): back, under its imported name.
    let back = PreparedResource {
        resource_type: "Patient".into(),
        id: "zoe".into(),
        resource: patient("zoe", "Zia", "Back", "1981", None),
    };
    f.store.import(&[back], Utc::now()).unwrap();
    assert_eq!(search(&f.store, &[1], "zia back"), ["zoe"]);
    let rows = live_patients(&f.path);
    for q in QUERIES {
        assert_eq!(search(&f.store, &[1, 2], q), by_hand(&rows, &[1, 2], q), "q={q:?}");
    }
}

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
