//! Connecting the desktop app to a remote Portico server: reading its discovery document (with certificate
//! problems put in words), and signing in the way native apps should (RFC 8252): authorization code + PKCE
//! through the system browser, back to a one-shot loopback listener on 127.0.0.1, with the `oauth2` crate.
//! Then refreshing the short-lived access token (a management-API session) and revoking the sign-in.
//!
//! Opening the browser is the caller's (the desktop uses Tauri's opener); this module only hands it the URL.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, RefreshToken, StandardRevocableToken,
    TokenResponse as _, TokenUrl,
};
use portico_api as wire;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

/// Why a server could not be used, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error("{0}")]
    Certificate(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    NotPortico(String),
    #[error("{0}")]
    Cancelled(String),
    #[error("{0}")]
    TimedOut(String),
    #[error("{0}")]
    Refused(String),
}

impl ConnectError {
    /// A stable code for the UI: `invalid_input`, `certificate`, `unreachable`, `not_portico`, `cancelled`,
    /// `timeout`, `access_denied`.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectError::InvalidUrl(_) => "invalid_input",
            ConnectError::Certificate(_) => "certificate",
            ConnectError::Unreachable(_) => "unreachable",
            ConnectError::NotPortico(_) => "not_portico",
            ConnectError::Cancelled(_) => "cancelled",
            ConnectError::TimedOut(_) => "timeout",
            ConnectError::Refused(_) => "access_denied",
        }
    }
}

/// What the desktop learns from a server before anyone signs in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServerInfo {
    /// The base URL as the server names itself (its `issuer`).
    pub base_url: String,
    pub name: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
    pub fhir_base_url: String,
}

#[derive(Deserialize)]
struct OpenIdConfiguration {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    revocation_endpoint: Option<String>,
}

/// The tokens of one desktop sign-in. Deliberately not `Debug`: it holds them.
#[derive(Clone)]
pub struct SignedIn {
    /// A management-API session token, short-lived.
    pub access_token: String,
    pub expires_in: Duration,
    pub refresh_token: String,
}

/// The HTTP client the sign-in functions take (reqwest's, named here so callers need not depend on reqwest).
pub type Http = reqwest::Client;

/// An HTTP client for talking to servers: TLS with the system's trust store and the public web roots, no
/// redirects followed (a token request must never be redirected elsewhere), bounded time.
pub fn http_client() -> Result<reqwest::Client, ConnectError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| ConnectError::Unreachable(format!("The HTTP client could not start: {e}")))
}

/// Normalises what a person typed: `clinic.example` → `https://clinic.example`; http only on this computer.
pub fn normalise_server_url(typed: &str) -> Result<Url, ConnectError> {
    let typed = typed.trim();
    if typed.is_empty() || typed.len() > 2000 {
        return Err(ConnectError::InvalidUrl("Type the server's address, e.g. https://portico.clinic.example".into()));
    }
    let with_scheme = if typed.contains("://") { typed.to_owned() } else { format!("https://{typed}") };
    let mut url = Url::parse(&with_scheme).map_err(|_| ConnectError::InvalidUrl(format!("“{typed}” is not a web address.")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(ConnectError::InvalidUrl(
                "Use https:// for a server on the network: over http, passwords and health data would travel unencrypted.".into(),
            ))
        }
        _ => return Err(ConnectError::InvalidUrl("The address must start with https://".into())),
    }
    if url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() || url.password().is_some() {
        return Err(ConnectError::InvalidUrl(format!("“{typed}” is not a server address.")));
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// Puts a transport failure in words, naming certificate problems (the most common trouble with a clinic's
/// own server) precisely.
pub fn explain(e: &reqwest::Error, host: &str) -> ConnectError {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        chain.push_str(&s.to_string());
        chain.push(' ');
        source = s.source();
    }
    let c = chain.to_ascii_lowercase();
    let cert = |m: &str| ConnectError::Certificate(m.to_owned());
    if c.contains("unknownissuer") || c.contains("unknown issuer") {
        cert(&format!(
            "The certificate of {host} is not signed by an authority this computer trusts. If your clinic uses its own \
             certificate authority, ask IT to install it on this computer."
        ))
    } else if c.contains("notvalidforname") || c.contains("not valid for name") {
        cert(&format!("The certificate presented is not for {host}: the address may be wrong, or someone may be intercepting."))
    } else if c.contains("expired") {
        cert(&format!("The certificate of {host} has expired. Ask the server's administrator to renew it."))
    } else if c.contains("notvalidyet") {
        cert(&format!("The certificate of {host} is not valid yet. Check this computer's date and time."))
    } else if c.contains("revoked") {
        cert(&format!("The certificate of {host} has been revoked."))
    } else if c.contains("certificate") || c.contains("invalid peer") {
        cert(&format!("The certificate of {host} cannot be trusted ({}).", chain.trim()))
    } else if e.is_timeout() {
        ConnectError::Unreachable(format!("{host} did not answer in time."))
    } else if c.contains("dns error") || c.contains("failed to lookup") {
        ConnectError::Unreachable(format!("No server is known by the name {host}."))
    } else if e.is_connect() {
        ConnectError::Unreachable(format!("{host} cannot be reached (nothing answered)."))
    } else {
        ConnectError::Unreachable(format!("{host} cannot be reached: {}", chain.trim()))
    }
}

/// Reads a server's discovery document and `/api/info`: what the desktop needs to sign in, and its name.
pub async fn discover(http: &reqwest::Client, typed: &str) -> Result<ServerInfo, ConnectError> {
    let base = normalise_server_url(typed)?;
    let host = base.host_str().unwrap_or_default().to_owned();
    let get = |path: &'static str| {
        let url = format!("{}{path}", base.as_str().trim_end_matches('/'));
        let (host, http) = (host.clone(), http.clone());
        async move {
            let resp = http.get(url).send().await.map_err(|e| explain(&e, &host))?;
            if !resp.status().is_success() {
                return Err(ConnectError::NotPortico(format!(
                    "{host} answered {} where a Portico server has its {path}.",
                    resp.status().as_u16()
                )));
            }
            resp.bytes().await.map_err(|e| explain(&e, &host))
        }
    };
    let not_portico = || ConnectError::NotPortico(format!("{host} does not look like a Portico server."));
    let oidc: OpenIdConfiguration =
        serde_json::from_slice(&get("/.well-known/openid-configuration").await?).map_err(|_| not_portico())?;
    let info: wire::ServiceInfo = serde_json::from_slice(&get("/api/info").await?).map_err(|_| not_portico())?;
    let name = if info.name.trim().is_empty() { host.clone() } else { info.name.trim().chars().take(80).collect() };
    Ok(ServerInfo {
        base_url: oidc.issuer.trim_end_matches('/').to_owned(),
        name,
        authorization_endpoint: oidc.authorization_endpoint,
        token_endpoint: oidc.token_endpoint,
        revocation_endpoint: oidc.revocation_endpoint,
        fhir_base_url: info.fhir_base_url,
    })
}

