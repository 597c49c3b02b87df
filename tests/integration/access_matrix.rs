//! The access matrix: each credential kind × each condition × {read, search, $everything, write}, with the
//! status each cell must get. Every cell uses its own credential (and, where the condition changes the
//! owner, its own owner), so cells cannot influence each other.

use chrono::{Duration, Utc};
use portico_api as wire;
use portico_client::{ClientAuthMethod, ClientError};
use portico_domain::Role;
use serde_json::json;

use crate::harness::{new_credential, TestServer, REYNA};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Patient,
    Developer,
    Provider,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Condition {
    Own,
    AnotherPatient,
    AnotherPractice,
    Revoked,
    Deleted,
    Inactive,
    BeforeWindow,
    AfterWindow,
    OwnerLostRole,
    OwnerLeftPractice,
}

impl Condition {
    const ALL: [Condition; 10] = [
        Condition::Own,
        Condition::AnotherPatient,
        Condition::AnotherPractice,
        Condition::Revoked,
        Condition::Deleted,
        Condition::Inactive,
        Condition::BeforeWindow,
        Condition::AfterWindow,
        Condition::OwnerLostRole,
        Condition::OwnerLeftPractice,
    ];
}

/// What a cell expects: an HTTP status, or for searches 200 with results / 200 with none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Status(u16),
    Found,
    Empty,
}

use Expect::{Empty, Found, Status};

const OK: Expect = Status(200);
const CREATED: Expect = Status(201);
const UNAUTH: Expect = Status(401);
const FORBIDDEN: Expect = Status(403);
const NOT_FOUND: Expect = Status(404);

/// [read, search, $everything, write]
fn expected(kind: Kind, cond: Condition) -> Option<[Expect; 4]> {
    use Condition::*;
    use Kind::*;
    Some(match (kind, cond) {
        (Patient, Own) => [OK, Found, OK, FORBIDDEN],
        (Developer, Own) => [OK, Found, OK, CREATED],
        (Provider, Own) => [OK, Found, OK, FORBIDDEN],
        (Patient, AnotherPatient) => [NOT_FOUND, Empty, NOT_FOUND, FORBIDDEN],
        // A developer key reaches every patient of its owner's practices.
        (Developer, AnotherPatient) => [OK, Found, OK, CREATED],
        (Provider, AnotherPatient) => [NOT_FOUND, Empty, NOT_FOUND, FORBIDDEN],
        (_, AnotherPractice) => [NOT_FOUND, Empty, NOT_FOUND, FORBIDDEN],
        (_, Revoked | Deleted | Inactive | BeforeWindow | AfterWindow | OwnerLostRole) => [UNAUTH; 4],
        // Patients are not practice members; their credential does not depend on a practice.
        (Patient, OwnerLeftPractice) => return None,
        (Developer | Provider, OwnerLeftPractice) => [NOT_FOUND, Empty, NOT_FOUND, FORBIDDEN],
    })
}

struct Cell {
    token: String,
    target: String,
}

