//! The desktop app's sign-in through the browser (RFC 8252), driven by `portico_client::signin` exactly as
//! the desktop does, with a plain HTTP client standing in for the browser: discovery, the loopback
//! listener, code + PKCE, the session it buys, refresh rotation with reuse detection, and sign-out by
//! revocation. Then the refusals a hostile page or program could try.

use std::time::Duration;

use portico_api as wire;
use portico_client::signin::{self, BrowserSignIn};
use portico_client::Client;

use crate::harness::{TestServer, PASSWORD};

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&").replace("&quot;", "\"").replace("&#x2f;", "/"))
}

/// What a person does in the browser: open the URL, type the password, follow the redirect home.
/// Returns the sign-in page's status after the POST (303 when it went back to the app).
pub(crate) async fn person_signs_in(url: &str, base: &str, username: &str, password: &str) -> (u16, String) {
    let b = browser();
    let page = b.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Portico desktop app"), "the page says who asks");
    let request = hidden(&html, "request").expect("the page carries the request");
    let posted = b
        .post(format!("{base}/oauth/authorize"))
        .form(&[("request", request.as_str()), ("username", username), ("password", password), ("action", "sign_in")])
        .send()
        .await
        .unwrap();
    let status = posted.status().as_u16();
    if status != 303 {
        return (status, posted.text().await.unwrap_or_default());
    }
    let location = posted.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    let landed = b.get(&location).send().await.unwrap();
    (status, landed.text().await.unwrap_or_default())
}

async fn refresh_status(server: &TestServer, refresh_token: &str) -> (u16, serde_json::Value) {
    let r = browser()
        .post(format!("{}/oauth/token", server.base))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", wire::DESKTOP_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn sign_in_through_the_browser_refresh_and_sign_out() {
    let server = TestServer::start().await;
    let http = signin::http_client().unwrap();
    let info = signin::discover(&http, &server.base).await.expect("discovery");
    assert_eq!(info.base_url, server.base);
    assert_eq!(info.name, "Portico");
    assert!(info.revocation_endpoint.is_some());

    let flow = BrowserSignIn::start(&info).await.unwrap();
    let url = flow.url().to_owned();
    assert!(url.contains("code_challenge_method=S256") && url.contains("client_id=portico-desktop"), "{url}");
    let waiting = tokio::spawn(async move { flow.finish(&signin::http_client().unwrap(), Duration::from_secs(30)).await });
    let (status, landed) = person_signs_in(&url, &server.base, "patient", PASSWORD).await;
    assert_eq!(status, 303);
    assert!(landed.contains("You are signed in"), "{landed}");
    let tokens = waiting.await.unwrap().expect("code exchanged");
    assert!(tokens.access_token.starts_with("pcu_") && tokens.refresh_token.starts_with("pcr_"));
    assert!(tokens.expires_in <= Duration::from_secs(15 * 60));

    // The access token is a management-API session of the person who typed the password.
    let me = Client::new(&server.base).unwrap().with_session(tokens.access_token.clone()).me().await.unwrap();
    assert_eq!(me.username, "patient");

    // Refresh rotates; the new session works; the old refresh token presented again ends the sign-in.
    let next = signin::refresh(&http, &info, &tokens.refresh_token).await.expect("refresh");
    assert_ne!(next.refresh_token, tokens.refresh_token);
    let client = Client::new(&server.base).unwrap().with_session(next.access_token.clone());
    assert_eq!(client.me().await.unwrap().username, "patient");
    let (s, body) = refresh_status(&server, &tokens.refresh_token).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(client.me().await.unwrap_err().status(), Some(401), "a replay ends every session of the sign-in");
    let (s, _) = refresh_status(&server, &next.refresh_token).await;
    assert_eq!(s, 400, "and its newest refresh token");

    // A fresh sign-in, then sign-out: revoking the refresh token ends its session at once.
    let flow = BrowserSignIn::start(&info).await.unwrap();
    let url = flow.url().to_owned();
    let waiting = tokio::spawn(async move { flow.finish(&signin::http_client().unwrap(), Duration::from_secs(30)).await });
    person_signs_in(&url, &server.base, "provider", PASSWORD).await;
    let tokens = waiting.await.unwrap().unwrap();
    let client = Client::new(&server.base).unwrap().with_session(tokens.access_token.clone());
    assert_eq!(client.me().await.unwrap().username, "provider");
    signin::revoke(&http, &info, &tokens.refresh_token).await.expect("revoke");
    assert_eq!(client.me().await.unwrap_err().status(), Some(401));
    assert_eq!(refresh_status(&server, &tokens.refresh_token).await.0, 400);
}