type Oauth = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth_client(server: &ServerInfo) -> Result<Oauth, ConnectError> {
    let bad = |what: &str| ConnectError::NotPortico(format!("The server's {what} is not a valid address."));
    Ok(BasicClient::new(ClientId::new(wire::DESKTOP_CLIENT_ID.into()))
        .set_auth_uri(AuthUrl::new(server.authorization_endpoint.clone()).map_err(|_| bad("authorization endpoint"))?)
        .set_token_uri(TokenUrl::new(server.token_endpoint.clone()).map_err(|_| bad("token endpoint"))?))
}

fn signed_in(t: &oauth2::basic::BasicTokenResponse) -> Result<SignedIn, ConnectError> {
    Ok(SignedIn {
        access_token: t.access_token().secret().clone(),
        expires_in: t.expires_in().unwrap_or(Duration::from_secs(900)),
        refresh_token: t
            .refresh_token()
            .map(|r| r.secret().clone())
            .ok_or_else(|| ConnectError::NotPortico("The server gave no refresh token.".into()))?,
    })
}

fn token_error<RE: std::error::Error + 'static>(
    e: oauth2::RequestTokenError<RE, oauth2::StandardErrorResponse<oauth2::basic::BasicErrorResponseType>>,
    host: &str,
) -> ConnectError {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => {
            let what = r.error_description().cloned().unwrap_or_else(|| r.error().to_string());
            ConnectError::Refused(format!("The server refused the sign-in: {what}"))
        }
        oauth2::RequestTokenError::Request(inner) => {
            // The transport error of the reqwest-based client, put in words when it is one.
            let mut source: Option<&dyn std::error::Error> = Some(&inner);
            while let Some(s) = source {
                if let Some(re) = s.downcast_ref::<reqwest::Error>() {
                    return explain(re, host);
                }
                source = s.source();
            }
            ConnectError::Unreachable(format!("{host} cannot be reached: {inner}"))
        }
        other => ConnectError::NotPortico(format!("The server's answer could not be read: {other}")),
    }
}

/// A sign-in waiting for the browser to come back.
pub struct BrowserSignIn {
    listener: tokio::net::TcpListener,
    url: Url,
    csrf: CsrfToken,
    verifier: oauth2::PkceCodeVerifier,
    redirect: String,
    server: ServerInfo,
}

