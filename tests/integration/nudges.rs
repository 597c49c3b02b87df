//! Nudges that keep access tidy: unused keys, expiry reminders, keys of people who left a practice; the
//! person's own view and an administrator's practice-wide view, with the clock moved forward.

use chrono::{Duration, Utc};
use portico_api as wire;
use portico_client::ClientError;
use portico_domain::{PracticeId, Role, UserId};

use crate::harness::{new_credential, TestServer};

const DAY: i64 = 86_400;

fn kinds(ns: &[wire::Nudge], id: &str) -> Vec<String> {
    ns.iter().filter(|n| n.credential_id == id).map(|n| n.kind.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_key_is_nudged_until_used_or_deactivated() {
    let s = TestServer::start().await;
    let dev = s.client("developer").await;
    let issued = dev.create_credential(&new_credential("developer", "Nightly export")).await.expect("create");
    let id = issued.credential.id.clone();
    assert!(dev.nudges().await.expect("nudges").is_empty(), "a new key is tidy");

    s.advance(59 * DAY);
    let dev = s.client("developer").await;
    assert!(kinds(&dev.nudges().await.expect("nudges"), &id).is_empty(), "59 days is not yet stale");

    s.advance(2 * DAY);
    let dev = s.client("developer").await;
    let ns = dev.nudges().await.expect("nudges");
    assert_eq!(kinds(&ns, &id), vec!["unused"]);
    let n = &ns[0];
    assert_eq!((n.name.as_str(), n.days, n.last_used), ("Nightly export", Some(61), None));
    assert!(n.detail.contains("61 days"), "{}", n.detail);

    // Using the key clears the nudge.
    s.token(&issued).await;
    assert!(kinds(&dev.nudges().await.expect("nudges"), &id).is_empty(), "used just now");

    // 60 days later it is stale again, now with a last-used date; deactivating it from the nudge clears it.
    s.advance(60 * DAY);
    let dev = s.client("developer").await;
    let ns = dev.nudges().await.expect("nudges");
    assert_eq!(kinds(&ns, &id), vec!["unused"]);
    assert!(ns[0].last_used.is_some() && ns[0].detail.starts_with("Not used for 60 days"), "{:?}", ns[0]);
    let change = wire::CredentialUpdate { active: Some(false), ..Default::default() };
    dev.update_credential(&id, &change).await.expect("deactivate");
    assert!(dev.nudges().await.expect("nudges").is_empty(), "a switched-off key is tidy");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_reminders_come_before_the_valid_to_date() {
    let s = TestServer::start().await;
    let (patient, issued) = {
        let patient = s.client("patient").await;
        let mut req = new_credential("patient_app", "Step counter");
        req.valid_to = Some(Utc::now() + Duration::days(20));
        let issued = patient.create_credential(&req).await.expect("create");
        (patient, issued)
    };
    let id = issued.credential.id.clone();
    assert!(patient.nudges().await.expect("nudges").is_empty());

    s.advance(7 * DAY);
    let patient = s.client("patient").await;
    let ns = patient.nudges().await.expect("nudges");
    assert_eq!(kinds(&ns, &id), vec!["expires_soon"]);
    assert_eq!(ns[0].days, Some(13));
    assert!(ns[0].detail.starts_with("Expires in 13 days"), "{}", ns[0].detail);

    // "Extend by 90 days" is the ordinary change of valid_to.
    let to = ns[0].valid_to.expect("valid_to") + Duration::days(90);
    let change = wire::CredentialUpdate { valid_to: Some(Some(to)), ..Default::default() };
    patient.update_credential(&id, &change).await.expect("extend");
    assert!(patient.nudges().await.expect("nudges").is_empty(), "extended");

    // Past the (extended) date and still switched on: expired.
    s.advance(104 * DAY);
    let patient = s.client("patient").await;
    assert_eq!(kinds(&patient.nudges().await.expect("nudges"), &id), vec!["expired"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_see_their_practices_keys_only() {
    let s = TestServer::start().await;
    s.add_user("admin-b", &[Role::Administrator], &[2], None);
    s.add_user("dev-b", &[Role::Developer], &[2], None);
    let dev = s.client("developer").await; // practice 1
    let a_key = dev.create_credential(&new_credential("developer", "Practice A tool")).await.expect("a");
    let dev_b = s.client("dev-b").await;
    let b_key = dev_b.create_credential(&new_credential("developer", "Practice B tool")).await.expect("b");

    s.advance(31 * DAY);
    let admin = s.client("admin").await;
    assert!(admin.practice_nudges(None).await.expect("60 days").is_empty(), "31 days is not 60");
    let ns = admin.practice_nudges(Some(30)).await.expect("30 days");
    assert_eq!(kinds(&ns, &a_key.credential.id), vec!["unused"]);
    assert_eq!((ns[0].owner.as_str(), ns[0].owner_name.as_str()), ("developer", "Dev Developer"));
    assert!(kinds(&ns, &b_key.credential.id).is_empty(), "practice B's key is not practice A's business");
    let admin_b = s.client("admin-b").await;
    let ns = admin_b.practice_nudges(Some(30)).await.expect("admin B");
    assert_eq!(kinds(&ns, &b_key.credential.id), vec!["unused"]);
    assert!(kinds(&ns, &a_key.credential.id).is_empty());

    // Not for patients or staff without the administrator role; nonsense days are refused.
    for who in ["patient", "developer"] {
        match s.client(who).await.practice_nudges(Some(30)).await {
            Err(ClientError::Api { status, .. }) => assert_eq!(status, 403, "{who}"),
            other => panic!("{who}: expected 403, got {other:?}"),
        }
    }
    match admin.practice_nudges(Some(0)).await {
        Err(ClientError::Api { status, .. }) => assert_eq!(status, 400),
        other => panic!("expected 400, got {other:?}"),
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_key_whose_owner_left_the_practice_is_flagged() {
    let s = TestServer::start().await;
    let prov_id = s.add_user("prov", &[Role::Provider], &[1], None);
    s.add_user("admin-b", &[Role::Administrator], &[2], None);
    let prov = s.client("prov").await;
    let mut req = new_credential("provider", "Ward round");
    req.patients = s.patients_of(1).into_iter().take(2).collect();
    let key = prov.create_credential(&req).await.expect("create");
    let id = key.credential.id.clone();
    assert!(prov.nudges().await.expect("nudges").is_empty());

    // The provider moves from practice 1 to practice 2.
    s.store().set_practices(UserId(prov_id), &[PracticeId(2)]).expect("move");
    let ns = prov.nudges().await.expect("nudges");
    assert_eq!(kinds(&ns, &id), vec!["owner_left_practice"]);
    // Practice 1's administrator still sees the key, though its owner is no longer a member.
    let admin = s.client("admin").await;
    let ns = admin.practice_nudges(None).await.expect("practice view");
    assert_eq!(kinds(&ns, &id), vec!["owner_left_practice"]);
    assert!(ns[0].detail.contains("no longer a member of"), "{}", ns[0].detail);
    // Practice 2's administrator sees the key's owner, but the stale list concerns practice 1 only.
    let admin_b = s.client("admin-b").await;
    assert!(kinds(&admin_b.practice_nudges(None).await.expect("admin B"), &id).is_empty());
    s.stop().await;
}

/// A patient's connected app (a grant) is nudged like their credentials: unused, and near its end date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patients_connected_app_is_nudged_too() {
    use crate::apps::{grant, public_app, register, Api};
    let s = TestServer::start().await;
    let me = s.add_user("newpatient", &[Role::Patient], &[], Some(crate::harness::REYNA));
    let dev = Api::as_user(&s, "developer").await;
    let (app_id, _, _) = register(&dev, public_app("Growth chart")).await;
    let (grant_id, _) = grant(&s, &app_id, me, crate::harness::REYNA, "patient/*.rs"); // ends in 90 days
    assert!(s.client("newpatient").await.nudges().await.expect("nudges").is_empty());

    s.advance(77 * DAY);
    let ns = s.client("newpatient").await.nudges().await.expect("nudges");
    let mut got = kinds(&ns, &grant_id);
    got.sort();
    assert_eq!(got, vec!["expires_soon", "unused"]);
    assert!(ns.iter().all(|n| n.credential_kind == "connected_app"), "{ns:?}");
    s.stop().await;
}
