//! The search parameters issue 10's conformance run found refused: `Prefer: handling=lenient`, `_elements`,
//! `_total`, `_pretty`, `_include` and `_revinclude` (US Core's `MedicationRequest:medication` and
//! `Provenance:target`), the latter under the same enforcement as any search: scopes, patient compartment
//! and granular categories. Also the revocation receipt's `created_at`, `valid_to` and `revoked_by`.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use portico_client::ClientAuthMethod;
use portico_domain::{PatientId, Role};
use serde_json::{json, Value};

use crate::harness::{new_credential, TestServer, REYNA};

/// Query pairs, as `reqwest` encodes them.
type Query<'a> = Vec<(&'a str, &'a str)>;

const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// GET `path?query` with a bearer token and, when given, a `Prefer` header: status, headers and body text.
async fn fetch(
    s: &TestServer,
    token: &str,
    path: &str,
    query: &[(&str, &str)],
    prefer: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = s.http().get(s.fhir(path)).query(query).bearer_auth(token);
    if let Some(p) = prefer {
        req = req.header("Prefer", p);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.expect("body"))
}

async fn search(s: &TestServer, token: &str, path: &str, query: &[(&str, &str)]) -> Value {
    let (status, _, body) = fetch(s, token, path, query, None).await;
    assert_eq!(status, 200, "{path} {query:?}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// `Type/id` of the entries whose search.mode is `mode`.
fn entries(bundle: &Value, mode: &str) -> BTreeSet<String> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| {
            format!("{}/{}", e["resource"]["resourceType"].as_str().unwrap_or("?"), e["resource"]["id"].as_str().unwrap_or("?"))
        })
        .collect()
}

fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"].as_array()?.iter().find(|l| l["relation"] == relation)?["url"].as_str().map(str::to_owned)
}

