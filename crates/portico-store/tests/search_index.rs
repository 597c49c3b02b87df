//! The SQL search over the index answers exactly what the in-memory matcher (`SearchQuery::matches` +
//! `sort`) answers, over all 18 sample records, for every parameter kind, prefix, modifier and sort, inside
//! each kind of compartment filter; and the index follows every write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use portico_domain::{PatientId, PatientScope, PracticeId};
use portico_fhir::{prepare_bundle, type_def, PreparedResource, SearchQuery};
use portico_store::{PatientFilter, Store};
use serde_json::{json, Value};

const REYNA: &str = "76d2fa2d-66a6-4823-8dab-52cd70822844";

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

/// A live stored resource, read back with plain SQL (not through the code under test).
struct Row {
    resource_type: String,
    id: String,
    patient: Option<String>,
    json: Value,
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
    /// patient id → practice
    practice_of: BTreeMap<String, i64>,
}

impl Fixture {
    /// All samples in one store; patients alternate between practice 1 and 2 (Reyna in 1).
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("search.db");
        let mut store = Store::open(&path).unwrap();
        let records = samples();
        let all: Vec<PreparedResource> = records.iter().flatten().cloned().collect();
        store.import(&all, Utc::now()).unwrap();
        let p1 = store.create_practice("One").unwrap();
        let p2 = store.create_practice("Two").unwrap();
        let mut practice_of = BTreeMap::new();
        for (i, record) in records.iter().enumerate() {
            let patient = record.iter().find(|r| r.resource_type == "Patient").unwrap().id.clone();
            let practice = if patient == REYNA || i % 2 == 0 { p1 } else { p2 };
            store.assign_patient(&PatientId(patient.clone()), practice).unwrap();
            practice_of.insert(patient, practice.0);
        }
        Fixture { _dir: dir, path, store, practice_of }
    }

    fn rows(&self) -> Vec<Row> {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        let mut st = conn.prepare("SELECT type, id, patient_id, json FROM resources WHERE deleted = 0").unwrap();
        let rows = st
            .query_map([], |r| {
                let json: String = r.get(3)?;
                Ok(Row {
                    resource_type: r.get(0)?,
                    id: r.get(1)?,
                    patient: r.get(2)?,
                    json: serde_json::from_str(&json).unwrap(),
                })
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    }
}

/// What the engine would pass for this type and reach.
#[derive(Clone, Debug)]
enum Reach {
    Practices(Vec<i64>),
    Only(Vec<&'static str>),
}

impl Reach {
    fn scope(&self) -> PatientScope {
        match self {
            Reach::Practices(ps) => PatientScope::Practices(ps.iter().map(|p| PracticeId(*p)).collect()),
            Reach::Only(ids) => PatientScope::Only(ids.iter().map(|i| PatientId((*i).to_owned())).collect()),
        }
    }

    fn admits(&self, f: &Fixture, patient: Option<&str>) -> bool {
        match (self, patient) {
            (_, None) => false,
            (Reach::Practices(ps), Some(p)) => f.practice_of.get(p).is_some_and(|x| ps.contains(x)),
            (Reach::Only(ids), Some(p)) => ids.contains(&p),
        }
    }
}

/// (total, ids of the page) from the in-memory matcher.
fn oracle(f: &Fixture, rows: &[Row], q: &SearchQuery, reach: &Reach) -> (usize, Vec<String>) {
    let shared = type_def(q.resource_type()).unwrap().is_shared();
    let mut hits: Vec<Value> = rows
        .iter()
        .filter(|r| r.resource_type == q.resource_type())
        .filter(|r| if shared { r.patient.is_none() } else { reach.admits(f, r.patient.as_deref()) })
        .filter(|r| q.matches(&r.json))
        .map(|r| r.json.clone())
        .collect();
    q.sort(&mut hits);
    let limit = if q.summary_count() { 0 } else { q.count() };
    let page = hits.iter().skip(q.offset()).take(limit).map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    (hits.len(), page)
}

fn sql(f: &Fixture, q: &SearchQuery, reach: &Reach) -> (usize, Vec<String>) {
    let scope = reach.scope();
    let filter =
        if type_def(q.resource_type()).unwrap().is_shared() { PatientFilter::Shared } else { PatientFilter::Scope(&scope) };
    let limit = if q.summary_count() { 0 } else { q.count() };
    let (total, rows) = f.store.search(q.resource_type(), filter, q.criteria(), q.sort_keys(), q.offset(), limit).unwrap();
    (total, rows.into_iter().map(|r| r.id).collect())
}

/// Ids picked from the data, so reference searches point at something real.
fn first_target(rows: &[Row], ty: &str, param_path: &str) -> String {
    let mut targets: Vec<String> = rows
        .iter()
        .filter(|r| r.resource_type == ty)
        .filter_map(|r| r.json.pointer(param_path).and_then(Value::as_str).map(str::to_owned))
        .collect();
    targets.sort();
    targets.into_iter().next().unwrap_or_else(|| panic!("no {ty}{param_path} in the samples"))
}

#[test]
fn sql_search_equals_the_in_memory_matcher() {
    let f = Fixture::new();
    let rows = f.rows();
    let provider = first_target(&rows, "Encounter", "/serviceProvider/reference");
    let practitioner = first_target(&rows, "Encounter", "/participant/0/individual/reference");
    let encounter = first_target(&rows, "Observation", "/encounter/reference");
    let queries: Vec<(&str, String)> = vec![
        // token: code, system|code, |code, system|, plain codes, booleans, identifiers, ORs, ANDs
        ("Observation", "code=8302-2".into()),
        ("Observation", "code=http://loinc.org|8302-2,http://loinc.org|29463-7".into()),
        ("Observation", "code=|8302-2".into()),
        ("Observation", "code=http://loinc.org|&_count=7&_offset=14".into()),
        ("Observation", "code=8302-2,http://snomed.info/sct|8302-2,|29463-7,http://loinc.org|".into()),
        ("Observation", "category=vital-signs&code=85354-9".into()),
        ("Observation", "combo-code=8480-6".into()),
        ("Observation", "component-code=8462-4&date=ge2015".into()),
        ("Observation", "status=final&category=laboratory&_sort=-date,_id&_count=25".into()),
        ("Patient", "gender=female".into()),
        ("Practitioner", "active=true,false".into()),
        ("Patient", "identifier=http://hl7.org/fhir/sid/us-ssn|".into()),
        ("Patient", "identifier=999-88-8619".into()),
        ("Encounter", "class=AMB,EMER&status=finished".into()),
        ("Condition", "clinical-status=resolved".into()),
        ("Immunization", "vaccine-code=http://hl7.org/fhir/sid/cvx|140&date=ge2015".into()),
        ("MedicationRequest", "status=stopped,active&authoredon=ge2019".into()),
        // date: every prefix, partial dates, periods, multi-value, AND ranges, _lastUpdated
        ("Observation", "date=2016".into()),
        ("Observation", "date=2016-12-27".into()),
        ("Observation", "date=ge2019-01-01&date=lt2020".into()),
        ("Observation", "date=ne2016".into()),
        ("Observation", "date=gt2019-05-15T10:30:00Z".into()),
        ("Observation", "date=le2012&_sort=-date".into()),
        ("Observation", "date=lt2012,eq2016-01,ge2021".into()),
        ("Encounter", "date=2016-01-07".into()),
        ("Encounter", "date=ge2018-06&date=le2019".into()),
        ("Condition", "onset-date=ge2010&_sort=onset-date".into()),
        ("CarePlan", "date=ge2016-01-15&date=le2016-01-15".into()),
        ("Claim", "created=2016-01-07".into()),
        ("Patient", "birthdate=ge1980&_sort=birthdate".into()),
        ("Patient", "birthdate=lt1950-01-01,gt2018".into()),
        // boundaries: an element of the same precision as the searched date (Reyna: 1974-02-28)
        ("Patient", "birthdate=1974-02-28,1994-02-01".into()),
        ("Patient", "birthdate=gt1974-02-28&birthdate=lt1974-03-01".into()),
        ("Patient", "birthdate=le1974-02-27,ge1974-03-01".into()),
        ("Observation", "_lastUpdated=ge2000".into()),
        ("Observation", "_lastUpdated=lt2000".into()),
        // reference: bare id, Type/id, absolute URL, type modifier, several patients
        ("Observation", format!("patient={REYNA}&_sort=date&_count=10&_offset=5")),
        ("Observation", "subject=Patient/85".into()),
        ("Observation", "subject:Patient=355,85&code=http://loinc.org|".into()),
        ("Observation", format!("patient=https://example.org/fhir/Patient/{REYNA}&_summary=count")),
        ("Observation", format!("encounter={encounter}")),
        ("Encounter", format!("service-provider={provider}")),
        ("Encounter", format!("participant={practitioner}&_sort=-date")),
        ("ExplanationOfBenefit", format!("patient=Patient/{REYNA}&created=ge2019")),
        // string: prefix (folded), :exact, :contains, ORs, on names and addresses
        ("Patient", "name=rey".into()),
        ("Patient", "family:exact=Ziemann".into()),
        ("Patient", "family:exact=ziemann".into()),
        ("Patient", "name:contains=an&gender=male".into()),
        ("Patient", "given=AGUSTÍN".into()),
        ("Patient", "given=agustin,lucien,dus".into()),
        ("Patient", "address-state=Massachusetts".into()),
        ("Patient", "address-city=bos".into()),
        ("Organization", "name=shriners".into()),
        ("Organization", "name:contains=hospital&_sort=-_id&_count=5".into()),
        ("Organization", "address-city=BOSTON".into()),
        ("Practitioner", "family=her".into()),
        ("Practitioner", "name:exact=Zack".into()),
        // _id, sorts and paging
        ("Patient", format!("_id=85,355,{REYNA},nope")),
        ("Observation", format!("_id=nope&patient={REYNA}")),
        ("Patient", "_sort=-birthdate&_count=5&_offset=3".into()),
        ("Observation", "_sort=-_lastUpdated,date&_count=20".into()),
        ("Observation", "_count=17&_offset=34".into()),
        ("Observation", "_count=0&code=8302-2".into()),
        ("Observation", "_sort=_id&_offset=100000".into()),
    ];
    let reaches = [Reach::Practices(vec![1]), Reach::Practices(vec![1, 2]), Reach::Only(vec![REYNA, "85"])];
    let mut empty = Vec::new();
    for (ty, query) in &queries {
        let q = SearchQuery::parse(ty, &pairs(query)).unwrap_or_else(|e| panic!("{ty}?{query}: {e}"));
        let shared = type_def(ty).unwrap().is_shared();
        for reach in if shared { &reaches[..1] } else { &reaches[..] } {
            let want = oracle(&f, &rows, &q, reach);
            let got = sql(&f, &q, reach);
            assert_eq!(got, want, "{ty}?{query} within {reach:?}");
        }
        if oracle(&f, &rows, &q, &reaches[1]).0 == 0 {
            empty.push(format!("{ty}?{query}"));
        }
    }
    // The table means something only if nearly all of it finds resources (five are meant to find none).
    assert!(empty.len() <= 5, "{} queries find nothing: {empty:#?}", empty.len());
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

#[test]
fn every_write_keeps_the_index_in_step() {
    let mut store = Store::open_in_memory().unwrap();
    let practice = store.create_practice("One").unwrap();
    let now = Utc::now();
    let patient = PatientId("p".into());
    let obs = |code: &str| {
        json!({"resourceType": "Observation", "id": "o", "status": "final", "subject": {"reference": "Patient/p"},
               "code": {"coding": [{"system": "http://loinc.org", "code": code}]}})
    };
    let put = |store: &mut Store, r: Value| store.put_resource("Observation", "o", r, Some(&patient), None, None, now).unwrap();
    store
        .put_resource("Patient", "p", json!({"resourceType": "Patient", "id": "p"}), Some(&patient), Some(practice), None, now)
        .unwrap();
    put(&mut store, obs("1111-1"));
    assert_eq!(search_ids(&store, "Observation", "code=1111-1"), ["o"]);
    // an update replaces the old entries
    put(&mut store, obs("2222-2"));
    assert!(search_ids(&store, "Observation", "code=1111-1").is_empty());
    assert_eq!(search_ids(&store, "Observation", "code=2222-2&patient=p"), ["o"]);
    // a deleted resource matches nothing, not even a search with no criteria
    store.delete_resource("Observation", "o", None, now).unwrap();
    assert!(search_ids(&store, "Observation", "code=2222-2").is_empty());
    assert!(search_ids(&store, "Observation", "").is_empty());
    // written again, it is found again; an import of changed content re-indexes too
    put(&mut store, obs("3333-3"));
    assert_eq!(search_ids(&store, "Observation", "code=3333-3"), ["o"]);
    let imported = prepare_bundle(
        &json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": obs("4444-4"), "request": {"method": "PUT", "url": "Observation/o"}}]}),
        &mut || "unused".to_owned(),
    )
    .unwrap();
    store.import(&imported, now).unwrap();
    assert_eq!(search_ids(&store, "Observation", "code=4444-4"), ["o"]);
    assert!(search_ids(&store, "Observation", "code=3333-3").is_empty());
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

#[test]
fn shared_resources_referenced_by_a_compartment() {
    let f = Fixture::new();
    let rows = f.rows();
    let shared = f.store.shared_referenced_by(&PatientId(REYNA.into())).unwrap();
    let got: BTreeSet<(String, String)> = shared.iter().map(|r| (r.resource_type.clone(), r.id.clone())).collect();
    // The same set from the JSON: every reference in Reyna's compartment that names a stored shared resource.
    let stored: BTreeSet<(String, String)> =
        rows.iter().filter(|r| r.patient.is_none()).map(|r| (r.resource_type.clone(), r.id.clone())).collect();
    let want: BTreeSet<(String, String)> = rows
        .iter()
        .filter(|r| r.patient.as_deref() == Some(REYNA))
        .flat_map(|r| portico_fhir::references(&r.json))
        .filter_map(|r| portico_fhir::parse_reference(&r))
        .filter(|k| stored.contains(k))
        .collect();
    assert_eq!(got, want);
    assert!(got.iter().any(|(t, _)| t == "Organization") && got.iter().any(|(t, _)| t == "Practitioner"), "{got:?}");
}
