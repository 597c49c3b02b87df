//! Registered apps, practice approvals, grants, authorization codes, refresh tokens and client-assertion ids,
//! on every backend; the one-shot uses raced from several writers at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, TimeZone, Utc};
use portico_domain::{
    AppType, ApprovalStatus, ClientAuth, CredentialKind, Digest, PatientId, Platform, PracticeId, Role, UserId,
};
use portico_store::{
    AppChange, AppRecord, AuthCodeRecord, GrantOf, NewCredential, NewUser, RefreshTokenRecord, Result, StoreError, WriteStore,
};
use portico_store_suite::{backends, Fresh};

/// A fixed instant with whole milliseconds, so what is stored reads back equal.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

fn user<'a>(username: &'a str, roles: &'a [Role], practices: &'a [PracticeId]) -> NewUser<'a> {
    NewUser { username, display_name: username, password_hash: "hash", roles, practices, patient: None }
}

fn developer(b: &Fresh, name: &'static str) -> UserId {
    b.write_ok(move |s| s.create_user(&user(name, &[Role::AppDeveloper], &[]), t0())).unwrap()
}

fn app(id: &str, client_id: &str, owner: UserId, created: DateTime<Utc>) -> AppRecord {
    AppRecord {
        id: id.into(),
        client_id: client_id.into(),
        owner,
        name: format!("App {id}"),
        description: String::new(),
        homepage: Some("https://growth.example".into()),
        privacy_policy: None,
        app_type: AppType::Patient,
        platform: Platform::Browser,
        client_auth: ClientAuth::None,
        secret_digest: None,
        secret_hint: None,
        previous: None,
        jwks: None,
        jwks_url: None,
        redirect_uris: vec![format!("https://{id}.example/cb")],
        scopes: "patient/*.rs openid fhirUser".into(),
        active: true,
        created_at: created,
        updated_at: created,
        deleted_at: None,
    }
}

fn insert(b: &Fresh, a: AppRecord) {
    b.write_ok(move |s| s.insert_app(&a)).unwrap();
}

fn get(b: &Fresh, id: &'static str) -> AppRecord {
    b.read(|s| s.app(id).unwrap()).unwrap_or_else(|| panic!("{}: no app {id}", b.name))
}

/// Runs `f` as `n` write jobs submitted at the same moment from `n` threads, alternately to two servers
/// sharing the database (each with its own writer threads); how many answered `true`.
fn race(servers: [&Fresh; 2], n: usize, f: impl Fn(&mut dyn WriteStore) -> Result<bool> + Clone + Send + 'static) -> usize {
    let start = Arc::new(Barrier::new(n));
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..n)
            .map(|i| {
                let (f, start, b) = (f.clone(), start.clone(), servers[i % 2]);
                scope.spawn(move || {
                    start.wait();
                    b.write_ok(move |s| f(s)).unwrap()
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).filter(|won| *won).count()
    })
}

