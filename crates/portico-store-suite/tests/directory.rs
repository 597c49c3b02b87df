//! The patient directory on every backend: it answers what a plain reading of the Patients' JSON answers
//! (names by any word's start, birth dates, MRNs, ids; only the practices asked; in name order), the
//! backends answer alike, and it follows every write, import and delete.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use portico_domain::{PatientId, PracticeId};
use portico_fhir::patient::card;
use portico_fhir::search::fold;
use portico_fhir::{prepare_bundle, PreparedResource};
use portico_store::{PatientQuery, PatientSummary};
use portico_store_suite::{backends, Fresh};
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

/// Every Patient id the fixture may hold.
fn patient_ids() -> Vec<String> {
    let mut ids: Vec<String> =
        samples().iter().map(|r| r.iter().find(|r| r.resource_type == "Patient").unwrap().id.clone()).collect();
    ids.extend(["zoe", "ana", "both", "nowhere", "named"].map(String::from));
    ids
}

/// All samples (patients alternating between practices 1 and 2, Reyna in 1) plus a few made-up patients.
fn fixture(b: &Fresh) {
    let records = samples();
    b.write_ok(move |s| {
        let all: Vec<PreparedResource> = records.iter().flatten().cloned().collect();
        s.import(&all, Utc::now())?;
        let p1 = s.create_practice("One")?;
        let p2 = s.create_practice("Two")?;
        assert_eq!((p1, p2), (PracticeId(1), PracticeId(2)));
        for (i, record) in records.iter().enumerate() {
            let id = record.iter().find(|r| r.resource_type == "Patient").unwrap().id.clone();
            s.assign_patient(&PatientId(id.clone()), if id == REYNA || i % 2 == 0 { p1 } else { p2 })?;
        }
        let made = [
            ("zoe", patient("zoe", "Zoë", "García-Núñez", "1980-02-29", Some("MRN-0042")), Some(p1)),
            ("ana", patient("ana", "Ana", "Núñez", "1980-03-01", Some("mrn-0043")), Some(p2)),
            ("both", patient("both", "Bo", "Both", "1980", Some("0099")), Some(p1)),
            ("nowhere", patient("nowhere", "Ana", "Nowhere", "1990-01-01", None), None),
        ];
        for (id, json, practice) in made {
            s.put_resource("Patient", id, json, Some(&PatientId(id.into())), practice, None, Utc::now())?;
        }
        s.assign_patient(&PatientId("both".into()), p2)
    })
    .unwrap();
}

fn ids(found: &[PatientSummary]) -> Vec<String> {
    found.iter().map(|p| p.id.0.clone()).collect()
}

fn search(b: &Fresh, practices: &[i64], q: &str) -> Vec<String> {
    let ps: Vec<PracticeId> = practices.iter().map(|p| PracticeId(*p)).collect();
    ids(&b.read(|s| s.patients(&ps, &PatientQuery::text(q), 50)).unwrap())
}

/// The live Patients with their practices, read back through the boundary.
fn live_patients(b: &Fresh) -> Vec<(String, Value, Vec<i64>)> {
    b.read(|s| {
        patient_ids()
            .into_iter()
            .filter_map(|id| {
                let r = s.read_resource("Patient", &id).unwrap().filter(|r| !r.deleted)?;
                let of = s.patient_practices(&PatientId(id.clone())).unwrap().into_iter().map(|p| p.0).collect();
                Some((id, serde_json::from_str(&r.json).unwrap(), of))
            })
            .collect()
    })
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
    "a b c d e f g h i j",
    "%",
    "_",
    "\\",
];

const PRACTICE_SETS: &[&[i64]] = &[&[1], &[2], &[1, 2], &[], &[3]];

#[test]
fn answers_match_a_plain_reading_of_the_json() {
    for b in backends() {
        fixture(&b);
        let rows = live_patients(&b);
        assert_eq!(rows.len(), samples().len() + 4, "{}: every sample and 4 made up", b.name);
        for practices in PRACTICE_SETS {
            for q in QUERIES {
                assert_eq!(search(&b, practices, q), by_hand(&rows, practices, q), "{}: q={q:?} practices={practices:?}", b.name);
            }
        }
    }
}

