//! The administrator's Users and staff-keys tables at clinic scale: `GET /api/users` and
//! `GET /api/staff-credentials` search, filter, sort and page in the service. Tables of queries and the rows
//! they must answer, in order; what an administrator of one practice must never see; refused parameters; and
//! "last sign-in" through each door (the management API, the desktop's browser sign-in, the SMART pages).

use std::time::Duration;

use chrono::Utc;
use portico_api as wire;
use portico_client::signin::{self, BrowserSignIn};
use portico_client::Client;
use portico_domain::{PatientId, PracticeId, Role};
use portico_store::NewUser;
use serde_json::Value;

use crate::harness::{new_credential, password_hash, TestServer, PASSWORD, REYNA};

/// Someone added beside the demo accounts: username, display name, roles, practices, and for a patient user
/// the practice of their Patient.
type Person = (&'static str, &'static str, &'static [Role], &'static [i64], Option<i64>);

const PEOPLE: &[Person] = &[
    ("aruiz", "Ángela Ruiz", &[Role::Provider], &[1], None),
    ("boneil", "Bob O'Neil", &[Role::Nurse], &[1], None),
    ("czed", "Carl Zed", &[Role::Developer, Role::Nurse], &[1, 2], None),
    ("p1-amy", "Amy Émile", &[Role::Patient], &[], Some(1)),
    ("newbie", "Eve Newcomer", &[Role::AppDeveloper], &[], None),
    ("pct", "100% Sure", &[Role::FrontDesk], &[1], None),
    // Practice 2 only: never shown to the administrator of practice 1.
    ("dana", "Dana Other", &[Role::Provider], &[2], None),
    ("p2-zoe", "Zoe Faraway", &[Role::Patient], &[], Some(2)),
    ("admin2", "Second Admin", &[Role::Administrator], &[2], None),
];

/// What the administrator of practice 1 sees, by name (folded: digits first, "Ángela" among the A's).
const BY_NAME: &[&str] =
    &["pct", "admin", "p1-amy", "aruiz", "boneil", "czed", "developer", "provider", "newbie", "frontdesk", "nurse", "patient"];

/// Adds [`PEOPLE`], each patient user linked to a Patient of their practice nobody else uses.
fn add_people(s: &TestServer) {
    let mut store = s.store();
    let spare = |practice: i64| s.patients_of(practice).into_iter().filter(|p| p != REYNA);
    let (mut of1, mut of2) = (spare(1), spare(2));
    for (username, display_name, roles, practices, patient_of) in PEOPLE {
        let patient = patient_of.map(|p| PatientId(if p == 1 { of1.next() } else { of2.next() }.expect("a spare patient")));
        let practices: Vec<PracticeId> = practices.iter().map(|p| PracticeId(*p)).collect();
        store
            .create_user(
                &NewUser {
                    username,
                    display_name,
                    password_hash: password_hash(),
                    roles,
                    practices: &practices,
                    patient: patient.as_ref(),
                },
                Utc::now(),
            )
            .expect("create user");
    }
}

/// `GET {path}?{query}` with the client's session: the status and the JSON body.
async fn get(s: &TestServer, c: &Client, path: &str, query: &str) -> (u16, Value) {
    let r = s
        .http()
        .get(format!("{}/api/{path}?{query}", s.base))
        .bearer_auth(c.session_token().expect("signed in"))
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

fn field_of(page: &Value, field: &str) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|u| u[field].as_str().unwrap_or_default().to_owned()).collect()
}

