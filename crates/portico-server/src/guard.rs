//! The local service trusts only its own app. A web page the user visits can reach a service on 127.0.0.1:
//! through DNS rebinding (its own host name, re-pointed at 127.0.0.1, so the browser treats the service as
//! that page's origin) or with a cross-site "simple" request (a `text/plain` POST needs no CORS preflight).
//! When `Config::trusted_hosts` is set, this middleware refuses, before any handler runs:
//!
//! - a request whose `Host` (or absolute-form authority) is not a trusted `host:port`: 421 Misdirected
//!   Request, in the error format of the surface asked (FHIR, `/api`, OAuth);
//! - a request to `/api` whose `Origin` is not the service's own: 403 `{code, message}`;
//! - a request to `/api` carrying a body that is not declared `application/json`: 415, which no cross-site
//!   form or simple request can send without a preflight the service never grants.
//!
//! The desktop app talks through reqwest (`Host: 127.0.0.1:port`, no `Origin`, JSON bodies) and passes.
//!
//! The probes `/healthz` and `/readyz` are exempt: they answer a status word and nothing else, and a load
//! balancer or a local monitor checks them by whatever name or address it was given (`localhost:8080`, the
//! machine's IP), which the Host check would refuse with 421 and so mark a healthy service down.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portico_fhir::outcome::IssueCode;

use crate::error::{ApiFailure, FhirError, OAuthError};
use crate::state::AppState;

/// Which protocol a path belongs to, so a refusal speaks its error format.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Surface {
    Fhir,
    Api,
    OAuth,
}

impl Surface {
    fn of(path: &str) -> Surface {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        let tenant_fhir = path
            .strip_prefix("/t/")
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(_, rest)| rest == "fhir" || rest.starts_with("fhir/"));
        if under("/fhir") || tenant_fhir {
            Surface::Fhir
        } else if under("/api") {
            Surface::Api
        } else {
            Surface::OAuth
        }
    }

    fn refuse(self, status: StatusCode, message: &str) -> Response {
        match self {
            Surface::Fhir => FhirError::new(status, IssueCode::Forbidden, message).into_response(),
            Surface::Api => {
                let base = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    ApiFailure::invalid(message)
                } else {
                    ApiFailure::forbidden(message)
                };
                ApiFailure { status, ..base }.into_response()
            }
            Surface::OAuth => OAuthError { status, ..OAuthError::new("invalid_request", message) }.into_response(),
        }
    }
}

pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(trusted) = &state.config().trusted_hosts else {
        return next.run(req).await;
    };
    if crate::health::is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    let surface = Surface::of(req.uri().path());
    if !addressed_to(trusted, &req) {
        tracing::warn!(path = %req.uri().path(), "refused a request for another host");
        return surface.refuse(StatusCode::MISDIRECTED_REQUEST, "this service does not answer requests for this host");
    }
    if surface == Surface::Api {
        let headers = req.headers();
        if !same_origin(trusted, headers) {
            tracing::warn!(path = %req.uri().path(), "refused a cross-origin request");
            return surface.refuse(StatusCode::FORBIDDEN, "cross-origin requests are not accepted");
        }
        if carries_body(headers) && !declares_json(headers) {
            return surface.refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the request body must be application/json");
        }
    }
    next.run(req).await
}

/// Every authority the request names (the `Host` header, and the request target's if it is absolute) is a
/// trusted one, and there is at least one.
fn addressed_to(trusted: &[String], req: &Request) -> bool {
    let host = req.headers().get(header::HOST).map(|v| v.to_str().ok());
    let target = req.uri().authority().map(|a| Some(a.as_str()));
    let named: Vec<Option<&str>> = host.into_iter().chain(target).collect();
    !named.is_empty() && named.iter().all(|n| n.is_some_and(|n| trusted.iter().any(|t| t.eq_ignore_ascii_case(n))))
}

/// No `Origin` (not a browser, or a same-origin navigation), or exactly the service's own.
fn same_origin(trusted: &[String], headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    trusted.iter().any(|t| ["http", "https"].iter().any(|scheme| origin.eq_ignore_ascii_case(&format!("{scheme}://{t}"))))
}

fn carries_body(headers: &HeaderMap) -> bool {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::trim);
    headers.contains_key(header::TRANSFER_ENCODING) || declared.is_some_and(|n| n != "0")
}

fn declares_json(headers: &HeaderMap) -> bool {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn origins() {
        let trusted = vec!["127.0.0.1:8080".to_owned()];
        for (origin, ok) in [
            (None, true),
            (Some("http://127.0.0.1:8080"), true),
            (Some("HTTP://127.0.0.1:8080"), true),
            (Some("http://127.0.0.1:8081"), false),
            (Some("http://localhost:8080"), false),
            (Some("http://attacker.example"), false),
            (Some("null"), false),
            (Some("http://127.0.0.1:8080.attacker.example"), false),
        ] {
            let h = origin.map(|o| headers(&[(header::ORIGIN, o)])).unwrap_or_default();
            assert_eq!(same_origin(&trusted, &h), ok, "{origin:?}");
        }
    }

    #[test]
    fn bodies_and_media_types() {
        for (pairs, body, json) in [
            (vec![], false, false),
            (vec![(header::CONTENT_LENGTH, "0")], false, false),
            (vec![(header::CONTENT_LENGTH, "12"), (header::CONTENT_TYPE, "application/json")], true, true),
            (vec![(header::CONTENT_LENGTH, "12"), (header::CONTENT_TYPE, "Application/JSON; charset=utf-8")], true, true),
            (vec![(header::TRANSFER_ENCODING, "chunked"), (header::CONTENT_TYPE, "text/plain")], true, false),
            (vec![(header::CONTENT_LENGTH, "12"), (header::CONTENT_TYPE, "application/jsonp")], true, false),
            (vec![(header::CONTENT_LENGTH, "12"), (header::CONTENT_TYPE, "application/x-www-form-urlencoded")], true, false),
        ] {
            let h = headers(&pairs);
            assert_eq!((carries_body(&h), declares_json(&h)), (body, json), "{pairs:?}");
        }
    }

    #[test]
    fn surfaces() {
        for (path, surface) in [
            ("/fhir", Surface::Fhir),
            ("/fhir/Patient/1", Surface::Fhir),
            ("/fhirx", Surface::OAuth),
            ("/api/session", Surface::Api),
            ("/apis", Surface::OAuth),
            ("/oauth/token", Surface::OAuth),
            ("/.well-known/smart-configuration", Surface::OAuth),
        ] {
            assert!(Surface::of(path) == surface, "{path}");
        }
    }
}