type Summary = (String, String, Option<String>, Option<String>, Option<String>, Vec<i64>);

fn summaries(found: Vec<PatientSummary>) -> Vec<Summary> {
    found
        .into_iter()
        .map(|p| (p.id.0, p.name, p.birth_date, p.gender, p.mrn, p.practices.iter().map(|x| x.0).collect()))
        .collect()
}

/// Every backend gives the same summaries (ids, names, dates, MRNs, practices), in the same order; so does
/// PostgreSQL on a database whose own collation is a language's.
#[test]
fn the_backends_answer_alike() {
    let mut answers = Vec::new();
    let mut all = backends();
    all.extend(portico_store_suite::postgres_url().map(|url| portico_store_suite::postgres_with_language_collation(&url)));
    for b in all {
        fixture(&b);
        let mut mine = Vec::new();
        for practices in PRACTICE_SETS {
            let ps: Vec<PracticeId> = practices.iter().map(|p| PracticeId(*p)).collect();
            for q in QUERIES {
                mine.push(summaries(b.read(|s| s.patients(&ps, &PatientQuery::text(q), 50)).unwrap()));
            }
            mine.push(summaries(b.read(|s| s.patients(&ps, &PatientQuery::All, 7)).unwrap()));
        }
        answers.push((b.name, mine));
    }
    assert!(answers[0].1.iter().filter(|a| !a.is_empty()).count() > 60);
    for (name, mine) in &answers[1..] {
        assert_eq!(mine, &answers[0].1, "{name} against {}", answers[0].0);
    }
}

#[test]
fn the_table_of_what_a_person_types() {
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
        // LIKE's wildcards are plain characters here.
        (&[1, 2], "%", &[]),
        (&[1, 2], "_", &[]),
    ];
    for b in backends() {
        fixture(&b);
        for (practices, q, want) in cases {
            assert_eq!(search(&b, practices, q), *want, "{}: q={q:?} practices={practices:?}", b.name);
        }
        // An exact identifier comes before names that merely start alike.
        let mut p = patient("named", "Mrn-0042x", "Person", "2000-01-01", None);
        p["name"][0]["given"] = json!(["mrn-0042"]);
        b.write_ok(move |s| {
            s.put_resource("Patient", "named", p, Some(&PatientId("named".into())), Some(PracticeId(1)), None, Utc::now())
        })
        .unwrap();
        assert_eq!(search(&b, &[1], "mrn-0042"), ["zoe", "named"], "{}", b.name);
    }
}

#[test]
fn a_summary_says_what_a_picker_shows() {
    for b in backends() {
        let n = b.name;
        fixture(&b);
        let got = b.read(|s| s.patients(&[PracticeId(1), PracticeId(2)], &PatientQuery::text("both"), 20)).unwrap();
        assert_eq!(got.len(), 1, "{n}");
        let p = &got[0];
        assert_eq!((p.name.as_str(), p.birth_date.as_deref(), p.mrn.as_deref()), ("Bo Both", Some("1980"), Some("0099")), "{n}");
        assert_eq!(p.practices, [PracticeId(1), PracticeId(2)], "{n}: all its practices");
        let only_two = b.read(|s| s.patients(&[PracticeId(2)], &PatientQuery::text("both"), 20)).unwrap();
        assert_eq!(only_two[0].practices, [PracticeId(1), PracticeId(2)], "{n}: not only those asked");
        let patria = b.read(|s| s.patients(&[PracticeId(1)], &PatientQuery::text(PATRIA), 20)).unwrap();
        assert_eq!(patria[0].name, "Patria Schimmel", "{n}");
        assert_eq!(patria[0].gender.as_deref(), Some("female"), "{n}");
        assert_eq!(patria[0].mrn.as_deref(), Some("d2f8f862-3856-490d-b56f-98e0ed984b1e"), "{n}");
        assert_eq!(patria[0].practices, [PracticeId(1)], "{n}");
    }
}

