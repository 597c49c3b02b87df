//! FHIR search on every backend: the SQL over the index answers exactly what the in-memory matcher
//! (`SearchQuery::matches` + `sort`) answers over all the sample records, for every parameter kind, prefix,
//! modifier, sort and page, inside each kind of compartment filter; the backends answer the same ids and
//! totals as each other; the index follows every write; `$everything`'s shared resources.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use portico_domain::{PatientId, PatientScope, PracticeId};
use portico_fhir::{prepare_bundle, type_def, PreparedResource, SearchQuery};
use portico_store::{PatientFilter, ReadStore};
use portico_store_suite::{backends, Fresh};
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

/// A live stored resource, as read back.
struct Row {
    resource_type: String,
    id: String,
    patient: Option<String>,
    json: Value,
}

/// All samples in one store, imported at one fixed instant; patients alternate between practice 1 and 2
/// (Reyna in 1). Returns patient id → practice, and every stored resource read back through the boundary.
fn load(b: &Fresh) -> (BTreeMap<String, i64>, Vec<Row>) {
    let records = samples();
    let all: Vec<PreparedResource> = records.iter().flatten().cloned().collect();
    let keys: BTreeSet<(String, String)> = all.iter().map(|r| (r.resource_type.clone(), r.id.clone())).collect();
    let mut practice_of = BTreeMap::new();
    let mut assign = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let patient = record.iter().find(|r| r.resource_type == "Patient").unwrap().id.clone();
        let second = !(patient == REYNA || i % 2 == 0);
        practice_of.insert(patient.clone(), if second { 2 } else { 1 });
        assign.push((patient, second));
    }
    b.write_ok(move |s| {
        s.import(&all, Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap())?;
        let (p1, p2) = (s.create_practice("One")?, s.create_practice("Two")?);
        assert_eq!((p1, p2), (PracticeId(1), PracticeId(2)));
        for (patient, second) in assign {
            s.assign_patient(&PatientId(patient), if second { p2 } else { p1 })?;
        }
        Ok(())
    })
    .unwrap();
    let rows = b.read(|s| {
        keys.iter()
            .map(|(ty, id)| {
                let r = s.read_resource(ty, id).unwrap().unwrap();
                Row {
                    resource_type: r.resource_type,
                    id: r.id,
                    patient: r.patient.map(|p| p.0),
                    json: serde_json::from_str(&r.json).unwrap(),
                }
            })
            .collect()
    });
    (practice_of, rows)
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

    fn admits(&self, practice_of: &BTreeMap<String, i64>, patient: Option<&str>) -> bool {
        match (self, patient) {
            (_, None) => false,
            (Reach::Practices(ps), Some(p)) => practice_of.get(p).is_some_and(|x| ps.contains(x)),
            (Reach::Only(ids), Some(p)) => ids.contains(&p),
        }
    }
}

/// (total, ids of the page) from the in-memory matcher.
fn oracle(practice_of: &BTreeMap<String, i64>, rows: &[Row], q: &SearchQuery, reach: &Reach) -> (usize, Vec<String>) {
    let shared = type_def(q.resource_type()).unwrap().is_shared();
    let mut hits: Vec<Value> = rows
        .iter()
        .filter(|r| r.resource_type == q.resource_type())
        .filter(|r| if shared { r.patient.is_none() } else { reach.admits(practice_of, r.patient.as_deref()) })
        .filter(|r| q.matches(&r.json))
        .map(|r| r.json.clone())
        .collect();
    q.sort(&mut hits);
    let limit = if q.summary_count() { 0 } else { q.count() };
    let page = hits.iter().skip(q.offset()).take(limit).map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    (hits.len(), page)
}

