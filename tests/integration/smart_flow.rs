//! SMART App Launch standalone launch through the real pages: authorize (sign-in, consent), code
//! exchange with PKCE, refresh with rotation and reuse detection, introspection, revocation, and the
//! checklist's negatives as tables (PKCE, codes, refresh, authorize errors).

use base64::Engine as _;
use chrono::Utc;
use portico_domain::{AppType, ApprovalStatus, ClientAuth, Platform, PracticeId, UserId};
use portico_store::AppRecord;
use serde_json::Value;

use crate::harness::*;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// Reserved characters, to check `state` comes back byte for byte.
const STATE: &str = "a+b&c=d/é%20?";
const SCOPE: &str = "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs patient/Condition.r";

/// Registers a public app (approved by the demo practice) straight in the store; returns its client id.
pub(crate) fn register(server: &TestServer, client_id: &str, approved: bool) -> String {
    register_with(server, client_id, approved, |_| {})
}

fn register_with(server: &TestServer, client_id: &str, approved: bool, adjust: impl FnOnce(&mut AppRecord)) -> String {
    let mut store = server.store();
    let now = Utc::now();
    let admin = store.user_by_username("admin").unwrap().unwrap();
    let mut app = AppRecord {
        id: format!("app-{client_id}"),
        client_id: client_id.into(),
        owner: admin.id,
        name: "Growth <Chart>".into(),
        description: "Plots growth".into(),
        homepage: Some("https://growth.example".into()),
        privacy_policy: Some("https://growth.example/privacy".into()),
        app_type: AppType::Patient,
        platform: Platform::Browser,
        client_auth: ClientAuth::None,
        secret_digest: None,
        secret_hint: None,
        previous: None,
        jwks: None,
        jwks_url: None,
        redirect_uris: vec![REDIRECT.into()],
        scopes: SCOPE.into(),
        active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    adjust(&mut app);
    store.insert_app(&app).unwrap();
    if approved {
        let app_id = format!("app-{client_id}");
        store.request_approval(&app_id, PracticeId(1), UserId(admin.id.0), now).unwrap();
        store.decide_approval(&app_id, PracticeId(1), ApprovalStatus::Approved, None, admin.id, now).unwrap();
    }
    client_id.to_owned()
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub(crate) fn authorize_query(server: &TestServer, client_id: &str, overrides: &[(&str, Option<&str>)]) -> String {
    let aud = server.fhir("");
    let aud = aud.trim_end_matches('/');
    let mut params: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some("code")),
        ("client_id", Some(client_id)),
        ("redirect_uri", Some(REDIRECT)),
        ("scope", Some(SCOPE)),
        ("state", Some(STATE)),
        ("aud", Some(aud)),
        ("code_challenge", Some(CHALLENGE)),
        ("code_challenge_method", Some("S256")),
        ("nonce", Some("n-0S6_WzA2Mj")),
    ];
    for (k, v) in overrides {
        match params.iter_mut().find(|(name, _)| name == k) {
            Some(p) => p.1 = *v,
            None => params.push((k, *v)),
        }
    }
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    format!("{}/oauth/authorize?{}", server.base, q.finish())
}

pub(crate) fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&").replace("&quot;", "\"").replace("&#x2f;", "/"))
}

/// Walks sign-in and consent as the demo patient; returns the redirect's `Location`.
async fn consent(server: &TestServer, client_id: &str, ticked: &[&str], action: &str) -> String {
    consent_with(server, client_id, ticked, action, &[]).await
}