#[test]
fn all_and_ids_and_limits() {
    for b in backends() {
        let n = b.name;
        fixture(&b);
        let one = [PracticeId(1)];
        let all = b.read(|s| s.patients(&one, &PatientQuery::All, 100)).unwrap();
        let mut sorted: Vec<String> = all.iter().map(|p| fold(&p.name)).collect();
        sorted.sort();
        assert_eq!(all.iter().map(|p| fold(&p.name)).collect::<Vec<_>>(), sorted, "{n}: by name");
        assert_eq!(all.len(), 12, "{n}: 10 samples, zoe and both: {:?}", ids(&all));
        let three = b.read(|s| s.patients(&one, &PatientQuery::All, 3)).unwrap();
        assert_eq!(ids(&three), ids(&all[..3]), "{n}");
        assert!(b.read(|s| s.patients(&one, &PatientQuery::All, 0)).unwrap().is_empty(), "{n}");
        let asked =
            PatientQuery::Ids(["zoe", "ana", "nowhere", "missing", PATRIA].iter().map(|i| PatientId((*i).into())).collect());
        assert_eq!(ids(&b.read(|s| s.patients(&one, &asked, 50)).unwrap()), [PATRIA, "zoe"], "{n}: only visible ones, by name");
        assert!(b.read(|s| s.patients(&one, &PatientQuery::Ids(Vec::new()), 50)).unwrap().is_empty(), "{n}");
        assert!(b.read(|s| s.patients(&[], &PatientQuery::All, 50)).unwrap().is_empty(), "{n}");
    }
}

#[test]
fn the_directory_follows_writes_deletes_and_imports() {
    for b in backends() {
        let n = b.name;
        fixture(&b);
        let zoe = PatientId("zoe".into());
        let z = zoe.clone();
        b.write_ok(move |s| {
            let p = patient("zoe", "Zoë", "Okafor", "1981-01-01", Some("X1"));
            s.put_resource("Patient", "zoe", p, Some(&z), None, None, Utc::now())
        })
        .unwrap();
        assert_eq!(search(&b, &[1], "okafor"), ["zoe"], "{n}");
        assert!(search(&b, &[1], "garcia").is_empty(), "{n}: the old name is gone");
        assert!(search(&b, &[1], "mrn-0042").is_empty(), "{n}: the old MRN is gone");
        assert_eq!(search(&b, &[1], "x1"), ["zoe"], "{n}");
        b.write_ok(|s| s.delete_resource("Patient", "zoe", None, Utc::now())).unwrap();
        assert!(search(&b, &[1], "okafor").is_empty(), "{n}");
        assert!(b.read(|s| s.patients(&[PracticeId(1)], &PatientQuery::Ids(vec![zoe.clone()]), 5)).unwrap().is_empty(), "{n}");
        // Imported again (a bundle): back, under its imported name.
        let back = PreparedResource {
            resource_type: "Patient".into(),
            id: "zoe".into(),
            resource: patient("zoe", "Zia", "Back", "1981", None),
        };
        b.write_ok(move |s| s.import(&[back], Utc::now())).unwrap();
        assert_eq!(search(&b, &[1], "zia back"), ["zoe"], "{n}");
        // Changed by an import while live: the directory row is replaced, not doubled.
        let renamed = PreparedResource {
            resource_type: "Patient".into(),
            id: "zoe".into(),
            resource: patient("zoe", "Zia", "Again Again", "1982", Some("Y2")),
        };
        b.write_ok(move |s| s.import(&[renamed], Utc::now())).unwrap();
        assert!(search(&b, &[1], "back").is_empty(), "{n}");
        assert_eq!(search(&b, &[1], "again"), ["zoe"], "{n}");
        assert_eq!(search(&b, &[1], "y2"), ["zoe"], "{n}");
        let rows = live_patients(&b);
        for q in QUERIES {
            assert_eq!(search(&b, &[1, 2], q), by_hand(&rows, &[1, 2], q), "{n}: q={q:?}");
        }
    }
}