/// (total, ids of the page) from the store.
fn stored(s: &dyn ReadStore, q: &SearchQuery, reach: &Reach) -> (usize, Vec<String>) {
    let scope = reach.scope();
    let filter =
        if type_def(q.resource_type()).unwrap().is_shared() { PatientFilter::Shared } else { PatientFilter::Scope(&scope) };
    let limit = if q.summary_count() { 0 } else { q.count() };
    let (total, rows) = s.search(q.resource_type(), filter, q.criteria(), q.sort_keys(), q.offset(), limit).unwrap();
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

/// The table of searches: every parameter kind, prefix, modifier, sort and page.
fn queries(rows: &[Row]) -> Vec<(&'static str, String)> {
    let provider = first_target(rows, "Encounter", "/serviceProvider/reference");
    let practitioner = first_target(rows, "Encounter", "/participant/0/individual/reference");
    let encounter = first_target(rows, "Observation", "/encounter/reference");
    vec![
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
    ]
}

fn reaches() -> [Reach; 4] {
    [Reach::Practices(vec![1]), Reach::Practices(vec![1, 2]), Reach::Only(vec![REYNA, "85"]), Reach::Practices(vec![])]
}

#[test]
fn sql_search_equals_the_in_memory_matcher() {
    for b in backends() {
        let (practice_of, rows) = load(&b);
        let mut empty = Vec::new();
        let reaches = reaches();
        for (ty, query) in queries(&rows) {
            let q = SearchQuery::parse(ty, &pairs(&query)).unwrap_or_else(|e| panic!("{ty}?{query}: {e}"));
            let shared = type_def(ty).unwrap().is_shared();
            for reach in if shared { &reaches[..1] } else { &reaches[..] } {
                let want = oracle(&practice_of, &rows, &q, reach);
                let got = b.read(|s| stored(s, &q, reach));
                assert_eq!(got, want, "{}: {ty}?{query} within {reach:?}", b.name);
            }
            if oracle(&practice_of, &rows, &q, &reaches[1]).0 == 0 {
                empty.push(format!("{ty}?{query}"));
            }
        }
        // The table means something only if nearly all of it finds resources (five are meant to find none).
        assert!(empty.len() <= 5, "{}: {} queries find nothing: {empty:#?}", b.name, empty.len());
    }
}

/// Every backend, and when PostgreSQL is there, a second PostgreSQL database whose own collation is a
/// language's: it must still answer as SQLite does, bytewise, since the schema says COLLATE "C" where text
/// is sorted or ranged.
fn backends_and_a_language_collation() -> Vec<Fresh> {
    let mut all = backends();
    all.extend(portico_store_suite::postgres_url().map(|url| portico_store_suite::postgres_with_language_collation(&url)));
    all
}

/// A search of the table (with its reach), its total and its page.
type Answer = (String, usize, Vec<String>);

/// Every backend answers every search of the table with the same total and the same page, in the same order.
#[test]
fn the_backends_answer_alike() {
    let mut answers: Vec<(&str, Vec<Answer>)> = Vec::new();
    for b in backends_and_a_language_collation() {
        let (_, rows) = load(&b);
        let mut mine = Vec::new();
        for (ty, query) in queries(&rows) {
            let q = SearchQuery::parse(ty, &pairs(&query)).unwrap();
            for reach in &reaches() {
                let (total, page) = b.read(|s| stored(s, &q, reach));
                mine.push((format!("{ty}?{query} within {reach:?}"), total, page));
            }
        }
        answers.push((b.name, mine));
    }
    let (first, reference) = &answers[0];
    assert!(reference.iter().filter(|(_, total, _)| *total > 0).count() > 100, "the table finds things");
    for (name, mine) in &answers[1..] {
        for (want, got) in reference.iter().zip(mine) {
            assert_eq!(got, want, "{name} against {first}");
        }
    }
}

fn search_ids(b: &Fresh, ty: &str, query: &str) -> Vec<String> {
    let q = SearchQuery::parse(ty, &pairs(query)).unwrap();
    let scope = PatientScope::Practices(vec![PracticeId(1)]);
    b.read(|s| s.search(ty, PatientFilter::Scope(&scope), q.criteria(), q.sort_keys(), 0, 1000))
        .unwrap()
        .1
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[test]
fn every_write_keeps_the_index_in_step() {
    let obs = |code: &str| {
        json!({"resourceType": "Observation", "id": "o", "status": "final", "subject": {"reference": "Patient/p"},
               "code": {"coding": [{"system": "http://loinc.org", "code": code}]}})
    };
    for b in backends() {
        let n = b.name;
        let now = Utc::now();
        let put = |r: Value| {
            b.write_ok(move |s| s.put_resource("Observation", "o", r, Some(&PatientId("p".into())), None, None, now)).unwrap()
        };
        b.write_ok(move |s| {
            let practice = s.create_practice("One")?;
            let p = PatientId("p".into());
            s.put_resource("Patient", "p", json!({"resourceType": "Patient", "id": "p"}), Some(&p), Some(practice), None, now)
        })
        .unwrap();
        put(obs("1111-1"));
        assert_eq!(search_ids(&b, "Observation", "code=1111-1"), ["o"], "{n}");
        // an update replaces the old entries
        put(obs("2222-2"));
        assert!(search_ids(&b, "Observation", "code=1111-1").is_empty(), "{n}");
        assert_eq!(search_ids(&b, "Observation", "code=2222-2&patient=p"), ["o"], "{n}");
        // a deleted resource matches nothing, not even a search with no criteria
        b.write_ok(move |s| s.delete_resource("Observation", "o", None, now)).unwrap();
        assert!(search_ids(&b, "Observation", "code=2222-2").is_empty(), "{n}");
        assert!(search_ids(&b, "Observation", "").is_empty(), "{n}");
        // written again, it is found again; an import of changed content re-indexes too
        put(obs("3333-3"));
        assert_eq!(search_ids(&b, "Observation", "code=3333-3"), ["o"], "{n}");
        let imported = prepare_bundle(
            &json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"resource": obs("4444-4"), "request": {"method": "PUT", "url": "Observation/o"}}]}),
            &mut || "unused".to_owned(),
        )
        .unwrap();
        b.write_ok(move |s| s.import(&imported, now)).unwrap();
        assert_eq!(search_ids(&b, "Observation", "code=4444-4"), ["o"], "{n}");
        assert!(search_ids(&b, "Observation", "code=3333-3").is_empty(), "{n}");
        // an unchanged import leaves the entries as they are (not cleared, not doubled)
        let again = prepare_bundle(
            &json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"resource": obs("4444-4"), "request": {"method": "PUT", "url": "Observation/o"}}]}),
            &mut || "unused".to_owned(),
        )
        .unwrap();
        assert_eq!(b.write_ok(move |s| s.import(&again, now)).unwrap().unchanged, 1, "{n}");
        assert_eq!(search_ids(&b, "Observation", "code=4444-4&code=http://loinc.org|4444-4"), ["o"], "{n}");
    }
}