fn reversed(names: &[&str]) -> Vec<String> {
    names.iter().rev().map(|n| (*n).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_searched_filtered_sorted_and_paged_by_the_service() {
    let s = TestServer::start().await;
    add_people(&s);
    let admin = s.client("admin").await;
    // Sign-ins in a known order, for "last sign-in".
    s.client("nurse").await;
    s.client("boneil").await;

    let owned = |v: &[&str]| v.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("", owned(BY_NAME)),
        ("sort=name&dir=asc", owned(BY_NAME)),
        ("sort=name&dir=desc", reversed(BY_NAME)),
        // Case and accents fold on both sides; %, _ and ' are plain characters.
        ("q=ANGELA", owned(&["aruiz"])),
        ("q=%C3%A9mile", owned(&["p1-amy"])),
        ("q=o'neil", owned(&["boneil"])),
        ("q=%25", owned(&["pct"])),
        ("q=_", owned(&[])),
        ("q=%20%20nurse%20", owned(&["nurse"])),
        ("q=%20%20", owned(BY_NAME)),
        ("q=p1-", owned(&["p1-amy"])),
        // Never anyone of another practice, whatever the search.
        ("q=dana", owned(&[])),
        ("q=zoe", owned(&[])),
        ("q=admin2", owned(&[])),
        ("role=nurse", owned(&["boneil", "czed", "nurse"])),
        ("role=patient", owned(&["p1-amy", "patient"])),
        ("role=patient&practice=1", owned(&["p1-amy", "patient"])),
        ("role=developer&practice=1", owned(&["czed", "developer"])),
        ("role=app_developer", owned(&["newbie"])),
        ("role=administrator", owned(&["admin"])),
        ("q=a&role=provider", owned(&["aruiz", "provider"])),
        ("q=newcomer", owned(&["newbie"])),
        ("practice=1&q=newcomer", owned(&[])),
        (
            "sort=username",
            owned(&[
                "admin",
                "aruiz",
                "boneil",
                "czed",
                "developer",
                "frontdesk",
                "newbie",
                "nurse",
                "p1-amy",
                "patient",
                "pct",
                "provider",
            ]),
        ),
        (
            "sort=username&dir=desc",
            reversed(&[
                "admin",
                "aruiz",
                "boneil",
                "czed",
                "developer",
                "frontdesk",
                "newbie",
                "nurse",
                "p1-amy",
                "patient",
                "pct",
                "provider",
            ]),
        ),
        // The demo accounts were made first, in this order, then these.
        (
            "sort=created",
            owned(&[
                "admin",
                "provider",
                "developer",
                "nurse",
                "frontdesk",
                "patient",
                "aruiz",
                "boneil",
                "czed",
                "p1-amy",
                "newbie",
                "pct",
            ]),
        ),
        ("sort=last_sign_in&dir=desc&limit=3", owned(&["boneil", "nurse", "admin"])),
        // Ascending, never signed in comes first: the last three are the ones who did, oldest first.
        ("sort=last_sign_in&offset=9", owned(&["admin", "nurse", "boneil"])),
        ("limit=2&offset=3", owned(&["aruiz", "boneil"])),
        ("offset=100", owned(&[])),
    ];
    for (query, expected) in cases {
        let (status, page) = get(&s, &admin, "users", query).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(field_of(&page, "username"), expected, "{query}");
    }

    // Totals count every match, whatever the page; pages of 5 put together are the whole list.
    let mut all = Vec::new();
    for offset in [0, 5, 10] {
        let (_, page) = get(&s, &admin, "users", &format!("limit=5&offset={offset}")).await;
        assert_eq!((page["total"].as_u64(), page["offset"].as_u64(), page["limit"].as_u64()), (Some(12), Some(offset), Some(5)));
        all.extend(field_of(&page, "username"));
    }
    assert_eq!(all, BY_NAME);
    let (_, page) = get(&s, &admin, "users", "role=nurse&limit=1").await;
    assert_eq!((page["total"].as_u64(), page["limit"].as_u64()), (Some(3), Some(1)));
    let (_, page) = get(&s, &admin, "users", "").await;
    assert_eq!((page["total"].as_u64(), page["offset"].as_u64(), page["limit"].as_u64()), (Some(12), Some(0), Some(25)));

    // A row carries its roles, practices (by name), patient's practices and last sign-in.
    let page = admin.users(&wire::UserQuery { q: Some("zed".into()), ..Default::default() }).await.expect("page");
    let carl = &page.items[0];
    assert_eq!(carl.roles, ["developer", "nurse"]);
    assert_eq!(
        carl.practices.iter().map(|p| (p.id, p.name.as_str())).collect::<Vec<_>>(),
        [(1, "Riverside Family Medicine"), (2, "Hillcrest Community Clinic")]
    );
    assert!(carl.last_sign_in_at.is_none());
    let amy = admin.user_named("p1-amy").await.expect("page").expect("amy");
    assert!(amy.practices.is_empty());
    assert_eq!(amy.patient_of.iter().map(|p| p.id).collect::<Vec<_>>(), [1]);

    // The administrator of practice 2 sees their own people, the shared ones and the unplaced, no one else.
    let admin2 = s.client("admin2").await;
    let (_, page) = get(&s, &admin2, "users", "").await;
    assert_eq!(field_of(&page, "username"), ["czed", "dana", "newbie", "admin2", "p2-zoe"]);
    let (status, _) = get(&s, &admin2, "users", "practice=1").await;
    assert_eq!(status, 400, "practice 1 is not theirs to filter by");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_list_parameters_are_refused_with_a_reason() {
    let s = TestServer::start().await;
    let admin = s.client("admin").await;
    let long = "x".repeat(101);
    let common: Vec<(String, &str)> = vec![
        ("limit=0".into(), "limit: a whole number from 1 to 100"),
        ("limit=101".into(), "limit: a whole number from 1 to 100"),
        ("limit=ten".into(), "limit"),
        ("offset=-1".into(), "offset: a whole number"),
        ("offset=99999999999".into(), "offset"),
        ("dir=up".into(), "dir: asc or desc"),
        ("sort=age".into(), "sort: one of"),
        ("practice=2".into(), "practice: 2 is not one of your practices"),
        ("practice=riverside".into(), "practice: a practice id"),
        (format!("q={long}"), "q: at most 100 characters"),
        ("q=a%07b".into(), "q: printable"),
        ("bogus=1".into(), "unknown parameter 'bogus'"),
        ("q=a&q=b".into(), "more than once"),
    ];
    let mut users: Vec<(String, &str)> = common.clone();
    users.extend([("role=overlord".into(), "role: one of"), ("sort=owner".into(), "sort: one of name, username")]);
    let mut keys: Vec<(String, &str)> = common;
    keys.extend([
        ("kind=patient_app".into(), "kind: developer or provider"),
        ("role=nurse".into(), "unknown parameter 'role'"),
        ("sort=last_sign_in".into(), "sort: one of name, owner"),
    ]);
    for (path, cases) in [("users", users), ("staff-credentials", keys)] {
        for (query, needle) in cases {
            let (status, body) = get(&s, &admin, path, &query).await;
            assert_eq!((status, body["code"].as_str()), (400, Some("invalid_input")), "{path}?{query}: {body}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.contains(needle), "{path}?{query}: {message}");
        }
    }
    // Only administrators list either.
    let nurse = s.client("nurse").await;
    for path in ["users", "staff-credentials"] {
        assert_eq!(get(&s, &nurse, path, "").await.0, 403, "{path}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_keys_are_searched_filtered_sorted_and_paged_by_the_service() {
    let s = TestServer::start().await;
    add_people(&s);
    let admin = s.client("admin").await;
    let in_days = |d: i64| Some(Utc::now() + chrono::Duration::days(d));
    // (owner, kind, name, valid_to), created in this order.
    let made = [
        ("developer", "developer", "Nightly export", None),
        ("czed", "developer", "Zed tools", None),
        ("provider", "provider", "Study Ñandú", in_days(30)),
        ("aruiz", "provider", "Alpha cohort", in_days(10)),
        ("dana", "provider", "Other clinic", None),
    ];
    let mut issued = Vec::new();
    for (owner, kind, name, valid_to) in made {
        let c = s.client(owner).await;
        let mut req = new_credential(kind, name);
        req.valid_to = valid_to;
        if kind == "provider" {
            let practice = if owner == "dana" { 2 } else { 1 };
            req.patients = vec![s.patients_of(practice)[0].clone()];
        }
        issued.push(c.create_credential(&req).await.unwrap_or_else(|e| panic!("{name}: {e}")));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Neither a deleted key nor a patient's own credential is a staff key.
    let developer = s.client("developer").await;
    let gone = developer.create_credential(&new_credential("developer", "Old key")).await.expect("old key");
    developer.delete_credential(&gone.credential.id).await.expect("delete");
    s.patient_app("Phone health app").await;
    // Used: "Nightly export", then "Zed tools" (the more recent).
    s.token(&issued[0]).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.token(&issued[1]).await;

    let newest_first = ["Alpha cohort", "Study Ñandú", "Zed tools", "Nightly export"];
    let names = |v: &[&str]| v.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    // (query, the rows, or only the first rows when the rest tie on a key in random order)
    let cases: Vec<(&str, Vec<String>, bool)> = vec![
        ("", names(&newest_first), false),
        ("sort=created&dir=desc", names(&newest_first), false),
        ("sort=created", reversed(&newest_first), false),
        ("sort=name", names(&["Alpha cohort", "Nightly export", "Study Ñandú", "Zed tools"]), false),
        ("sort=name&dir=desc", reversed(&["Alpha cohort", "Nightly export", "Study Ñandú", "Zed tools"]), false),
        ("sort=owner", names(&["Alpha cohort", "Zed tools", "Nightly export", "Study Ñandú"]), false),
        ("sort=last_used&dir=desc", names(&["Zed tools", "Nightly export"]), true),
        ("sort=last_used&offset=2", names(&["Nightly export", "Zed tools"]), false),
        // No end date is the furthest end of all.
        ("sort=valid_to", names(&["Alpha cohort", "Study Ñandú"]), true),
        ("sort=valid_to&dir=desc&offset=2", names(&["Study Ñandú", "Alpha cohort"]), false),
        // By key name (case-folded) or owner (name folded, or username).
        ("q=ZED", names(&["Zed tools"]), false),
        ("q=%C3%B1AND%C3%BA", names(&["Study Ñandú"]), false),
        ("q=angela", names(&["Alpha cohort"]), false),
        ("q=%C3%81ngela%20R", names(&["Alpha cohort"]), false),
        ("q=developer", names(&["Nightly export"]), false),
        ("q=%25", names(&[]), false),
        ("q=other", names(&[]), false),
        ("q=dana", names(&[]), false),
        ("kind=provider", names(&["Alpha cohort", "Study Ñandú"]), false),
        ("kind=developer&sort=name", names(&["Nightly export", "Zed tools"]), false),
        ("practice=1&sort=name", names(&["Alpha cohort", "Nightly export", "Study Ñandú", "Zed tools"]), false),
        ("limit=1&offset=1", names(&["Study Ñandú"]), false),
        ("offset=4", names(&[]), false),
    ];
    for (query, expected, prefix) in cases {
        let (status, page) = get(&s, &admin, "staff-credentials", query).await;
        assert_eq!(status, 200, "{query}: {page}");
        let got = field_of(&page, "name");
        let got = if prefix { got.into_iter().take(expected.len()).collect() } else { got };
        assert_eq!(got, expected, "{query}");
    }
    let (_, page) = get(&s, &admin, "staff-credentials", "limit=1").await;
    assert_eq!((page["total"].as_u64(), page["limit"].as_u64()), (Some(4), Some(1)));
    let (_, page) = get(&s, &admin, "staff-credentials", "kind=provider").await;
    assert_eq!(page["total"].as_u64(), Some(2));

    // A row is the credential with its owner's name and practices, and "last used".
    let page = admin.staff_credentials(&wire::StaffKeyQuery { q: Some("zed".into()), ..Default::default() }).await.expect("page");
    let zed = &page.items[0];
    assert_eq!((zed.credential.owner.as_str(), zed.owner_name.as_str()), ("czed", "Carl Zed"));
    assert_eq!(zed.owner_practices.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 2]);
    assert!(zed.credential.last_used_at.is_some());
    assert_eq!(zed.credential.kind, "developer");

    // The administrator of practice 2: keys of owners in practice 2 (Carl is in both), nobody else's.
    let admin2 = s.client("admin2").await;
    let (_, page) = get(&s, &admin2, "staff-credentials", "sort=name").await;
    assert_eq!(field_of(&page, "name"), ["Other clinic", "Zed tools"]);
    let (_, page) = get(&s, &admin2, "staff-credentials", "practice=2&q=tools").await;
    assert_eq!(field_of(&page, "name"), ["Zed tools"]);
    s.stop().await;
}

async fn last_sign_in(admin: &Client, username: &str) -> Option<chrono::DateTime<Utc>> {
    admin.user_named(username).await.expect("users").expect(username).last_sign_in_at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sign_in_door_sets_last_sign_in() {
    let s = TestServer::start().await;
    let admin = s.client("admin").await;
    let before = Utc::now() - chrono::Duration::seconds(1);
    for who in ["nurse", "frontdesk", "provider"] {
        assert_eq!(last_sign_in(&admin, who).await, None, "{who} never signed in");
    }
    assert!(last_sign_in(&admin, "admin").await.is_some_and(|t| t >= before), "the administrator just did");

    // The management API (what the embedded desktop app uses). A wrong password is no sign-in.
    let mut wrong = Client::new(&s.base).expect("client");
    assert!(wrong.sign_in("nurse", "not the password").await.is_err());
    assert_eq!(last_sign_in(&admin, "nurse").await, None);
    s.client("nurse").await;

    // The desktop app's sign-in through the browser.
    let http = signin::http_client().expect("http");
    let info = signin::discover(&http, &s.base).await.expect("discovery");
    let flow = BrowserSignIn::start(&info).await.expect("flow");
    let url = flow.url().to_owned();
    let waiting = tokio::spawn(async move { flow.finish(&signin::http_client().unwrap(), Duration::from_secs(30)).await });
    let (status, _) = crate::desktop_signin::person_signs_in(&url, &s.base, "frontdesk", PASSWORD).await;
    assert_eq!(status, 303);
    waiting.await.expect("join").expect("code exchanged");

    // The SMART authorization pages: signing in to authorize an app.
    let client_id = crate::smart_flow::register(&s, "users-table-app", true);
    let browser = crate::smart_flow::http();
    let page = browser.get(crate::smart_flow::authorize_query(&s, &client_id, &[])).send().await.expect("authorize");
    let html = page.text().await.expect("page");
    let request = crate::smart_flow::hidden(&html, "request").expect("the sign-in page carries the request");
    let signed_in = browser
        .post(format!("{}/oauth/authorize", s.base))
        .form(&[("request", request.as_str()), ("username", "provider"), ("password", PASSWORD), ("action", "sign_in")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 200);

    let after = Utc::now() + chrono::Duration::seconds(1);
    for who in ["nurse", "frontdesk", "provider"] {
        let at = last_sign_in(&admin, who).await.unwrap_or_else(|| panic!("{who}: signed in, yet never"));
        assert!(before <= at && at <= after, "{who}: {at}");
    }
    assert_eq!(last_sign_in(&admin, "developer").await, None, "nobody else");
    s.stop().await;
}
