//! Third-party apps (SMART App Launch 2.0): what a registration may say, redirect URIs (RFC 8252), PKCE
//! (RFC 7636) and practice approvals. Pure: the rules, not their storage.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// Who the app acts for: a person who signs in (patient-facing), or itself (a backend system).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppType {
    Patient,
    System,
}

/// Where the app runs. A web server can keep a secret (confidential); native, mobile and browser apps
/// cannot (public); a service is a backend without a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Web,
    Native,
    Browser,
    Service,
}

/// How the app proves it is itself at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A public client: PKCE only.
    None,
    SecretBasic,
    SecretPost,
    PrivateKeyJwt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
    Withdrawn,
}

macro_rules! string_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$(<$t>::$v),*];
            pub fn as_str(self) -> &'static str { match self { $(<$t>::$v => $s),* } }
            pub fn parse(s: &str) -> Option<$t> { Self::ALL.iter().copied().find(|v| v.as_str() == s) }
        }
    };
}
string_enum!(AppType { Patient => "patient", System => "system" });
string_enum!(Platform { Web => "web", Native => "native", Browser => "browser", Service => "service" });
string_enum!(ClientAuth {
    None => "none",
    SecretBasic => "client_secret_basic",
    SecretPost => "client_secret_post",
    PrivateKeyJwt => "private_key_jwt",
});
string_enum!(ApprovalStatus { Pending => "pending", Approved => "approved", Denied => "denied", Withdrawn => "withdrawn" });

impl ClientAuth {
    pub fn uses_secret(self) -> bool {
        matches!(self, ClientAuth::SecretBasic | ClientAuth::SecretPost)
    }
}

/// Why a registration is refused; each message is shown to the developer as is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("redirect URI '{0}': {1}")]
    RedirectUri(String, &'static str),
    #[error("{0}")]
    Inconsistent(&'static str),
    #[error("{0} must be an https URL (http only on 127.0.0.1, localhost or [::1])")]
    Url(&'static str),
}

/// Checks one redirect URI: exact strings are compared later, so it is kept as given. Allowed: `https://`
/// anywhere; `http://` only on a loopback host (RFC 8252 §7.3); a private-use scheme in reverse-domain form
/// such as `com.example.app:/callback` (§7.1). Never a fragment, never a script or data URL.
pub fn check_redirect_uri(uri: &str) -> Result<(), RegistrationError> {
    let bad = |why| Err(RegistrationError::RedirectUri(uri.chars().take(100).collect(), why));
    if uri.is_empty() || uri.len() > 2000 {
        return bad("must be 1 to 2000 characters");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces or control characters");
    }
    if uri.contains('#') {
        return bad("must not contain a fragment (#)");
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return bad("is not an absolute URI");
    };
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "https" => match host_of(rest) {
            Some(h) if !h.is_empty() => Ok(()),
            _ => bad("has no host"),
        },
        "http" => match host_of(rest) {
            Some(h) if is_loopback_host(&h) => Ok(()),
            _ => bad("http is allowed only on 127.0.0.1, localhost or [::1]; use https"),
        },
        s if s.contains('.')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
            && s.starts_with(|c: char| c.is_ascii_alphabetic()) =>
        {
            Ok(())
        }
        _ => bad("use https, http on a loopback address, or a private-use scheme such as com.example.app:/callback"),
    }
}

/// A URL a developer gives for people to follow or for Portico to fetch (homepage, privacy policy, JWKS).
pub fn check_web_url(field: &'static str, url: &str) -> Result<(), RegistrationError> {
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(RegistrationError::Url(field));
    };
    let ok = url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && match scheme.to_ascii_lowercase().as_str() {
            "https" => host_of(rest).is_some_and(|h| !h.is_empty()),
            "http" => host_of(rest).is_some_and(|h| is_loopback_host(&h)),
            _ => false,
        };
    if ok {
        Ok(())
    } else {
        Err(RegistrationError::Url(field))
    }
}

/// The host of `//host[:port]/...`, lower-cased, brackets kept for IPv6.
fn host_of(rest: &str) -> Option<String> {
    let authority = rest.strip_prefix("//")?.split(['/', '?']).next()?;
    if authority.contains('@') {
        return None;
    }
    let host = if authority.starts_with('[') { authority.split_inclusive(']').next()? } else { authority.split(':').next()? };
    Some(host.to_ascii_lowercase())
}