/// Text that sorts differently by locale than by code point, and prefixes that end in characters a
/// locale-aware comparison treats specially: answered bytewise, as SQLite does.
#[test]
fn strings_compare_and_ids_sort_bytewise() {
    let ids = ["a", "B", "_x", "Z9", "ä", "a-b", "ab", "a.b", "A", "ab-", "a-c"];
    for b in backends_and_a_language_collation() {
        let n = b.name;
        b.write_ok(move |s| {
            for id in ids {
                let org = json!({"resourceType": "Organization", "id": id, "name": format!("Name {id}")});
                s.put_resource("Organization", id, org, None, None, None, Utc::now())?;
            }
            Ok(())
        })
        .unwrap();
        let q = |query: &str| {
            let q = SearchQuery::parse("Organization", &pairs(query)).unwrap();
            b.read(|s| s.search("Organization", PatientFilter::Shared, q.criteria(), q.sort_keys(), 0, 100)).unwrap()
        };
        let mut want: Vec<&str> = ids.to_vec();
        want.sort();
        let (total, page) = q("");
        assert_eq!((total, page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>()), (ids.len(), want.clone()), "{n}");
        want.reverse();
        assert_eq!(q("_sort=-_id").1.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), want, "{n}");
        // A folded prefix is a bytewise range: "name a" finds what `fold` makes start with it, and only that.
        let by_hand: BTreeSet<String> = ids
            .iter()
            .filter(|id| portico_fhir::search::fold(&format!("Name {id}")).starts_with("name a"))
            .map(|id| (*id).to_owned())
            .collect();
        let found: BTreeSet<String> = q("name=name a").1.into_iter().map(|r| r.id).collect();
        assert_eq!(found, by_hand, "{n}");
        assert!(by_hand.len() >= 5, "{n}: {by_hand:?}");
    }
}

