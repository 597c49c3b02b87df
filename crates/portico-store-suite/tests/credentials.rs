//! Credentials, their patient lists and access tokens, on every backend: stored and listed alike, names
//! unique per owner as a reader sees them, secrets replaced with and without grace, staff keys paged alike,
//! and the one-shot changes (a revocation, a deletion) done once when two servers race on them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use portico_domain::{
    minted_by_live_secret, name_key, AppType, ApprovalStatus, AuditEvent, AuditKind, ClientAuth, CredentialKind, Digest,
    PatientId, Platform, PracticeId, RequestedScopes, Role, UserId, ValidityWindow,
};
use portico_fhir::search::fold;
use portico_store::{
    AppRecord, CredentialChange, CredentialRecord, GrantOf, NewCredential, NewUser, Result, StaffKeyListing, StaffKeySort,
    StoreError, TokenRecord, WriteStore,
};
use portico_store_suite::{backends, Fresh};

/// A whole second, so every backend keeps it exactly.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap()
}

fn pid(s: &str) -> PatientId {
    PatientId(s.to_owned())
}

/// A credential to insert, owned (write jobs are `'static`).
#[derive(Clone, Debug)]
struct Key {
    id: String,
    kind: CredentialKind,
    owner: UserId,
    name: String,
    note: Option<String>,
    window: ValidityWindow,
    patients: Vec<PatientId>,
    created: DateTime<Utc>,
    grant: Option<(String, String, Option<PracticeId>)>,
}

fn key(id: &str, kind: CredentialKind, owner: UserId, name: &str) -> Key {
    Key {
        id: id.into(),
        kind,
        owner,
        name: name.into(),
        note: None,
        window: ValidityWindow::default(),
        patients: Vec::new(),
        created: t0(),
        grant: None,
    }
}

fn insert(s: &mut dyn WriteStore, k: &Key) -> Result<()> {
    let grant = k.grant.as_ref().map(|(app_id, scope, practice)| GrantOf { app_id, scope, practice: *practice });
    s.insert_credential(
        &NewCredential {
            id: &k.id,
            kind: k.kind,
            owner: k.owner,
            name: &k.name,
            note: k.note.as_deref(),
            client_id: &format!("client-{}", k.id),
            secret_digest: digest(&k.id),
            secret_hint: "hint",
            window: k.window,
            active: true,
            created_by: k.owner,
            patients: &k.patients,
            grant,
        },
        k.created,
    )
}

fn digest(s: &str) -> Digest {
    let mut d = [0u8; 32];
    for (i, b) in s.bytes().enumerate() {
        d[i % 32] ^= b.wrapping_add(i as u8);
    }
    d[31] ^= s.len() as u8;
    Digest(d)
}

fn token(d: &str, credential: &str, generation: i64, issued: DateTime<Utc>, lifetime: Duration) -> TokenRecord {
    TokenRecord {
        digest: digest(d),
        credential_id: credential.into(),
        scope: "system/*.rs".into(),
        patient: None,
        issued_at: issued,
        expires_at: issued + lifetime,
        revoked_at: None,
        secret_generation: generation,
    }
}

fn new_user<'a>(username: &'a str, display: &'a str, roles: &'a [Role], practices: &'a [PracticeId]) -> NewUser<'a> {
    NewUser { username, display_name: display, password_hash: "x", roles, practices, patient: None }
}

/// Two practices; a developer in practice one, a provider in both, an outsider in none.
struct Clinic {
    one: PracticeId,
    two: PracticeId,
    dev: UserId,
    prov: UserId,
    outsider: UserId,
}

fn clinic(b: &Fresh) -> Clinic {
    b.write_ok(|s| {
        let (one, two) = (s.create_practice("One")?, s.create_practice("Two")?);
        let dev = s.create_user(&new_user("dev", "Dev Eloper", &[Role::Developer], &[one]), t0())?;
        let prov = s.create_user(&new_user("prov", "Prov Ider", &[Role::Provider], &[one, two]), t0())?;
        let outsider = s.create_user(&new_user("out", "Out Sider", &[Role::Developer], &[]), t0())?;
        Ok(Clinic { one, two, dev, prov, outsider })
    })
    .unwrap()
}

fn ids(v: &[CredentialRecord]) -> Vec<&str> {
    v.iter().map(|c| c.id.as_str()).collect()
}

fn is_conflict<T: std::fmt::Debug>(r: &Result<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(m)) if m == "you already have a credential with this name")
}