async fn consent_with(
    server: &TestServer,
    client_id: &str,
    ticked: &[&str],
    action: &str,
    overrides: &[(&str, Option<&str>)],
) -> String {
    let http = http();
    let page = http.get(authorize_query(server, client_id, overrides)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let request = hidden(&html, "request").expect("the sign-in page carries the request");
    let signed_in = http
        .post(format!("{}/oauth/authorize", server.base))
        .form(&[("request", request.as_str()), ("username", "patient"), ("password", PASSWORD), ("action", "sign_in")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = signed_in.text().await.unwrap();
    assert!(html.contains("Growth &lt;Chart&gt;"), "consent names the app, escaped");
    let csrf = hidden(&html, "csrf").expect("csrf");
    let mut form: Vec<(&str, &str)> = vec![("request", &request), ("csrf", &csrf), ("action", action)];
    form.extend(ticked.iter().map(|s| ("scope", *s)));
    let done = http.post(format!("{}/oauth/authorize", server.base)).header("cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(done.status(), 303, "{}", done.text().await.unwrap_or_default());
    done.headers()["location"].to_str().unwrap().to_owned()
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn param(location: &str, name: &str) -> Option<String> {
    query_of(location).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

async fn token(server: &TestServer, form: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = http().post(format!("{}/oauth/token", server.base)).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

async fn exchange(server: &TestServer, client_id: &str, code: &str, verifier: &str) -> (u16, Value) {
    let (s, body, _) = token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", client_id),
        ],
    )
    .await;
    (s, body)
}

#[tokio::test]
async fn standalone_launch_code_refresh_revoke() {
    let server = TestServer::start().await;
    let client = register(&server, "pci_smart_growth", true);
    let all: Vec<&str> = vec!["patient/Patient.rs", "patient/Observation.rs"];
    let location = consent(&server, &client, &all, "allow").await;
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some(STATE), "state echoed byte for byte");
    let code = param(&location, "code").expect("code");

    let (status, t, headers) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &client),
        ],
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_i64().is_some_and(|e| e > 0 && e <= 3600));
    assert_eq!(t["patient"], REYNA);
    assert_eq!(t["need_patient_banner"], true);
    // Condition was unticked: the token's scope says so.
    let scope = t["scope"].as_str().unwrap();
    assert!(scope.contains("patient/Observation.rs") && !scope.contains("Condition"), "{scope}");
    assert!(scope.contains("openid") && scope.contains("offline_access"), "{scope}");
    let access = t["access_token"].as_str().unwrap().to_owned();
    let refresh = t["refresh_token"].as_str().expect("offline_access gives a refresh token").to_owned();
    let id_token = t["id_token"].as_str().expect("openid fhirUser gives an id_token");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], client);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["iss"], server.base);
    let fhir_user = claims["fhirUser"].as_str().unwrap();
    assert!(fhir_user.ends_with(&format!("/Patient/{REYNA}")));

    // The token reads what was consented, and only that.
    let (s, body) = server.get(&format!("Patient/{REYNA}"), &access).await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = server.get(&format!("Condition?patient={REYNA}"), &access).await;
    assert_eq!(s, 403, "an unticked type is refused");
    let (s, _) = server.get(&format!("Observation?patient={REYNA}"), &access).await;
    assert_eq!(s, 200);

    // Introspection needs client authentication in the header: a public client has none.
    let r = http().post(format!("{}/oauth/introspect", server.base)).form(&[("token", access.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Refresh: rotation; the old one again revokes the family.
    let (s, r1, _) =
        token(&server, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &client)]).await;
    assert_eq!(s, 200, "{r1}");
    assert_eq!(r1["scope"], t["scope"]);
    let (s, narrowed, _) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r1["refresh_token"].as_str().unwrap()),
            ("client_id", &client),
            ("scope", "patient/Observation.rs"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{narrowed}");
    assert_eq!(narrowed["scope"], "patient/Observation.rs");
    let (s, wider, _) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", narrowed["refresh_token"].as_str().unwrap()),
            ("client_id", &client),
            ("scope", "patient/Condition.rs"),
        ],
    )
    .await;
    assert_eq!((s, wider["error"].as_str()), (400, Some("invalid_scope")));
    let latest = narrowed["refresh_token"].as_str().unwrap();
    let (s, again, _) =
        token(&server, &[("grant_type", "refresh_token"), ("refresh_token", latest), ("client_id", &client)]).await;
    assert_eq!(s, 200, "{again}");
    // Reuse of an old one: invalid_grant, and everything of the grant dies.
    let (s, reused, _) =
        token(&server, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &client)]).await;
    assert_eq!((s, reused["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = server.get(&format!("Patient/{REYNA}"), again["access_token"].as_str().unwrap()).await;
    assert_eq!(s, 401, "a reused refresh token revokes the family");
    let (s, after, _) = token(
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", again["refresh_token"].as_str().unwrap()), ("client_id", &client)],
    )
    .await;
    assert_eq!((s, after["error"].as_str()), (400, Some("invalid_grant")));
    server.stop().await;
}

/// Checklist 23–26: each PKCE or code failure is `invalid_grant`, and the code is then dead.
#[tokio::test]
async fn code_negatives() {
    let server = TestServer::start().await;
    let client = register(&server, "pci_smart_neg", true);
    let other = register(&server, "pci_smart_other", true);
    type Form = Box<dyn Fn(&str) -> Vec<(String, String)>>;
    let cases: Vec<(&str, Form)> = vec![
        ("no verifier", Box::new(|c: &str| vec![("code".into(), c.into())])),
        ("empty verifier", Box::new(|c: &str| vec![("code".into(), c.into()), ("code_verifier".into(), String::new())])),
        (
            "wrong verifier",
            Box::new(|c: &str| vec![("code".into(), c.into()), ("code_verifier".into(), VERIFIER.replace('d', "e"))]),
        ),
        ("verifier = challenge", Box::new(|c: &str| vec![("code".into(), c.into()), ("code_verifier".into(), CHALLENGE.into())])),
        (
            "other redirect_uri",
            Box::new(|c: &str| {
                vec![
                    ("code".into(), c.into()),
                    ("code_verifier".into(), VERIFIER.into()),
                    ("redirect_uri".into(), "http://127.0.0.1:9/x".into()),
                ]
            }),
        ),
    ];
    for (name, form) in cases {
        let location = consent(&server, &client, &["patient/Patient.rs"], "allow").await;
        let code = param(&location, "code").unwrap();
        let mut f: Vec<(String, String)> =
            vec![("grant_type".into(), "authorization_code".into()), ("client_id".into(), client.clone())];
        if !form(&code).iter().any(|(k, _)| k == "redirect_uri") {
            f.push(("redirect_uri".into(), REDIRECT.into()));
        }
        f.extend(form(&code));
        let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (s, body, _) = token(&server, &refs).await;
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")), "{name}: {body}");
        // The right verifier no longer helps: the code was used up by the failed attempt.
        let (s, body) = exchange(&server, &client, &code, VERIFIER).await;
        assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")), "{name}, then right: {body}");
    }
    // A bad code, and a good code presented by another client.
    let (s, body) = exchange(&server, &client, "BAD_CODE", VERIFIER).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    let location = consent(&server, &client, &["patient/Patient.rs"], "allow").await;
    let code = param(&location, "code").unwrap();
    let (s, body) = exchange(&server, &other, &code, VERIFIER).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    // Reuse: the second exchange fails and revokes what the first issued.
    let (s, first) = exchange(&server, &client, &code, VERIFIER).await;
    assert_eq!(s, 200, "{first}");
    let (s, body) = exchange(&server, &client, &code, VERIFIER).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = server.get(&format!("Patient/{REYNA}"), first["access_token"].as_str().unwrap()).await;
    assert_eq!(s, 401, "a reused code revokes the tokens it issued");
    // Denied consent goes back as access_denied with the state.
    let location = consent(&server, &client, &[], "deny").await;
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&location, "state").as_deref(), Some(STATE));
    server.stop().await;
}