/// Resources no sample record has: a shared Medication, Reyna's MedicationRequest for it, a laboratory
/// panel of Reyna's whose members are a vital sign of hers and another patient's Observation, and two
/// Provenances of the panel, one in Reyna's compartment and one in the other patient's.
fn seed(s: &TestServer, other: &str) {
    let mut store = s.store();
    let now = Utc::now();
    let reyna = PatientId(REYNA.to_owned());
    let them = PatientId(other.to_owned());
    let category = |code: &str| json!([{"coding": [{"system": CATEGORY, "code": code}]}]);
    let resources = [
        ("Medication", "med-a", json!({"code": {"text": "Amoxicillin 250 MG"}}), None),
        (
            "MedicationRequest",
            "mr-reyna",
            json!({"status": "active", "intent": "order", "subject": {"reference": format!("Patient/{REYNA}")},
                   "medicationReference": {"reference": "Medication/med-a"}}),
            Some(&reyna),
        ),
        (
            "Observation",
            "panel-reyna",
            json!({"status": "final", "category": category("laboratory"), "code": {"text": "panel"},
                   "subject": {"reference": format!("Patient/{REYNA}")},
                   "hasMember": [{"reference": "Observation/vital-reyna"}, {"reference": "Observation/lab-other"}]}),
            Some(&reyna),
        ),
        (
            "Observation",
            "vital-reyna",
            json!({"status": "final", "category": category("vital-signs"), "code": {"text": "pulse"},
                   "subject": {"reference": format!("Patient/{REYNA}")}}),
            Some(&reyna),
        ),
        (
            "Observation",
            "lab-other",
            json!({"status": "final", "category": category("laboratory"), "code": {"text": "glucose"},
                   "subject": {"reference": format!("Patient/{other}")}}),
            Some(&them),
        ),
        (
            "Provenance",
            "prov-reyna",
            json!({"recorded": "2024-01-01T00:00:00Z", "agent": [{"who": {"display": "lab"}}],
                   "target": [{"reference": format!("Patient/{REYNA}")}, {"reference": "Observation/panel-reyna"}]}),
            Some(&reyna),
        ),
        (
            "Provenance",
            "prov-other",
            json!({"recorded": "2024-01-01T00:00:00Z", "agent": [{"who": {"display": "lab"}}],
                   "target": [{"reference": format!("Patient/{other}")}, {"reference": "Observation/panel-reyna"}]}),
            Some(&them),
        ),
    ];
    for (ty, id, mut body, patient) in resources {
        body["resourceType"] = json!(ty);
        body["id"] = json!(id);
        // This second connection reads before it writes, so a commit of the running server's writer in between
        // answers SQLITE_BUSY at once (a WAL snapshot cannot be upgraded): take a fresh snapshot and try again.
        let mut attempts = 0;
        loop {
            match store.put_resource(ty, id, body.clone(), patient, None, None, now) {
                Err(portico_store::StoreError::Busy) if attempts < 100 => {
                    // Busy at once, not after a wait: give the server's writer a moment to finish its commit.
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => {
                    other.expect("seed resource");
                    break;
                }
            }
        }
    }
}

struct Principals {
    other: String,
    staff: String,
    reyna: portico_api::IssuedSecret,
}

impl Principals {
    async fn new(s: &TestServer) -> Principals {
        let other = s.patients_of(1).into_iter().find(|p| p != REYNA).expect("another practice-1 patient");
        seed(s, &other);
        s.add_user("staff-p1", &[Role::Developer], &[1], None);
        let key = s.client("staff-p1").await.create_credential(&new_credential("developer", "staff")).await.expect("key");
        let staff = s.token(&key).await.access_token;
        let (_, reyna) = s.patient_app("includes").await;
        Principals { other, staff, reyna }
    }

    /// `staff` for the practice-1 key, else a token of Reyna's app for that scope.
    async fn token(&self, s: &TestServer, who: &str) -> String {
        if who == "staff" {
            return self.staff.clone();
        }
        s.app()
            .token(&self.reyna.client_id, &self.reyna.client_secret, ClientAuthMethod::Post, Some(who))
            .await
            .unwrap_or_else(|e| panic!("token for {who}: {e}"))
            .access_token
    }
}

/// Included resources are there when the principal may read them and absent otherwise: another patient's
/// resource, a type the token lacks, a category outside a granular scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn includes_stay_inside_the_principals_reach() {
    let s = TestServer::start().await;
    let p = Principals::new(&s).await;
    let other_lab = "Observation/lab-other";
    let lab_scope = format!("patient/Observation.rs?category={CATEGORY}|laboratory");
    let all = "patient/*.rs";
    let med_include = ("_include", "MedicationRequest:medication");
    let members = ("_include", "Observation:has-member");
    let provenance = ("_revinclude", "Provenance:target");
    #[rustfmt::skip]
    let table: Vec<(&str, &str, Query, Vec<&str>)> = vec![
        // US Core: the Medication a MedicationRequest points at (shared, so any reader of Medication sees it).
        (all, "MedicationRequest", vec![("_id", "mr-reyna"), med_include], vec!["Medication/med-a"]),
        ("patient/MedicationRequest.rs patient/Medication.rs", "MedicationRequest", vec![("_id", "mr-reyna"), med_include], vec!["Medication/med-a"]),
        ("patient/MedicationRequest.rs", "MedicationRequest", vec![("_id", "mr-reyna"), med_include], vec![]),
        ("staff", "MedicationRequest", vec![("_id", "mr-reyna"), med_include], vec!["Medication/med-a"]),
        // Generic Type:param: members in the patient's compartment only, and only in the scope's categories.
        (all, "Observation", vec![("_id", "panel-reyna"), members], vec!["Observation/vital-reyna"]),
        (&lab_scope, "Observation", vec![("_id", "panel-reyna"), members], vec![]),
        ("staff", "Observation", vec![("_id", "panel-reyna"), members], vec!["Observation/vital-reyna", other_lab]),
        ("staff", "Observation", vec![("_id", "panel-reyna"), ("_include", "Observation:has-member:Patient")], vec![]),
        // US Core: Provenance of the page's resources, in the compartment only, and only with a Provenance scope.
        (all, "Observation", vec![("_id", "panel-reyna"), provenance], vec!["Provenance/prov-reyna"]),
        ("patient/Observation.rs", "Observation", vec![("_id", "panel-reyna"), provenance], vec![]),
        ("staff", "Observation", vec![("_id", "panel-reyna"), provenance], vec!["Provenance/prov-other", "Provenance/prov-reyna"]),
        // Both at once; a resource already on the page is not repeated as an include.
        ("staff", "Observation", vec![("_id", "panel-reyna,vital-reyna"), members, provenance],
            vec![other_lab, "Provenance/prov-other", "Provenance/prov-reyna"]),
    ];
    for (who, ty, query, expected) in table {
        let token = p.token(&s, who).await;
        let bundle = search(&s, &token, ty, &query).await;
        let expected: BTreeSet<String> = expected.into_iter().map(str::to_owned).collect();
        assert_eq!(entries(&bundle, "include"), expected, "{who}: {ty}?{query:?}");
        // Includes are extra to the matches: neither the total nor the matches change.
        let plain: Vec<(&str, &str)> = query.iter().copied().filter(|(k, _)| !k.starts_with('_') || *k == "_id").collect();
        let without = search(&s, &token, ty, &plain).await;
        assert_eq!(bundle["total"], without["total"], "{who}: {ty}?{query:?}");
        assert_eq!(entries(&bundle, "match"), entries(&without, "match"), "{who}: {ty}?{query:?}");
        // The self link carries the includes, so it names the same search.
        let self_link = link(&bundle, "self").expect("self link");
        for (k, v) in query.iter().filter(|(k, _)| k.ends_with("include")) {
            assert!(self_link.contains(&format!("{k}={v}")), "{self_link} lacks {k}={v}");
        }
    }
    assert!(!p.other.is_empty());
    s.stop().await;
}