#[test]
fn an_app_reads_back_as_registered_and_its_client_id_is_unique() {
    for b in backends() {
        let dev = developer(&b, "dev");
        let mut full = app("a1", "pci_smart_1", dev, t0());
        full.description = "Charts growth".into();
        full.privacy_policy = Some("https://growth.example/privacy".into());
        full.app_type = AppType::System;
        full.platform = Platform::Service;
        full.client_auth = ClientAuth::SecretBasic;
        full.secret_digest = Some(Digest([7; 32]));
        full.secret_hint = Some("ab12".into());
        full.jwks = Some(r#"{"keys":[]}"#.into());
        full.jwks_url = Some("https://growth.example/jwks".into());
        full.redirect_uris = vec!["https://a.example/cb".into(), "http://127.0.0.1:9/cb".into()];
        full.updated_at = t0() + Duration::milliseconds(1);
        insert(&b, full.clone());

        let by_id = get(&b, "a1");
        assert_eq!(format!("{by_id:?}"), format!("{full:?}"), "{}", b.name);
        assert_eq!(by_id.secret_digest, Some(Digest([7; 32])), "{}", b.name);
        let by_client = b.read(|s| s.app_by_client_id("pci_smart_1").unwrap()).unwrap();
        assert_eq!(format!("{by_client:?}"), format!("{full:?}"), "{}", b.name);
        assert!(b.read(|s| s.app("nope").unwrap()).is_none(), "{}", b.name);
        assert!(b.read(|s| s.app_by_client_id("PCI_SMART_1").unwrap()).is_none(), "{}: client ids are exact", b.name);

        let taken = b.write_ok(move |s| s.insert_app(&app("a2", "pci_smart_1", dev, t0())));
        assert!(
            matches!(&taken, Err(StoreError::Conflict(m)) if m == "an app with this client id exists"),
            "{}: {taken:?}",
            b.name
        );
        assert!(b.read(|s| s.app("a2").unwrap()).is_none(), "{}", b.name);
    }
}

#[test]
fn a_developers_apps_are_listed_newest_first_without_the_deleted_ones() {
    for b in backends() {
        let (dev, other) = (developer(&b, "dev"), developer(&b, "other"));
        let later = t0() + Duration::hours(1);
        // (id, owner, created): "b2" and "b1" tie on time and are ordered by id.
        for (id, owner, at) in
            [("a", dev, t0()), ("b2", dev, later), ("b1", dev, later), ("z", other, later), ("gone", dev, later)]
        {
            insert(&b, app(id, &format!("pci_{id}"), owner, at));
        }
        assert_eq!(b.write_ok(|s| s.delete_app("gone", t0())).unwrap(), Some(0), "{}", b.name);
        let ids = |owner| b.read(|s| s.apps_of(owner).unwrap().into_iter().map(|a| a.id).collect::<Vec<_>>());
        assert_eq!(ids(dev), ["b1", "b2", "a"], "{}", b.name);
        assert_eq!(ids(other), ["z"], "{}", b.name);
        assert!(ids(UserId(9999)).is_empty(), "{}", b.name);
    }
}

#[test]
fn redirect_uris_are_those_of_usable_apps() {
    for b in backends() {
        let dev = developer(&b, "dev");
        for id in ["live", "off", "gone"] {
            let mut a = app(id, &format!("pci_{id}"), dev, t0());
            a.redirect_uris.push(format!("http://127.0.0.1:8/{id}"));
            a.active = id != "off";
            insert(&b, a);
        }
        b.write_ok(|s| s.delete_app("gone", t0())).unwrap();
        let mut uris = b.read(|s| s.registered_redirect_uris().unwrap());
        uris.sort();
        assert_eq!(uris, ["http://127.0.0.1:8/live", "https://live.example/cb"], "{}", b.name);
    }
}

#[test]
fn an_update_changes_only_what_it_names() {
    type Check = fn(&AppRecord) -> bool;
    let cases: Vec<(&str, AppChange, Check)> = vec![
        ("name", AppChange { name: Some("Renamed".into()), ..Default::default() }, |a| {
            a.name == "Renamed" && a.homepage.is_some() && a.description.is_empty()
        }),
        ("description", AppChange { description: Some("New".into()), ..Default::default() }, |a| {
            a.description == "New" && a.name == "App a"
        }),
        ("homepage cleared", AppChange { homepage: Some(None), ..Default::default() }, |a| a.homepage.is_none()),
        ("privacy set", AppChange { privacy_policy: Some(Some("https://p".into())), ..Default::default() }, |a| {
            a.privacy_policy.as_deref() == Some("https://p") && a.homepage.is_some()
        }),
        (
            "uris",
            AppChange { redirect_uris: Some(vec!["https://x/cb".into(), "https://y/cb".into()]), ..Default::default() },
            |a| a.redirect_uris == ["https://x/cb", "https://y/cb"],
        ),
        ("scopes", AppChange { scopes: Some("system/*.rs".into()), ..Default::default() }, |a| a.scopes == "system/*.rs"),
        (
            "jwks",
            AppChange { jwks: Some(Some("{}".into())), jwks_url: Some(Some("https://k".into())), ..Default::default() },
            |a| a.jwks.as_deref() == Some("{}") && a.jwks_url.as_deref() == Some("https://k"),
        ),
        ("disabled", AppChange { active: Some(false), ..Default::default() }, |a| !a.active && !a.usable()),
        ("nothing", AppChange::default(), |a| {
            a.name == "App a" && a.homepage.is_some() && a.active && a.redirect_uris == ["https://a.example/cb"]
        }),
    ];
    for b in backends() {
        let dev = developer(&b, "dev");
        for (i, (what, change, check)) in cases.iter().enumerate() {
            let id = format!("a{i}");
            let mut a = app("a", &format!("pci_{i}"), dev, t0());
            a.id = id.clone();
            b.write_ok(move |s| s.insert_app(&a)).unwrap();
            let (change, at) = (change.clone(), t0() + Duration::minutes(5));
            let id2 = id.clone();
            b.write_ok(move |s| s.update_app(&id2, &change, at)).unwrap();
            let got = b.read(|s| s.app(&id).unwrap()).unwrap();
            assert!(check(&got), "{}: {what}: {got:?}", b.name);
            assert_eq!(got.updated_at, at, "{}: {what}", b.name);
            assert_eq!(got.created_at, t0(), "{}: {what}", b.name);
        }
        // No such app, or a deleted one: NotFound.
        let missing = b.write_ok(|s| s.update_app("nope", &AppChange::default(), t0()));
        assert!(matches!(missing, Err(StoreError::NotFound)), "{}: {missing:?}", b.name);
        b.write_ok(|s| s.delete_app("a0", t0())).unwrap();
        let deleted = b.write_ok(|s| s.update_app("a0", &AppChange { name: Some("x".into()), ..Default::default() }, t0()));
        assert!(matches!(deleted, Err(StoreError::NotFound)), "{}: {deleted:?}", b.name);
        assert_eq!(get(&b, "a0").name, "Renamed", "{}", b.name);
    }
}

#[test]
fn a_new_secret_keeps_the_old_one_only_through_a_grace_period() {
    for b in backends() {
        let dev = developer(&b, "dev");
        let mut a = app("a", "pci_a", dev, t0());
        a.client_auth = ClientAuth::SecretPost;
        a.secret_digest = Some(Digest([1; 32]));
        a.secret_hint = Some("1111".into());
        insert(&b, a);

        let (grace, at) = (t0() + Duration::days(1), t0() + Duration::hours(1));
        b.write_ok(move |s| s.replace_app_secret("a", Digest([2; 32]), "2222", Some(grace), at)).unwrap();
        let got = get(&b, "a");
        assert_eq!(got.secret_digest, Some(Digest([2; 32])), "{}", b.name);
        assert_eq!(got.secret_hint.as_deref(), Some("2222"), "{}", b.name);
        assert_eq!(got.previous, Some((Digest([1; 32]), grace)), "{}", b.name);
        assert_eq!(got.updated_at, at, "{}", b.name);

        b.write_ok(move |s| s.replace_app_secret("a", Digest([3; 32]), "3333", None, at)).unwrap();
        let got = get(&b, "a");
        assert_eq!(got.secret_digest, Some(Digest([3; 32])), "{}", b.name);
        assert_eq!(got.previous, None, "{}: without a grace period the old secret dies now", b.name);

        let missing = b.write_ok(move |s| s.replace_app_secret("nope", Digest([4; 32]), "4444", None, at));
        assert!(matches!(missing, Err(StoreError::NotFound)), "{}: {missing:?}", b.name);
        assert_eq!(b.write_ok(move |s| s.delete_app("a", at)).unwrap(), Some(0), "{}", b.name);
        let deleted = b.write_ok(move |s| s.replace_app_secret("a", Digest([4; 32]), "4444", None, at));
        assert!(matches!(deleted, Err(StoreError::NotFound)), "{}: {deleted:?}", b.name);
    }
}

#[test]
fn a_deleted_app_stays_on_record_disabled_and_deletes_once() {
    for b in backends() {
        let dev = developer(&b, "dev");
        insert(&b, app("a", "pci_a", dev, t0()));
        let at = t0() + Duration::hours(2);
        assert_eq!(b.write_ok(move |s| s.delete_app("a", at)).unwrap(), Some(0), "{}", b.name);
        assert_eq!(b.write_ok(move |s| s.delete_app("a", at)).unwrap(), None, "{}: already gone", b.name);
        assert_eq!(b.write_ok(move |s| s.delete_app("nope", at)).unwrap(), None, "{}", b.name);
        let got = get(&b, "a");
        assert_eq!((got.active, got.deleted_at, got.updated_at), (false, Some(at), at), "{}", b.name);
        assert!(!got.usable(), "{}", b.name);
        assert!(b.read(|s| s.app_by_client_id("pci_a").unwrap()).is_some(), "{}", b.name);
    }
}

#[test]
fn deleting_an_app_from_several_writers_at_once_deletes_it_once() {
    for b in backends() {
        let other = b.another_server();
        let dev = developer(&b, "dev");
        for round in 0..5 {
            let id: &'static str = ["r0", "r1", "r2", "r3", "r4"][round];
            insert(&b, app(id, &format!("pci_{id}"), dev, t0()));
            let won = race([&b, &other], 4, move |s| Ok(s.delete_app(id, t0())?.is_some()));
            assert_eq!(won, 1, "{}: round {round}", b.name);
        }
    }
}

#[test]
fn approvals_are_requested_decided_and_listed() {
    for b in backends() {
        let (p1, p2, p3) =
            b.write_ok(|s| Ok((s.create_practice("One")?, s.create_practice("Two")?, s.create_practice("Three")?))).unwrap();
        let (dev, admin) = (developer(&b, "dev"), developer(&b, "admin"));
        for (id, at) in [("a", t0()), ("b", t0()), ("gone", t0())] {
            insert(&b, app(id, &format!("pci_{id}"), dev, at));
        }
        let at = |m: i64| t0() + Duration::minutes(m);
        b.write_ok(move |s| {
            s.request_approval("a", p2, dev, at(1))?;
            s.request_approval("a", p1, dev, at(2))?;
            s.request_approval("b", p1, dev, at(3))?;
            s.request_approval("gone", p1, dev, at(4))?;
            s.decide_approval("a", p1, ApprovalStatus::Approved, None, admin, at(5))?;
            s.decide_approval("a", p2, ApprovalStatus::Denied, Some("no need"), admin, at(6))?;
            s.decide_approval("gone", p1, ApprovalStatus::Approved, None, admin, at(6))?;
            s.delete_app("gone", at(7)).map(drop)
        })
        .unwrap();

        let of_a = b.read(|s| s.approvals_of_app("a").unwrap());
        let rows: Vec<_> = of_a.iter().map(|r| (r.practice, r.status, r.reason.clone(), r.decided_by, r.decided_at)).collect();
        assert_eq!(
            rows,
            [
                (p1, ApprovalStatus::Approved, None, Some(admin), Some(at(5))),
                (p2, ApprovalStatus::Denied, Some("no need".to_owned()), Some(admin), Some(at(6)))
            ],
            "{}: by practice",
            b.name
        );
        assert_eq!((of_a[0].requested_by, of_a[0].requested_at, of_a[0].app_id.as_str()), (dev, at(2), "a"), "{}", b.name);
        assert_eq!(b.read(|s| s.approved_practices("a").unwrap()), [p1], "{}", b.name);
        assert!(b.read(|s| s.approved_practices("b").unwrap()).is_empty(), "{}: pending is not approved", b.name);

        // Newest request first, then by app; a deleted app's rows are left out; no practices, no rows.
        let listed = |ps: Vec<PracticeId>| {
            b.read(move |s| {
                s.approvals_for_practices(&ps).unwrap().into_iter().map(|r| (r.app_id, r.practice)).collect::<Vec<_>>()
            })
        };
        assert_eq!(listed(vec![p1, p2]), [("b".to_owned(), p1), ("a".to_owned(), p1), ("a".to_owned(), p2)], "{}", b.name);
        assert_eq!(listed(vec![p2, p3]), [("a".to_owned(), p2)], "{}", b.name);
        assert!(listed(vec![]).is_empty(), "{}", b.name);
        assert!(listed(vec![p3]).is_empty(), "{}", b.name);

        // A new request resets the decision; a decision needs a request.
        b.write_ok(move |s| s.request_approval("a", p1, admin, at(8))).unwrap();
        let again = b.read(|s| s.approvals_of_app("a").unwrap()).remove(0);
        assert_eq!(
            (again.status, again.reason, again.requested_by, again.requested_at, again.decided_by, again.decided_at),
            (ApprovalStatus::Pending, None, admin, at(8), None, None),
            "{}",
            b.name
        );
        assert!(b.read(|s| s.approved_practices("a").unwrap()).is_empty(), "{}", b.name);
        let none = b.write_ok(move |s| s.decide_approval("b", p3, ApprovalStatus::Approved, None, admin, at(9)));
        assert!(matches!(none, Err(StoreError::NotFound)), "{}: {none:?}", b.name);
        assert_eq!(listed(vec![p1]), [("a".to_owned(), p1), ("b".to_owned(), p1)], "{}: the new request is newest", b.name);
    }
}

/// Consents by one person to one app, a code and a refresh token of it; the grant's state as effective
/// access sees it (needs the credentials area).
fn grant(s: &mut dyn WriteStore, id: &str, app_id: &str, owner: UserId, patient: &PatientId, at: DateTime<Utc>) -> Result<()> {
    s.insert_credential(
        &NewCredential {
            id,
            kind: CredentialKind::ConnectedApp,
            owner,
            name: "Growth chart",
            note: None,
            client_id: &format!("pci_grant_{id}"),
            secret_digest: Digest([0; 32]),
            secret_hint: "",
            window: Default::default(),
            active: true,
            created_by: owner,
            patients: std::slice::from_ref(patient),
            grant: Some(GrantOf { app_id, scope: "patient/Observation.rs openid", practice: None }),
        },
        at,
    )
}

fn code(n: u8, credential_id: &str, at: DateTime<Utc>) -> AuthCodeRecord {
    AuthCodeRecord {
        digest: Digest([n; 32]),
        credential_id: credential_id.into(),
        redirect_uri: "http://127.0.0.1:9/cb".into(),
        code_challenge: "challenge".into(),
        nonce: Some("n-0".into()),
        issued_at: at,
        expires_at: at + Duration::seconds(60),
        used_at: None,
    }
}

fn refresh(n: u8, credential_id: &str, at: DateTime<Utc>) -> RefreshTokenRecord {
    RefreshTokenRecord {
        digest: Digest([n; 32]),
        credential_id: credential_id.into(),
        issued_at: at,
        expires_at: at + Duration::days(90),
        used_at: None,
        revoked_at: None,
    }
}

#[test]
fn an_approved_grant_reaches_until_the_app_or_the_approval_goes() {
    for b in backends() {
        let now = t0();
        let practice = b.write_ok(|s| s.create_practice("North")).unwrap();
        let dev = b.write_ok(move |s| s.create_user(&user("dev", &[Role::AppDeveloper], &[practice]), now)).unwrap();
        insert(&b, app("app-1", "pci_smart_1", dev, now));
        let patient = PatientId("p1".into());
        let p = patient.clone();
        b.write_ok(move |s| {
            s.assign_patient(&p, practice)?;
            grant(s, "g0", "app-1", dev, &p, now - Duration::hours(1))?;
            s.delete_credential("g0", now - Duration::minutes(30))?;
            grant(s, "g1", "app-1", dev, &p, now)
        })
        .unwrap();
        let found = b.read(|s| s.grant_of("app-1", dev).unwrap()).map(|g| g.id);
        assert_eq!(found.as_deref(), Some("g1"), "{}: the live grant", b.name);
        assert!(b.read(|s| s.grant_of("app-1", UserId(9999)).unwrap()).is_none(), "{}", b.name);
        assert!(b.read(|s| s.grant_of("other", dev).unwrap()).is_none(), "{}", b.name);
        assert_eq!(b.read(|s| s.live_grant_count("app-1").unwrap()), 1, "{}", b.name);

        let facts = |b: &Fresh| {
            b.read(|s| {
                let g = s.credential("g1").unwrap().unwrap();
                s.credential_facts(&g).unwrap().app.unwrap()
            })
        };
        assert!(facts(&b).approved.is_empty(), "{}", b.name);
        b.write_ok(move |s| {
            s.request_approval("app-1", practice, dev, now)?;
            s.decide_approval("app-1", practice, ApprovalStatus::Approved, None, dev, now)
        })
        .unwrap();
        assert_eq!(facts(&b).approved, [practice], "{}", b.name);
        assert_eq!(facts(&b).scope.to_string(), "patient/Observation.rs", "{}", b.name);
        assert!(facts(&b).active, "{}", b.name);
        b.write_ok(move |s| s.decide_approval("app-1", practice, ApprovalStatus::Withdrawn, Some("policy"), dev, now)).unwrap();
        assert!(facts(&b).approved.is_empty(), "{}", b.name);

        // Codes and refresh tokens read back as stored and are single use; the grant's deletion takes them along.
        let c = code(1, "g1", now);
        let c2 = c.clone();
        b.write_ok(move |s| s.insert_auth_code(&c2)).unwrap();
        let stored = b.read(|s| s.auth_code(&Digest([1; 32])).unwrap()).unwrap();
        assert_eq!(format!("{stored:?}"), format!("{c:?}"), "{}", b.name);
        assert!(b.read(|s| s.auth_code(&Digest([9; 32])).unwrap()).is_none(), "{}", b.name);
        let used_at = now + Duration::seconds(5);
        assert!(b.write_ok(move |s| s.use_auth_code(&Digest([1; 32]), used_at)).unwrap(), "{}", b.name);
        assert!(!b.write_ok(move |s| s.use_auth_code(&Digest([1; 32]), used_at)).unwrap(), "{}", b.name);
        assert!(!b.write_ok(move |s| s.use_auth_code(&Digest([9; 32]), used_at)).unwrap(), "{}: unknown", b.name);
        assert_eq!(b.read(|s| s.auth_code(&Digest([1; 32])).unwrap()).unwrap().used_at, Some(used_at), "{}", b.name);

        let (r2, r3) = (refresh(2, "g1", now), refresh(3, "g1", now));
        let mut r4 = refresh(4, "g1", now - Duration::days(91));
        r4.expires_at = now;
        let stored_r2 = r2.clone();
        b.write_ok(move |s| {
            s.insert_refresh_token(&r2)?;
            s.insert_refresh_token(&r3)?;
            s.insert_refresh_token(&r4)
        })
        .unwrap();
        let got = b.read(|s| s.refresh_token(&Digest([2; 32])).unwrap()).unwrap();
        assert_eq!(format!("{got:?}"), format!("{stored_r2:?}"), "{}", b.name);
        assert!(b.read(|s| s.refresh_token(&Digest([9; 32])).unwrap()).is_none(), "{}", b.name);
        assert_eq!(b.read(|s| s.live_refresh_tokens("g1", now).unwrap()), 2, "{}: an expired one is not live", b.name);
        assert!(b.write_ok(move |s| s.use_refresh_token(&Digest([3; 32]), now)).unwrap(), "{}", b.name);
        assert!(!b.write_ok(move |s| s.use_refresh_token(&Digest([3; 32]), now)).unwrap(), "{}: a replay", b.name);
        assert_eq!(b.read(|s| s.refresh_token(&Digest([3; 32])).unwrap()).unwrap().used_at, Some(now), "{}", b.name);
        assert_eq!(b.read(|s| s.live_refresh_tokens("g1", now).unwrap()), 1, "{}", b.name);

        assert_eq!(b.write_ok(move |s| s.delete_app("app-1", now)).unwrap(), Some(1), "{}", b.name);
        assert_eq!(b.read(|s| s.live_grant_count("app-1").unwrap()), 0, "{}", b.name);
        assert_eq!(b.read(|s| s.live_refresh_tokens("g1", now).unwrap()), 0, "{}", b.name);
        assert!(b.read(|s| s.refresh_token(&Digest([2; 32])).unwrap()).unwrap().revoked_at.is_some(), "{}", b.name);
        assert!(!b.write_ok(move |s| s.use_refresh_token(&Digest([2; 32]), now)).unwrap(), "{}: revoked", b.name);
        assert!(b.read(|s| s.grant_of("app-1", dev).unwrap()).is_none(), "{}", b.name);
        assert!(!facts(&b).active, "{}", b.name);
    }
}

#[test]
fn a_code_or_refresh_token_used_by_several_writers_at_once_is_used_once() {
    for b in backends() {
        let other = b.another_server();
        let dev = developer(&b, "dev");
        insert(&b, app("a", "pci_a", dev, t0()));
        let patient = PatientId("p1".into());
        b.write_ok(move |s| grant(s, "g1", "a", dev, &patient, t0())).unwrap();
        for round in 0..5u8 {
            let (c, r) = (code(10 + round, "g1", t0()), refresh(20 + round, "g1", t0()));
            b.write_ok(move |s| {
                s.insert_auth_code(&c)?;
                s.insert_refresh_token(&r)
            })
            .unwrap();
            let won = race([&b, &other], 4, move |s| s.use_auth_code(&Digest([10 + round; 32]), t0()));
            assert_eq!(won, 1, "{}: code, round {round}", b.name);
            let won = race([&b, &other], 4, move |s| s.use_refresh_token(&Digest([20 + round; 32]), t0()));
            assert_eq!(won, 1, "{}: refresh token, round {round}", b.name);
        }
    }
}

#[test]
fn a_jti_is_accepted_once_within_its_lifetime() {
    let now = t0();
    let exp = now + Duration::seconds(300);
    // (client, jti, expires, now, accepted), in order, on one store.
    let steps = [
        ("c", "j1", exp, now, true),
        ("c", "j1", exp, now + Duration::seconds(299), false),
        ("c", "j1", exp + Duration::seconds(900), now + Duration::seconds(1), false),
        ("other", "j1", exp, now, true),
        ("c", "j2", exp, now, true),
        // At its expiry it is expired: reusable, and remembered anew until the new expiry.
        ("c", "j1", exp + Duration::seconds(300), exp, true),
        ("c", "j1", exp + Duration::seconds(300), exp + Duration::seconds(1), false),
        ("c", "j1", exp + Duration::seconds(900), exp + Duration::seconds(301), true),
    ];
    for b in backends() {
        for (i, (client, jti, until, at, accepted)) in steps.into_iter().enumerate() {
            let got = b.write_ok(move |s| s.record_jti(client, jti, until, at)).unwrap();
            assert_eq!(got, accepted, "{}: step {i}", b.name);
        }
    }
}

#[test]
fn a_jti_recorded_by_several_writers_at_once_is_accepted_once() {
    for b in backends() {
        let other = b.another_server();
        for round in 0..5 {
            let jti = ["r0", "r1", "r2", "r3", "r4"][round];
            let exp = t0() + Duration::seconds(300);
            assert_eq!(race([&b, &other], 4, move |s| s.record_jti("c", jti, exp, t0())), 1, "{}: new, round {round}", b.name);
            // Once expired it may be reused, by exactly one of those presenting it at once.
            let (later, after) = (exp + Duration::seconds(1), exp + Duration::seconds(300));
            assert_eq!(
                race([&b, &other], 4, move |s| s.record_jti("c", jti, after, later)),
                1,
                "{}: expired, round {round}",
                b.name
            );
        }
    }
}