/// Checklist 13–15 and tenant approval: what the authorization endpoint refuses, and how.
#[tokio::test]
async fn authorize_refusals() {
    let server = TestServer::start().await;
    let client = register(&server, "pci_smart_auth", true);
    let unapproved = register(&server, "pci_smart_pending", false);
    enum Expect {
        Page,
        Redirect(&'static str),
    }
    let cases: Vec<(&str, String, Expect)> = vec![
        ("unknown client", authorize_query(&server, "pci_smart_nobody", &[]), Expect::Page),
        (
            "unregistered redirect",
            authorize_query(&server, &client, &[("redirect_uri", Some("http://127.0.0.1:9/evil"))]),
            Expect::Page,
        ),
        ("no PKCE", authorize_query(&server, &client, &[("code_challenge", None)]), Expect::Redirect("invalid_request")),
        (
            "plain PKCE",
            authorize_query(&server, &client, &[("code_challenge_method", Some("plain"))]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "wrong aud",
            authorize_query(&server, &client, &[("aud", Some("https://elsewhere.example/fhir"))]),
            Expect::Redirect("invalid_request"),
        ),
        ("no aud", authorize_query(&server, &client, &[("aud", None)]), Expect::Redirect("invalid_request")),
        (
            "scope not registered",
            authorize_query(&server, &client, &[("scope", Some("patient/*.cruds"))]),
            Expect::Redirect("invalid_scope"),
        ),
        (
            "response_type token",
            authorize_query(&server, &client, &[("response_type", Some("token"))]),
            Expect::Redirect("unsupported_response_type"),
        ),
        ("not approved", authorize_query(&server, &unapproved, &[]), Expect::Redirect("unauthorized_client")),
    ];
    for (name, url, expect) in cases {
        let r = http().get(&url).send().await.unwrap();
        match expect {
            Expect::Page => {
                assert_eq!(r.status(), 400, "{name}");
                assert!(r.headers().get("location").is_none(), "{name}: no redirect");
                assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{name}");
            }
            Expect::Redirect(error) => {
                assert_eq!(r.status(), 303, "{name}");
                let location = r.headers()["location"].to_str().unwrap().to_owned();
                assert!(location.starts_with(REDIRECT), "{name}: {location}");
                assert_eq!(param(&location, "error").as_deref(), Some(error), "{name}");
                assert_eq!(param(&location, "state").as_deref(), Some(STATE), "{name}");
            }
        }
    }
    // POST gives the same answer as GET.
    let url = authorize_query(&server, &client, &[("code_challenge_method", Some("plain"))]);
    let body = url.split_once('?').unwrap().1.to_owned();
    let r = http()
        .post(format!("{}/oauth/authorize", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(param(r.headers()["location"].to_str().unwrap(), "error").as_deref(), Some("invalid_request"));
    server.stop().await;
}

/// Discovery: what the well-known documents and the CapabilityStatement say (checklist 1–10).
#[tokio::test]
async fn discovery_documents() {
    let server = TestServer::start().await;
    let get = |path: String| async move {
        let r = http().get(path).header("accept", "text/html").send().await.unwrap();
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        (r.status().as_u16(), ct, r.json::<Value>().await.unwrap())
    };
    let (s, ct, smart) = get(format!("{}/.well-known/smart-configuration", server.fhir("").trim_end_matches('/'))).await;
    assert_eq!(s, 200);
    assert!(ct.starts_with("application/json"), "{ct}");
    assert_eq!(smart["authorization_endpoint"], format!("{}/oauth/authorize", server.base));
    assert_eq!(smart["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    for key in ["token_endpoint", "jwks_uri", "issuer", "introspection_endpoint", "revocation_endpoint"] {
        assert!(smart[key].as_str().is_some_and(|u| u.starts_with(&server.base)), "{key}");
    }
    let (s, _, oidc) = get(format!("{}/.well-known/openid-configuration", server.base)).await;
    assert_eq!(s, 200);
    assert_eq!(oidc["issuer"], smart["issuer"]);
    let (s, _, jwks) = get(oidc["jwks_uri"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, 200);
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for k in keys {
        assert_eq!(k["kty"], "RSA");
        assert!(k["kid"].is_string() && k["n"].is_string() && k["e"].is_string());
        assert!(k.get("d").is_none() && k.get("p").is_none());
    }
    server.stop().await;
}

/// A practice's own FHIR base: its metadata and SMART configuration, and tokens bound to it (aud).
#[tokio::test]
async fn practice_bases_bind_tokens_to_their_audience() {
    let server = TestServer::start().await;
    let client = register(&server, "pci_smart_tenant", true);
    let tenant = format!("{}/t/1/fhir", server.base);
    let location = consent_with(&server, &client, &["patient/Patient.rs"], "allow", &[("aud", Some(&tenant))]).await;
    let code = param(&location, "code").expect("code");
    let (s, t) = exchange(&server, &client, &code, VERIFIER).await;
    assert_eq!(s, 200, "{t}");
    let access = t["access_token"].as_str().unwrap();
    let get = |url: String| async move {
        let r = http().get(url).bearer_auth(access).send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    for (url, status) in [
        (format!("{tenant}/Patient/{REYNA}"), 200),
        (format!("{}/Patient/{REYNA}", server.fhir("").trim_end_matches('/')), 401),
        (format!("{}/t/2/fhir/Patient/{REYNA}", server.base), 401),
        (format!("{}/t/99/fhir/Patient/{REYNA}", server.base), 404),
    ] {
        let (got, body) = get(url.clone()).await;
        assert_eq!(got, status, "{url}: {body}");
    }
    let (s, cs) = get(format!("{tenant}/metadata")).await;
    assert_eq!((s, cs["implementation"]["url"].as_str()), (200, Some(tenant.as_str())));
    let (s, smart) = get(format!("{tenant}/.well-known/smart-configuration")).await;
    assert_eq!((s, smart["authorization_endpoint"].is_string()), (200, true));
    // A /fhir token does not work at a practice's base either.
    let location = consent(&server, &client, &["patient/Patient.rs"], "allow").await;
    let (_, t) = exchange(&server, &client, &param(&location, "code").unwrap(), VERIFIER).await;
    let r =
        http().get(format!("{tenant}/Patient/{REYNA}")).bearer_auth(t["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}

/// Checklist 67: who may read what across origins, and preflight.
#[tokio::test]
async fn cors_by_endpoint_and_origin() {
    let server = TestServer::start().await;
    register(&server, "pci_smart_cors", true);
    let registered = "http://127.0.0.1:5173"; // the app's redirect URI is a loopback one: any port
    let stranger = "https://evil.example";
    let fhir = server.fhir("").trim_end_matches('/').to_owned();
    let cases: Vec<(&str, String, &str, Option<&str>)> = vec![
        // Public documents: any origin (echoed).
        ("GET", format!("{}/.well-known/smart-configuration", server.base), stranger, Some(stranger)),
        ("GET", format!("{fhir}/.well-known/smart-configuration"), stranger, Some(stranger)),
        ("GET", format!("{fhir}/metadata"), stranger, Some(stranger)),
        ("GET", format!("{}/oauth/jwks", server.base), stranger, Some(stranger)),
        ("POST", format!("{}/oauth/token", server.base), registered, Some(registered)),
        ("POST", format!("{}/oauth/token", server.base), stranger, None),
        ("GET", format!("{fhir}/Patient"), registered, Some(registered)),
        ("GET", format!("{fhir}/Patient"), stranger, None),
        ("GET", format!("{}/api/info", server.base), registered, None),
    ];
    for (method, url, origin, expected) in cases {
        // The preflight a browser sends before a request with an Authorization header.
        let r = http()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        let acao = r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(acao.as_deref(), expected, "preflight {method} {url} from {origin}");
        let r = http().get(&url).header("origin", origin).send().await.unwrap();
        let acao = r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(acao.as_deref(), expected, "{url} from {origin}");
    }
    server.stop().await;
}

/// A grant's life (checklist 31, 36, 37, 53, 75): one-time grants get no refresh token; revoking from
/// Connected apps stops access and refresh at once (and is idempotent); a disabled app is refused
/// everywhere; a grant past its end date refreshes to `invalid_grant`.
#[tokio::test]
async fn grant_lifecycle() {
    let server = TestServer::start().await;
    let client = register(&server, "pci_smart_life", true);
    let patient = server.client("patient").await;

    // One-time: no offline_access asked, no refresh token.
    let one_time = "launch/patient patient/Patient.rs";
    let location = consent_with(&server, &client, &["patient/Patient.rs"], "allow", &[("scope", Some(one_time))]).await;
    let (s, t) = exchange(&server, &client, &param(&location, "code").unwrap(), VERIFIER).await;
    assert_eq!(s, 200, "{t}");
    assert!(t.get("refresh_token").is_none(), "{t}");

    // Offline: listed under Connected apps; revoked there, everything of it stops.
    let location = consent(&server, &client, &["patient/Patient.rs"], "allow").await;
    let (_, t) = exchange(&server, &client, &param(&location, "code").unwrap(), VERIFIER).await;
    let (access, refresh) = (t["access_token"].as_str().unwrap().to_owned(), t["refresh_token"].as_str().unwrap().to_owned());
    let (s, _) = server.get(&format!("Patient/{REYNA}"), t["access_token"].as_str().unwrap()).await;
    assert_eq!(s, 200);
    let apps = patient.connected_apps().await.unwrap();
    assert_eq!(apps.len(), 1, "one grant per person and app: authorizing again replaced the one-time grant");
    assert_eq!(apps[0].client_id, client);
    assert!(apps[0].expires_at.is_some(), "offline access ends (90 days by default)");
    assert_eq!((apps[0].active_tokens, apps[0].refresh_tokens), (1, 1));
    let receipt = patient.delete_credential(&apps[0].id).await.unwrap();
    assert!(receipt.deleted_now && receipt.tokens_revoked == 1);
    assert!(!patient.delete_credential(&apps[0].id).await.unwrap().deleted_now, "revoking twice is harmless");
    let (s, _) = server.get(&format!("Patient/{REYNA}"), &access).await;
    assert_eq!(s, 401);
    let (s, body, _) =
        token(&server, &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &client)]).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    assert!(patient.connected_apps().await.unwrap().is_empty());

    // Past its end date a grant neither reads nor refreshes.
    let location = consent(&server, &client, &["patient/Patient.rs"], "allow").await;
    let (_, t) = exchange(&server, &client, &param(&location, "code").unwrap(), VERIFIER).await;
    server.advance(91 * 24 * 3600);
    let (s, body, _) = token(
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap()), ("client_id", &client)],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    server.advance(-91 * 24 * 3600);

    // A disabled app: its tokens stop, the token endpoint and the authorization page refuse it.
    let location = consent(&server, &client, &["patient/Patient.rs"], "allow").await;
    let (_, t) = exchange(&server, &client, &param(&location, "code").unwrap(), VERIFIER).await;
    let mut store = server.store();
    store
        .update_app(&format!("app-{client}"), &portico_store::AppChange { active: Some(false), ..Default::default() }, Utc::now())
        .unwrap();
    let (s, _) = server.get(&format!("Patient/{REYNA}"), t["access_token"].as_str().unwrap()).await;
    assert_eq!(s, 401);
    let (s, body, _) = token(
        &server,
        &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap()), ("client_id", &client)],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));
    let r = http().get(authorize_query(&server, &client, &[])).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    server.stop().await;
}

/// Checklist 18: a staff member asking for `launch/patient` picks a patient of their practice; the token
/// carries that patient and reaches nobody else.
#[tokio::test]
async fn staff_pick_a_patient() {
    let server = TestServer::start().await;
    let client = register(&server, "pci_smart_staff", true);
    let http = http();
    let html = http.get(authorize_query(&server, &client, &[])).send().await.unwrap().text().await.unwrap();
    let request = hidden(&html, "request").unwrap();
    let picker = http
        .post(format!("{}/oauth/authorize", server.base))
        .form(&[("request", request.as_str()), ("username", "provider"), ("password", PASSWORD), ("action", "sign_in")])
        .send()
        .await
        .unwrap();
    assert_eq!(picker.status(), 200);
    let cookie = picker.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = picker.text().await.unwrap();
    assert!(html.contains("name=\"patient\""), "a patient picker");
    let chosen = server.patients_of(1).into_iter().find(|p| p != REYNA).unwrap();
    let consent = http
        .post(format!("{}/oauth/authorize", server.base))
        .header("cookie", &cookie)
        .form(&[("request", request.as_str()), ("patient", chosen.as_str()), ("action", "select_patient")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&consent, "csrf").expect("the consent page");
    let done = http
        .post(format!("{}/oauth/authorize", server.base))
        .header("cookie", &cookie)
        .form(&[
            ("request", request.as_str()),
            ("patient", chosen.as_str()),
            ("csrf", csrf.as_str()),
            ("action", "allow"),
            ("scope", "patient/Patient.rs"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let code = param(done.headers()["location"].to_str().unwrap(), "code").unwrap();
    let (s, t) = exchange(&server, &client, &code, VERIFIER).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["patient"], chosen.as_str());
    assert!(t.get("id_token").is_none(), "staff have no FHIR resource of their own here: no id_token");
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(server.get(&format!("Patient/{chosen}"), access).await.0, 200);
    assert_eq!(server.get(&format!("Patient/{REYNA}"), access).await.0, 404);
    // A patient of another practice cannot be picked.
    let other = server.patients_of(2).into_iter().next().unwrap();
    let r = http
        .post(format!("{}/oauth/authorize", server.base))
        .header("cookie", &cookie)
        .form(&[("request", request.as_str()), ("patient", other.as_str()), ("action", "select_patient")])
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    server.stop().await;
}

/// Checklist 44, 45, 48: a web app authenticating with `private_key_jwt` (keys at a JWKS URL) through the
/// code and refresh grants; the JWKS is fetched once, cached, and fetched again when an unknown `kid` arrives.
#[tokio::test]
async fn asymmetric_client_with_a_jwks_url() {
    use crate::backend_services::{header, keys, rsa_jwk, sign, Signer};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // A tiny JWKS host on loopback (http is allowed there), counting its fetches.
    let served = Arc::new(Mutex::new(serde_json::json!({ "keys": [rsa_jwk(&keys().rsa, "rsa-1")] }).to_string()));
    let fetches = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let (s2, f2) = (served.clone(), fetches.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 2048];
            let _ = sock.read(&mut buf).await;
            f2.fetch_add(1, Ordering::SeqCst);
            let body = s2.lock().unwrap().clone();
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });

    let server = TestServer::start().await;
    let url = jwks_url.clone();
    let client = register_with(&server, "pci_smart_keyed", true, move |a| {
        a.platform = Platform::Web;
        a.client_auth = ClientAuth::PrivateKeyJwt;
        a.jwks_url = Some(url);
    });
    let token_url = format!("{}/oauth/token", server.base);
    let assertion = |kid: &str, signer: Signer, jti: &str| {
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({ "iss": client, "sub": client, "aud": token_url, "exp": now + 240, "jti": jti });
        sign(&header("RS384", kid), &claims, signer)
    };
    let assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    let location = consent(&server, &client, &["patient/Patient.rs"], "allow").await;
    let code = param(&location, "code").unwrap();
    let a1 = assertion("rsa-1", Signer::Rs384, "k1");
    let (s, t, _) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_assertion_type", assertion_type),
            ("client_assertion", &a1),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert!(t["id_token"].is_string(), "an asymmetric client gets an id_token too");
    let a2 = assertion("rsa-1", Signer::Rs384, "k2");
    let (s, r, _) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_assertion_type", assertion_type),
            ("client_assertion", &a2),
        ],
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the JWKS was fetched once and cached");

    // The app rotates to a new key: the unknown kid makes the service fetch the JWKS again.
    *served.lock().unwrap() = serde_json::json!({ "keys": [rsa_jwk(&keys().stranger, "rsa-2")] }).to_string();
    let a3 = assertion("rsa-2", Signer::Stranger, "k3");
    let (s, r2, _) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r["refresh_token"].as_str().unwrap()),
            ("client_assertion_type", assertion_type),
            ("client_assertion", &a3),
        ],
    )
    .await;
    assert_eq!(s, 200, "{r2}");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // The old key is gone from the JWKS: an assertion signed with it fails.
    let a4 = assertion("rsa-1", Signer::Rs384, "k4");
    let (s, body, _) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r2["refresh_token"].as_str().unwrap()),
            ("client_assertion_type", assertion_type),
            ("client_assertion", &a4),
        ],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")));
    server.stop().await;
}