/// Does a presented redirect URI match a registered one? Exactly, except that a loopback `http` URI matches
/// on any port (RFC 8252 §7.3: a native app listens on whichever port the OS gives it).
pub fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let loopback = |u: &str| -> Option<(String, String)> {
        let rest = u.strip_prefix("http://")?;
        let (authority, path) = rest.find(['/', '?']).map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
        let host =
            if authority.starts_with('[') { authority.split_inclusive(']').next()? } else { authority.split(':').next()? };
        let port = &authority[host.len()..];
        if !(port.is_empty() || (port.len() > 1 && port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit()))) {
            return None;
        }
        // `localhost` is a name that can be re-pointed; RFC 8252 §8.3 leaves its port fixed.
        matches!(host, "127.0.0.1" | "[::1]").then(|| (host.to_owned(), path.to_owned()))
    };
    matches!((loopback(registered), loopback(presented)), (Some(a), Some(b)) if a == b)
}

/// Is `origin` (as a browser sends it: `scheme://host[:port]`) the origin of the registered redirect URI
/// `registered`? A loopback `http` URI's origin has any port, as its redirects do.
pub fn origin_of_redirect_matches(registered: &str, origin: &str) -> bool {
    let Some((scheme, rest)) = registered.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let exact = format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase());
    if origin.eq_ignore_ascii_case(&exact) {
        return true;
    }
    // The same check as for redirects: a loopback URI with the origin's path appended.
    redirect_uri_matches(&format!("{exact}/"), &format!("{origin}/"))
}

pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// The combination rules of a registration: a system app authenticates with a key (never a secret), a
/// public client is a native or browser app, and a patient-facing app has somewhere to send people back.
pub fn check_registration(
    app_type: AppType,
    platform: Platform,
    auth: ClientAuth,
    redirect_uris: &[String],
    has_keys: bool,
) -> Result<(), RegistrationError> {
    use RegistrationError::Inconsistent as No;
    match app_type {
        AppType::System => {
            if auth != ClientAuth::PrivateKeyJwt {
                return Err(No("a system app authenticates with private_key_jwt (a secret is never accepted for it)"));
            }
            if platform != Platform::Service {
                return Err(No("a system app runs as a service"));
            }
        }
        AppType::Patient => {
            if platform == Platform::Service {
                return Err(No("a patient-facing app runs on the web, natively or in a browser"));
            }
            if redirect_uris.is_empty() {
                return Err(No("a patient-facing app needs at least one redirect URI"));
            }
            if auth == ClientAuth::None && platform == Platform::Web {
                return Err(No("a web server app can keep a secret: choose client_secret_basic or private_key_jwt"));
            }
        }
    }
    if auth == ClientAuth::PrivateKeyJwt && !has_keys {
        return Err(No("private_key_jwt needs a JWKS or a JWKS URL"));
    }
    if auth != ClientAuth::PrivateKeyJwt && has_keys {
        return Err(No("a JWKS is only used with private_key_jwt"));
    }
    if redirect_uris.len() > 20 {
        return Err(No("at most 20 redirect URIs"));
    }
    for uri in redirect_uris {
        check_redirect_uri(uri)?;
    }
    Ok(())
}

/// PKCE S256 (RFC 7636 §4.6): the verifier is 43–128 unreserved characters and its SHA-256, base64url
/// without padding, equals the challenge. Compared in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