async fn setup(s: &TestServer, kind: Kind, cond: Condition, n: usize, other_p1: &str, other_p2: &str) -> Cell {
    let user = format!("u{n}-{kind:?}-{cond:?}").to_lowercase();
    let (kind_str, roles, practices, patient): (&str, Vec<Role>, Vec<i64>, Option<&str>) = match kind {
        Kind::Patient => ("patient_app", vec![Role::Patient], vec![], Some(REYNA)),
        // Developer plus Provider: the owner's role allows writing, so the key may write.
        Kind::Developer => ("developer", vec![Role::Developer, Role::Provider], vec![1], None),
        Kind::Provider => ("provider", vec![Role::Provider], vec![1], None),
    };
    let uid = s.add_user(&user, &roles, &practices, patient);
    let client = s.client(&user).await;
    let mut req = new_credential(kind_str, "matrix");
    if kind == Kind::Provider {
        req.patients = vec![REYNA.to_owned()];
    }
    let issued = client.create_credential(&req).await.expect("create credential");
    let token = s.token(&issued).await.access_token;
    let id = issued.credential.id.clone();
    let now = Utc::now();
    match cond {
        Condition::Own | Condition::AnotherPatient | Condition::AnotherPractice => {}
        Condition::Revoked => assert_eq!(s.revoke(&issued, &token).await, 200),
        Condition::Deleted => {
            client.delete_credential(&id).await.expect("delete");
        }
        Condition::Inactive => {
            client
                .update_credential(&id, &wire::CredentialUpdate { active: Some(false), ..Default::default() })
                .await
                .expect("deactivate");
        }
        Condition::BeforeWindow => {
            let change = wire::CredentialUpdate { valid_from: Some(Some(now + Duration::days(1))), ..Default::default() };
            client.update_credential(&id, &change).await.expect("window");
        }
        Condition::AfterWindow => {
            let change = wire::CredentialUpdate { valid_to: Some(Some(now + Duration::hours(1))), ..Default::default() };
            client.update_credential(&id, &change).await.expect("window");
            // The token itself would still live for another hour; the window closes first.
            s.advance(0);
            let mut store = s.store();
            store
                .update_credential(
                    &id,
                    &portico_store::CredentialChange {
                        window: Some(portico_domain::ValidityWindow { from: None, to: Some(now - Duration::minutes(1)) }),
                        ..Default::default()
                    },
                    now,
                )
                .expect("close window");
        }
        Condition::OwnerLostRole => {
            let remaining: Vec<Role> = roles.iter().copied().filter(|r| *r != kind_role(kind)).collect();
            s.store().set_roles(portico_domain::UserId(uid), &remaining).expect("set roles");
        }
        Condition::OwnerLeftPractice => {
            s.store().set_practices(portico_domain::UserId(uid), &[]).expect("leave practice");
        }
    }
    let target = match cond {
        Condition::AnotherPatient => other_p1.to_owned(),
        Condition::AnotherPractice => other_p2.to_owned(),
        _ => REYNA.to_owned(),
    };
    Cell { token, target }
}

fn kind_role(kind: Kind) -> Role {
    match kind {
        Kind::Patient => Role::Patient,
        Kind::Developer => Role::Developer,
        Kind::Provider => Role::Provider,
    }
}