/// Checklist 49–51, 79: introspection needs the client in the Authorization header, answers the caller's own
/// tokens only (anything else exactly `{"active":false}`), and each call is on record.
#[tokio::test]
async fn introspection_is_the_callers_and_on_record() {
    use portico_domain::{Secret, SecretKind};
    let server = TestServer::start().await;
    let secret = Secret::generate(SecretKind::AppSecret, &mut rand::rngs::OsRng);
    let digest = secret.digest();
    let confidential = register_with(&server, "pci_smart_conf", true, move |a| {
        a.platform = Platform::Web;
        a.client_auth = ClientAuth::SecretBasic;
        a.secret_digest = Some(digest);
    });
    let other_secret = Secret::generate(SecretKind::AppSecret, &mut rand::rngs::OsRng);
    let other_digest = other_secret.digest();
    let other = register_with(&server, "pci_smart_conf2", true, move |a| {
        a.platform = Platform::Web;
        a.client_auth = ClientAuth::SecretBasic;
        a.secret_digest = Some(other_digest);
    });
    let location = consent(&server, &confidential, &["patient/Patient.rs"], "allow").await;
    let r = http()
        .post(format!("{}/oauth/token", server.base))
        .basic_auth(&confidential, Some(secret.expose()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &param(&location, "code").unwrap()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    let access = t["access_token"].as_str().unwrap();
    let base = server.base.clone();
    let introspect = |id: String, secret: String, token: String| {
        let url = format!("{base}/oauth/introspect");
        async move {
            let r = http().post(url).basic_auth(id, Some(secret)).form(&[("token", token)]).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, body) = introspect(confidential.clone(), secret.expose().to_owned(), access.to_owned()).await;
    assert_eq!(s, 200);
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], confidential);
    assert_eq!(body["scope"], t["scope"]);
    assert_eq!(body["patient"], REYNA);
    assert!(body["exp"].as_i64().is_some_and(|e| e > Utc::now().timestamp()));
    let inactive = serde_json::json!({ "active": false });
    assert_eq!(
        introspect(other, other_secret.expose().to_owned(), access.to_owned()).await,
        (200, inactive.clone()),
        "another app's token"
    );
    assert_eq!(
        introspect(confidential.clone(), secret.expose().to_owned(), "pca_nonsense".into()).await,
        (200, inactive.clone())
    );
    let (s, _) = introspect(confidential.clone(), "pcs_smart_wrong".into(), access.to_owned()).await;
    assert_eq!(s, 401, "a wrong secret");
    // Checklist 31: a disabled app is not a client at introspection or revocation (and its token is dead).
    let mut store = server.store();
    store
        .update_app("app-pci_smart_conf", &portico_store::AppChange { active: Some(false), ..Default::default() }, Utc::now())
        .unwrap();
    let (s, body) = introspect(confidential.clone(), secret.expose().to_owned(), access.to_owned()).await;
    assert_eq!((s, body["error"].as_str()), (401, Some("invalid_client")), "introspection by a disabled app");
    let r = http()
        .post(format!("{}/oauth/revoke", server.base))
        .basic_auth(&confidential, Some(secret.expose()))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "revocation by a disabled app");
    assert_eq!(server.get(&format!("Patient/{REYNA}"), access).await.0, 401);
    let rows = server.sql_count("SELECT count(*) FROM audit WHERE kind = 'token_introspected'", &[]);
    assert_eq!(rows, 3, "each authenticated introspection is on record (the disabled app's refused one is not)");
    let raw = server.sql_count("SELECT count(*) FROM audit WHERE detail LIKE ? OR token_digest = ?", &[access, access]);
    assert_eq!(raw, 0, "never the token itself");
    server.stop().await;
}

