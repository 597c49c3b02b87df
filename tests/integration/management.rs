//! The management API: names, ownership, idempotent delete, preview = what the app gets, history,
//! administrators and roles.

use std::collections::BTreeSet;

use portico_api as wire;
use portico_client::ClientError;
use portico_domain::Role;
use serde_json::Value;

use crate::harness::{new_credential, TestServer, REYNA};

fn api_error(r: Result<impl std::fmt::Debug, ClientError>) -> (u16, wire::ErrorCode, String) {
    match r {
        Err(ClientError::Api { status, code, message }) => (status, code, message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_names_are_validated_and_unique_per_owner() {
    let s = TestServer::start().await;
    let patient = s.client("patient").await;
    patient.create_credential(&new_credential("patient_app", "Phone health app")).await.expect("first");
    let long = "x".repeat(101);
    for (name, code, needle) in [
        ("", wire::ErrorCode::InvalidInput, "required"),
        ("   ", wire::ErrorCode::InvalidInput, "required"),
        (long.as_str(), wire::ErrorCode::InvalidInput, "100"),
        ("bell\u{7}", wire::ErrorCode::InvalidInput, "printable"),
        ("Phone health app", wire::ErrorCode::Conflict, "already"),
        (" Phone health app ", wire::ErrorCode::Conflict, "already"),
    ] {
        let (status, got, message) = api_error(patient.create_credential(&new_credential("patient_app", name)).await);
        assert_eq!(got, code, "{name:?}: {message}");
        assert!(message.contains(needle), "{name:?}: {message}");
        assert!(status == 400 || status == 409);
    }
    // Another owner may use the same name.
    s.add_user("patient-b", &[Role::Patient], &[], Some(REYNA));
    let other = s.client("patient-b").await;
    other.create_credential(&new_credential("patient_app", "Phone health app")).await.expect("same name, other owner");
    // Patients cannot mint staff keys.
    let (status, code, _) = api_error(patient.create_credential(&new_credential("developer", "sneaky")).await);
    assert_eq!((status, code), (403, wire::ErrorCode::Forbidden));
    assert_eq!(patient.credentials().await.expect("list").len(), 1, "failed attempts created nothing");
    s.stop().await;
}

/// Invisible and direction-changing characters (Unicode format characters) could make two apps look alike,
/// and names that differ only in case are the same name to a reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_names_refuse_format_characters_and_case_variants() {
    let s = TestServer::start().await;
    let patient = s.client("patient").await;
    for name in ["Dup Name", "Straße app", "Élan"] {
        patient.create_credential(&new_credential("patient_app", name)).await.expect(name);
    }
    for (name, status, code) in [
        ("arabic\u{61c}mark", 400, wire::ErrorCode::InvalidInput),
        ("word\u{2060}joiner", 400, wire::ErrorCode::InvalidInput),
        ("soft\u{ad}hyphen", 400, wire::ErrorCode::InvalidInput),
        ("zero\u{200b}width", 400, wire::ErrorCode::InvalidInput),
        ("tag\u{e0041}\u{e007f}", 400, wire::ErrorCode::InvalidInput),
        ("\u{feff}bom", 400, wire::ErrorCode::InvalidInput),
        ("dup name", 409, wire::ErrorCode::Conflict),
        ("DUP NAME", 409, wire::ErrorCode::Conflict),
        ("STRASSE APP", 409, wire::ErrorCode::Conflict),
        ("éLAN", 409, wire::ErrorCode::Conflict),
    ] {
        let got = api_error(patient.create_credential(&new_credential("patient_app", name)).await);
        assert_eq!((got.0, got.1), (status, code), "{name:?}: {}", got.2);
    }
    // Renaming into another credential's name, in another case, is the same conflict.
    let other = patient.create_credential(&new_credential("patient_app", "Other")).await.expect("other");
    let rename = wire::CredentialUpdate { name: Some("dup NAME".into()), ..Default::default() };
    let (status, code, _) = api_error(patient.update_credential(&other.credential.id, &rename).await);
    assert_eq!((status, code), (409, wire::ErrorCode::Conflict));
    // A credential may change the case of its own name.
    let own = patient.credentials().await.expect("list").into_iter().find(|c| c.name == "Dup Name").expect("Dup Name");
    let recase = wire::CredentialUpdate { name: Some("DUP name".into()), ..Default::default() };
    assert_eq!(patient.update_credential(&own.id, &recase).await.expect("recase").name, "DUP name");
    assert_eq!(patient.credentials().await.expect("list").len(), 4, "refused names created nothing");
    s.stop().await;
}

/// Answers that carry a session token or a client secret must not be kept by any cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carrying_secrets_are_not_cached() {
    let s = TestServer::start().await;
    let http = s.http();
    let session = http
        .post(format!("{}/api/session", s.base))
        .json(&serde_json::json!({ "username": "patient", "password": crate::harness::PASSWORD }))
        .send()
        .await
        .expect("sign in");
    let headers = session.headers().clone();
    let body: Value = session.json().await.expect("json");
    let token = body["token"].as_str().expect("session token").to_owned();
    let created = http
        .post(format!("{}/api/credentials", s.base))
        .bearer_auth(&token)
        .json(&new_credential("patient_app", "Cached?"))
        .send()
        .await
        .expect("create");
    let created_headers = created.headers().clone();
    let issued: wire::IssuedSecret = created.json().await.expect("issued");
    let regenerated = http
        .post(format!("{}/api/credentials/{}/regenerate", s.base, issued.credential.id))
        .bearer_auth(&token)
        .json(&wire::Regenerate { grace_seconds: None })
        .send()
        .await
        .expect("regenerate");
    for (label, h) in [("session", headers), ("create", created_headers), ("regenerate", regenerated.headers().clone())] {
        assert_eq!(h.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{label}");
        assert_eq!(h.get("pragma").and_then(|v| v.to_str().ok()), Some("no-cache"), "{label}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_sees_a_credential_and_delete_is_idempotent() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Mine").await;
    let listed = patient.credentials().await.expect("list");
    assert_eq!(listed.len(), 1);
    let json = serde_json::to_string(&listed).expect("json");
    assert!(!json.contains(&issued.client_secret), "the list never carries the secret");
    assert!(listed[0].secret_hint.starts_with("pcs_app_…"));
    s.add_user("stranger", &[Role::Patient], &[], Some(REYNA));
    let stranger = s.client("stranger").await;
    let (status, _, _) = api_error(stranger.credential(&issued.credential.id).await);
    assert_eq!(status, 404);
    let (status, _, _) = api_error(stranger.delete_credential(&issued.credential.id).await);
    assert_eq!(status, 404);
    let first = patient.delete_credential(&issued.credential.id).await.expect("delete");
    assert!(first.deleted_now);
    let second = patient.delete_credential(&issued.credential.id).await.expect("delete again");
    assert!(!second.deleted_now);
    assert!(patient.credentials().await.expect("list").is_empty());
    // The name is free again once the credential is gone.
    patient.create_credential(&new_credential("patient_app", "Mine")).await.expect("reuse name");
    s.stop().await;
}

/// The preview goes through the same enforcement code as a token: per type, the same ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_shows_exactly_what_the_app_gets() {
    let s = TestServer::start().await;
    s.add_user("prov", &[Role::Provider], &[1], None);
    let provider = s.client("prov").await;
    let p1 = s.patients_of(1);
    let chosen: Vec<String> = p1.iter().take(2).cloned().collect();
    let mut req = new_credential("provider", "Two patients");
    req.patients = chosen.clone();
    let issued = provider.create_credential(&req).await.expect("create");
    let token = s.token(&issued).await.access_token;
    let preview = provider.preview(&issued.credential.id).await.expect("preview");
    assert_eq!(preview.patients.iter().cloned().collect::<BTreeSet<_>>(), chosen.iter().cloned().collect::<BTreeSet<_>>());
    assert!(preview.total > 0);
    for c in &preview.counts {
        let q = format!("{}?_count=1000", c.resource_type);
        let (_, app) = s.get(&q, &token).await;
        let shown = provider.preview_fhir(&issued.credential.id, &q).await.expect("preview search");
        let ids = |b: &Value| -> BTreeSet<String> {
            b["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["id"].as_str().map(str::to_owned)).collect()
        };
        assert_eq!(ids(&app).len(), c.count, "{}: count", c.resource_type);
        assert_eq!(ids(&app), ids(&shown), "{}: same ids", c.resource_type);
    }
    // A patient not chosen is invisible to both.
    let outsider = p1.iter().find(|p| !chosen.contains(p)).expect("outsider");
    assert_eq!(s.get(&format!("Patient/{outsider}"), &token).await.0, 404);
    let r = provider.preview_fhir(&issued.credential.id, &format!("Patient/{outsider}")).await;
    assert!(matches!(r, Err(ClientError::Fhir { status: 404, .. })));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_last_used_come_from_the_audit_log() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Phone health app").await;
    assert!(issued.credential.last_used_at.is_none());
    let t = s.token(&issued).await.access_token;
    s.get(&format!("Observation?patient={REYNA}&_count=14"), &t).await;
    s.get(&format!("MedicationRequest?patient={REYNA}&_count=2"), &t).await;
    let h = patient.history(&issued.credential.id).await.expect("history");
    let kinds: Vec<&str> = h.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(&kinds[..4], ["fhir_access", "fhir_access", "token_issued", "credential_created"], "newest first: {kinds:?}");
    assert_eq!(h[1].resource_types, vec!["Observation:14".to_owned()]);
    assert_eq!(h[1].count, Some(14));
    assert_eq!(h[0].resource_types, vec!["MedicationRequest:2".to_owned()]);
    assert!(h.iter().all(|e| e.credential_name.as_deref() == Some("Phone health app")));
    let c = patient.credential(&issued.credential.id).await.expect("get");
    assert!(c.last_used_at.is_some_and(|t| t >= issued.credential.created_at));
    // The owner's previews are not the app's doing: they neither show nor push its events out of a page.
    for _ in 0..3 {
        patient.preview_fhir(&issued.credential.id, "Observation?_count=5").await.expect("preview");
    }
    let page: Vec<wire::AccessEvent> = s
        .http()
        .get(format!("{}/api/credentials/{}/history?limit=2", s.base, issued.credential.id))
        .bearer_auth(patient.session_token().expect("session"))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let kinds: Vec<&str> = page.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["fhir_access", "fhir_access"]);
    // The patient's own audit view shows the accesses to their record.
    let mine = patient.my_audit().await.expect("audit");
    assert!(mine.iter().any(|e| e.kind == "fhir_access" && e.resource_types == vec!["Observation:14".to_owned()]));
    // No event anywhere holds the token itself.
    let dump = serde_json::to_string(&h).expect("json");
    assert!(!dump.contains(&t));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_grant_the_developer_role_and_revoke_staff_keys() {
    let s = TestServer::start().await;
    let admin = s.client("admin").await;
    let nurse_id = admin.user_named("nurse").await.expect("users").expect("nurse").id;
    let nurse = s.client("nurse").await;
    let (status, _, _) = api_error(nurse.create_credential(&new_credential("developer", "too early")).await);
    assert_eq!(status, 403);
    let (status, _, _) = api_error(nurse.users(&wire::UserQuery::default()).await);
    assert_eq!(status, 403, "only administrators list users");
    let u = admin.set_roles(nurse_id, &["nurse", "developer"]).await.expect("grant developer");
    assert_eq!(u.roles, vec!["developer".to_owned(), "nurse".to_owned()]);
    let issued = nurse.create_credential(&new_credential("developer", "Nurse tools")).await.expect("now allowed");
    let t = s.token(&issued).await.access_token;
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &t).await.0, 200);
    // Nurse + developer may write, since the nurse role writes clinical data.
    assert!(issued.credential.scope.contains("cruds"), "{}", issued.credential.scope);
    let staff = admin.all_staff_credentials().await.expect("staff keys");
    assert!(staff.iter().any(|c| c.credential.id == issued.credential.id));
    admin.delete_credential(&issued.credential.id).await.expect("admin revokes");
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &t).await.0, 401);
    // Unknown roles are refused and change nothing.
    let (status, _, _) = api_error(admin.set_roles(nurse_id, &["overlord"]).await);
    assert_eq!(status, 400);
    let after = admin.all_users().await.expect("users").into_iter().find(|u| u.id == nurse_id).expect("nurse");
    assert_eq!(after.roles, vec!["developer".to_owned(), "nurse".to_owned()]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_sign_in_and_out() {
    let s = TestServer::start().await;
    let mut c = portico_client::Client::new(&s.base).expect("client");
    let (status, code, _) = api_error(c.sign_in("patient", "wrong password").await);
    assert_eq!((status, code), (401, wire::ErrorCode::Unauthenticated));
    let (status, _, _) = api_error(c.sign_in("nobody", "whatever-password").await);
    assert_eq!(status, 401);
    let session = c.sign_in("patient", crate::harness::PASSWORD).await.expect("sign in");
    assert!(session.token.starts_with("pcu_"));
    assert_eq!(c.me().await.expect("me").patient_id.as_deref(), Some(REYNA));
    let kept = session.token.clone();
    c.sign_out().await.expect("sign out");
    let again = portico_client::Client::new(&s.base).expect("client").with_session(kept);
    let (status, _, _) = api_error(again.me().await);
    assert_eq!(status, 401, "a signed-out session is dead");
    s.stop().await;
}

/// The revocation receipt: when, how many tokens died, and the first refused request afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_leaves_a_revocation_receipt() {
    let s = TestServer::start().await;
    let (patient, issued) = s.patient_app("Receipt app").await;
    let t1 = s.token(&issued).await.access_token;
    let _t2 = s.token(&issued).await.access_token;
    assert!(patient.receipts().await.expect("receipts").is_empty());
    let deleted = patient.delete_credential(&issued.credential.id).await.expect("delete");
    let r = &patient.receipts().await.expect("receipts")[0];
    assert_eq!((r.name.as_str(), r.tokens_revoked, r.deleted_at), ("Receipt app", 2, deleted.at));
    assert!(r.first_refused.is_none(), "nothing refused yet");
    assert_eq!(s.get(&format!("Patient/{REYNA}"), &t1).await.0, 401);
    let r = &patient.receipts().await.expect("receipts")[0];
    let refused = r.first_refused.as_ref().expect("the refused request is on the receipt");
    assert_eq!(refused.kind, "fhir_refused");
    assert!(refused.at >= r.deleted_at);
    // Only the owner's receipts.
    s.add_user("receipt-other", &[Role::Patient], &[], Some(REYNA));
    assert!(s.client("receipt-other").await.receipts().await.expect("receipts").is_empty());
    s.stop().await;
}