#[test]
fn credentials_keep_what_they_were_given_and_list_newest_first() {
    for b in backends() {
        let c = clinic(&b);
        let window = ValidityWindow { from: Some(t0() - Duration::days(1)), to: Some(t0() + Duration::days(30)) };
        let full = Key {
            note: Some("for the lab".into()),
            window,
            patients: vec![pid("p-b"), pid("p-a"), pid("p-b")],
            ..key("k-full", CredentialKind::Provider, c.prov, "Lab sync")
        };
        let keys = vec![
            full.clone(),
            // The same instant as the first: ties are listed by id.
            key("k-bare", CredentialKind::Provider, c.prov, "Bare"),
            Key { created: t0() + Duration::seconds(5), ..key("k-late", CredentialKind::Provider, c.prov, "Late") },
            key("k-other", CredentialKind::Developer, c.dev, "Lab sync"),
        ];
        let ks = keys.clone();
        b.write_ok(move |s| ks.iter().try_for_each(|k| insert(s, k))).unwrap();
        b.read(|s| {
            let got = s.credential("k-full").unwrap().expect("stored");
            assert_eq!(
                (got.kind, got.owner, got.name.as_str(), got.note.as_deref(), got.client_id.as_str()),
                (CredentialKind::Provider, c.prov, "Lab sync", Some("for the lab"), "client-k-full"),
                "{}",
                b.name
            );
            assert_eq!(
                (got.secret_digest, got.secret_hint.as_str(), got.previous),
                (digest("k-full"), "hint", None),
                "{}",
                b.name
            );
            assert_eq!((got.window, got.active, got.secret_generation), (window, true, 0), "{}", b.name);
            assert_eq!(
                (got.created_at, got.updated_at, got.created_by, got.deleted_at),
                (t0(), t0(), c.prov, None),
                "{}",
                b.name
            );
            assert_eq!(got.patients, vec![pid("p-a"), pid("p-b")], "{}: patients once each, in order", b.name);
            assert_eq!((&got.app_id, &got.scope, got.practice), (&None, &None, None), "{}", b.name);
            let by_client = s.credential_by_client_id("client-k-full").unwrap().expect("by client id");
            assert_eq!((by_client.id.as_str(), by_client.patients.len()), ("k-full", 2), "{}", b.name);
            assert!(s.credential("nope").unwrap().is_none(), "{}", b.name);
            assert!(s.credential_by_client_id("k-full").unwrap().is_none(), "{}: an id is not a client id", b.name);
            assert_eq!(ids(&s.credentials_of(c.prov).unwrap()), ["k-late", "k-bare", "k-full"], "{}", b.name);
            assert_eq!(ids(&s.credentials_of(c.outsider).unwrap()), Vec::<&str>::new(), "{}", b.name);
            assert!(s.deleted_credentials_of(c.prov, 10).unwrap().is_empty(), "{}", b.name);
            let facts = s.credential_facts(&got).unwrap();
            assert_eq!((facts.kind, facts.active, facts.deleted, facts.window), (CredentialKind::Provider, true, false, window));
            assert!(facts.app.is_none(), "{}", b.name);
        });
    }
}

#[test]
fn each_change_changes_only_its_field() {
    type Check = fn(&CredentialRecord) -> bool;
    let cases: Vec<(&str, CredentialChange, Check)> = vec![
        ("rename", CredentialChange { name: Some("Renamed".into()), ..Default::default() }, |c| c.name == "Renamed"),
        ("note", CredentialChange { note: Some(Some("n".into())), ..Default::default() }, |c| c.note.as_deref() == Some("n")),
        ("clear note", CredentialChange { note: Some(None), ..Default::default() }, |c| c.note.is_none()),
        (
            "window",
            CredentialChange {
                window: Some(ValidityWindow { from: None, to: Some(t0() + Duration::days(2)) }),
                ..Default::default()
            },
            |c| c.window == ValidityWindow { from: None, to: Some(t0() + Duration::days(2)) },
        ),
        ("deactivate", CredentialChange { active: Some(false), ..Default::default() }, |c| !c.active),
        ("patients", CredentialChange { patients: Some(vec![pid("z"), pid("x"), pid("z")]), ..Default::default() }, |c| {
            c.patients == [pid("x"), pid("z")]
        }),
        ("no patients", CredentialChange { patients: Some(vec![]), ..Default::default() }, |c| c.patients.is_empty()),
        ("nothing", CredentialChange::default(), |_| true),
    ];
    for b in backends() {
        let c = clinic(&b);
        for (i, (what, change, check)) in cases.iter().enumerate() {
            let id = format!("k{i}");
            let k = Key {
                note: Some("old note".into()),
                patients: vec![pid("p1")],
                window: ValidityWindow { from: Some(t0()), to: None },
                ..key(&id, CredentialKind::Provider, c.prov, &format!("Key {i}"))
            };
            let before = k.clone();
            let (change, later) = (change.clone(), t0() + Duration::minutes(1));
            let cid = id.clone();
            b.write_ok(move |s| {
                insert(s, &k)?;
                s.update_credential(&cid, &change, later)
            })
            .unwrap();
            let got = b.read(|s| s.credential(&id).unwrap().unwrap());
            assert!(check(&got), "{}: {what}: {got:?}", b.name);
            assert_eq!(got.updated_at, later, "{}: {what}", b.name);
            // Everything else is as it was.
            let untouched = [
                what.contains("name") || got.name == before.name,
                what.contains("note") || got.note == before.note,
                what.contains("window") || got.window == before.window,
                what.contains("activ") || got.active,
                what.contains("patients") || got.patients == before.patients,
            ];
            assert!(untouched.iter().all(|&u| u), "{}: {what} changed more: {got:?}", b.name);
        }
        let missing = b.write_ok(|s| s.update_credential("nope", &CredentialChange::default(), t0()));
        assert!(matches!(missing, Err(StoreError::NotFound)), "{}: {missing:?}", b.name);
    }
}