/// "Preview == what the app gets", for connected apps: per scope set (whole types, a category, everything),
/// the grant's preview counts equal what the app's own token finds, type by type, and a type the preview
/// leaves out is refused or empty for the app.
#[tokio::test]
async fn a_connected_apps_preview_is_what_its_token_gets() {
    let server = TestServer::start().await;
    let client = register_with(&server, "pci_smart_preview", true, |a| {
        a.scopes = "launch/patient openid fhirUser offline_access patient/*.rs".into();
    });
    let patient = server.client("patient").await;
    let lab = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory";
    let sets: Vec<(&str, Vec<&str>)> = vec![
        ("everything", vec!["patient/*.rs"]),
        ("two types", vec!["patient/Patient.rs", "patient/Condition.rs"]),
        ("lab results only", vec![lab]),
    ];
    for (name, ticked) in sets {
        let scope = format!("launch/patient {}", ticked.join(" "));
        let location = consent_with(&server, &client, &ticked, "allow", &[("scope", Some(&scope))]).await;
        let (s, t) = exchange(&server, &client, &param(&location, "code").unwrap(), VERIFIER).await;
        assert_eq!(s, 200, "{name}: {t}");
        let access = t["access_token"].as_str().unwrap();
        let grant = patient.connected_apps().await.unwrap().into_iter().find(|g| g.client_id == client).unwrap();
        let preview = patient.preview(&grant.id).await.unwrap();
        assert!(preview.total > 0, "{name}: the preview shows something");
        for td in portico_fhir::supported_types() {
            if td.name != "Patient" && td.compartment.is_empty() {
                continue;
            }
            let previewed = preview.counts.iter().find(|c| c.resource_type == td.name).map_or(0, |c| c.count);
            let (s, bundle) = server.get(&format!("{}?_summary=count", td.name), access).await;
            let got = if s == 200 { bundle["total"].as_u64().unwrap() as usize } else { 0 };
            assert!(s == 200 || s == 403, "{name} {}: {s}", td.name);
            assert_eq!(previewed, got, "{name}: {} preview {previewed}, app {got}", td.name);
        }
    }
    server.stop().await;
}

