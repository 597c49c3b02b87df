//! Access-change notices: an administrator changes a user's roles or practices, and each of the user's
//! credentials whose effective access changed gets a notice in the owner's nudges ("Got it" acknowledges
//! it, owner only), an audit entry, and a row in the administrators' practice-wide view.

use portico_api as wire;
use portico_client::{Client, ClientError};
use portico_domain::{AuditKind, Role, UserId};

use crate::harness::{new_credential, TestServer};

fn changes<'a>(ns: &'a [wire::Nudge], id: &str) -> Vec<&'a wire::Nudge> {
    ns.iter().filter(|n| n.credential_id == id && n.kind == "access_changed").collect()
}

fn on(n: &wire::Nudge) -> String {
    n.changed_at.expect("changed_at").format("%-d %b %Y").to_string()
}

async fn status_of_ack(c: &Client, id: i64) -> u16 {
    match c.acknowledge_access_change(id).await {
        Err(ClientError::Api { status, .. }) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_practice_change_is_told_to_the_owner_until_they_acknowledge_it() {
    let s = TestServer::start().await;
    let prov_id = s.add_user("prov", &[Role::Provider], &[1, 2], None);
    s.add_user("admin-b", &[Role::Administrator], &[2], None);
    let prov = s.client("prov").await;
    let only_1: Vec<String> = {
        let two = s.patients_of(2);
        let mut ps: Vec<String> = s.patients_of(1).into_iter().filter(|p| !two.contains(p)).take(2).collect();
        ps.sort();
        ps
    };
    let of_2 = s.patients_of(2).into_iter().find(|p| !only_1.contains(p)).expect("a patient of practice 2");
    let names: Vec<String> = {
        let all = prov.patients_by_id(&only_1).await.expect("patients");
        only_1.iter().map(|id| all.iter().find(|p| &p.id == id).expect("listed").name.clone()).collect()
    };
    let mut req = new_credential("provider", "Ward round");
    req.patients = vec![only_1[0].clone(), only_1[1].clone(), of_2];
    let key = prov.create_credential(&req).await.expect("create").credential.id;
    assert!(prov.nudges().await.expect("nudges").is_empty());

    // Practice 1's administrator takes the provider out of practice 1 (practice 2 stays).
    let admin = s.client("admin").await;
    admin.set_practices(prov_id, &[]).await.expect("leave practice 1");

    let ns = prov.nudges().await.expect("nudges");
    let notice = changes(&ns, &key);
    assert_eq!(notice.len(), 1, "{ns:?}");
    let n = notice[0];
    assert_eq!(n.detail, format!("No longer reaches {} and {} since your practices changed on {}", names[0], names[1], on(n)));
    assert_eq!((n.name.as_str(), n.credential_kind.as_str()), ("Ward round", "provider"));
    let notice_id = n.notice_id.expect("notice id");
    assert!(ns.iter().any(|x| x.credential_id == key && x.kind == "owner_left_practice"), "the stale list is its own nudge");

    // Practice 1's administrator sees the key once: the owner_left_practice row says when the change was.
    let view = admin.practice_nudges(None).await.expect("practice view");
    let rows: Vec<&wire::Nudge> = view.iter().filter(|r| r.credential_id == key).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, "owner_left_practice");
    assert_eq!(rows[0].revocable, Some(false), "its owner is no longer in practice 1: not theirs to revoke");
    assert!(rows[0].detail.ends_with(&format!("(since prov's practices changed on {})", on(rows[0]))), "{}", rows[0].detail);
    // Practice 2's administrator (the owner is still theirs) sees the change, counted, never named.
    let view_b = s.client("admin-b").await.practice_nudges(None).await.expect("admin B");
    let row = changes(&view_b, &key);
    assert_eq!(row.len(), 1, "{view_b:?}");
    assert_eq!(row[0].detail, format!("No longer reaches 2 of its patients since prov's practices changed on {}", on(row[0])));
    assert!(!row[0].detail.contains(&names[0]));
    assert_eq!(row[0].revocable, Some(true));

    // Only the owner acknowledges; anyone else, or a notice that does not exist, is not found.
    for who in ["admin", "developer", "admin-b"] {
        assert_eq!(status_of_ack(&s.client(who).await, notice_id).await, 404, "{who}");
    }
    assert_eq!(status_of_ack(&prov, notice_id + 1000).await, 404);
    let raw = s.http().post(format!("{}/api/nudges/access-changes/nonsense/ack", s.base)).send().await.expect("post");
    assert_eq!(raw.status().as_u16(), 404);
    assert_eq!(changes(&prov.nudges().await.expect("nudges"), &key).len(), 1, "still there");

    let ack = prov.acknowledge_access_change(notice_id).await.expect("got it");
    assert_eq!((ack.notice_id, ack.credential_id.as_str()), (notice_id, key.as_str()));
    let ns = prov.nudges().await.expect("nudges");
    assert!(changes(&ns, &key).is_empty(), "{ns:?}");
    let again = prov.acknowledge_access_change(notice_id).await.expect("twice");
    assert_eq!(again.acknowledged_at, ack.acknowledged_at, "acknowledged once");
    // The administrator's row of another practice stays (they review, the owner acknowledges), marked as seen.
    let view_b = s.client("admin-b").await.practice_nudges(None).await.expect("admin B");
    assert_eq!(changes(&view_b, &key)[0].acknowledged_at, Some(ack.acknowledged_at));

    // The audit log has the change (by the administrator) and the acknowledgement (by the owner), once each.
    let events = s.store().app_events_for_credential(&key, 100).expect("audit");
    let of = |k: AuditKind| events.iter().filter(|(_, e)| e.kind == k).map(|(_, e)| e.clone()).collect::<Vec<_>>();
    let changed = of(AuditKind::AccessChanged);
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].actor.map(|u| u.0), admin.me().await.ok().map(|u| u.id));
    assert!(changed[0].detail.as_deref().is_some_and(|d| d.contains("2 patients out of reach") && !d.contains(&names[0])));
    let acked = of(AuditKind::AccessChangeAcknowledged);
    assert_eq!(acked.len(), 1);
    assert_eq!(acked[0].actor, Some(UserId(prov_id)));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_change_that_changes_access_makes_a_notice() {
    let s = TestServer::start().await;
    let dev_id = s.add_user("dev2", &[Role::Developer], &[1, 2], None);
    s.add_user("admin-b", &[Role::Administrator], &[2], None);
    s.add_user("admin-c", &[Role::Administrator], &[], None);
    let dev = s.client("dev2").await;
    let key = dev.create_credential(&new_credential("developer", "Lab sync")).await.expect("create").credential.id;
    let admin = s.client("admin").await;

    // A role that changes nothing the key reaches or may do: no notice, nothing recorded.
    admin.set_roles(dev_id, &["developer", "front_desk"]).await.expect("roles");
    // Setting the practices it already has: the same.
    admin.set_practices(dev_id, &[1]).await.expect("same practices");
    assert!(changes(&dev.nudges().await.expect("nudges"), &key).is_empty());
    assert!(s.store().unacknowledged_access_changes(UserId(dev_id)).expect("notices").is_empty());
    assert!(changes(&admin.practice_nudges(None).await.expect("view"), &key).is_empty());

    // A clinical role lets the key write.
    admin.set_roles(dev_id, &["developer", "nurse"]).await.expect("roles");
    let ns = dev.nudges().await.expect("nudges");
    let n = changes(&ns, &key);
    assert_eq!(n.len(), 1, "{ns:?}");
    assert_eq!(n[0].detail, format!("Can now also create, update and delete records since your roles changed on {}", on(n[0])));

    // Leaving practice 1: the key no longer reaches it. Newest first.
    admin.set_practices(dev_id, &[]).await.expect("leave practice 1");
    let ns = dev.nudges().await.expect("nudges");
    let n = changes(&ns, &key);
    assert_eq!(n.len(), 2, "{ns:?}");
    assert_eq!(n[0].detail, format!("No longer reaches Riverside Family Medicine since your practices changed on {}", on(n[0])));
    assert!(n[1].detail.starts_with("Can now also create"));

    // Both administrators see both (the owner was in both practices); one with no practice sees none.
    for (who, revocable) in [("admin", false), ("admin-b", true)] {
        let view = s.client(who).await.practice_nudges(None).await.expect("view");
        let rows = changes(&view, &key);
        assert_eq!(rows.len(), 2, "{who}: {view:?}");
        assert!(rows[0].detail.contains("since dev2's practices changed"), "{who}: {}", rows[0].detail);
        assert_eq!((rows[0].owner.as_str(), rows[0].revocable), ("dev2", Some(revocable)), "{who}");
    }
    assert!(s.client("admin-c").await.practice_nudges(None).await.expect("view").is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_left_reaching_no_one_can_be_switched_off_from_its_notice() {
    let s = TestServer::start().await;
    let prov_id = s.add_user("prov", &[Role::Provider], &[1], None);
    let prov = s.client("prov").await;
    let mut req = new_credential("provider", "Ward round");
    req.patients = s.patients_of(1).into_iter().take(1).collect();
    let key = prov.create_credential(&req).await.expect("create").credential.id;
    let mut other = new_credential("provider", "Night shift");
    other.patients = s.patients_of(1).into_iter().take(1).collect();
    let other = prov.create_credential(&other).await.expect("create").credential.id;
    prov.update_credential(&other, &wire::CredentialUpdate { active: Some(false), ..Default::default() }).await.expect("off");

    let admin = s.client("admin").await;
    admin.set_roles(prov_id, &["nurse"]).await.expect("no longer a provider");
    let ns = prov.nudges().await.expect("nudges");
    let n = changes(&ns, &key);
    assert_eq!(n.len(), 1, "{ns:?}");
    assert_eq!(
        n[0].detail,
        format!("Reaches no one any more since your roles changed on {}: it needs the provider role", on(n[0]))
    );
    assert!(changes(&ns, &other).is_empty(), "a switched-off key reached nothing before either");
    assert!(s.store().unacknowledged_access_changes(UserId(prov_id)).expect("notices").iter().all(|c| c.credential_id == key));

    // The notice's other action: switching the key off tidies it away without a "Got it".
    prov.update_credential(&key, &wire::CredentialUpdate { active: Some(false), ..Default::default() }).await.expect("off");
    assert!(changes(&prov.nudges().await.expect("nudges"), &key).is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patients_own_app_is_told_when_the_patient_role_goes() {
    let s = TestServer::start().await;
    let me = s.add_user("newpatient", &[Role::Patient], &[], Some(crate::harness::REYNA));
    let patient = s.client("newpatient").await;
    let key = patient.create_credential(&new_credential("patient_app", "Step counter")).await.expect("create").credential.id;
    let admin = s.client("admin").await;
    admin.set_roles(me, &[]).await.expect("roles");
    let ns = patient.nudges().await.expect("nudges");
    let n = changes(&ns, &key);
    assert_eq!(n.len(), 1, "{ns:?}");
    assert_eq!(
        n[0].detail,
        format!("Reaches no one any more since your roles changed on {}: it needs the patient role", on(n[0]))
    );
    // A patient's own app is not a staff key: not in an administrator's practice-wide view.
    assert!(changes(&admin.practice_nudges(None).await.expect("view"), &key).is_empty());

    // The same for the demo patient, who is a member of practice 1.
    let demo = s.client("patient").await;
    let demo_key = demo.create_credential(&new_credential("patient_app", "Scale")).await.expect("create").credential.id;
    let demo_id = admin.user_named("patient").await.expect("users").expect("patient").id;
    admin.set_roles(demo_id, &[]).await.expect("roles");
    assert_eq!(changes(&demo.nudges().await.expect("nudges"), &demo_key).len(), 1);
    assert!(changes(&admin.practice_nudges(None).await.expect("view"), &demo_key).is_empty());
    s.stop().await;
}