#[test]
fn names_are_unique_per_owner_case_folded() {
    for b in backends() {
        let c = clinic(&b);
        let owner = c.dev;
        let add = |id: &str, name: &str| {
            let k = key(id, CredentialKind::Developer, owner, name);
            b.write_ok(move |s| insert(s, &k))
        };
        add("a", "Dup Name").unwrap();
        for (id, name) in [("b", "dup name"), ("c", "DUP NAME"), ("d", "Dup Name")] {
            let r = add(id, name);
            assert!(is_conflict(&r), "{}: {name}: {r:?}", b.name);
        }
        add("e", "Straße").unwrap();
        assert!(is_conflict(&add("f", "STRASSE")), "{}", b.name);
        // Another owner may use the name.
        let other = key("g", CredentialKind::Provider, c.prov, "dup name");
        b.write_ok(move |s| insert(s, &other)).unwrap();
        let rename = |id: &'static str, name: &str| {
            let change = CredentialChange { name: Some(name.into()), ..Default::default() };
            b.write_ok(move |s| s.update_credential(id, &change, t0()))
        };
        assert!(is_conflict(&rename("e", "dup NAME")), "{}", b.name);
        rename("a", "DUP name").unwrap();
        b.read(|s| {
            let e = s.credential("e").unwrap().unwrap();
            assert_eq!(e.name, "Straße", "{}: a refused rename changes nothing", b.name);
            assert_eq!(s.credential("a").unwrap().unwrap().name, "DUP name", "{}", b.name);
        });
    }
}

#[test]
fn secrets_are_replaced_with_and_without_grace() {
    for b in backends() {
        let c = clinic(&b);
        let k = key("k", CredentialKind::Developer, c.dev, "Key");
        let hour = Duration::hours(1);
        b.write_ok(move |s| {
            insert(s, &k)?;
            s.insert_token(&token("t1", "k", 0, t0(), hour))?;
            s.insert_token(&token("t2", "k", 0, t0(), hour))
        })
        .unwrap();
        let (later, until) = (t0() + Duration::minutes(1), t0() + Duration::minutes(30));
        let graced = b.write_ok(move |s| s.replace_secret("k", digest("second"), "h2", Some(until), later)).unwrap();
        assert_eq!(graced, 0, "{}: a grace period revokes nothing", b.name);
        b.read(|s| {
            let k = s.credential("k").unwrap().unwrap();
            assert_eq!(
                (k.secret_digest, k.secret_hint.as_str(), k.previous, k.secret_generation, k.updated_at),
                (digest("second"), "h2", Some((digest("k"), until)), 1, later),
                "{}",
                b.name
            );
            assert_eq!(s.live_token_count("k", 0, later).unwrap(), 2, "{}: the old secret's tokens live on", b.name);
            assert_eq!(s.live_token_count("k", 1, later).unwrap(), 0, "{}", b.name);
        });
        let t3 = token("t3", "k", 1, later, hour);
        b.write_ok(move |s| s.insert_token(&t3)).unwrap();
        let (end, even_later) = (t0() + Duration::minutes(2), t0() + Duration::minutes(3));
        let revoked = b.write_ok(move |s| s.replace_secret("k", digest("third"), "h3", None, end)).unwrap();
        assert_eq!(revoked, 3, "{}: without grace every token dies", b.name);
        b.read(|s| {
            let k = s.credential("k").unwrap().unwrap();
            assert_eq!((k.secret_digest, k.previous, k.secret_generation), (digest("third"), None, 2), "{}", b.name);
            assert_eq!(s.live_token_count("k", 0, even_later).unwrap(), 0, "{}", b.name);
            assert_eq!(s.token(&digest("t1")).unwrap().unwrap().revoked_at, Some(end), "{}", b.name);
        });
        let again = b.write_ok(move |s| s.replace_secret("k", digest("fourth"), "h4", None, even_later)).unwrap();
        assert_eq!(again, 0, "{}: nothing left to revoke", b.name);
        let missing = b.write_ok(move |s| s.replace_secret("nope", digest("x"), "h", None, even_later));
        assert!(matches!(missing, Err(StoreError::NotFound)), "{}: {missing:?}", b.name);
    }
}