/// Staff see the apps that reach their practice (approved ones only; administrators see every request);
/// patients are not shown a practice's apps.
#[tokio::test]
async fn staff_see_the_apps_approved_for_their_practice() {
    let server = TestServer::start().await;
    register(&server, "pci_smart_approved", true);
    let mut store = server.store();
    register(&server, "pci_smart_asking", false);
    let dev = store.user_by_username("developer").unwrap().unwrap();
    store.request_approval("app-pci_smart_asking", PracticeId(1), dev.id, Utc::now()).unwrap();
    let names = |list: Vec<portico_api::Approval>| {
        let mut n: Vec<(String, String)> = list.into_iter().map(|a| (a.client_id, a.status)).collect();
        n.sort();
        n
    };
    let provider = server.client("provider").await;
    let seen = names(provider.approvals().await.unwrap());
    assert!(seen.contains(&("pci_smart_approved".into(), "approved".into())), "{seen:?}");
    assert!(seen.iter().all(|(_, s)| s == "approved"), "staff see approved apps only: {seen:?}");
    let admin = server.client("admin").await;
    let all = names(admin.approvals().await.unwrap());
    assert!(all.contains(&("pci_smart_asking".into(), "pending".into())), "{all:?}");
    let patient = server.client("patient").await;
    assert!(patient.approvals().await.is_err(), "a patient is not shown a practice's apps");
    server.stop().await;
}

