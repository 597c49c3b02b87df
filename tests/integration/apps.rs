//! Third-party apps through the management API: registration rules, the show-once secret, who may do
//! what, practice approvals (request, approve, deny, withdraw), connected apps and developer signup.

use chrono::{Duration, Utc};
use portico_domain::{CredentialKind, PatientId, Role, Secret, SecretKind, UserId, ValidityWindow};
use portico_store::{GrantOf, NewCredential, TokenRecord};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{TestServer, REYNA};

/// A signed-in user of the management API, speaking raw JSON (status and body of every answer).
pub(crate) struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub(crate) async fn as_user(s: &TestServer, username: &str) -> Api {
        let c = s.client(username).await;
        Api { base: s.base.clone(), token: c.session_token().expect("session").to_owned(), http: s.http() }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}/api{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }
}

fn web_app(name: &str) -> Value {
    json!({
        "name": name,
        "app_type": "patient",
        "platform": "web",
        "client_auth": "client_secret_basic",
        "redirect_uris": ["https://app.example/cb"],
        "scopes": "patient/*.rs openid fhirUser launch/patient offline_access",
    })
}

pub(crate) fn public_app(name: &str) -> Value {
    json!({
        "name": name,
        "app_type": "patient",
        "platform": "native",
        "client_auth": "none",
        "redirect_uris": ["http://127.0.0.1:7000/cb"],
        "scopes": "patient/*.rs openid fhirUser",
    })
}

/// The demo seed registers the sample SMART app (owned by `developer`, approved by practice 1); tests that
/// count apps and approvals from zero take it away first.
fn without_the_sample_app(s: &TestServer) {
    let mut store = s.store();
    let app = store.app_by_client_id(portico_server::demo::SAMPLE_APP_CLIENT_ID).unwrap().expect("seeded");
    store.delete_app(&app.id, Utc::now()).unwrap();
}

const PUBLIC_JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS384","n":"sXch","e":"AQAB"}]}"#;

fn system_app(name: &str) -> Value {
    json!({
        "name": name,
        "app_type": "system",
        "platform": "service",
        "client_auth": "private_key_jwt",
        "jwks": PUBLIC_JWKS,
        "scopes": "system/*.rs",
    })
}