async fn observe(s: &TestServer, cell: &Cell) -> [Expect; 4] {
    let t = &cell.token;
    let p = &cell.target;
    let (read, _) = s.get(&format!("Patient/{p}"), t).await;
    let (search, body) = s.get(&format!("Observation?patient={p}"), t).await;
    let search = match (search, body["total"].as_u64()) {
        (200, Some(0)) => Empty,
        (200, Some(_)) => Found,
        (code, _) => Status(code),
    };
    let (everything, _) = s.get(&format!("Patient/{p}/$everything"), t).await;
    let obs = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": { "text": "matrix test" },
        "subject": { "reference": format!("Patient/{p}") }
    });
    let write = s
        .http()
        .post(s.fhir("Observation"))
        .bearer_auth(t)
        .header("Content-Type", "application/fhir+json")
        .body(obs.to_string())
        .send()
        .await
        .expect("write")
        .status()
        .as_u16();
    [Status(read), search, Status(everything), Status(write)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_condition_and_operation_gets_the_expected_status() {
    let s = TestServer::start().await;
    let p1: Vec<String> = s.patients_of(1).into_iter().filter(|p| p != REYNA).collect();
    let p2 = s.patients_of(2);
    // Pick patients that have Observations so "Found" is meaningful.
    let other_p1 = p1.iter().find(|p| p.as_str() != "85").cloned().expect("another patient in practice 1");
    let other_p2 = p2.first().cloned().expect("a patient in practice 2");
    let mut failures = Vec::new();
    let mut cells = 0;
    for (i, kind) in [Kind::Patient, Kind::Developer, Kind::Provider].into_iter().enumerate() {
        for (j, cond) in Condition::ALL.into_iter().enumerate() {
            let Some(want) = expected(kind, cond) else { continue };
            let cell = setup(&s, kind, cond, i * 100 + j, &other_p1, &other_p2).await;
            let got = observe(&s, &cell).await;
            cells += 4;
            if got != want {
                failures.push(format!("{kind:?} × {cond:?}: [read, search, $everything, write] got {got:?}, want {want:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cells} cells wrong:\n{}", failures.len(), failures.join("\n"));
    s.stop().await;
}

/// The same conditions seen from the token endpoint: a fresh token is refused with `invalid_client`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_refuses_unusable_credentials() {
    let s = TestServer::start().await;
    s.add_user("tokdev", &[Role::Developer], &[1], None);
    let dev = s.client("tokdev").await;
    let now = Utc::now();
    let cases: Vec<(&str, wire::NewCredential, Option<wire::CredentialUpdate>)> = vec![
        ("inactive", wire::NewCredential { active: Some(false), ..new_credential("developer", "inactive") }, None),
        (
            "before window",
            wire::NewCredential { valid_from: Some(now + Duration::days(2)), ..new_credential("developer", "before") },
            None,
        ),
        (
            "after window",
            wire::NewCredential { valid_to: Some(now - Duration::days(1)), ..new_credential("developer", "after") },
            None,
        ),
        (
            "deactivated later",
            new_credential("developer", "deactivated"),
            Some(wire::CredentialUpdate { active: Some(false), ..Default::default() }),
        ),
    ];
    for (label, req, change) in cases {
        let issued = dev.create_credential(&req).await.expect(label);
        if let Some(c) = change {
            dev.update_credential(&issued.credential.id, &c).await.expect(label);
        }
        let r = s.app().token(&issued.client_id, &issued.client_secret, ClientAuthMethod::Post, None).await;
        match r {
            Err(ClientError::OAuth { status: 401, error, .. }) => assert_eq!(error, "invalid_client", "{label}"),
            other => panic!("{label}: expected invalid_client, got {:?}", other.map(|t| t.scope)),
        }
    }
    // Inside its window and active again: works.
    let issued = dev.create_credential(&new_credential("developer", "fine")).await.expect("fine");
    assert!(s.app().token(&issued.client_id, &issued.client_secret, ClientAuthMethod::Post, None).await.is_ok());
    s.stop().await;
}

/// A provider key reaches exactly its chosen patients, and a developer key follows its owner's practices
/// at request time (PRODUCT.md flows 2 and 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_keys_follow_current_access() {
    let s = TestServer::start().await;
    let uid = s.add_user("follow", &[Role::Developer], &[1], None);
    let dev = s.client("follow").await;
    let issued = dev.create_credential(&new_credential("developer", "follow")).await.expect("create");
    let token = s.token(&issued).await.access_token;
    let (_, b) = s.get("Patient?_summary=count", &token).await;
    let in_p1 = s.patients_of(1).len() as u64;
    assert_eq!(b["total"].as_u64(), Some(in_p1));
    // Joining practice 2 widens the same token's reach at once.
    s.store()
        .set_practices(portico_domain::UserId(uid), &[portico_domain::PracticeId(1), portico_domain::PracticeId(2)])
        .expect("join");
    let (_, b) = s.get("Patient?_summary=count", &token).await;
    assert_eq!(b["total"].as_u64(), Some(in_p1 + s.patients_of(2).len() as u64));
    // Read-only without a clinical role: writes are refused with a 403 that names the missing scope.
    let r = s
        .http()
        .post(s.fhir("Observation"))
        .bearer_auth(&token)
        .body(json!({"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":format!("Patient/{REYNA}")}}).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 403);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(body["issue"][0]["diagnostics"].as_str().unwrap_or("").contains("system/Observation.c"), "{body}");
    s.stop().await;
}