#[test]
fn tokens_are_found_counted_and_revoked_once() {
    for b in backends() {
        let c = clinic(&b);
        let (k, other) = (key("k", CredentialKind::Developer, c.dev, "Key"), key("o", CredentialKind::Developer, c.dev, "Other"));
        let (hour, now) = (Duration::hours(1), t0() + Duration::minutes(10));
        let with_patient =
            TokenRecord { patient: Some(pid("p1")), scope: "patient/*.rs".into(), ..token("live", "k", 3, t0(), hour) };
        let stored = with_patient.clone();
        b.write_ok(move |s| {
            insert(s, &k)?;
            insert(s, &other)?;
            s.insert_token(&stored)?;
            s.insert_token(&token("old-generation", "k", 2, t0(), hour))?;
            s.insert_token(&token("expired", "k", 3, t0(), Duration::minutes(10)))?;
            s.insert_token(&token("revoked", "k", 3, t0(), hour))?;
            s.insert_token(&token("elsewhere", "o", 3, t0(), hour))?;
            Ok(())
        })
        .unwrap();
        let twice = b.write_ok(move |s| s.insert_token(&token("live", "k", 3, t0(), hour)));
        assert!(twice.is_err(), "{}: a token digest is stored once", b.name);
        let unknown = b.write_ok(move |s| s.insert_token(&token("orphan", "nope", 0, t0(), hour)));
        assert!(unknown.is_err(), "{}: a token belongs to a real credential", b.name);
        let revoke = |d: &'static str, cred: &'static str| b.write_ok(move |s| s.revoke_token(&digest(d), cred, now)).unwrap();
        assert!(!revoke("revoked", "o"), "{}: another credential's token is left alone", b.name);
        assert!(revoke("revoked", "k"), "{}", b.name);
        assert!(!revoke("revoked", "k"), "{}: once", b.name);
        assert!(!revoke("missing", "k"), "{}", b.name);
        b.read(|s| {
            let got = s.token(&digest("live")).unwrap().expect("stored");
            assert_eq!(
                (got.credential_id, got.scope, got.patient, got.issued_at, got.expires_at, got.revoked_at, got.secret_generation),
                ("k".to_owned(), "patient/*.rs".to_owned(), Some(pid("p1")), t0(), t0() + hour, None, 3),
                "{}",
                b.name
            );
            assert_eq!(s.token(&digest("revoked")).unwrap().unwrap().revoked_at, Some(now), "{}", b.name);
            assert!(s.token(&digest("missing")).unwrap().is_none(), "{}", b.name);
            // Live: not revoked, not expired (expiry is exclusive), of the generation asked or later.
            let counts: Vec<i64> = [(3, now), (2, now), (4, now), (3, t0())]
                .iter()
                .map(|&(generation, at)| s.live_token_count("k", generation, at).unwrap())
                .collect();
            assert_eq!(counts, [1, 2, 0, 2], "{}", b.name);
            assert_eq!(s.live_token_count("o", 0, now).unwrap(), 1, "{}", b.name);
        });
    }
}

#[test]
fn deleting_revokes_everything_once_and_frees_the_name() {
    for b in backends() {
        let c = clinic(&b);
        let keys = [
            key("a", CredentialKind::Developer, c.dev, "Alpha"),
            Key { created: t0() + Duration::seconds(1), ..key("b", CredentialKind::Developer, c.dev, "Beta") },
            Key { created: t0() + Duration::seconds(2), ..key("c", CredentialKind::Developer, c.dev, "Gamma") },
        ];
        let hour = Duration::hours(1);
        b.write_ok(move |s| {
            keys.iter().try_for_each(|k| insert(s, k))?;
            s.insert_token(&token("a1", "a", 0, t0(), hour))?;
            s.insert_token(&token("a2", "a", 0, t0(), hour))?;
            s.insert_token(&token("b1", "b", 0, t0(), hour))?;
            s.revoke_token(&digest("a2"), "a", t0()).map(drop)
        })
        .unwrap();
        let at = |m: i64| t0() + Duration::minutes(m);
        let deleted = b.write_ok(move |s| Ok((s.delete_credential("a", at(1))?, s.delete_credential("b", at(2))?))).unwrap();
        assert_eq!(deleted, (Some(1), Some(1)), "{}: the tokens not yet revoked", b.name);
        let again = b.write_ok(move |s| s.delete_credential("a", at(3))).unwrap();
        assert_eq!(again, None, "{}: deleting twice is harmless", b.name);
        assert_eq!(b.write_ok(move |s| s.delete_credential("nope", at(3))).unwrap(), None, "{}", b.name);
        b.read(|s| {
            let a = s.credential("a").unwrap().expect("history stays");
            assert_eq!((a.deleted_at, a.updated_at), (Some(at(1)), at(1)), "{}", b.name);
            assert_eq!(s.token(&digest("a1")).unwrap().unwrap().revoked_at, Some(at(1)), "{}", b.name);
            assert_eq!(s.token(&digest("a2")).unwrap().unwrap().revoked_at, Some(t0()), "{}: revoked before", b.name);
            assert_eq!(ids(&s.credentials_of(c.dev).unwrap()), ["c"], "{}", b.name);
            assert_eq!(ids(&s.deleted_credentials_of(c.dev, 10).unwrap()), ["b", "a"], "{}", b.name);
            assert_eq!(ids(&s.deleted_credentials_of(c.dev, 1).unwrap()), ["b"], "{}", b.name);
            assert_eq!(ids(&s.staff_credentials(&[c.one]).unwrap()), ["c"], "{}", b.name);
            assert!(s.credential_facts(&a).unwrap().deleted, "{}", b.name);
        });
        let change = CredentialChange { note: Some(Some("x".into())), ..Default::default() };
        let update = b.write_ok(move |s| s.update_credential("a", &change, at(4)));
        assert!(matches!(update, Err(StoreError::NotFound)), "{}: {update:?}", b.name);
        let replace = b.write_ok(move |s| s.replace_secret("a", digest("new"), "h", None, at(4)));
        assert!(matches!(replace, Err(StoreError::NotFound)), "{}: {replace:?}", b.name);
        // A deleted credential's name is free again.
        let reuse = key("a2", CredentialKind::Developer, c.dev, "alpha");
        b.write_ok(move |s| insert(s, &reuse)).unwrap();
    }
}