/// Paging with `_include`: every page brings exactly the Organizations its own Encounters point at, and the
/// pages together are the same matches as without the include.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_is_unaffected_by_includes() {
    let s = TestServer::start().await;
    let (_, issued) = s.patient_app("paging").await;
    let token = s.token(&issued).await.access_token;
    let plain = search(&s, &token, "Encounter", &[("patient", REYNA), ("_count", "1000")]).await;
    let mut page =
        search(&s, &token, "Encounter", &[("patient", REYNA), ("_count", "7"), ("_include", "Encounter:service-provider")]).await;
    assert_eq!(page["total"], plain["total"]);
    let mut matched = BTreeSet::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let providers: BTreeSet<String> = page["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["search"]["mode"] == "match")
            .filter_map(|e| e["resource"]["serviceProvider"]["reference"].as_str().map(str::to_owned))
            .collect();
        assert!(!providers.is_empty(), "sample Encounters name their Organization");
        assert_eq!(entries(&page, "include"), providers, "page {pages}");
        let on_page = entries(&page, "match");
        assert!(on_page.len() <= 7);
        assert!(matched.is_disjoint(&on_page), "page {pages} repeats a match");
        matched.extend(on_page);
        let Some(next) = link(&page, "next") else { break };
        assert!(next.contains("_include=Encounter:service-provider"), "{next}");
        let r = s.http().get(&next).bearer_auth(&token).send().await.expect("next");
        assert_eq!(r.status().as_u16(), 200, "{next}");
        page = r.json().await.expect("json");
    }
    assert!(pages > 1, "the sample record spans several pages");
    assert_eq!(matched, entries(&plain, "match"));
    s.stop().await;
}