fn with(mut base: Value, changes: Value) -> Value {
    if let (Some(b), Some(c)) = (base.as_object_mut(), changes.as_object()) {
        for (k, v) in c {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Registers `body` as `api`'s user and returns (app id, client id, secret).
pub(crate) async fn register(api: &Api, body: Value) -> (String, String, Option<String>) {
    let (status, v) = api.post("/apps", body).await;
    assert_eq!(status, 201, "{v}");
    let secret = v["client_secret"].as_str().map(str::to_owned);
    (v["app"]["id"].as_str().expect("id").to_owned(), v["app"]["client_id"].as_str().expect("client id").to_owned(), secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_registration_rule_answers_400_naming_it() {
    let s = TestServer::start().await;
    without_the_sample_app(&s);
    let dev = Api::as_user(&s, "developer").await;
    let uris: Vec<String> = (0..21).map(|i| format!("https://app.example/cb{i}")).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("empty name", with(web_app(""), json!({})), "name: a name is required"),
        ("long name", web_app(&"n".repeat(101)), "name: a name can have at most 100"),
        ("hidden characters", web_app("Good\u{202e}ppA"), "name: a name can only contain printable"),
        ("long description", with(web_app("d"), json!({"description": "d".repeat(1001)})), "description"),
        ("homepage over http", with(web_app("h"), json!({"homepage": "http://app.example"})), "homepage must be an https URL"),
        (
            "privacy policy not a URL",
            with(web_app("p"), json!({"privacy_policy": "ftp://x"})),
            "privacy_policy must be an https URL",
        ),
        ("unknown type", with(web_app("t"), json!({"app_type": "robot"})), "app_type"),
        ("unknown platform", with(web_app("t"), json!({"platform": "desktop"})), "platform"),
        ("unknown client auth", with(web_app("t"), json!({"client_auth": "magic"})), "client_auth"),
        ("no redirect URI", with(web_app("r"), json!({"redirect_uris": []})), "at least one redirect URI"),
        (
            "http redirect elsewhere",
            with(web_app("r"), json!({"redirect_uris": ["http://app.example/cb"]})),
            "redirect URI 'http://app.example/cb'",
        ),
        ("redirect with a fragment", with(web_app("r"), json!({"redirect_uris": ["https://app.example/cb#x"]})), "fragment"),
        ("too many redirect URIs", with(web_app("r"), json!({"redirect_uris": uris})), "at most 20 redirect URIs"),
        ("public web app", with(web_app("w"), json!({"client_auth": "none"})), "a web server app can keep a secret"),
        (
            "system app with a secret",
            with(system_app("s"), json!({"client_auth": "client_secret_basic", "jwks": null})),
            "private_key_jwt",
        ),
        ("system app on the web", with(system_app("s"), json!({"platform": "web"})), "a system app runs as a service"),
        (
            "patient app as a service",
            with(web_app("s"), json!({"platform": "service"})),
            "runs on the web, natively or in a browser",
        ),
        ("private_key_jwt without keys", with(system_app("k"), json!({"jwks": null})), "needs a JWKS or a JWKS URL"),
        ("a secret app with keys", with(web_app("k"), json!({"jwks": PUBLIC_JWKS})), "only used with private_key_jwt"),
        (
            "private key in the JWKS",
            with(system_app("k"), json!({"jwks": r#"{"keys":[{"kty":"RSA","n":"x","e":"AQAB","d":"private"}]}"#})),
            "jwks: key 0 holds private key material (\"d\")",
        ),
        ("JWKS not JSON", with(system_app("k"), json!({"jwks": "{nope"})), "jwks: not valid JSON"),
        (
            "JWKS without keys",
            with(system_app("k"), json!({"jwks": r#"{"kid":"x"}"#})),
            "jwks: must be a JSON object with a \"keys\" array",
        ),
        ("JWKS and URL", with(system_app("k"), json!({"jwks_url": "https://app.example/jwks"})), "not both"),
        (
            "JWKS URL over http",
            with(system_app("k"), json!({"jwks": null, "jwks_url": "http://app.example/jwks"})),
            "jwks_url must be an https URL",
        ),
        ("no scopes", with(web_app("c"), json!({"scopes": "  "})), "scopes: list at least one"),
        (
            "not a SMART scope",
            with(web_app("c"), json!({"scopes": "patient/*.bogus"})),
            "scopes: 'patient/*.bogus' is not a SMART scope",
        ),
        ("system scope for a patient app", with(web_app("c"), json!({"scopes": "system/*.rs"})), "cannot ask for system/ scopes"),
        (
            "patient scope for a system app",
            with(system_app("c"), json!({"scopes": "patient/*.rs"})),
            "a system app asks only for system/ scopes",
        ),
        (
            "identity scope for a system app",
            with(system_app("c"), json!({"scopes": "system/*.rs openid"})),
            "only for system/ scopes",
        ),
    ];
    for (what, body, message) in cases {
        let (status, v) = dev.post("/apps", body).await;
        assert_eq!(status, 400, "{what}: {v}");
        assert_eq!(v["code"], "invalid_input", "{what}: {v}");
        let m = v["message"].as_str().unwrap_or_default();
        assert!(m.contains(message), "{what}: '{m}' should name '{message}'");
    }
    // Nothing refused was stored, and the valid forms of each kind register.
    assert_eq!(dev.get("/apps").await.1, json!([]));
    for ok in [
        web_app("Web"),
        public_app("Native"),
        system_app("Backend"),
        with(system_app("By URL"), json!({"jwks": null, "jwks_url": "https://app.example/jwks"})),
    ] {
        register(&dev, ok).await;
    }
    assert_eq!(dev.get("/apps").await.1.as_array().map(Vec::len), Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_secret_is_shown_once_and_never_stored() {
    let mut s = TestServer::start().await;
    let dev = Api::as_user(&s, "developer").await;
    let r = dev
        .http
        .post(format!("{}/api/apps", s.base))
        .bearer_auth(&dev.token)
        .json(&web_app("Secret keeper"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let issued: Value = r.json().await.expect("json");
    let secret = issued["client_secret"].as_str().expect("a secret for client_secret_basic").to_owned();
    assert!(secret.starts_with("pcs_smart_"), "{secret}");
    let (id, client_id) =
        (issued["app"]["id"].as_str().expect("id").to_owned(), issued["app"]["client_id"].as_str().expect("cid").to_owned());
    assert!(client_id.starts_with("pci_smart_"), "{client_id}");
    assert_eq!(issued["authorize_url"], format!("{}/oauth/authorize", s.base));
    let hint = issued["app"]["secret_hint"].as_str().expect("hint");
    assert!(hint.starts_with("pcs_smart_…") && hint.chars().count() < 20, "{hint}");

    // Lists and views never carry it again.
    for path in ["/apps".to_owned(), format!("/apps/{id}")] {
        let (status, v) = dev.get(&path).await;
        assert_eq!(status, 200);
        assert!(!v.to_string().contains(&secret), "{path} shows the secret");
        assert!(v.to_string().contains(&client_id));
    }

    // Rotation: a new secret once, the old one kept for the grace period asked, bounded.
    let (status, v) = dev.post(&format!("/apps/{id}/rotate-secret"), json!({"grace_minutes": 10081})).await;
    assert_eq!((status, v["code"].as_str()), (400, Some("invalid_input")), "{v}");
    let (status, rotated) = dev.post(&format!("/apps/{id}/rotate-secret"), json!({"grace_minutes": 30})).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["client_secret"].as_str().expect("new secret").to_owned();
    assert_ne!(second, secret);
    assert!(rotated["app"]["previous_secret_valid_until"].is_string(), "{rotated}");

    // A public client has no secret, now or after asking for one.
    let (public_id, _, none) = register(&dev, public_app("No secret")).await;
    assert_eq!(none, None);
    let (status, v) = dev.post(&format!("/apps/{public_id}/rotate-secret"), json!({})).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["message"].as_str().unwrap_or_default().contains("no secret"), "{v}");

    // Every change left its audit entry, under the app's client id.
    s.shutdown().await;
    let kinds: Vec<String> = s
        .sql("SELECT kind FROM audit WHERE client_id = ? ORDER BY seq", &[&client_id])
        .expect("audit")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(kinds, ["app_registered", "app_changed"]);
    let files = s.at_rest();
    let holds = |bytes: &[u8], needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(files.iter().any(|(_, b)| holds(b, &client_id)), "the scan reads the files that hold the app");
    for (name, bytes) in &files {
        for sec in [&secret, &second] {
            assert!(!holds(bytes, sec), "{name} holds an app secret");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_decide_who_registers_and_an_app_developer_sees_nothing_else() {
    let s = TestServer::start().await;
    s.add_user("appdev", &[Role::AppDeveloper], &[], None);
    s.add_user("otherdev", &[Role::AppDeveloper], &[], None);
    let patient = Api::as_user(&s, "patient").await;
    let (status, v) = patient.post("/apps", web_app("Mine")).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    assert_eq!(patient.get("/apps").await.0, 403);

    let appdev = Api::as_user(&s, "appdev").await;
    let (id, _, _) = register(&appdev, web_app("Growth chart")).await;
    assert_eq!(appdev.get("/me").await.1["roles"], json!(["app_developer"]));
    for (what, status) in [
        ("/users", appdev.get("/users").await.0),
        ("/staff-credentials", appdev.get("/staff-credentials").await.0),
        ("/patients", appdev.get("/patients").await.0),
        ("/approvals", appdev.get("/approvals").await.0),
        ("POST /credentials", appdev.post("/credentials", json!({"kind": "developer", "name": "k"})).await.0),
    ] {
        assert_eq!(status, 403, "an app developer may not use {what}");
    }
    assert_eq!(appdev.get("/credentials").await.1, json!([]), "their own credentials only: none");

    // Another developer cannot see, change, rotate, ask for or delete someone else's app.
    let other = Api::as_user(&s, "otherdev").await;
    assert_eq!(other.get(&format!("/apps/{id}")).await.0, 404);
    assert_eq!(other.patch(&format!("/apps/{id}"), json!({"name": "Mine now"})).await.0, 404);
    assert_eq!(other.post(&format!("/apps/{id}/rotate-secret"), json!({})).await.0, 404);
    assert_eq!(other.post(&format!("/apps/{id}/approvals"), json!({"practice_id": 1})).await.0, 404);
    assert_eq!(other.delete(&format!("/apps/{id}")).await.0, 404);
    assert_eq!(other.get("/apps").await.1, json!([]));

    // The owner edits with the same rules, disables, enables and deletes.
    let (status, v) = appdev.patch(&format!("/apps/{id}"), json!({"redirect_uris": ["http://app.example/cb"]})).await;
    assert_eq!(status, 400, "{v}");
    let (status, v) =
        appdev.patch(&format!("/apps/{id}"), json!({"name": "Growth chart 2", "homepage": "https://growth.example"})).await;
    assert_eq!(
        (status, v["name"].as_str(), v["homepage"].as_str()),
        (200, Some("Growth chart 2"), Some("https://growth.example")),
        "{v}"
    );
    let (_, v) = appdev.patch(&format!("/apps/{id}"), json!({"homepage": "", "active": false})).await;
    assert_eq!((v["homepage"].clone(), v["active"].clone()), (Value::Null, json!(false)), "{v}");
    let (status, v) = appdev.post(&format!("/apps/{id}/approvals"), json!({"practice_id": 1})).await;
    assert_eq!(status, 400, "a disabled app cannot ask for approval: {v}");
    assert_eq!(appdev.patch(&format!("/apps/{id}"), json!({"active": true})).await.1["active"], json!(true));
    let (status, v) = appdev.delete(&format!("/apps/{id}")).await;
    assert_eq!((status, v), (200, json!({"revoked_grants": 0})));
    assert_eq!(appdev.get(&format!("/apps/{id}")).await.0, 404);
    assert_eq!(appdev.delete(&format!("/apps/{id}")).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_administrator_decides_on_requests_for_their_practice_only() {
    let s = TestServer::start().await;
    without_the_sample_app(&s);
    s.add_user("appdev", &[Role::AppDeveloper], &[], None);
    s.add_user("admin2", &[Role::Administrator], &[2], None);
    let dev = Api::as_user(&s, "appdev").await;
    let admin = Api::as_user(&s, "admin").await;
    let admin2 = Api::as_user(&s, "admin2").await;
    let provider = Api::as_user(&s, "provider").await;
    let (id, client_id, _) = register(&dev, public_app("Growth chart")).await;

    let (status, v) = dev.post(&format!("/apps/{id}/approvals"), json!({"practice_id": 999})).await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = dev.post(&format!("/apps/{id}/approvals"), json!({"practice_id": 1})).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!((v["status"].as_str(), v["requested_by"].as_str()), (Some("pending"), Some("appdev")));

    // The practice's administrator sees it pending, with the app's details; another practice's does not.
    let (_, list) = admin.get("/approvals").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!((list[0]["client_id"].as_str(), list[0]["status"].as_str()), (Some(client_id.as_str()), Some("pending")));
    assert_eq!(admin.get(&format!("/apps/{id}")).await.0, 200);
    assert_eq!(admin2.get("/approvals").await.1, json!([]));
    assert_eq!(admin2.get(&format!("/apps/{id}")).await.0, 404);
    let decide = format!("/approvals/{id}/1");
    assert_eq!(admin2.put(&decide, json!({"status": "approved"})).await.0, 404);
    assert_eq!(provider.put(&decide, json!({"status": "approved"})).await.0, 403);
    assert_eq!(admin.put(&format!("/approvals/{id}/2"), json!({"status": "approved"})).await.0, 404);

    // Decisions: each with the rules of its state, reasons where the developer is owed one.
    let steps: Vec<(&Api, &str, Value, u16, Option<&str>)> = vec![
        (&admin, "PUT", json!({"status": "pending"}), 400, None),
        (&admin, "PUT", json!({"status": "denied"}), 400, None),
        (&admin, "PUT", json!({"status": "withdrawn", "reason": "never approved"}), 409, None),
        (&admin, "PUT", json!({"status": "approved"}), 200, Some("approved")),
        (&dev, "POST", json!({"practice_id": 1}), 409, None),
        (&admin, "PUT", json!({"status": "denied", "reason": "changed my mind"}), 409, None),
        (&admin, "PUT", json!({"status": "withdrawn", "reason": "  "}), 400, None),
        (&admin, "PUT", json!({"status": "withdrawn", "reason": "the app stores data abroad"}), 200, Some("withdrawn")),
        (&dev, "POST", json!({"practice_id": 1}), 201, Some("pending")),
        (&admin, "PUT", json!({"status": "denied", "reason": "still abroad"}), 200, Some("denied")),
    ];
    for (i, (who, method, body, want, status_after)) in steps.into_iter().enumerate() {
        let (status, v) = if method == "POST" {
            who.post(&format!("/apps/{id}/approvals"), body.clone()).await
        } else {
            who.put(&decide, body.clone()).await
        };
        assert_eq!(status, want, "step {i} {body}: {v}");
        if let Some(st) = status_after {
            assert_eq!(v["status"].as_str(), Some(st), "step {i}: {v}");
        }
    }
    // The developer sees the outcome and the reason.
    let (_, app) = dev.get(&format!("/apps/{id}")).await;
    assert_eq!(app["approvals"][0]["status"], "denied", "{app}");
    assert_eq!(app["approvals"][0]["reason"], "still abroad");
    assert_eq!(app["approvals"][0]["decided_by"], "admin");

    // Pending requests come first in the administrator's list; a deleted app's requests leave it.
    let (second, _, _) = register(&dev, public_app("Second")).await;
    dev.post(&format!("/apps/{second}/approvals"), json!({"practice_id": 1})).await;
    let (_, list) = admin.get("/approvals").await;
    let order: Vec<(&str, &str)> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| (a["app_name"].as_str().unwrap_or(""), a["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(order, [("Second", "pending"), ("Growth chart", "denied")]);
    dev.delete(&format!("/apps/{second}")).await;
    assert_eq!(admin.get("/approvals").await.1.as_array().map(Vec::len), Some(1));
}

/// A grant as the authorization flow would leave it (a consent by `owner` for `patient`), with one live
/// access token; returns the grant id and the token.
pub(crate) fn grant(s: &TestServer, app_id: &str, owner: i64, patient: &str, scope: &str) -> (String, String) {
    let mut store = s.store();
    let now = Utc::now();
    let mut rng = rand::rngs::OsRng;
    let id = format!("grant-{}", rand::random::<u64>());
    let client_id = format!("pci_grant_{}", rand::random::<u64>());
    let patients = [PatientId(patient.to_owned())];
    store
        .insert_credential(
            &NewCredential {
                id: &id,
                kind: CredentialKind::ConnectedApp,
                owner: UserId(owner),
                name: "a grant",
                note: None,
                client_id: &client_id,
                secret_digest: Secret::generate(SecretKind::AppSecret, &mut rng).digest(),
                secret_hint: "",
                window: ValidityWindow::new(None, Some(now + Duration::days(90))).expect("window"),
                active: true,
                created_by: UserId(owner),
                patients: &patients,
                grant: Some(GrantOf { app_id, scope, practice: None }),
            },
            now,
        )
        .expect("grant");
    let token = Secret::generate(SecretKind::AccessToken, &mut rng);
    store
        .insert_token(&TokenRecord {
            digest: token.digest(),
            credential_id: id.clone(),
            scope: scope.to_owned(),
            patient: Some(patients[0].clone()),
            issued_at: now,
            expires_at: now + Duration::hours(1),
            revoked_at: None,
            secret_generation: 0,
        })
        .expect("token");
    (id, token.expose().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_an_approval_cuts_the_apps_tokens_off_at_the_next_request() {
    let s = TestServer::start().await;
    let dev = Api::as_user(&s, "developer").await;
    let admin = Api::as_user(&s, "admin").await;
    let patient = Api::as_user(&s, "patient").await;
    let (id, _, _) = register(&dev, public_app("Growth chart")).await;
    let me = patient.get("/me").await.1["id"].as_i64().expect("id");
    let (grant_id, token) = grant(&s, &id, me, REYNA, "patient/*.rs");
    let read = format!("Patient/{REYNA}");
    assert_ne!(s.get(&read, &token).await.0, 200, "not approved yet: no data");
    dev.post(&format!("/apps/{id}/approvals"), json!({"practice_id": 1})).await;
    assert_eq!(admin.put(&format!("/approvals/{id}/1"), json!({"status": "approved"})).await.0, 200);
    assert_eq!(s.get(&read, &token).await.0, 200, "approved: the consented record");
    let (_, apps) = patient.get("/connected-apps").await;
    assert_eq!((apps[0]["usable"].clone(), apps[0]["approved_by"].clone()), (json!(true), json!(["Riverside Family Medicine"])));
    assert_eq!(apps[0]["active_tokens"], 1);

    let (status, v) = admin.put(&format!("/approvals/{id}/1"), json!({"status": "withdrawn", "reason": "policy"})).await;
    assert_eq!(status, 200, "{v}");
    assert_ne!(s.get(&read, &token).await.0, 200, "withdrawn: the very next request is refused");
    assert_eq!(patient.get("/connected-apps").await.1[0]["usable"], false);

    // Disabling the app does the same; deleting it revokes the grant.
    admin.put(&format!("/approvals/{id}/1"), json!({"status": "approved"})).await;
    assert_eq!(s.get(&read, &token).await.0, 200);
    dev.patch(&format!("/apps/{id}"), json!({"active": false})).await;
    assert_ne!(s.get(&read, &token).await.0, 200);
    let (_, v) = dev.delete(&format!("/apps/{id}")).await;
    assert_eq!(v, json!({"revoked_grants": 1}));
    assert_eq!(patient.get("/connected-apps").await.1, json!([]));
    assert!(s.store().credential(&grant_id).expect("read").is_some_and(|c| c.deleted_at.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_apps_list_the_callers_grants_and_their_end_dates_move_within_a_year() {
    let s = TestServer::start().await;
    let newcomer_id = s.add_user("newpatient", &[Role::Patient], &[], Some(REYNA));
    let newcomer = Api::as_user(&s, "newpatient").await;
    assert_eq!(newcomer.get("/connected-apps").await, (200, json!([])));

    let dev = Api::as_user(&s, "developer").await;
    let (app_id, client_id, _) =
        register(&dev, with(public_app("Growth chart"), json!({"homepage": "https://growth.example"}))).await;
    let (grant_id, _) = grant(&s, &app_id, newcomer_id, REYNA, "patient/Observation.rs patient/Condition.rs");
    let (_, list) = newcomer.get("/connected-apps").await;
    let g = &list[0];
    assert_eq!((g["id"].as_str(), g["client_id"].as_str()), (Some(grant_id.as_str()), Some(client_id.as_str())), "{g}");
    assert_eq!((g["name"].as_str(), g["developer"].as_str()), (Some("Growth chart"), Some("developer")));
    assert_eq!(g["scope"], "patient/Observation.rs patient/Condition.rs");
    assert_eq!(
        g["scope_descriptions"],
        json!([
            "Read and search your observations (lab results, vital signs and other measurements)",
            "Read and search your conditions"
        ])
    );
    assert_eq!((g["patient"].as_str(), g["usable"].clone()), (Some(REYNA), json!(false)), "not approved: not usable");
    assert!(g["expires_at"].is_string());
    // The grant is no credential of theirs in the credentials list, and nobody else sees it.
    assert_eq!(newcomer.get("/credentials").await.1, json!([]));
    assert_eq!(Api::as_user(&s, "patient").await.get("/connected-apps").await.1, json!([]));

    let path = format!("/connected-apps/{grant_id}");
    let now = Utc::now();
    for (expires_at, want) in [
        (json!(null), 400),
        (json!(now - Duration::hours(1)), 400),
        (json!(now + Duration::days(366)), 400),
        (json!(now + Duration::days(200)), 200),
    ] {
        let (status, v) = newcomer.patch(&path, json!({"expires_at": expires_at})).await;
        assert_eq!(status, want, "{expires_at}: {v}");
    }
    let (_, v) = newcomer.get("/connected-apps").await;
    let end = v[0]["expires_at"].as_str().and_then(portico_domain::parse_instant).expect("end date");
    assert!((end - (now + Duration::days(200))).num_seconds().abs() < 5, "{end}");
    let someone_else = Api::as_user(&s, "patient").await;
    assert_eq!(someone_else.patch(&path, json!({"expires_at": now + Duration::days(30)})).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_makes_an_app_developer_only_where_the_service_allows_it() {
    let closed = TestServer::start().await;
    let http = closed.http();
    let body = json!({"username": "newdev", "given_name": "Nia", "family_name": "Dev", "email": "nia@example.com", "company": "Acme", "password": "long enough password"});
    let r = http.post(format!("{}/api/signup", closed.base)).json(&body).send().await.expect("signup");
    assert_eq!(r.status().as_u16(), 403);
    let v: Value = r.json().await.expect("json");
    assert_eq!((v["code"].as_str(), v["message"].as_str()), (Some("forbidden"), Some("signup is not enabled on this service")));
    let info: Value = http.get(format!("{}/api/info", closed.base)).send().await.expect("info").json().await.expect("json");
    assert_eq!(info["allow_signup"], false);
    closed.stop().await;

    let s = TestServer::start_configured(
        |_| {},
        |mut c| {
            c.allow_signup = true;
            c
        },
    )
    .await;
    let info: Value = http.get(format!("{}/api/info", s.base)).send().await.expect("info").json().await.expect("json");
    assert_eq!(info["allow_signup"], true);
    let signup = |b: Value| {
        let http = http.clone();
        let url = format!("{}/api/signup", s.base);
        async move {
            let r = http.post(url).json(&b).send().await.expect("signup");
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for (change, field) in [
        (json!({"username": "Not Valid"}), "username"),
        (json!({"given_name": " "}), "given_name"),
        (json!({"family_name": "x".repeat(101)}), "family_name"),
        (json!({"email": "not-an-address"}), "email"),
        (json!({"company": "c".repeat(101)}), "company"),
        (json!({"password": "short"}), "password"),
    ] {
        let (status, v) = signup(with(body.clone(), change.clone())).await;
        assert_eq!(status, 400, "{change}: {v}");
        assert!(v["message"].as_str().unwrap_or_default().starts_with(field), "{change}: {v}");
    }
    // Roles asked for in the body are ignored: a signup is an app developer and nothing more.
    let (status, me) = signup(with(body.clone(), json!({"roles": ["administrator"], "practices": [1]}))).await;
    assert_eq!(status, 201, "{me}");
    assert_eq!((me["roles"].clone(), me["practices"].clone()), (json!(["app_developer"]), json!([])));
    assert_eq!(me["display_name"], "Nia Dev (Acme)");
    assert_eq!(signup(body.clone()).await.0, 409, "the username is taken");
    let (status, _, v) = s.sign_in_raw("newdev", "long enough password").await;
    assert_eq!(status, 200, "{v}");
    let dev = Api { base: s.base.clone(), token: v["token"].as_str().expect("token").to_owned(), http: s.http() };
    register(&dev, public_app("First app")).await;
    assert_eq!(dev.get("/patients").await.0, 403);
}
