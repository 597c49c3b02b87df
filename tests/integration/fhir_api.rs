//! The FHIR R4 API: discovery, read, search parameters, paging, writes with versions, and its errors.

use std::collections::BTreeSet;

use reqwest::header::{CONTENT_TYPE, ETAG, WWW_AUTHENTICATE};
use serde_json::{json, Value};

use crate::harness::{new_credential, TestServer, REYNA};

async fn dev_token(s: &TestServer, name: &str, write: bool) -> String {
    let roles: &[portico_domain::Role] = if write {
        &[portico_domain::Role::Developer, portico_domain::Role::Provider]
    } else {
        &[portico_domain::Role::Developer]
    };
    s.add_user(name, roles, &[1], None);
    let c = s.client(name).await;
    let issued = c.create_credential(&new_credential("developer", "key")).await.expect("create");
    s.token(&issued).await.access_token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_needs_no_token_and_names_the_real_endpoints() {
    let s = TestServer::start().await;
    let r = s.http().get(s.fhir("metadata")).send().await.expect("metadata");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()[CONTENT_TYPE].to_str().unwrap_or("").starts_with("application/fhir+json"));
    let cs: Value = r.json().await.expect("json");
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["rest"][0]["mode"], "server");
    let security = &cs["rest"][0]["security"];
    assert_eq!(security["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
    let uris = security["extension"][0]["extension"].as_array().expect("oauth-uris");
    let token = uris.iter().find(|e| e["url"] == "token").expect("token uri");
    assert_eq!(token["valueUri"], s.config.token_url());
    let types: BTreeSet<&str> =
        cs["rest"][0]["resource"].as_array().expect("resources").iter().filter_map(|r| r["type"].as_str()).collect();
    for t in [
        "Patient",
        "Observation",
        "Condition",
        "Encounter",
        "MedicationRequest",
        "AllergyIntolerance",
        "Immunization",
        "Organization",
    ] {
        assert!(types.contains(t), "{t} missing");
    }
    for path in ["fhir/.well-known/smart-configuration", ".well-known/smart-configuration"] {
        let cfg: Value = s.http().get(format!("{}/{path}", s.base)).send().await.expect("smart").json().await.expect("json");
        assert_eq!(cfg["token_endpoint"], s.config.token_url(), "{path}");
        assert!(cfg["grant_types_supported"].as_array().is_some_and(|g| g.contains(&json!("client_credentials"))));
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_bad_tokens_get_401_operation_outcomes() {
    let s = TestServer::start().await;
    for (label, auth) in [
        ("none", None),
        ("garbage", Some("Bearer nonsense")),
        ("well-formed but unknown", Some("Bearer pca_0000000000000000000000000000000000000000000000000000000000")),
        ("basic", Some("Basic YTpi")),
    ] {
        let mut req = s.http().get(s.fhir(&format!("Patient/{REYNA}")));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.expect(label);
        assert_eq!(r.status().as_u16(), 401, "{label}");
        assert!(r.headers()[WWW_AUTHENTICATE].to_str().unwrap_or("").starts_with("Bearer"), "{label}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["resourceType"], "OperationOutcome", "{label}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_parameters_filter_sort_and_page() {
    let s = TestServer::start().await;
    let t = dev_token(&s, "searcher", false).await;
    let total = |b: &Value| b["total"].as_u64().unwrap_or(u64::MAX);
    let (_, all) = s.get(&format!("Observation?patient={REYNA}&_summary=count"), &t).await;
    let n = total(&all);
    assert!(n > 50, "Reyna has many observations: {n}");
    // Each row: query → predicate every returned resource must satisfy, and whether results are expected.
    type Predicate = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(String, Predicate, bool)> = vec![
        (
            format!("Observation?patient={REYNA}&category=vital-signs"),
            Box::new(|r| r["category"].to_string().contains("vital-signs")),
            true,
        ),
        (
            format!("Observation?subject=Patient/{REYNA}&code=http://loinc.org|8302-2"),
            Box::new(|r| r["code"]["coding"][0]["code"] == "8302-2"),
            true,
        ),
        (
            format!("Observation?patient={REYNA}&date=ge2019-01-01"),
            Box::new(|r| r["effectiveDateTime"].as_str().unwrap_or("") >= "2019"),
            true,
        ),
        (
            format!("Observation?patient={REYNA}&date=lt2000"),
            Box::new(|r| r["effectiveDateTime"].as_str().unwrap_or("9") < "2000"),
            false,
        ),
        (
            format!("Condition?patient={REYNA}&clinical-status=active"),
            Box::new(|r| r["clinicalStatus"].to_string().contains("active")),
            true,
        ),
        (format!("Encounter?patient={REYNA}&status=finished"), Box::new(|r| r["status"] == "finished"), true),
        ("Patient?family=ziemann".to_owned(), Box::new(|r| r["id"] == REYNA), true),
        ("Patient?name=REYNA".to_owned(), Box::new(|r| r["id"] == REYNA), true),
        ("Patient?gender=female&birthdate=1974-02-28".to_owned(), Box::new(|r| r["id"] == REYNA), true),
        (format!("Patient?_id={REYNA}"), Box::new(|r| r["id"] == REYNA), true),
        (format!("Observation?patient={REYNA}&_lastUpdated=gt2000-01-01"), Box::new(|_| true), true),
    ];
    for (q, pred, nonempty) in cases {
        let (status, b) = s.get(&format!("{q}&_count=1000"), &t).await;
        assert_eq!(status, 200, "{q}: {b}");
        let entries = b["entry"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.is_empty(), !nonempty, "{q}: {} results", entries.len());
        assert_eq!(total(&b), entries.len() as u64, "{q}");
        for e in entries {
            assert!(pred(&e["resource"]), "{q}: unexpected {}", e["resource"]["id"]);
        }
    }
    // _sort=-date returns newest first.
    let (_, b) = s.get(&format!("Observation?patient={REYNA}&_sort=-date&_count=20"), &t).await;
    let dates: Vec<&str> =
        b["entry"].as_array().expect("entries").iter().filter_map(|e| e["resource"]["effectiveDateTime"].as_str()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    // Paging through `next` links visits every result exactly once.
    let mut seen = BTreeSet::new();
    let mut url = Some(s.fhir(&format!("Observation?patient={REYNA}&_count=7&_sort=date")));
    let mut pages = 0;
    while let Some(u) = url {
        let b: Value = s.http().get(&u).bearer_auth(&t).send().await.expect("page").json().await.expect("json");
        for e in b["entry"].as_array().into_iter().flatten() {
            assert!(seen.insert(e["resource"]["id"].as_str().unwrap_or("").to_owned()), "duplicate across pages");
        }
        url = b["link"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["relation"] == "next"))
            .and_then(|l| l["url"].as_str())
            .map(str::to_owned);
        pages += 1;
        assert!(pages < 100, "paging does not end");
    }
    assert_eq!(seen.len() as u64, n);
    // POST _search is the same search.
    let r = s
        .http()
        .post(s.fhir("Observation/_search"))
        .bearer_auth(&t)
        .form(&[("patient", REYNA), ("_summary", "count")])
        .send()
        .await
        .expect("post search");
    let b: Value = r.json().await.expect("json");
    assert_eq!(total(&b), n);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_search_parameters_get_400_operation_outcomes() {
    let s = TestServer::start().await;
    let t = dev_token(&s, "badsearch", false).await;
    for q in [
        "Observation?foo=bar",
        "Observation?date=yesterday",
        "Observation?date=sa2019",
        "Observation?_count=abc",
        "Observation?_count=100000",
        "Observation?code:text=x",
        "Observation?_sort=colour",
        "Observation?_summary=data",
        "Patient?birthdate=1974-13-45",
        "Observation?patient=",
        "Observation?_include:iterate=Observation:has-member",
        "Observation?_include=Observation:code",
        "Observation?_offset=18446744073709551615",
    ] {
        let (status, b) = s.get(q, &t).await;
        assert_eq!(status, 400, "{q}: {b}");
        assert_eq!(b["resourceType"], "OperationOutcome", "{q}");
        assert!(b["issue"][0]["diagnostics"].as_str().is_some_and(|d| !d.is_empty()), "{q}");
    }
    let (status, b) = s.get("Spaceship?x=1", &t).await;
    assert_eq!(status, 404, "{b}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_versioned_with_etags_and_deletes_answer_410() {
    let s = TestServer::start().await;
    let t = dev_token(&s, "writer", true).await;
    let obs = json!({"resourceType":"Observation","status":"preliminary","code":{"text":"Weight"},"subject":{"reference":format!("Patient/{REYNA}")}});
    let r = s.http().post(s.fhir("Observation")).bearer_auth(&t).body(obs.to_string()).send().await.expect("create");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers()[ETAG], "W/\"1\"");
    assert!(r.headers().contains_key("location"));
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["meta"]["versionId"], "1");

    let mut updated = created.clone();
    updated["status"] = json!("final");
    let put = |body: Value, if_match: Option<&'static str>| {
        let mut req = s.http().put(s.fhir(&format!("Observation/{id}"))).bearer_auth(&t).body(body.to_string());
        if let Some(m) = if_match {
            req = req.header("If-Match", m);
        }
        req.send()
    };
    let r = put(updated.clone(), Some("W/\"1\"")).await.expect("update");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()[ETAG], "W/\"2\"");
    let r = put(updated.clone(), Some("W/\"1\"")).await.expect("stale update");
    assert_eq!(r.status().as_u16(), 412, "a stale If-Match is refused");
    let (status, now) = s.get(&format!("Observation/{id}"), &t).await;
    assert_eq!((status, now["meta"]["versionId"].as_str(), now["status"].as_str()), (200, Some("2"), Some("final")));

    // Moving a resource to a patient outside the key's reach is refused and changes nothing.
    let outsider = s.patients_of(2)[0].clone();
    let mut moved = updated.clone();
    moved["subject"] = json!({"reference": format!("Patient/{outsider}")});
    assert_eq!(put(moved, None).await.expect("move").status().as_u16(), 403);
    let mut wrong_id = updated.clone();
    wrong_id["id"] = json!("something-else");
    assert_eq!(put(wrong_id, None).await.expect("id mismatch").status().as_u16(), 400);

    let r = s.http().delete(s.fhir(&format!("Observation/{id}"))).bearer_auth(&t).send().await.expect("delete");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(s.get(&format!("Observation/{id}"), &t).await.0, 410);
    let r = s.http().delete(s.fhir(&format!("Observation/{id}"))).bearer_auth(&t).send().await.expect("delete again");
    assert_eq!(r.status().as_u16(), 204, "delete is idempotent");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_returns_the_whole_compartment_and_what_it_refers_to() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Everything").await;
    let t = s.token(&issued).await.access_token;
    let (status, b) = s.get(&format!("Patient/{REYNA}/$everything"), &t).await;
    assert_eq!(status, 200);
    let entries = b["entry"].as_array().expect("entries");
    assert_eq!(b["total"].as_u64(), Some(entries.len() as u64));
    let key = |r: &Value| (r["resourceType"].as_str().unwrap_or("").to_owned(), r["id"].as_str().unwrap_or("").to_owned());
    let is_shared = |r: &Value| r["resourceType"].as_str().and_then(portico_fhir::type_def).is_some_and(|t| t.is_shared());
    let (shared, own): (Vec<&Value>, Vec<&Value>) = entries.iter().map(|e| &e["resource"]).partition(|r| is_shared(r));
    // The compartment: exactly what the preview counts, all of it Reyna's.
    let preview = patient.preview(&issued.credential.id).await.expect("preview");
    assert_eq!(own.len(), preview.total, "compartment == preview total");
    for r in &own {
        let refs = portico_fhir::references(r);
        let mine = r["id"] == REYNA || refs.iter().any(|x| x.ends_with(&format!("Patient/{REYNA}")));
        assert!(mine, "{} {} is not Reyna's", r["resourceType"], r["id"]);
    }
    // The shared resources: exactly those her records refer to, each once, none of another patient's.
    let referenced: BTreeSet<(String, String)> = own
        .iter()
        .flat_map(|r| portico_fhir::references(r))
        .filter_map(|r| portico_fhir::parse_reference(&r))
        .filter(|(ty, _)| portico_fhir::type_def(ty).is_some_and(|t| t.is_shared()))
        .collect();
    let got: Vec<(String, String)> = shared.iter().map(|r| key(r)).collect();
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), referenced, "shared resources == those referenced");
    assert_eq!(got.len(), referenced.len(), "no shared resource twice");
    for ty in ["Organization", "Practitioner"] {
        assert!(got.iter().any(|(t, _)| t == ty), "no {ty} in $everything: {got:?}");
    }
    let (_, orgs) = s.get("Organization?_summary=count", &t).await;
    let all_orgs = orgs["total"].as_u64().expect("total") as usize;
    assert!(got.iter().filter(|(t, _)| t == "Organization").count() < all_orgs, "other patients' organizations left out");
    s.stop().await;
}

/// A search with no criteria is answered by SQLite alone; it must return exactly what the general path
/// returns for a criterion every resource meets, page by page, in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfiltered_searches_page_like_filtered_ones() {
    let s = TestServer::start().await;
    let t = dev_token(&s, "pager", false).await;
    let ids = |b: &Value| -> Vec<String> {
        b["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned)).collect()
    };
    for (offset, count) in [(0, 1000), (0, 17), (17, 17), (990, 50)] {
        let (_, fast) = s.get(&format!("Observation?_count={count}&_offset={offset}"), &t).await;
        let (_, general) = s.get(&format!("Observation?_lastUpdated=gt1900&_count={count}&_offset={offset}"), &t).await;
        assert_eq!(fast["total"], general["total"], "offset {offset}");
        assert_eq!(ids(&fast), ids(&general), "offset {offset}, count {count}");
        let next = |b: &Value| b["link"].as_array().is_some_and(|ls| ls.iter().any(|l| l["relation"] == "next"));
        assert_eq!(next(&fast), next(&general), "offset {offset}");
    }
    let (_, fast) = s.get("Patient?_summary=count", &t).await;
    assert_eq!(fast["total"].as_u64(), Some(s.patients_of(1).len() as u64));
    assert!(fast.get("entry").is_none());
    s.stop().await;
}

/// A new Patient always lands in a practice (so someone can reach it); keys without a practice cannot
/// register patients at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_patients_join_the_writers_practice() {
    let s = TestServer::start().await;
    let t = dev_token(&s, "registrar", true).await;
    let patient = |id: Option<&str>| {
        let mut p = json!({"resourceType": "Patient", "name": [{"family": "Newcomer", "given": ["Nia"]}], "gender": "female"});
        if let Some(id) = id {
            p["id"] = json!(id);
        }
        p.to_string()
    };
    let r = s.http().post(s.fhir("Patient")).bearer_auth(&t).body(patient(None)).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    assert_eq!(s.get(&format!("Patient/{id}"), &t).await.0, 200, "the writer reaches what it created");
    assert!(s.patients_of(1).contains(&id));
    let r =
        s.http().put(s.fhir("Patient/put-created")).bearer_auth(&t).body(patient(Some("put-created"))).send().await.expect("put");
    assert_eq!(r.status().as_u16(), 201);
    assert!(s.patients_of(1).contains(&"put-created".to_owned()));
    assert_eq!(s.get("Patient/put-created", &t).await.0, 200);
    s.stop().await;
}