#[tokio::test]
async fn wrong_password_unknown_state_and_a_session_cookie_sign_no_one_in() {
    let server = TestServer::start().await;
    let http = signin::http_client().unwrap();
    let info = signin::discover(&http, &server.base).await.unwrap();
    let flow = BrowserSignIn::start(&info).await.unwrap();
    let url = flow.url().to_owned();
    let (status, page) = person_signs_in(&url, &server.base, "patient", "wrong").await;
    assert_eq!(status, 401);
    assert!(page.contains("wrong username or password"), "{page}");

    // A stray request to the listener with another state is answered and ignored; the wait goes on.
    let port = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| url::Url::parse(&v).unwrap().port().unwrap())
        .unwrap();
    let waiting = tokio::spawn(async move { flow.finish(&signin::http_client().unwrap(), Duration::from_secs(3)).await });
    let stray = browser().get(format!("http://127.0.0.1:{port}/callback?code=pcc_x&state=forged")).send().await.unwrap();
    assert_eq!(stray.status(), 400);
    let err = waiting.await.unwrap().err().expect("nobody signed in");
    assert_eq!(err.code(), "timeout");

    // Even with the browser's /oauth session cookie from a third-party app's sign-in, the desktop's page
    // asks for the password again: no code without it.
    let b = browser();
    let flow = BrowserSignIn::start(&info).await.unwrap();
    let first = b.get(flow.url()).send().await.unwrap();
    let html = first.text().await.unwrap();
    let request = hidden(&html, "request").unwrap();
    let with_cookie = b
        .post(format!("{}/oauth/authorize", server.base))
        .header("cookie", "portico_authorize=pcu_made_up_or_real")
        .form(&[("request", request.as_str()), ("action", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200, "the sign-in page again, no redirect");
    assert!(with_cookie.text().await.unwrap().contains("name=\"password\""));
}

#[tokio::test]
async fn refusals_at_authorize_and_token() {
    let server = TestServer::start().await;
    let b = browser();
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let authorize = |redirect: &str, method: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", wire::DESKTOP_CLIENT_ID)
            .append_pair("redirect_uri", redirect)
            .append_pair("state", "s1")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", method);
        format!("{}/oauth/authorize?{}", server.base, q.finish())
    };
    // (redirect URI, PKCE method, expected status, where the answer goes)
    for (redirect, method, status, to_app) in [
        ("https://evil.example/cb", "S256", 400, false),
        ("http://localhost:5000/cb", "S256", 400, false),
        ("http://127.0.0.1/cb", "S256", 400, false),
        ("http://127.0.0.1:5000/cb", "plain", 303, true),
        ("http://127.0.0.1:5000/cb", "S256", 200, false),
    ] {
        let r = b.get(authorize(redirect, method)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{redirect} {method}");
        if to_app {
            let loc = r.headers()["location"].to_str().unwrap();
            assert!(loc.starts_with(redirect) && loc.contains("error=invalid_request") && loc.contains("state=s1"), "{loc}");
        }
    }
    // The token endpoint: a secret is refused for a public client; made-up codes and refresh tokens too.
    for (form, status, error) in [
        (vec![("grant_type", "authorization_code"), ("code", "pcc_nope"), ("client_secret", "x")], 401, "invalid_client"),
        (vec![("grant_type", "authorization_code"), ("code", "pcc_nope")], 400, "invalid_grant"),
        (vec![("grant_type", "refresh_token"), ("refresh_token", "pcr_nope")], 400, "invalid_grant"),
        (vec![("grant_type", "client_credentials")], 400, "unauthorized_client"),
        (vec![("grant_type", "password")], 400, "unsupported_grant_type"),
    ] {
        let mut form = form;
        form.push(("client_id", wire::DESKTOP_CLIENT_ID));
        let r = b.post(format!("{}/oauth/token", server.base)).form(&form).send().await.unwrap();
        let s = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!((s, body["error"].as_str()), (status, Some(error)), "{form:?}: {body}");
    }
    // Revoking something unknown is 200 (RFC 7009).
    let r = b
        .post(format!("{}/oauth/revoke", server.base))
        .form(&[("token", "pcr_unknown"), ("client_id", wire::DESKTOP_CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_code_exchanged_twice_ends_the_sign_in_it_started() {
    let server = TestServer::start().await;
    let b = browser();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let redirect = "http://127.0.0.1:5999/callback";
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", wire::DESKTOP_CLIENT_ID)
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    let html = b.get(format!("{}/oauth/authorize?{}", server.base, q.finish())).send().await.unwrap().text().await.unwrap();
    let request = hidden(&html, "request").unwrap();
    let posted = b
        .post(format!("{}/oauth/authorize", server.base))
        .form(&[("request", request.as_str()), ("username", "patient"), ("password", PASSWORD), ("action", "sign_in")])
        .send()
        .await
        .unwrap();
    let location = posted.headers()["location"].to_str().unwrap().to_owned();
    let code = url::Url::parse(&location).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let exchange = |verifier: &'static str| {
        let (b, code, base) = (b.clone(), code.clone(), server.base.clone());
        async move {
            let r = b
                .post(format!("{base}/oauth/token"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", redirect),
                    ("code_verifier", verifier),
                    ("client_id", wire::DESKTOP_CLIENT_ID),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (s, first) = exchange(verifier).await;
    assert_eq!(s, 200, "{first}");
    let session = Client::new(&server.base).unwrap().with_session(first["access_token"].as_str().unwrap().to_owned());
    assert_eq!(session.me().await.unwrap().username, "patient");
    let (s, again) = exchange(verifier).await;
    assert_eq!((s, again["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(session.me().await.unwrap_err().status(), Some(401), "the leaked code's sign-in is over");
}

#[tokio::test]
async fn the_desktop_sign_in_page_is_a_throttled_door_with_a_size_limit() {
    let server = TestServer::start().await;
    let http = signin::http_client().unwrap();
    let info = signin::discover(&http, &server.base).await.unwrap();
    let flow = BrowserSignIn::start(&info).await.unwrap();
    let url = flow.url().to_owned();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(person_signs_in(&url, &server.base, "provider", "wrong password").await);
    }
    assert!(statuses[..5].iter().all(|(s, _)| *s == 401), "{statuses:?}");
    let (status, page) = &statuses[6];
    assert_eq!(*status, 429, "locked after five failures: {page}");
    assert!(page.contains("too many failed attempts"), "{page}");
    // During the lock even the right password is refused unchecked; nothing reaches the app.
    assert_eq!(person_signs_in(&url, &server.base, "provider", PASSWORD).await.0, 429);

    // A form far past the 16 KiB limit is refused before it is parsed.
    let huge = "x".repeat(200 * 1024);
    let r = browser()
        .post(format!("{}/oauth/authorize", server.base))
        .form(&[("client_id", wire::DESKTOP_CLIENT_ID), ("username", huge.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("too large"));
}
