//! SMART v2 granular scopes and access letters at the FHIR API (SMART-CHECKLIST 21, 59, 60, 62): tokens
//! from a patient credential that asks for narrower scopes than its `patient/*.rs` allowance, on a sample
//! patient with laboratory, vital-signs and social-history Observations.

use std::collections::BTreeSet;

use portico_client::ClientAuthMethod;
use portico_domain::Role;
use serde_json::{json, Value};

use crate::harness::{new_credential, TestServer};

/// Chet Thompson (sample data): 22 laboratory, 15 vital-signs, 18 social-history, 3 survey Observations.
const CHET: &str = "9e2f7a3b-94df-4b3d-bee2-360881649fa5";
const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

fn granular(code: &str) -> String {
    format!("patient/Observation.rs?category={CATEGORY}|{code}")
}

/// A patient user for Chet and one credential of theirs; `token(scope)` mints a token for that scope.
struct Chet<'a> {
    s: &'a TestServer,
    issued: portico_api::IssuedSecret,
}

impl<'a> Chet<'a> {
    async fn new(s: &'a TestServer) -> Chet<'a> {
        s.add_user("chet", &[Role::Patient], &[], Some(CHET));
        let client = s.client("chet").await;
        let issued = client.create_credential(&new_credential("patient_app", "granular")).await.expect("credential");
        Chet { s, issued }
    }

    /// The token and the `scope` the token endpoint answered with.
    async fn token(&self, scope: &str) -> (String, String) {
        let t = self
            .s
            .app()
            .token(&self.issued.client_id, &self.issued.client_secret, ClientAuthMethod::Post, Some(scope))
            .await
            .unwrap_or_else(|e| panic!("token for {scope}: {e}"));
        (t.access_token, t.scope)
    }
}

/// GET `path` with `query` (encoded by the client) and a bearer token: status and JSON body.
async fn get(s: &TestServer, token: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let r = s.http().get(s.fhir(path)).query(query).bearer_auth(token).send().await.expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Every Observation a search returns, following `next` links page by page: (id, category codes).
async fn all_pages(s: &TestServer, token: &str, query: &[(&str, &str)]) -> (u64, Vec<(String, Vec<String>)>) {
    let (status, mut page) = get(s, token, "Observation", query).await;
    assert_eq!(status, 200, "{query:?}: {page}");
    let total = page["total"].as_u64().expect("total");
    let mut found = Vec::new();
    loop {
        for e in page["entry"].as_array().into_iter().flatten() {
            let r = &e["resource"];
            let cats = r["category"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["coding"].as_array().into_iter().flatten())
                .filter_map(|c| c["code"].as_str().map(str::to_owned))
                .collect();
            found.push((r["id"].as_str().expect("id").to_owned(), cats));
        }
        let next =
            page["link"].as_array().into_iter().flatten().find(|l| l["relation"] == "next").and_then(|l| l["url"].as_str());
        let Some(next) = next.map(str::to_owned) else { break };
        let r = s.http().get(&next).bearer_auth(token).send().await.expect("next page");
        assert_eq!(r.status().as_u16(), 200, "{next}");
        page = r.json().await.expect("json");
    }
    (total, found)
}

fn ids(found: &[(String, Vec<String>)]) -> BTreeSet<String> {
    found.iter().map(|(id, _)| id.clone()).collect()
}

fn in_category(found: &[(String, Vec<String>)], code: &str) -> usize {
    found.iter().filter(|(_, cats)| cats.iter().any(|c| c == code)).count()
}

/// Checklist 59 items 1–5, plus $everything (62) and the granted scope as requested (21).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn category_scopes_narrow_search_read_and_everything() {
    let s = TestServer::start().await;
    let chet = Chet::new(&s).await;
    let (full, _) = chet.token("patient/Observation.rs").await;
    let lab_scope = granular("laboratory");
    let (lab, granted) = chet.token(&lab_scope).await;
    assert_eq!(granted, lab_scope, "granted exactly as requested");

    // What resource-level scopes see, per category: the reference for everything below.
    let patient = [("patient", CHET), ("_count", "7")];
    let (_, everything_full) = all_pages(&s, &full, &patient).await;
    let labs = in_category(&everything_full, "laboratory");
    let social = in_category(&everything_full, "social-history");
    let vitals = in_category(&everything_full, "vital-signs");
    assert!(labs > 7 && social > 0 && vitals > 0, "sample data: {labs} lab, {social} social, {vitals} vital");

    // 1. Observation?patient=X returns only laboratory Observations, every one of them, with a right total.
    let (total, found) = all_pages(&s, &lab, &patient).await;
    assert_eq!((total as usize, found.len(), in_category(&found, "laboratory")), (labs, labs, labs));

    // 2. Asking for another category gets an empty Bundle.
    let (status, body) = get(&s, &lab, "Observation", &[("patient", CHET), ("category", "vital-signs")]).await;
    assert_eq!((status, body["total"].as_u64()), (200, Some(0)), "{body}");

    // 3. A vital-signs Observation by id is not found; a laboratory one is read.
    let vital_id = everything_full.iter().find(|(_, c)| c.iter().any(|c| c == "vital-signs")).map(|(id, _)| id.clone());
    let lab_id = found.first().map(|(id, _)| id.clone());
    for (id, want) in [(vital_id.expect("a vital sign"), 404), (lab_id.expect("a lab"), 200)] {
        let (status, body) = get(&s, &lab, &format!("Observation/{id}"), &[]).await;
        assert_eq!(status, want, "Observation/{id}: {body}");
    }

    // 4. category=laboratory: exactly the resource-level lab set, the same ids across all pages.
    let lab_query = [("patient", CHET), ("category", "laboratory"), ("_count", "5")];
    let (full_total, full_labs) = all_pages(&s, &full, &lab_query).await;
    let (gran_total, gran_labs) = all_pages(&s, &lab, &lab_query).await;
    assert_eq!(full_total, gran_total);
    assert_eq!(ids(&full_labs), ids(&gran_labs));
    assert_eq!(ids(&gran_labs), ids(&found));
    let (_, count) = get(&s, &lab, "Observation", &[("patient", CHET), ("_summary", "count")]).await;
    assert_eq!(count["total"].as_u64(), Some(labs as u64), "_summary=count");

    // 5. Several granular scopes for one type are ORed.
    let both = format!("{} {}", granular("laboratory"), granular("social-history"));
    let (either, granted) = chet.token(&both).await;
    assert_eq!(granted, both);
    let (total, found) = all_pages(&s, &either, &patient).await;
    assert_eq!(total as usize, labs + social);
    assert_eq!((in_category(&found, "laboratory"), in_category(&found, "social-history")), (labs, social));
    assert_eq!(in_category(&found, "vital-signs"), 0);

    // 62. $everything leaves out what the categories do not admit.
    let (with_patient, _) = chet.token(&format!("patient/Patient.r {lab_scope}")).await;
    let (status, body) = get(&s, &with_patient, &format!("Patient/{CHET}/$everything"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let entries = body["entry"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = entries.iter().filter_map(|e| e["resource"]["resourceType"].as_str()).collect();
    assert_eq!(types.iter().filter(|t| **t == "Observation").count(), labs, "only the lab Observations");
    assert_eq!(types.iter().filter(|t| **t == "Patient").count(), 1);
    assert_eq!(types.len(), labs + 1, "nothing else: {types:?}");
    s.stop().await;
}

/// Checklist 60 (and 21's "v1 kept as v1"): the letters a token holds decide the interactions it may use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_letters_are_enforced_and_v1_is_answered_as_v1() {
    let s = TestServer::start().await;
    let chet = Chet::new(&s).await;
    let (full, _) = chet.token("patient/Observation.rs").await;
    let (_, body) = get(&s, &full, "Observation", &[("patient", CHET), ("_count", "1")]).await;
    let obs = body["entry"][0]["resource"].clone();
    let id = obs["id"].as_str().expect("an Observation").to_owned();
    let new_obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": format!("Patient/{CHET}")}});

    // (scope, read by id, search, create, update, delete)
    let lab = granular("laboratory");
    let table: [(&str, [u16; 5]); 6] = [
        ("patient/Observation.rs", [200, 200, 403, 403, 403]),
        ("patient/Observation.r", [200, 403, 403, 403, 403]),
        ("patient/Observation.s", [403, 200, 403, 403, 403]),
        ("patient/Observation.read", [200, 200, 403, 403, 403]),
        ("patient/*.read", [200, 200, 403, 403, 403]),
        (&lab, [0, 200, 403, 403, 403]),
    ];
    let mut failures = Vec::new();
    for (scope, want) in table {
        let (token, granted) = chet.token(scope).await;
        if granted != scope {
            failures.push(format!("{scope}: granted as {granted}"));
        }
        let read = get(&s, &token, &format!("Observation/{id}"), &[]).await.0;
        let search = get(&s, &token, "Observation", &[("patient", CHET)]).await.0;
        let send = |method: reqwest::Method, path: String, body: &Value| {
            s.http()
                .request(method, s.fhir(&path))
                .bearer_auth(&token)
                .header("Content-Type", "application/fhir+json")
                .body(body.to_string())
                .send()
        };
        let create = send(reqwest::Method::POST, "Observation".into(), &new_obs).await.expect("post").status().as_u16();
        let update = send(reqwest::Method::PUT, format!("Observation/{id}"), &obs).await.expect("put").status().as_u16();
        let delete =
            send(reqwest::Method::DELETE, format!("Observation/{id}"), &Value::Null).await.expect("delete").status().as_u16();
        // The first Observation may or may not be a lab; a granular read answers 200 or 404, never 403.
        let read_ok = if want[0] == 0 { matches!(read, 200 | 404) } else { read == want[0] };
        let got = [read, search, create, update, delete];
        if !read_ok || got[1..] != want[1..] {
            failures.push(format!("{scope}: [read, search, create, update, delete] got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    s.stop().await;
}