#[test]
fn shared_resources_referenced_by_a_compartment() {
    let mut per_backend = Vec::new();
    for b in backends() {
        let (_, rows) = load(&b);
        let shared = b.read(|s| s.shared_referenced_by(&PatientId(REYNA.into()))).unwrap();
        let keys: Vec<(String, String)> = shared.iter().map(|r| (r.resource_type.clone(), r.id.clone())).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{}: by type and id", b.name);
        let got: BTreeSet<(String, String)> = keys.iter().cloned().collect();
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
        assert_eq!(got, want, "{}", b.name);
        assert!(got.iter().any(|(t, _)| t == "Organization") && got.iter().any(|(t, _)| t == "Practitioner"), "{got:?}");
        // A deleted shared resource is not among them; nor is anything for a patient without resources.
        let (ty, id) = keys[0].clone();
        b.write_ok(move |s| s.delete_resource(&ty, &id, None, Utc::now())).unwrap();
        let after = b.read(|s| s.shared_referenced_by(&PatientId(REYNA.into()))).unwrap();
        assert_eq!(after.len(), keys.len() - 1, "{}", b.name);
        assert!(b.read(|s| s.shared_referenced_by(&PatientId("nobody".into()))).unwrap().is_empty(), "{}", b.name);
        per_backend.push(keys);
    }
    assert!(per_backend.windows(2).all(|w| w[0] == w[1]));
}

/// JSON strings may hold U+0000 (PostgreSQL's TEXT may not): such resources are stored, served as written,
/// and found by the same searches on every backend; a NUL in a looked-up id or value finds nothing rather
/// than failing.
#[test]
fn text_with_nul_characters_is_stored_and_found() {
    let mut answers = Vec::new();
    for b in backends() {
        let n = b.name;
        let patient = json!({"resourceType": "Patient", "id": "nul", "name": [{"family": "Nu\u{0}ll", "given": ["A\u{0}"]}],
                             "identifier": [{"system": "urn:x\u{0}", "value": "v\u{0}1"}]});
        let odd = PatientId("odd\u{0}one".into());
        let obs = json!({"resourceType": "Observation", "id": "o", "status": "final",
                         "subject": {"reference": "Patient/odd\u{0}one"}, "code": {"text": "t\u{0}"}});
        let imported = vec![PreparedResource {
            resource_type: "Patient".into(),
            id: "imp".into(),
            resource: {
                let mut p = patient.clone();
                p["id"] = json!("imp");
                // A bundle's own lastUpdated is stored as given, NUL and all (made storable on PostgreSQL).
                p["meta"] = json!({"lastUpdated": "2020-01-01T00:00:00Z\u{0}"});
                p
            },
        }];
        b.write_ok(move |s| {
            let practice = s.create_practice("One")?;
            s.put_resource("Patient", "nul", patient, Some(&PatientId("nul".into())), Some(practice), None, Utc::now())?;
            s.put_resource("Observation", "o", obs, Some(&odd), None, None, Utc::now())?;
            s.import(&imported, Utc::now())?;
            s.assign_patient(&PatientId("imp".into()), practice)
        })
        .unwrap();
        let stored: Value = serde_json::from_str(&read_json(&b, "Patient", "nul")).unwrap();
        assert_eq!(stored["name"][0]["family"], "Nu\u{0}ll", "{n}: served as written");
        assert!(b.read(|s| s.read_resource("Patient", "nu\u{0}l")).unwrap().is_none(), "{n}");
        let compartment = b.read(|s| s.compartment(&PatientId("odd\u{0}one".into()))).unwrap();
        assert_eq!(compartment.len(), 1, "{n}");
        let mut mine = Vec::new();
        for query in [
            "family:exact=Nu\u{0}ll",
            "family=nu\u{0}",
            "given=a\u{0}",
            "name:contains=\u{0}l",
            "identifier=urn:x\u{0}|v\u{0}1",
            "_id=nul",
        ] {
            mine.push(search_ids(&b, "Patient", query));
        }
        assert_eq!(mine[0], ["imp", "nul"], "{n}");
        for text in ["nu\u{0}", "Nu\u{0}ll", "a\u{0} nu"] {
            let found = b.read(|s| s.patients(&[PracticeId(1)], &portico_store::PatientQuery::text(text), 10)).unwrap();
            mine.push(found.into_iter().map(|p| p.id.0).collect());
        }
        answers.push((n, mine));
    }
    for (name, mine) in &answers[1..] {
        assert_eq!(mine, &answers[0].1, "{name} against {}", answers[0].0);
    }
}

fn read_json(b: &Fresh, ty: &str, id: &str) -> String {
    b.read(|s| s.read_resource(ty, id)).unwrap().unwrap().json
}