/// `Prefer: handling=lenient` ignores what the server does not support (and says so); strict refuses it;
/// malformed values of supported parameters are refused either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_handling_ignores_what_it_cannot_apply() {
    let s = TestServer::start().await;
    let (_, issued) = s.patient_app("lenient").await;
    let token = s.token(&issued).await.access_token;
    let lenient = Some("handling=lenient");
    let strict = Some("handling=strict");
    let baseline = search(&s, &token, "Observation", &[("patient", REYNA), ("status", "final")]).await;
    #[rustfmt::skip]
    let table: Vec<(Query, Option<&str>, u16, &str)> = vec![
        // (query, Prefer, status, what the ignored-parameter outcome names: "" = no outcome entry)
        (vec![("foo", "bar")], None, 400, ""),
        (vec![("foo", "bar")], strict, 400, ""),
        (vec![("foo", "bar")], lenient, 200, "'foo'"),
        (vec![("foo", "bar")], Some("return=representation, handling=lenient"), 200, "'foo'"),
        (vec![("code:text", "pulse")], lenient, 200, "':text'"),
        (vec![("_summary", "text")], lenient, 200, "_summary=text"),
        (vec![("_include:iterate", "Observation:has-member")], None, 400, ""),
        (vec![("_include:iterate", "Observation:has-member")], lenient, 200, "_include:iterate"),
        (vec![("_include", "*")], lenient, 200, "_include=*"),
        (vec![("_include", "Patient:organization")], lenient, 200, "only references of the searched type"),
        (vec![("_revinclude", "Provenance:patient")], lenient, 200, "can never refer to Observation"),
        (vec![("_sort", "code")], lenient, 200, "cannot sort"),
        (vec![("_total", "sometimes")], lenient, 200, "_total=sometimes"),
        // Not unsupported but wrong: refused whatever the client prefers.
        (vec![("date", "yesterday")], lenient, 400, ""),
        (vec![("_count", "lots")], lenient, 400, ""),
        (vec![("_pretty", "very")], lenient, 400, ""),
        // Supported now, strict or not.
        (vec![("_elements", "status")], None, 200, ""),
        (vec![("_total", "accurate")], None, 200, ""),
        (vec![("_pretty", "false")], None, 200, ""),
        (vec![("_include", "Observation:patient")], None, 200, ""),
        (vec![("_revinclude", "Provenance:target")], None, 200, ""),
    ];
    for (extra, prefer, want, ignored) in table {
        let mut query = vec![("patient", REYNA), ("status", "final")];
        query.extend(extra.iter().copied());
        let (status, headers, body) = fetch(&s, &token, "Observation", &query, prefer).await;
        let bundle: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(status, want, "{extra:?} {prefer:?}: {body}");
        if want != 200 {
            assert_eq!(bundle["resourceType"], "OperationOutcome", "{extra:?}");
            continue;
        }
        let asked_lenient = prefer.is_some_and(|p| p.contains("handling=lenient"));
        assert_eq!(headers.get("preference-applied").is_some(), asked_lenient, "{extra:?} {prefer:?}");
        let outcomes: Vec<&Value> =
            bundle["entry"].as_array().into_iter().flatten().filter(|e| e["search"]["mode"] == "outcome").collect();
        let self_link = link(&bundle, "self").expect("self");
        if ignored.is_empty() {
            assert!(outcomes.is_empty(), "{extra:?}: {outcomes:?}");
            continue;
        }
        // The ignored parameter changes neither the results nor the self link.
        assert_eq!(outcomes.len(), 1, "{extra:?}: {body}");
        let outcome = &outcomes[0]["resource"];
        assert_eq!(
            (outcome["resourceType"].as_str(), outcome["issue"][0]["severity"].as_str()),
            (Some("OperationOutcome"), Some("warning"))
        );
        let diagnostics = outcome["issue"][0]["diagnostics"].as_str().unwrap_or_default();
        assert!(diagnostics.contains(ignored), "{extra:?}: '{diagnostics}' lacks {ignored}");
        assert_eq!(bundle["total"], baseline["total"], "{extra:?}");
        assert_eq!(entries(&bundle, "match"), entries(&baseline, "match"), "{extra:?}");
        assert_eq!(self_link, link(&baseline, "self").expect("self"), "{extra:?}");
    }
    s.stop().await;
}