impl BrowserSignIn {
    /// Binds the one-shot loopback listener (127.0.0.1, a free port) and builds the authorization URL.
    pub async fn start(server: &ServerInfo) -> Result<BrowserSignIn, ConnectError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| ConnectError::Unreachable(format!("No local port could be opened for the sign-in: {e}")))?;
        let port = listener.local_addr().map_err(|e| ConnectError::Unreachable(e.to_string()))?.port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let client = oauth_client(server)?
            .set_redirect_uri(RedirectUrl::new(redirect.clone()).map_err(|e| ConnectError::InvalidUrl(e.to_string()))?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(oauth2::Scope::new("portico/manage".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(BrowserSignIn { listener, url, csrf, verifier, redirect, server: server.clone() })
    }

    /// The address to open in the system browser.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// Waits for the browser's redirect (ignoring stray requests such as /favicon.ico), answers it with a
    /// page saying where to go next, then exchanges the code.
    pub async fn finish(self, http: &reqwest::Client, timeout: Duration) -> Result<SignedIn, ConnectError> {
        let host = Url::parse(&self.server.base_url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        let callback = tokio::time::timeout(timeout, wait_for_callback(&self.listener, self.csrf.secret()))
            .await
            .map_err(|_| ConnectError::TimedOut("The browser did not come back in time. Try again.".into()))??;
        drop(self.listener);
        let client = oauth_client(&self.server)?
            .set_redirect_uri(RedirectUrl::new(self.redirect).map_err(|e| ConnectError::InvalidUrl(e.to_string()))?);
        let token = client
            .exchange_code(AuthorizationCode::new(callback))
            .set_pkce_verifier(self.verifier)
            .request_async(http)
            .await
            .map_err(|e| token_error(e, &host))?;
        signed_in(&token)
    }
}

/// Reads one HTTP request head from a connection (at most 8 KiB) and returns its target.
async fn request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    (parts.next()? == "GET").then(|| parts.next().map(str::to_owned)).flatten()
}

async fn reply(stream: &mut tokio::net::TcpStream, status: &str, title: &str, message: &str) {
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title}</title>\
         <body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;line-height:1.5\">\
         <h1>{title}</h1><p>{message}</p></body></html>"
    );
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         Referrer-Policy: no-referrer\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The code from the first request to `/callback` that carries our `state`; an `error=` answer ends the wait.
async fn wait_for_callback(listener: &tokio::net::TcpListener, expected_state: &str) -> Result<String, ConnectError> {
    loop {
        let Ok((mut stream, peer)) = listener.accept().await else { continue };
        if !peer.ip().is_loopback() {
            continue;
        }
        let Some(target) = request_target(&mut stream).await else { continue };
        let Ok(url) = Url::parse(&format!("http://127.0.0.1{target}")) else { continue };
        if url.path() != "/callback" {
            reply(&mut stream, "404 Not Found", "Not here", "This address only receives the Portico sign-in.").await;
            continue;
        }
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        if q.get("state").map(String::as_str) != Some(expected_state) {
            reply(&mut stream, "400 Bad Request", "Sign-in not recognised", "Start the sign-in again from the Portico app.")
                .await;
            continue;
        }
        if let Some(error) = q.get("error") {
            let description = q.get("error_description").cloned().unwrap_or_else(|| error.clone());
            reply(&mut stream, "200 OK", "Sign-in stopped", "You can close this tab and go back to Portico.").await;
            return Err(ConnectError::Refused(format!("The server did not sign you in: {description}")));
        }
        if let Some(code) = q.get("code") {
            reply(&mut stream, "200 OK", "You are signed in", "You can close this tab and go back to the Portico app.").await;
            return Ok(code.clone());
        }
    }
}

/// Rotates the refresh token for a new access token.
pub async fn refresh(http: &reqwest::Client, server: &ServerInfo, refresh_token: &str) -> Result<SignedIn, ConnectError> {
    let host = Url::parse(&server.base_url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let token = oauth_client(server)?
        .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
        .request_async(http)
        .await
        .map_err(|e| token_error(e, &host))?;
    signed_in(&token)
}

/// Revokes the sign-in at the server (RFC 7009): the refresh token and every session it minted. A plain
/// form POST: `oauth2`'s revocation insists on https, and a server on this computer is http.
pub async fn revoke(http: &reqwest::Client, server: &ServerInfo, refresh_token: &str) -> Result<(), ConnectError> {
    let host = Url::parse(&server.base_url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let endpoint = server
        .revocation_endpoint
        .as_deref()
        .ok_or_else(|| ConnectError::NotPortico("The server offers no revocation endpoint.".into()))?;
    let resp = http
        .post(endpoint)
        .form(&[("token", refresh_token), ("token_type_hint", "refresh_token"), ("client_id", wire::DESKTOP_CLIENT_ID)])
        .send()
        .await
        .map_err(|e| explain(&e, &host))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(ConnectError::Refused(format!("The server refused to end the sign-in ({}).", resp.status().as_u16())))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_addresses_become_server_urls() {
        for (typed, want) in [
            ("clinic.example", Some("https://clinic.example/")),
            ("https://clinic.example/portico/", Some("https://clinic.example/portico")),
            ("https://clinic.example:8443?x=1#y", Some("https://clinic.example:8443/")),
            ("http://127.0.0.1:8080", Some("http://127.0.0.1:8080/")),
            ("http://clinic.example", None),
            ("ftp://clinic.example", None),
            ("https://user:pw@clinic.example", None),
            ("", None),
            ("   ", None),
        ] {
            let got = super::normalise_server_url(typed).ok().map(|u| u.to_string());
            assert_eq!(got.as_deref(), want, "{typed:?}");
        }
    }
}