/// A challenge as a client may send it: 43 base64url characters (a SHA-256).
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        for (uri, ok) in [
            ("https://app.example.com/callback", true),
            ("https://app.example.com:8443/cb?x=1", true),
            ("http://127.0.0.1:5173/callback", true),
            ("http://localhost/cb", true),
            ("http://[::1]:9000/cb", true),
            ("com.example.app:/oauth2redirect", true),
            ("http://app.example.com/callback", false),
            ("http://127.0.0.1.evil.com/cb", false),
            ("http://localhost@evil.com/cb", false),
            ("https://app.example.com/cb#frag", false),
            ("javascript:alert(1)", false),
            ("data:text/html,hi", false),
            ("myapp:/cb", false),
            ("/relative", false),
            ("https:///nohost", false),
            ("https://a.example/ cb", false),
            ("", false),
        ] {
            assert_eq!(check_redirect_uri(uri).is_ok(), ok, "{uri}");
        }
    }

    #[test]
    fn loopback_redirects_match_on_any_port() {
        for (registered, presented, ok) in [
            ("https://a.example/cb", "https://a.example/cb", true),
            ("https://a.example/cb", "https://a.example/cb?x", false),
            ("https://a.example:443/cb", "https://a.example:444/cb", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb", true),
            ("http://127.0.0.1:8080/cb", "http://127.0.0.1:51234/cb", true),
            ("http://[::1]/cb", "http://[::1]:4000/cb", true),
            ("http://127.0.0.1/cb", "http://127.0.0.1:51234/other", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1:51234@evil.example/cb", false),
            ("http://127.0.0.1/cb", "http://127.0.0.1.evil.example/cb", false),
            ("http://localhost/cb", "http://localhost:4000/cb", false),
            ("http://127.0.0.1/cb", "http://[::1]:4000/cb", false),
        ] {
            assert_eq!(redirect_uri_matches(registered, presented), ok, "{registered} vs {presented}");
        }
    }

    #[test]
    fn origins_of_redirect_uris() {
        for (registered, origin, ok) in [
            ("https://app.example/cb", "https://app.example", true),
            ("https://app.example:8443/cb", "https://app.example:8443", true),
            ("https://app.example/cb", "https://evil.example", false),
            ("https://app.example/cb", "http://app.example", false),
            ("http://127.0.0.1/sample-app/", "http://127.0.0.1:49152", true),
            ("http://127.0.0.1/sample-app/", "http://127.0.0.1.evil.example:80", false),
            ("com.example.app:/cb", "null", false),
        ] {
            assert_eq!(origin_of_redirect_matches(registered, origin), ok, "{registered} vs {origin}");
        }
    }

    #[test]
    fn registrations() {
        let https = vec!["https://a.example/cb".to_owned()];
        use AppType::*;
        use ClientAuth as A;
        use Platform::*;
        for (t, p, a, uris, keys, ok) in [
            (Patient, Web, A::SecretBasic, https.clone(), false, true),
            (Patient, Native, A::None, https.clone(), false, true),
            (Patient, Browser, A::None, https.clone(), false, true),
            (Patient, Web, A::PrivateKeyJwt, https.clone(), true, true),
            (Patient, Web, A::None, https.clone(), false, false),
            (Patient, Web, A::SecretBasic, vec![], false, false),
            (Patient, Web, A::PrivateKeyJwt, https.clone(), false, false),
            (Patient, Web, A::SecretBasic, https.clone(), true, false),
            (Patient, Service, A::SecretBasic, https.clone(), false, false),
            (System, Service, A::PrivateKeyJwt, vec![], true, true),
            (System, Service, A::SecretBasic, vec![], false, false),
            (System, Web, A::PrivateKeyJwt, vec![], true, false),
            (Patient, Web, A::SecretBasic, vec!["http://a.example/cb".to_owned()], false, false),
        ] {
            assert_eq!(check_registration(t, p, a, &uris, keys).is_ok(), ok, "{t:?} {p:?} {a:?} {uris:?} {keys}");
        }
    }

    #[test]
    fn pkce() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_s256_challenge(challenge));
        for (v, c, ok) in [
            (verifier, challenge, true),
            ("", challenge, false),
            (challenge, challenge, false),
            ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", challenge, false),
            ("short", challenge, false),
        ] {
            assert_eq!(pkce_matches(v, c), ok, "{v}");
        }
        assert!(!is_s256_challenge("plain-challenge"));
    }

    #[test]
    fn names_round_trip() {
        for s in ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"] {
            assert_eq!(ClientAuth::parse(s).map(ClientAuth::as_str), Some(s));
        }
        assert_eq!(AppType::parse("system"), Some(AppType::System));
        assert_eq!(Platform::parse("desktop"), None);
        assert_eq!(ApprovalStatus::parse("approved"), Some(ApprovalStatus::Approved));
    }
}
