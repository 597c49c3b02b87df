//! SQLite's own upgrade path: a database written before migration 0003 is indexed when it is opened. What
//! the index answers, and that every write keeps it in step, is held on every backend by the store suite
//! (`crates/portico-store-suite/tests/search.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portico_domain::{PatientScope, PracticeId};
use portico_fhir::SearchQuery;
use portico_store::{PatientFilter, Store};
use serde_json::json;

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn search_ids(store: &Store, ty: &str, query: &str) -> Vec<String> {
    let q = SearchQuery::parse(ty, &pairs(query)).unwrap();
    let scope = PatientScope::Practices(vec![PracticeId(1)]);
    store
        .search(ty, PatientFilter::Scope(&scope), q.criteria(), q.sort_keys(), 0, 1000)
        .unwrap()
        .1
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// A database written before migration 0003 is indexed when it is opened.
#[test]
fn resources_stored_before_the_index_are_backfilled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../src/migrations/0001_initial.sql")).unwrap();
        conn.execute_batch(include_str!("../src/migrations/0002_live_index.sql")).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute_batch("INSERT INTO practices(id, name) VALUES (1, 'One'); INSERT INTO patient_practices VALUES ('p', 1);")
            .unwrap();
        let rows = [
            ("Patient", "p", 0, json!({"resourceType": "Patient", "id": "p", "name": [{"family": "Old"}]})),
            (
                "Observation",
                "o1",
                0,
                json!({"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p"}, "code": {"coding": [{"code": "x"}]}}),
            ),
            (
                "Observation",
                "o2",
                1,
                json!({"resourceType": "Observation", "id": "o2", "subject": {"reference": "Patient/p"}, "code": {"coding": [{"code": "x"}]}}),
            ),
        ];
        for (ty, id, deleted, json) in rows {
            conn.execute(
                "INSERT INTO resources(type, id, version, last_updated, deleted, patient_id, json) VALUES (?, ?, 1, '2020-01-01T00:00:00Z', ?, 'p', ?)",
                rusqlite::params![ty, id, deleted, json.to_string()],
            )
            .unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(search_ids(&store, "Observation", "code=x"), ["o1"], "live resources indexed, deleted ones not");
    assert_eq!(search_ids(&store, "Patient", "family=old"), ["p"]);
    assert!(store.read_resource("Observation", "o2").unwrap().is_some_and(|r| r.deleted), "rows survive the table rebuild");
}
