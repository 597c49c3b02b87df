//! Fetching a SMART backend app's JWK Set from the JWKS URL it registered. The service calls this, so
//! the URL is untrusted input: https only (http on loopback, for local development and tests), a
//! total timeout, a size limit enforced while the body streams in, and no redirects (a redirect would
//! let a registered URL hand the service keys from anywhere).

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH};
use reqwest::StatusCode;
use url::{Host, Url};

/// How long one fetch may take, connection to last byte (issue 10: 5 s).
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest JWKS body read; the rest is never downloaded.
pub const JWKS_FETCH_MAX_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the JWKS URL is not a valid URL")]
    BadUrl,
    #[error("the JWKS URL must use https (http only on 127.0.0.1, [::1] or localhost)")]
    InsecureUrl,
    #[error("the JWKS URL did not answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot fetch the JWKS URL: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("the JWKS URL redirects (HTTP {0}); register the final URL")]
    Redirect(u16),
    #[error("the JWKS URL answered HTTP {0}")]
    Status(u16),
    #[error("the JWKS at that URL is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the JWKS at that URL is not UTF-8 text")]
    NotText,
}

/// A fetched JWK Set, as text for `portico_jose::Jwks::parse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedJwks {
    pub body: String,
    /// Seconds the response may be cached, from `Cache-Control`: `max-age`, or 0 for `no-store` /
    /// `no-cache`; `None` when the header says neither (the caller picks its own default).
    pub max_age: Option<u64>,
}

/// GETs a JWKS URL. See the module documentation for the rules.
pub async fn fetch_jwks(url: &str, timeout: Duration, max_bytes: usize) -> Result<FetchedJwks, FetchError> {
    let url = Url::parse(url).map_err(|_| FetchError::BadUrl)?;
    check_url(&url)?;
    let http = jwks_http()?;
    let transport = |e: reqwest::Error| if e.is_timeout() { FetchError::Timeout(timeout) } else { FetchError::Transport(e) };
    let mut response = http
        .get(url)
        .timeout(timeout)
        .header(ACCEPT, "application/jwk-set+json, application/json")
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    if status.is_redirection() {
        return Err(FetchError::Redirect(status.as_u16()));
    }
    if status != StatusCode::OK {
        return Err(FetchError::Status(status.as_u16()));
    }
    let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_bytes as u64) {
        return Err(FetchError::TooLarge(max_bytes));
    }
    let max_age = response.headers().get_all(CACHE_CONTROL).iter().filter_map(|v| v.to_str().ok()).find_map(cache_max_age);
    let mut body = Vec::new();
    // Chunk by chunk, so a body that never ends (or lies about its length) stops at the limit.
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8(body).map_err(|_| FetchError::NotText)?;
    Ok(FetchedJwks { body, max_age })
}

fn check_url(url: &Url) -> Result<(), FetchError> {
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" => match url.host() {
            Some(Host::Ipv4(ip)) if IpAddr::V4(ip).is_loopback() => Ok(()),
            Some(Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => Ok(()),
            _ => Err(FetchError::InsecureUrl),
        },
        _ => Err(FetchError::InsecureUrl),
    }
}

/// One client for every JWKS fetch (its connection pool and TLS roots are built once), never
/// following redirects.
fn jwks_http() -> Result<&'static reqwest::Client, FetchError> {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(http) = HTTP.get() {
        return Ok(http);
    }
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portico/", env!("CARGO_PKG_VERSION"), " (jwks fetch)"))
        .build()
        .map_err(FetchError::Transport)?;
    Ok(HTTP.get_or_init(|| http))
}

/// The cache lifetime one `Cache-Control` header value grants, if it says.
fn cache_max_age(header: &str) -> Option<u64> {
    let mut max_age = None;
    for directive in header.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = value.trim_matches('"').parse().ok();
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_values() {
        let table = [
            ("max-age=300", Some(300)),
            ("public, max-age=86400, must-revalidate", Some(86400)),
            ("Max-Age=\"60\"", Some(60)),
            ("no-store", Some(0)),
            ("max-age=600, no-cache", Some(0)),
            ("public", None),
            ("max-age=soon", None),
            ("", None),
        ];
        for (header, expected) in table {
            assert_eq!(cache_max_age(header), expected, "{header}");
        }
    }

    #[test]
    fn only_https_or_loopback_http() {
        let table = [
            ("https://app.example/jwks.json", true),
            ("https://10.0.0.5/jwks.json", true),
            ("http://127.0.0.1:8080/jwks.json", true),
            ("http://127.9.9.9/jwks.json", true),
            ("http://[::1]:9000/jwks", true),
            ("http://LOCALHOST/jwks", true),
            ("http://app.example/jwks.json", false),
            ("http://10.0.0.5/jwks.json", false),
            ("http://localhost.evil.example/jwks", false),
            ("http://[::ffff:7f00:1]/jwks", false),
            ("ftp://app.example/jwks.json", false),
            ("file:///etc/passwd", false),
        ];
        for (url, allowed) in table {
            assert_eq!(check_url(&Url::parse(url).unwrap()).is_ok(), allowed, "{url}");
        }
    }
}