/// Administrators act within their practices: no patient record, preview or user of another practice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_stay_inside_their_practices() {
    let s = TestServer::start().await;
    let admin = s.client("admin").await; // practice 1 only
    let theirs = s.patients_of(2)[0].clone();
    let ours = s.patients_of(1).into_iter().find(|p| p != REYNA).expect("a practice-1 patient");
    let new_user = |username: &str, patient: &str| wire::NewUser {
        username: username.into(),
        display_name: username.into(),
        password: "long-enough-password".into(),
        roles: vec!["patient".into()],
        practices: vec![],
        patient_id: Some(patient.into()),
    };
    let (status, _, _) = api_error(admin.create_user(&new_user("grab-theirs", &theirs)).await);
    assert_eq!(status, 400, "a patient user for another practice's patient is refused");
    let (status, _, _) = api_error(admin.create_user(&new_user("grab-ghost", "no-such-patient")).await);
    assert_eq!(status, 400);
    admin.create_user(&new_user("ours", &ours)).await.expect("a patient of our practice");

    // A patient user of practice 2 is not the practice-1 administrator's to change.
    let other_patient_user = s.add_user("p2-user", &[Role::Patient], &[], Some(&theirs));
    let (status, _, _) = api_error(admin.set_roles(other_patient_user, &["patient", "developer"]).await);
    assert_eq!(status, 404);

    // A developer in both practices: the administrator of one may see and revoke the key, not preview it.
    s.add_user("dev-both", &[Role::Developer], &[1, 2], None);
    let dev = s.client("dev-both").await;
    let key = dev.create_credential(&new_credential("developer", "both practices")).await.expect("create");
    assert!(admin.all_staff_credentials().await.expect("staff keys").iter().any(|c| c.credential.id == key.credential.id));
    let (status, _, _) = api_error(admin.preview(&key.credential.id).await);
    assert_eq!(status, 404);
    assert_eq!(admin.preview_fhir(&key.credential.id, "Patient").await.err().and_then(|e| e.status()), Some(404));
    assert!(dev.preview(&key.credential.id).await.expect("the owner previews").total > 0);
    s.stop().await;
}
