//! Shared resources (Organization, Practitioner and the other types outside the patient compartment) are
//! read-only through the FHIR API: any practice's records may point at them, so no key may change them.

use portico_domain::Role;
use serde_json::{json, Value};

use crate::harness::{new_credential, TestServer};

/// An access token of a new developer key whose owner has `roles` in `practice`.
async fn staff_token(s: &TestServer, username: &str, roles: &[Role], practice: i64) -> String {
    s.add_user(username, roles, &[practice], None);
    let issued = s.client(username).await.create_credential(&new_credential("developer", username)).await.expect("create");
    s.token(&issued).await.access_token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_changes_the_shared_resources_another_practice_points_at() {
    let s = TestServer::start().await;
    let reader = staff_token(&s, "reader-p2", &[Role::Developer], 2).await;
    let p2_patient = s.patients_of(2).into_iter().next().expect("a practice-2 patient");
    let (status, encounters) = s.get(&format!("Encounter?patient={p2_patient}&_count=1"), &reader).await;
    assert_eq!(status, 200);
    let encounter = &encounters["entry"][0]["resource"];
    let targets: Vec<String> =
        [&encounter["serviceProvider"]["reference"], &encounter["participant"][0]["individual"]["reference"]]
            .iter()
            .map(|r| r.as_str().expect("a reference").to_owned())
            .collect();
    assert!(targets[0].starts_with("Organization/") && targets[1].starts_with("Practitioner/"), "{targets:?}");
    let mut before = Vec::new();
    for t in &targets {
        let (status, body) = s.get(t, &reader).await;
        assert_eq!(status, 200, "{t}");
        before.push(body);
    }

    // Keys that may write clinical data in practice 1, an administrator's among them.
    let writers = [
        ("writer-p1", vec![Role::Developer, Role::Provider]),
        ("admin-p1", vec![Role::Administrator, Role::Developer, Role::Provider]),
    ];
    let http = s.http();
    for (user, roles) in writers {
        let token = staff_token(&s, user, &roles, 1).await;
        for (target, original) in targets.iter().zip(&before) {
            let mut tampered = original.clone();
            tampered["name"] = match original["resourceType"].as_str() {
                Some("Organization") => json!("TAMPERED BY PRACTICE 1"),
                _ => json!([{ "text": "TAMPERED BY PRACTICE 1" }]),
            };
            let put = http
                .put(s.fhir(target))
                .bearer_auth(&token)
                .header("Content-Type", "application/fhir+json")
                .body(tampered.to_string());
            let delete = http.delete(s.fhir(target)).bearer_auth(&token);
            for (label, req) in [("PUT", put), ("DELETE", delete)] {
                let r = req.send().await.expect("request");
                let status = r.status().as_u16();
                let body: Value = r.json().await.expect("json");
                assert_eq!(status, 403, "{user}: {label} {target}: {body}");
                assert_eq!(body["resourceType"], "OperationOutcome", "{user}: {label} {target}");
                assert_eq!(body["issue"][0]["code"], "forbidden", "{user}: {label} {target}");
            }
        }
        // Nor may they add shared resources, or write them under a new id.
        let org = json!({ "resourceType": "Organization", "id": "new-org", "name": "Made by practice 1" });
        let create = http
            .post(s.fhir("Organization"))
            .bearer_auth(&token)
            .header("Content-Type", "application/fhir+json")
            .body(json!({ "resourceType": "Organization", "name": "Made by practice 1" }).to_string());
        let put_new = http
            .put(s.fhir("Organization/new-org"))
            .bearer_auth(&token)
            .header("Content-Type", "application/fhir+json")
            .body(org.to_string());
        for (label, req) in [("create", create), ("PUT a new id", put_new)] {
            assert_eq!(req.send().await.expect("request").status().as_u16(), 403, "{user}: {label}");
        }
    }

    // Practice 2 reads its resources exactly as they were.
    for (target, original) in targets.iter().zip(&before) {
        assert_eq!(s.get(target, &reader).await, (200, original.clone()), "{target} is unchanged");
    }
    assert_eq!(s.get("Organization/new-org", &reader).await.0, 404);
    s.stop().await;
}
