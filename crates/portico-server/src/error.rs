//! The three wire formats of errors: RFC 6749 JSON for OAuth, OperationOutcome for FHIR, `{code, message}`
//! for the management API. Internal details are logged here and never returned.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use portico_api::{ApiError, ErrorCode};
use portico_fhir::outcome::{operation_outcome, IssueCode};

use crate::state::Unavailable;

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Set when the client authenticated with HTTP Basic: the 401 then challenges with Basic (RFC 6749 §5.2).
    pub basic_challenge: bool,
    /// Seconds to wait, for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
        OAuthError { status, error, description: description.into(), basic_challenge: false, retry_after: None }
    }

    pub fn server() -> OAuthError {
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "internal error".into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    /// 429 with `Retry-After` (RFC 6585): too many failed attempts for this client or account.
    pub fn throttled(retry_after: u64) -> OAuthError {
        OAuthError {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(retry_after),
            ..OAuthError::new("invalid_request", format!("too many failed attempts; try again in {retry_after} s"))
        }
    }
}

impl From<Unavailable> for OAuthError {
    fn from(u: Unavailable) -> OAuthError {
        match u {
            // `temporarily_unavailable` is RFC 6749's own code for this.
            Unavailable::Busy => OAuthError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(BUSY_RETRY_SECS),
                ..OAuthError::new("temporarily_unavailable", "the service is busy; try again shortly")
            },
            Unavailable::Broken => OAuthError::server(),
        }
    }
}

impl From<portico_store::StoreError> for OAuthError {
    fn from(e: portico_store::StoreError) -> OAuthError {
        Unavailable::from(e).into()
    }
}

/// What a 503 asks the client to wait.
const BUSY_RETRY_SECS: u64 = 1;

fn retry_after(r: &mut Response, secs: Option<u64>) {
    if let Some(v) = secs.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// Answers that carry a token, a session or a secret must never be cached (RFC 6749 §5.1): token responses
/// and OAuth errors, sign-in, and the show-once secret of a new or regenerated credential.
pub fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// RFC 6749 §5.2 allows only `%x20-21 / %x23-5B / %x5D-7E` in `error_description`; a description that
/// repeats client input (a grant type, a scope) could carry anything else, so those become `?`.
fn rfc6749_text(s: &str) -> String {
    s.chars().map(|c| if matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e') { c } else { '?' }).collect()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "error_description": rfc6749_text(&self.description) });
        let mut r = (self.status, Json(body)).into_response();
        if self.basic_challenge && self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"portico\""));
        }
        retry_after(&mut r, self.retry_after);
        no_store(r)
    }
}

/// A FHIR error: status plus an OperationOutcome.
#[derive(Debug, Clone)]
pub struct FhirError {
    pub status: StatusCode,
    pub code: IssueCode,
    pub message: String,
    pub retry_after: Option<u64>,
    /// A 401 for a request that sent no token at all: RFC 6750 §3.1 says the challenge then carries no
    /// error code (there was no token to be invalid).
    pub no_token: bool,
}

impl FhirError {
    pub fn new(status: StatusCode, code: IssueCode, message: impl Into<String>) -> FhirError {
        FhirError { status, code, message: message.into(), retry_after: None, no_token: false }
    }
    pub fn token_required() -> FhirError {
        FhirError { no_token: true, ..FhirError::unauthorized("an access token is required (Authorization: Bearer)") }
    }
    pub fn bad_request(m: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::BAD_REQUEST, IssueCode::Invalid, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::UNAUTHORIZED, IssueCode::Login, m)
    }
    pub fn forbidden(m: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::FORBIDDEN, IssueCode::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> FhirError {
        FhirError::new(StatusCode::NOT_FOUND, IssueCode::NotFound, m)
    }
    pub fn internal() -> FhirError {
        FhirError::new(StatusCode::INTERNAL_SERVER_ERROR, IssueCode::Exception, "internal error")
    }
}

impl From<Unavailable> for FhirError {
    fn from(u: Unavailable) -> FhirError {
        match u {
            Unavailable::Busy => FhirError {
                retry_after: Some(BUSY_RETRY_SECS),
                ..FhirError::new(StatusCode::SERVICE_UNAVAILABLE, IssueCode::Transient, "the service is busy; try again shortly")
            },
            Unavailable::Broken => FhirError::internal(),
        }
    }
}

impl From<portico_store::StoreError> for FhirError {
    fn from(e: portico_store::StoreError) -> FhirError {
        Unavailable::from(e).into()
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let body = operation_outcome(self.code, &self.message);
        let mut r = (self.status, [(header::CONTENT_TYPE, FHIR_JSON)], body.to_string()).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge =
                if self.no_token { "Bearer realm=\"portico\"" } else { "Bearer realm=\"portico\", error=\"invalid_token\"" };
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        retry_after(&mut r, self.retry_after);
        r
    }
}

/// A management-API error.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiFailure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiFailure {
        let status = match code {
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiFailure { status, code, message: message.into(), retry_after: None }
    }
    pub fn throttled(retry_after: u64) -> ApiFailure {
        ApiFailure {
            retry_after: Some(retry_after),
            ..ApiFailure::new(ErrorCode::TooManyRequests, format!("too many failed attempts; try again in {retry_after} s"))
        }
    }
    pub fn invalid(m: impl Into<String>) -> ApiFailure {
        ApiFailure::new(ErrorCode::InvalidInput, m)
    }
    pub fn forbidden(m: impl Into<String>) -> ApiFailure {
        ApiFailure::new(ErrorCode::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiFailure {
        ApiFailure::new(ErrorCode::NotFound, m)
    }
    pub fn internal() -> ApiFailure {
        ApiFailure::new(ErrorCode::Internal, "internal error")
    }
}

impl From<Unavailable> for ApiFailure {
    fn from(u: Unavailable) -> ApiFailure {
        match u {
            Unavailable::Busy => ApiFailure {
                retry_after: Some(BUSY_RETRY_SECS),
                ..ApiFailure::new(ErrorCode::Busy, "the service is busy; try again shortly")
            },
            Unavailable::Broken => ApiFailure::internal(),
        }
    }
}

impl From<portico_store::StoreError> for ApiFailure {
    fn from(e: portico_store::StoreError) -> ApiFailure {
        match e {
            portico_store::StoreError::Conflict(m) => ApiFailure::new(ErrorCode::Conflict, m),
            portico_store::StoreError::NotFound => ApiFailure::not_found("not found"),
            e => Unavailable::from(e).into(),
        }
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(ApiError { code: self.code, message: self.message })).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"portico-api\""));
        }
        retry_after(&mut r, self.retry_after);
        r
    }
}

/// `Path`, but a value that does not fit (bad UTF-8, not a number) is answered in FHIR's error format
/// rather than axum's plain-text rejection.
pub struct FhirPath<T>(pub T);

/// `Path` for the management API: a value that does not fit is a `{code, message}` not-found.
pub struct ApiPath<T>(pub T);

async fn path_or<T, S>(
    parts: &mut axum::http::request::Parts,
    state: &S,
    rejection: impl FnOnce() -> Response,
) -> Result<T, Response>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    use axum::extract::FromRequestParts;
    match axum::extract::Path::<T>::from_request_parts(parts, state).await {
        Ok(axum::extract::Path(t)) => Ok(t),
        Err(_) => Err(rejection()),
    }
}

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for FhirPath<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_or(parts, state, || FhirError::not_found("no resource has this address").into_response()).await.map(FhirPath)
    }
}

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_or(parts, state, || ApiFailure::not_found("no such item").into_response()).await.map(ApiPath)
    }
}
