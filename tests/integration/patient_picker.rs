//! `GET /api/patients`, the staff's patient picker: names by any word's start, dates of birth, MRNs and ids
//! find a patient of the staff member's practices and never another practice's; `ids=` answers the summaries
//! of given patients; limits and bad input are refused with 400s.

use chrono::Utc;
use portico_api as wire;
use portico_client::{Client, ClientError};
use portico_domain::{PatientId, PracticeId, Role};
use portico_store::PatientQuery;
use serde_json::{json, Value};

use crate::harness::{new_credential, TestServer};

/// Every seeded patient as the directory has it, with its practice.
fn seeded(s: &TestServer) -> Vec<(wire::PatientSummary, i64)> {
    let store = s.store();
    let all = store.patients(&[PracticeId(1), PracticeId(2)], &PatientQuery::All, 1000).expect("directory");
    all.into_iter()
        .map(|p| {
            let practice = p.practices[0].0;
            let summary = wire::PatientSummary {
                id: p.id.0,
                name: p.name,
                birth_date: p.birth_date,
                gender: p.gender,
                mrn: p.mrn,
                practices: p.practices.iter().map(|x| x.0).collect(),
            };
            (summary, practice)
        })
        .collect()
}

async fn raw(s: &TestServer, token: Option<&str>, query: &str) -> (u16, Value) {
    let mut req = s.http().get(format!("{}/api/patients{query}", s.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn ids(found: &[wire::PatientSummary]) -> Vec<&str> {
    found.iter().map(|p| p.id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_way_of_naming_a_patient_finds_it_in_the_own_practice_only() {
    let s = TestServer::start().await;
    let provider = s.client("provider").await; // practice 1
    let everyone = seeded(&s);
    assert_eq!(everyone.len(), 18);
    assert!(everyone.iter().all(|(p, _)| p.mrn.is_some()), "every sample has an MRN");
    let mut checked = 0;
    for (p, practice) in &everyone {
        let family = p.name.split_whitespace().last().expect("a family name").to_lowercase();
        let given = p.name.split_whitespace().next().expect("a given name");
        let birth = p.birth_date.clone().expect("a birth date");
        let mrn = p.mrn.clone().expect("an MRN");
        // (how it is asked, must it come first)
        let asked: Vec<(String, bool)> = vec![
            (family.chars().take(4).collect(), false),
            (family.to_uppercase(), false),
            (format!("{} {}", given.to_lowercase(), &family[..2]), false),
            (format!("{family}, {given}"), false),
            (birth.clone(), false),
            (birth[..7].to_owned(), false),
            (mrn.clone(), true),
            (mrn.to_uppercase(), true),
            (mrn[..8].to_owned(), false),
            (p.id.clone(), true),
        ];
        for (q, first) in asked {
            let found = provider.patients(Some(&q), Some(50)).await.expect("search");
            let hit = found.iter().position(|f| f.id == p.id);
            if *practice == 1 {
                assert!(hit.is_some(), "{q:?} finds {} ({:?})", p.name, ids(&found));
                if first {
                    assert_eq!(hit, Some(0), "{q:?}: an exact identifier comes first");
                }
                let f = &found[hit.unwrap_or(0)];
                assert_eq!(
                    (&f.name, &f.birth_date, &f.gender, &f.mrn, &f.practices),
                    (&p.name, &p.birth_date, &p.gender, &p.mrn, &p.practices)
                );
            } else {
                assert_eq!(hit, None, "{q:?} must not show {}, a patient of practice 2", p.name);
            }
            assert!(found.iter().all(|f| f.practices.contains(&1)), "{q:?}: only practice-1 patients");
            checked += 1;
        }
    }
    assert_eq!(checked, 180);
    // Nor does asking for another practice's patients by id show them.
    let theirs: Vec<String> = everyone.iter().filter(|(_, pr)| *pr == 2).map(|(p, _)| p.id.clone()).collect();
    assert!(provider.patients_by_id(&theirs).await.expect("ids").is_empty());
    // A staff member of both practices finds both.
    s.add_user("both-provider", &[Role::Provider], &[1, 2], None);
    let both = s.client("both-provider").await;
    assert_eq!(both.patients_by_id(&theirs).await.expect("ids").len(), theirs.len());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_ordered_by_name_and_capped() {
    let s = TestServer::start().await;
    {
        let mut store = s.store();
        for i in 0..60 {
            let id = format!("crowd-{i:02}");
            let p = json!({"resourceType": "Patient", "id": id, "name": [{"family": "Crowd", "given": [format!("Member{:02}", 59 - i)]}],
                           "birthDate": "2001-01-01"});
            store
                .put_resource("Patient", &id, p, Some(&PatientId(id.clone())), Some(PracticeId(1)), None, Utc::now())
                .expect("put");
        }
    }
    let provider = s.client("provider").await;
    let all = provider.patients(None, None).await.expect("everyone");
    assert_eq!(all.len(), wire::PATIENTS_DEFAULT_LIMIT, "20 by default");
    let names: Vec<String> = all.iter().map(|p| p.name.to_lowercase()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by name");
    let crowd = provider.patients(Some("crowd"), Some(50)).await.expect("crowd");
    assert_eq!(crowd.len(), wire::PATIENTS_MAX_LIMIT);
    assert_eq!(crowd[0].name, "Member00 Crowd");
    assert_eq!(crowd[0].id, "crowd-59");
    assert_eq!(provider.patients(Some("crowd member0"), Some(50)).await.expect("narrowed").len(), 10);
    assert_eq!(provider.patients(Some("2001"), Some(5)).await.expect("by year").len(), 5);
    // ids: only visible ones, by name, each once.
    let asked: Vec<String> = ["crowd-01", "crowd-00", "crowd-00", "no-such-patient"].iter().map(|s| (*s).to_owned()).collect();
    let got = provider.patients_by_id(&asked).await.expect("ids");
    assert_eq!(ids(&got), ["crowd-01", "crowd-00"]);
    // More ids than one request takes: the client asks in turns.
    let many: Vec<String> = (0..150).map(|i| format!("crowd-{:02}", i % 60)).collect();
    assert_eq!(provider.patients_by_id(&many).await.expect("many ids").len(), 60);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_non_staff_cannot_list() {
    let s = TestServer::start().await;
    let provider = s.client("provider").await;
    let t = provider.session_token().expect("session").to_owned();
    let long = "a".repeat(wire::PATIENTS_MAX_QUERY + 1);
    let just = "a".repeat(wire::PATIENTS_MAX_QUERY);
    let too_many = (0..=wire::PATIENTS_MAX_IDS).map(|i| format!("p{i}")).collect::<Vec<_>>().join(",");
    let enough = (0..wire::PATIENTS_MAX_IDS).map(|i| format!("p{i}")).collect::<Vec<_>>().join(",");
    let cases: Vec<(String, u16)> = vec![
        ("".into(), 200),
        ("?q=".into(), 200),
        (format!("?q={just}"), 200),
        (format!("?q={long}"), 400),
        ("?q=a%00b".into(), 400),
        ("?q=a%0Ab".into(), 400),
        ("?q=%27%20OR%201%3D1--".into(), 200),
        ("?q=%25".into(), 200),
        ("?q=_".into(), 200),
        ("?limit=1".into(), 200),
        ("?limit=50".into(), 200),
        ("?limit=0".into(), 400),
        ("?limit=51".into(), 400),
        ("?limit=-1".into(), 400),
        ("?limit=ten".into(), 400),
        ("?limit=".into(), 400),
        ("?ids=".into(), 200),
        (format!("?ids={enough}"), 200),
        (format!("?ids={too_many}"), 400),
        ("?ids=bad$id".into(), 400),
        ("?ids=a,%27%20OR%201%3D1".into(), 400),
        ("?ids=a&q=b".into(), 400),
        ("?ids=a&limit=5".into(), 400),
    ];
    for (query, want) in cases {
        let (status, body) = raw(&s, Some(&t), &query).await;
        assert_eq!(status, want, "GET /api/patients{query}: {body}");
        if want == 400 {
            assert_eq!(body["code"], "invalid_input", "{query}: {body}");
        } else if query.contains('\'') || query.contains("%27") || query.contains("%25") || query == "?q=_" {
            assert_eq!(body, json!([]), "{query}: nothing matches text that only looks like SQL");
        }
    }
    assert_eq!(raw(&s, None, "?q=a").await.0, 401);
    // Patients and developers without a staff role do not list patients.
    let patient = s.client("patient").await;
    match patient.patients(None, None).await {
        Err(ClientError::Api { status, .. }) => assert_eq!(status, 403),
        other => panic!("a patient listed patients: {other:?}"),
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_written_through_fhir_is_found_at_once() {
    let s = TestServer::start().await;
    s.add_user("writer", &[Role::Developer, Role::Provider], &[1], None);
    let writer: Client = s.client("writer").await;
    let issued = writer.create_credential(&new_credential("developer", "writes patients")).await.expect("create");
    let t = s.token(&issued).await.access_token;
    let id = "picker-new-patient";
    let body = json!({"resourceType": "Patient", "id": id, "name": [{"family": "Ångström", "given": ["Zoë"]}], "birthDate": "1999-12-31",
        "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}, "value": "Q-777"}]});
    let r = s
        .http()
        .put(s.fhir(&format!("Patient/{id}")))
        .bearer_auth(&t)
        .header("Content-Type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 201);
    let provider = s.client("provider").await;
    for q in ["angstrom", "ÅNGSTRÖM", "zoe ang", "1999-12-31", "q-777", id] {
        let found = provider.patients(Some(q), None).await.expect("search");
        assert_eq!(ids(&found), [id], "{q:?}");
        assert_eq!(found[0].name, "Zoë Ångström");
        assert_eq!(found[0].mrn.as_deref(), Some("Q-777"));
    }
    let r = s.http().delete(s.fhir(&format!("Patient/{id}"))).bearer_auth(&t).send().await.expect("delete");
    assert!(r.status().is_success());
    assert!(provider.patients(Some("angstrom"), None).await.expect("search").is_empty(), "a deleted patient is gone");
    s.stop().await;
}