/// Staff keys: developer and provider keys whose owners belong to the administrator's practices.
struct Staff {
    one: PracticeId,
    two: PracticeId,
    keys: Vec<StaffKey>,
}

/// What the model of a page needs of a staff key.
struct StaffKey {
    id: String,
    kind: CredentialKind,
    owner_name: String,
    username: String,
    name: String,
    created: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
    practices: Vec<PracticeId>,
}

const NAMES: [&str; 6] = ["Ángel", "zoë", "Bilal", "chen", "Émile", "ana"];

fn staff(b: &Fresh) -> Staff {
    b.write_ok(|s| {
        let (one, two) = (s.create_practice("One")?, s.create_practice("Two")?);
        let mut keys = Vec::new();
        for (u, first) in NAMES.iter().enumerate() {
            let practices = match u % 3 {
                0 => vec![one],
                1 => vec![two],
                _ => vec![one, two],
            };
            let (username, display) = (format!("user{u}"), format!("{first} Staff"));
            let owner = s.create_user(&new_user(&username, &display, &[Role::Provider, Role::Developer], &practices), t0())?;
            for k in 0..4usize {
                let n = u * 4 + k;
                let kind = if k % 2 == 0 { CredentialKind::Developer } else { CredentialKind::Provider };
                // Names, instants and ends that collide, so ties are broken by id.
                let name = format!("{} key {}", NAMES[(n * 5) % 6], n % 3);
                let created = t0() + Duration::minutes((n % 7) as i64);
                let valid_to = (n % 3 != 0).then(|| t0() + Duration::days((n % 5) as i64 + 1));
                let id = format!("k{n:02}");
                let kk = Key { created, window: ValidityWindow { from: None, to: valid_to }, ..key(&id, kind, owner, &name) };
                insert(s, &kk)?;
                keys.push(StaffKey {
                    id,
                    kind,
                    owner_name: display.clone(),
                    username: username.clone(),
                    name,
                    created,
                    valid_to,
                    practices: practices.clone(),
                });
            }
            // Neither kind is a staff key.
            insert(s, &key(&format!("patient-app-{u}"), CredentialKind::PatientApp, owner, "Patient app"))?;
        }
        Ok(Staff { one, two, keys })
    })
    .unwrap()
}