/// `_elements`, `_total` and `_pretty` as a client would use them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elements_total_and_pretty() {
    let s = TestServer::start().await;
    let (_, issued) = s.patient_app("shape").await;
    let token = s.token(&issued).await.access_token;

    // _elements: (elements asked, the keys each matched resource keeps)
    for (elements, keys) in [
        ("gender", vec!["gender", "id", "meta", "resourceType"]),
        ("gender,birthDate", vec!["birthDate", "gender", "id", "meta", "resourceType"]),
        ("Patient.name", vec!["id", "meta", "name", "resourceType"]),
        ("deceased[x]", vec!["id", "meta", "resourceType"]),
        ("multipleBirth[x],id", vec!["id", "meta", "multipleBirth", "resourceType"]),
    ] {
        let bundle = search(&s, &token, "Patient", &[("_id", REYNA), ("_elements", elements)]).await;
        let r = &bundle["entry"][0]["resource"];
        let mut got: Vec<&str> = r.as_object().expect("resource").keys().map(String::as_str).collect();
        // `multipleBirthBoolean` or `…Integer`: the choice is kept whatever its type.
        got.iter_mut().filter(|k| k.starts_with("multipleBirth")).for_each(|k| *k = "multipleBirth");
        assert_eq!(got, keys, "_elements={elements}");
        let tags = r["meta"]["tag"].as_array().expect("tags");
        assert!(tags.iter().any(|t| t["code"] == "SUBSETTED"), "_elements={elements}: {tags:?}");
        assert!(link(&bundle, "self").expect("self").contains("_elements="), "_elements={elements}");
    }
    let whole = search(&s, &token, "Patient", &[("_id", REYNA)]).await;
    let r = &whole["entry"][0]["resource"];
    let subsetted = r["meta"]["tag"].as_array().into_iter().flatten().any(|t| t["code"] == "SUBSETTED");
    assert!(r.get("name").is_some() && !subsetted, "without _elements the resource is whole: {r}");

    // _total: (value, whether `total` is there)
    for (total, present) in [("none", false), ("estimate", true), ("accurate", true)] {
        let bundle = search(&s, &token, "Observation", &[("patient", REYNA), ("_count", "5"), ("_total", total)]).await;
        assert_eq!(bundle.get("total").is_some(), present, "_total={total}");
        assert_eq!(entries(&bundle, "match").len(), 5, "_total={total}");
        if present {
            assert_eq!(bundle["total"], whole_total(&s, &token).await, "_total={total}");
        }
        let next = link(&bundle, "next").expect("a next page even without a total");
        assert!(next.contains(&format!("_total={total}")), "{next}");
    }
    let counted = search(&s, &token, "Observation", &[("patient", REYNA), ("_summary", "count"), ("_total", "none")]).await;
    assert!(counted.get("total").is_some(), "_summary=count asks for the total alone");

    // _pretty: (path, query, indented?)
    for (path, query, indented) in [
        ("Observation", vec![("patient", REYNA), ("_count", "1"), ("_pretty", "true")], true),
        ("Observation", vec![("patient", REYNA), ("_count", "1"), ("_pretty", "false")], false),
        ("Observation", vec![("patient", REYNA), ("_count", "1")], false),
        (&format!("Patient/{REYNA}"), vec![("_pretty", "true")], true),
        (&format!("Patient/{REYNA}"), vec![], false),
    ] {
        let (status, _, body) = fetch(&s, &token, path, &query, None).await;
        assert_eq!(status, 200, "{path} {query:?}: {body}");
        assert_eq!(body.contains("\n  \""), indented, "{path} {query:?}");
        serde_json::from_str::<Value>(&body).expect("still JSON");
    }
    s.stop().await;
}

async fn whole_total(s: &TestServer, token: &str) -> Value {
    search(s, token, "Observation", &[("patient", REYNA), ("_summary", "count")]).await["total"].clone()
}

/// The receipt says when the credential was made, until when it was meant to work, and who revoked it:
/// (owner, who deletes, validity end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_say_when_made_until_when_and_who_revoked() {
    let s = TestServer::start().await;
    s.add_user("receipt-staff", &[Role::Developer], &[1], None);
    let until = Utc::now() + Duration::days(30);
    for (owner, deleter, valid_to) in
        [("patient", "patient", None), ("patient", "patient", Some(until)), ("receipt-staff", "admin", Some(until))]
    {
        let owner_client = s.client(owner).await;
        let kind = if owner == "patient" { "patient_app" } else { "developer" };
        let mut req = new_credential(kind, &format!("{owner} {deleter} {}", valid_to.is_some()));
        req.valid_to = valid_to;
        let issued = owner_client.create_credential(&req).await.expect("create");
        s.client(deleter).await.delete_credential(&issued.credential.id).await.expect("delete");
        let receipts = owner_client.receipts().await.expect("receipts");
        let r = receipts.iter().find(|r| r.credential_id == issued.credential.id).expect("a receipt");
        assert_eq!(r.revoked_by.as_deref(), Some(deleter), "{owner} deleted by {deleter}");
        assert_eq!(r.created_at, Some(issued.credential.created_at), "{owner} deleted by {deleter}");
        let stored_to = issued.credential.valid_to;
        assert_eq!(r.valid_to, stored_to, "{owner} deleted by {deleter}");
        assert_eq!(r.valid_to.is_some(), valid_to.is_some(), "{owner} deleted by {deleter}");
    }
    s.stop().await;
}