/// Checklist 16, 17 and 52: a code lives about a minute; a type narrowed to a category at consent gives a
/// token with the category scope and not the type's; revoking another app's token is answered 200 and
/// changes nothing.
#[tokio::test]
async fn code_expiry_category_consent_and_foreign_revocation() {
    let server = TestServer::start().await;
    let client = register(&server, "pci_smart_more", true);
    let other = register(&server, "pci_smart_other_app", true);

    let location = consent(&server, &client, &["patient/Patient.rs"], "allow").await;
    server.advance(61);
    let (s, body) = exchange(&server, &client, &param(&location, "code").unwrap(), VERIFIER).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")), "a code older than 60 s");
    server.advance(-61);

    let lab = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory";
    let location = consent(&server, &client, &["patient/Patient.rs", lab], "allow").await;
    let (s, t) = exchange(&server, &client, &param(&location, "code").unwrap(), VERIFIER).await;
    assert_eq!(s, 200, "{t}");
    let scope = t["scope"].as_str().unwrap();
    assert!(scope.split(' ').any(|x| x == lab), "{scope}");
    assert!(!scope.split(' ').any(|x| x == "patient/Observation.rs"), "the type itself was not granted: {scope}");
    let access = t["access_token"].as_str().unwrap().to_owned();
    let (s, vitals) = server.get(&format!("Observation?patient={REYNA}&category=vital-signs"), &access).await;
    assert_eq!((s, vitals["total"].as_u64()), (200, Some(0)), "no vital signs through a lab-only consent");

    let r = http()
        .post(format!("{}/oauth/revoke", server.base))
        .form(&[("token", access.as_str()), ("client_id", other.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "RFC 7009: answered alike");
    assert_eq!(server.get(&format!("Patient/{REYNA}"), &access).await.0, 200, "another app cannot revoke this app's token");
    let r = http()
        .post(format!("{}/oauth/revoke", server.base))
        .form(&[("token", access.as_str()), ("client_id", client.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.get(&format!("Patient/{REYNA}"), &access).await.0, 401, "its own app can");
    server.stop().await;
}