#[test]
fn staff_keys_are_paged_alike_by_every_backend() {
    for b in backends() {
        let st = staff(&b);
        let (one, two) = (st.one, st.two);
        // Everything, newest first.
        let all = b.read(|s| s.staff_credentials(&[one, two]).unwrap());
        let mut expected: Vec<_> = st.keys.iter().map(|k| (k.created, k.id.clone())).collect();
        expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        assert_eq!(ids(&all), expected.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(), "{}", b.name);
        assert!(b.read(|s| s.staff_credentials(&[]).unwrap()).is_empty(), "{}", b.name);
        let only_two = b.read(|s| s.staff_credentials(&[two]).unwrap());
        assert_eq!(only_two.len(), st.keys.iter().filter(|k| k.practices.contains(&two)).count(), "{}", b.name);

        type Filter = (Option<&'static str>, Option<CredentialKind>, Option<usize>);
        let filters: [Filter; 5] = [
            (None, None, None),
            (Some(" KEY 1 "), None, None),
            (Some("émile"), None, None),
            (Some("user1"), Some(CredentialKind::Provider), None),
            (None, Some(CredentialKind::Developer), Some(1)),
        ];
        let sorts = [StaffKeySort::Name, StaffKeySort::Owner, StaffKeySort::Created, StaffKeySort::ValidTo];
        for (search, kind, practice) in filters {
            let practice = practice.map(|i| [one, two][i]);
            for sort in sorts {
                for descending in [false, true] {
                    // The model: the same filter and order, computed here.
                    let mut want: Vec<_> = st
                        .keys
                        .iter()
                        .filter(|k| kind.is_none_or(|kind| k.kind == kind))
                        .filter(|k| practice.is_none_or(|p| k.practices.contains(&p)))
                        .filter(|k| {
                            search.map(str::trim).is_none_or(|q| {
                                name_key(&k.name).contains(&name_key(q))
                                    || fold(&k.owner_name).contains(&fold(q))
                                    || k.username.contains(&fold(q))
                            })
                        })
                        .collect();
                    want.sort_by(|a, b| {
                        let o = match sort {
                            StaffKeySort::Name => name_key(&a.name).cmp(&name_key(&b.name)),
                            StaffKeySort::Owner => {
                                fold(&a.owner_name).cmp(&fold(&b.owner_name)).then(a.username.cmp(&b.username))
                            }
                            StaffKeySort::Created => a.created.cmp(&b.created),
                            // No end date is the furthest.
                            _ => a.valid_to.is_none().cmp(&b.valid_to.is_none()).then(a.valid_to.cmp(&b.valid_to)),
                        }
                        .then(a.id.cmp(&b.id));
                        if descending {
                            o.reverse()
                        } else {
                            o
                        }
                    });
                    let want: Vec<&str> = want.iter().map(|k| k.id.as_str()).collect();
                    let mut got = Vec::new();
                    let mut totals = Vec::new();
                    for offset in (0..=want.len()).step_by(5) {
                        let visible = [one, two];
                        let listing =
                            StaffKeyListing { visible_to: &visible, search, kind, practice, sort, descending, offset, limit: 5 };
                        let (total, page) = b.read(|s| s.staff_credentials_page(&listing).unwrap());
                        totals.push(total);
                        got.extend(page.into_iter().map(|c| c.id));
                    }
                    let case = format!("{}: {search:?} {kind:?} {practice:?} {sort:?} desc={descending}", b.name);
                    assert!(totals.iter().all(|&t| t == want.len()), "{case}: totals {totals:?}");
                    assert_eq!(got, want, "{case}");
                }
            }
        }
        // An administrator sees only the keys of their practices' staff.
        let listing = StaffKeyListing {
            visible_to: &[one],
            search: None,
            kind: None,
            practice: None,
            sort: StaffKeySort::Created,
            descending: false,
            offset: 0,
            limit: 1000,
        };
        let (total, page) = b.read(|s| s.staff_credentials_page(&listing).unwrap());
        assert_eq!(total, st.keys.iter().filter(|k| k.practices.contains(&one)).count(), "{}", b.name);
        assert_eq!(page.len(), total, "{}", b.name);
        let nobody = StaffKeyListing { visible_to: &[], ..listing };
        assert_eq!(b.read(|s| s.staff_credentials_page(&nobody).unwrap()).0, 0, "{}", b.name);
    }
}

#[test]
fn staff_keys_sort_by_last_use() {
    for b in backends() {
        let st = staff(&b);
        let (one, two) = (st.one, st.two);
        // k03 read data last; k05 had a token; k07's only token was refused; the rest were never used.
        let at = |m: i64| t0() + Duration::hours(1) + Duration::minutes(m);
        let event = |kind: AuditKind, cred: &str, m: i64, outcome: &str| {
            let mut e = AuditEvent::new(kind, at(m));
            e.credential_id = Some(cred.into());
            e.outcome = outcome.into();
            e
        };
        let events = vec![
            event(AuditKind::TokenIssued, "k03", 1, "ok"),
            event(AuditKind::TokenIssued, "k05", 5, "ok"),
            event(AuditKind::FhirAccess, "k03", 9, "ok"),
            event(AuditKind::TokenRefused, "k07", 20, "invalid_client"),
            event(AuditKind::CredentialUpdated, "k09", 30, "ok"),
        ];
        b.write_ok(move |s| s.append_audit(&events)).unwrap();
        for (descending, head) in [(true, vec!["k03", "k05", "k23", "k22"]), (false, vec!["k00", "k01", "k02", "k04"])] {
            let visible = [one, two];
            let listing = StaffKeyListing {
                visible_to: &visible,
                search: None,
                kind: None,
                practice: None,
                sort: StaffKeySort::LastUsed,
                descending,
                offset: 0,
                limit: 100,
            };
            let (_, page) = b.read(|s| s.staff_credentials_page(&listing).unwrap());
            let got = ids(&page);
            if descending {
                assert_eq!(got[..4], head[..], "{}: used first, then never used by id", b.name);
            } else {
                assert_eq!(got[..4], head[..], "{}: never used first", b.name);
                assert_eq!(got[got.len() - 2..], ["k05", "k03"], "{}", b.name);
            }
        }
    }
}

#[test]
fn provider_keys_are_listed_by_their_patients_practices() {
    for b in backends() {
        let c = clinic(&b);
        let (one, two) = (c.one, c.two);
        let keys = [
            Key { patients: vec![pid("in-one")], ..key("p-one", CredentialKind::Provider, c.prov, "One's") },
            Key {
                patients: vec![pid("in-two"), pid("in-both")],
                created: t0() + Duration::seconds(1),
                ..key("p-two", CredentialKind::Provider, c.prov, "Two's")
            },
            // An owner who belongs nowhere still shows: the patients decide.
            Key { patients: vec![pid("in-one")], ..key("p-out", CredentialKind::Provider, c.outsider, "Outsider's") },
            key("p-none", CredentialKind::Provider, c.prov, "Nobody's"),
            // Only provider keys list patients.
            Key { patients: vec![pid("in-one")], ..key("d-one", CredentialKind::Developer, c.dev, "Dev's") },
        ];
        b.write_ok(move |s| {
            s.assign_patient(&pid("in-one"), one)?;
            s.assign_patient(&pid("in-two"), two)?;
            s.assign_patient(&pid("in-both"), two)?;
            s.assign_patient(&pid("in-both"), one)?;
            keys.iter().try_for_each(|k| insert(s, k))
        })
        .unwrap();
        b.read(|s| {
            assert_eq!(ids(&s.provider_credentials_listing(&[one]).unwrap()), ["p-two", "p-one", "p-out"], "{}", b.name);
            assert_eq!(ids(&s.provider_credentials_listing(&[two]).unwrap()), ["p-two"], "{}", b.name);
            assert!(s.provider_credentials_listing(&[]).unwrap().is_empty(), "{}", b.name);
            // Each chosen patient with the practices it belongs to, as `patient_practices` has them.
            let two_key = s.credential("p-two").unwrap().unwrap();
            let facts = s.credential_facts(&two_key).unwrap();
            assert_eq!(facts.patients, vec![(pid("in-both"), vec![one, two]), (pid("in-two"), vec![two])], "{}", b.name);
            let changed = CredentialRecord { patients: vec![pid("unknown"), pid("in-one")], ..two_key };
            let facts = s.credential_facts(&changed).unwrap();
            assert_eq!(facts.patients, vec![(pid("unknown"), vec![]), (pid("in-one"), vec![one])], "{}", b.name);
        });
    }
}

fn app(id: &str, owner: UserId, app_type: AppType, active: bool) -> AppRecord {
    AppRecord {
        id: id.into(),
        client_id: format!("client-{id}"),
        owner,
        name: format!("App {id}"),
        description: String::new(),
        homepage: None,
        privacy_policy: None,
        app_type,
        platform: if app_type == AppType::System { Platform::Service } else { Platform::Browser },
        client_auth: if app_type == AppType::System { ClientAuth::PrivateKeyJwt } else { ClientAuth::None },
        secret_digest: None,
        secret_hint: None,
        previous: None,
        jwks: None,
        jwks_url: None,
        redirect_uris: vec!["https://app.example/cb".into()],
        scopes: "system/Observation.rs system/Patient.rs".into(),
        active,
        created_at: t0(),
        updated_at: t0(),
        deleted_at: None,
    }
}

#[test]
fn a_grant_carries_its_app_and_its_apps_facts() {
    for b in backends() {
        let c = clinic(&b);
        let (one, two, dev, prov) = (c.one, c.two, c.dev, c.prov);
        b.write_ok(move |s| {
            s.insert_app(&app("patient-app", dev, AppType::Patient, true))?;
            s.insert_app(&app("system-app", dev, AppType::System, false))?;
            s.request_approval("system-app", two, dev, t0())?;
            s.decide_approval("system-app", two, ApprovalStatus::Approved, None, prov, t0())?;
            let grant = |id: &str, kind, app: &str, scope: &str, practice| Key {
                grant: Some((app.to_owned(), scope.to_owned(), practice)),
                ..key(id, kind, prov, &format!("App {app}"))
            };
            insert(s, &grant("g1", CredentialKind::ConnectedApp, "patient-app", "openid patient/Observation.rs", Some(one)))?;
            // Named after the app, as the first: a grant never collides with anything.
            insert(s, &grant("g2", CredentialKind::BackendApp, "system-app", "ignored", None))
        })
        .unwrap();
        b.read(|s| {
            let g1 = s.credential("g1").unwrap().unwrap();
            assert_eq!(
                (g1.app_id.as_deref(), g1.scope.as_deref(), g1.practice),
                (Some("patient-app"), Some("openid patient/Observation.rs"), Some(one)),
                "{}",
                b.name
            );
            let f1 = s.credential_facts(&g1).unwrap().app.expect("a grant has app facts");
            assert_eq!(
                (f1.active, f1.approved, f1.scope, f1.practice),
                (true, vec![], RequestedScopes::parse("patient/Observation.rs").resources, Some(one)),
                "{}: the resource scopes consented",
                b.name
            );
            let g2 = s.credential("g2").unwrap().unwrap();
            let f2 = s.credential_facts(&g2).unwrap().app.expect("a grant has app facts");
            assert_eq!(
                (f2.active, f2.approved, f2.scope, f2.practice),
                (false, vec![two], RequestedScopes::parse("system/Observation.rs system/Patient.rs").resources, None),
                "{}: a backend app's grant carries the app's registered scopes",
                b.name
            );
        });
    }
}

/// Runs `a` and `b` at the same moment, each as a write job on its own server sharing one database.
fn race<A, B, RA, RB>(first: &Fresh, second: &Fresh, a: A, b: B) -> (Result<RA>, Result<RB>)
where
    A: FnOnce(&mut dyn WriteStore) -> Result<RA> + Send + 'static,
    B: FnOnce(&mut dyn WriteStore) -> Result<RB> + Send + 'static,
    RA: Send + 'static,
    RB: Send + 'static,
{
    let barrier = Arc::new(Barrier::new(2));
    std::thread::scope(|scope| {
        let wait = barrier.clone();
        let left = scope.spawn(move || {
            wait.wait();
            first.write_ok(a)
        });
        barrier.wait();
        let right = second.write_ok(b);
        (left.join().expect("no panic"), right)
    })
}

const ROUNDS: usize = 12;

#[test]
fn two_servers_revoking_one_token_revoke_it_once() {
    for b in backends() {
        let other = b.another_server();
        let c = clinic(&b);
        let k = key("k", CredentialKind::Developer, c.dev, "Key");
        b.write_ok(move |s| insert(s, &k)).unwrap();
        for round in 0..ROUNDS {
            let d = format!("t{round}");
            let t = token(&d, "k", 0, t0(), Duration::hours(1));
            b.write_ok(move |s| s.insert_token(&t)).unwrap();
            let (x, y) = (digest(&d), digest(&d));
            let (a, z) = race(&b, &other, move |s| s.revoke_token(&x, "k", t0()), move |s| s.revoke_token(&y, "k", t0()));
            let (a, z) = (a.unwrap(), z.unwrap());
            assert!(a ^ z, "{}: round {round}: exactly one revokes it ({a}, {z})", b.name);
        }
        assert_eq!(b.read(|s| s.live_token_count("k", 0, t0()).unwrap()), 0, "{}", b.name);
    }
}

#[test]
fn two_servers_deleting_one_credential_delete_it_once() {
    for b in backends() {
        let other = b.another_server();
        let c = clinic(&b);
        for round in 0..ROUNDS {
            let id = format!("k{round}");
            let k = key(&id, CredentialKind::Developer, c.dev, "Same name each round");
            let cid = id.clone();
            b.write_ok(move |s| {
                insert(s, &k)?;
                (0..3).try_for_each(|i| s.insert_token(&token(&format!("{cid}-{i}"), &cid, 0, t0(), Duration::hours(1))))
            })
            .unwrap();
            let (x, y) = (id.clone(), id.clone());
            let (a, z) = race(&b, &other, move |s| s.delete_credential(&x, t0()), move |s| s.delete_credential(&y, t0()));
            let mut outcomes = [a.unwrap(), z.unwrap()];
            outcomes.sort();
            assert_eq!(outcomes, [None, Some(3)], "{}: round {round}: one deletes it and revokes its tokens", b.name);
        }
    }
}

/// An issue job reads the credential and mints a token of its current generation while another server
/// replaces the secret without grace: whichever commits first, no token outlives the secret that minted it,
/// and the replacement reports exactly the tokens it revoked.
#[test]
fn a_token_minted_beside_a_secret_replacement_keeps_the_generation_rule() {
    for b in backends() {
        let other = b.another_server();
        let c = clinic(&b);
        let hour = Duration::hours(1);
        for round in 0..ROUNDS {
            let id = format!("k{round}");
            let (k, cid) = (key(&id, CredentialKind::Developer, c.dev, &format!("Key {round}")), id.clone());
            b.write_ok(move |s| {
                insert(s, &k)?;
                s.insert_token(&token(&format!("{cid}-before"), &cid, 0, t0(), hour))
            })
            .unwrap();
            let (x, y, minted) = (id.clone(), id.clone(), format!("{id}-minted"));
            let replaced_at = t0() + Duration::seconds(1);
            let (issued, replaced) = race(
                &b,
                &other,
                move |s| {
                    let cred = s.credential(&x)?.ok_or(StoreError::NotFound)?;
                    s.insert_token(&token(&minted, &x, cred.secret_generation, t0(), hour))
                },
                move |s| s.replace_secret(&y, digest("new"), "h", None, replaced_at),
            );
            issued.unwrap();
            let replaced = replaced.unwrap();
            let case = format!("{}: round {round}", b.name);
            b.read(|s| {
                let cred = s.credential(&id).unwrap().unwrap();
                assert_eq!(cred.secret_generation, 1, "{case}");
                let before = s.token(&digest(&format!("{id}-before"))).unwrap().unwrap();
                let minted = s.token(&digest(&format!("{id}-minted"))).unwrap().unwrap();
                assert_eq!(before.revoked_at, Some(replaced_at), "{case}: the old secret's token dies");
                let live = |t: &TokenRecord| {
                    t.revoked_at.is_none() && minted_by_live_secret(t.secret_generation, cred.secret_generation, None, t0())
                };
                // Minted after the replacement (generation 1): it lives; before: revoked or of a dead secret.
                assert_eq!(live(&minted), minted.secret_generation == 1, "{case}: {minted:?}");
                let revoked_by_it = [&before, &minted].iter().filter(|t| t.revoked_at == Some(replaced_at)).count();
                assert_eq!(replaced, revoked_by_it, "{case}: the replacement counts what it revoked");
                assert_eq!(s.live_token_count(&id, 1, t0()).unwrap(), i64::from(live(&minted)), "{case}");
            });
        }
    }
}
