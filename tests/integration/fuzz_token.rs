//! The token endpoint fuzzed over a real socket: arbitrary form bodies, Authorization headers (Basic with
//! random base64, other schemes), content types and methods never get a 5xx, every refusal is RFC 6749
//! JSON that is not cached, and a Basic attempt that fails client authentication is challenged (§5.2).
//!
//! Bounded: 256 requests by default, `PROPTEST_CASES=N` for more or fewer.

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::harness::TestServer;

/// RFC 6749 §5.2 error codes, plus the registered codes a throttled token endpoint may answer with.
const ERROR_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "slow_down",
    "temporarily_unavailable",
];

/// A part of a request that may be the real credential, known only once the server runs.
#[derive(Debug, Clone)]
enum Piece {
    ClientId,
    Secret,
    /// The real secret with one character changed: right format and checksum position, wrong value.
    WrongSecret,
    Text(String),
}

impl Piece {
    fn resolve(&self, id: &str, secret: &str) -> String {
        match self {
            Piece::ClientId => id.to_owned(),
            Piece::Secret => secret.to_owned(),
            Piece::WrongSecret => {
                let mut s: Vec<char> = secret.chars().collect();
                if let Some(c) = s.get_mut(12) {
                    *c = if *c == 'a' { 'b' } else { 'a' };
                }
                s.into_iter().collect()
            }
            Piece::Text(t) => t.clone(),
        }
    }
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    /// `Basic base64(id:secret)`, the parts form-urlencoded first when `encode` (§2.3.1).
    Basic {
        id: Piece,
        secret: Piece,
        encode: bool,
    },
    /// `Basic base64(bytes)`: random bytes, possibly not UTF-8, possibly without a colon.
    BasicBytes(Vec<u8>),
    /// Any header value at all, e.g. `Basic !!!`, `Bearer x`, `basic`.
    Raw(String),
}

#[derive(Debug, Clone)]
enum Body {
    Form(Vec<(String, Piece)>),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
struct TokenRequest {
    method: &'static str,
    content_type: Option<String>,
    auth: Auth,
    body: Body,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ".{0,40}",
        2 => "[ -~]{0,40}",
        1 => "[a-z]{200,2000}",
        1 => "(pci|pcs)_(app|dev|prv)_[A-Za-z0-9_-]{0,60}",
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        2 => Just(Piece::ClientId),
        2 => Just(Piece::Secret),
        1 => Just(Piece::WrongSecret),
        3 => text().prop_map(Piece::Text),
    ]
}

fn form_value() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => piece(),
        2 => prop::sample::select(vec!["client_credentials", "authorization_code", "refresh_token", "password", "", "CLIENT_CREDENTIALS"])
            .prop_map(|s| Piece::Text(s.to_owned())),
        2 => prop::sample::select(vec![
            "patient/*.rs", "patient/*.read", "system/*.rs", "user/*.*", "patient/Observation.rs?category=laboratory", "launch/patient",
            "openid fhirUser", "patient/*.rs patient/*.rs", "patient/Spaceship.rs", "patient/*.cruds", " ", "\t",
        ])
        .prop_map(|s| Piece::Text(s.to_owned())),
    ]
}

fn form() -> impl Strategy<Value = Vec<(String, Piece)>> {
    let key = prop_oneof![
        6 => prop::sample::select(vec!["grant_type", "client_id", "client_secret", "scope", "token", "audience"]).prop_map(str::to_owned),
        1 => text(),
    ];
    let valid = prop::collection::vec(form_value(), 4).prop_map(|v| {
        let mut it = v.into_iter();
        let mut next = || it.next().unwrap_or(Piece::Text(String::new()));
        vec![
            ("grant_type".to_owned(), Piece::Text("client_credentials".to_owned())),
            ("client_id".to_owned(), next()),
            ("client_secret".to_owned(), next()),
            ("scope".to_owned(), next()),
        ]
    });
    prop_oneof![
        // Mostly well-formed, so the checks past parsing (credential, secret, scope) are reached too.
        2 => valid,
        3 => prop::collection::vec((key, form_value()), 0..6),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        6 => form().prop_map(Body::Form),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Body::Bytes),
        1 => "[%=&+a-z0-9_]{0,80}".prop_map(|s| Body::Bytes(s.into_bytes())),
    ]
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        3 => Just(Auth::None),
        4 => (piece(), piece(), any::<bool>()).prop_map(|(id, secret, encode)| Auth::Basic { id, secret, encode }),
        1 => prop::collection::vec(any::<u8>(), 0..80).prop_map(Auth::BasicBytes),
        1 => prop_oneof![
            "Basic [ -~]{0,60}",
            "(basic|BASIC|Bearer|Digest) ?[ -~]{0,40}",
            "[ -~]{0,40}",
        ]
        .prop_map(Auth::Raw),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => Just(Some("application/x-www-form-urlencoded".to_owned())),
        2 => prop::sample::select(vec![
            "application/x-www-form-urlencoded; charset=UTF-8",
            "APPLICATION/X-WWW-FORM-URLENCODED",
            "application/x-www-form-urlencodedX",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
        ])
        .prop_map(|s| Some(s.to_owned())),
        1 => Just(None),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

/// A request with the real credential, by either method, and only the scope (and rarely the secret or
/// content type) varied, so the checks past client authentication are reached as often as the rest.
fn well_formed() -> impl Strategy<Value = TokenRequest> {
    let secret = prop_oneof![8 => Just(Piece::Secret), 1 => Just(Piece::WrongSecret)];
    let scope = prop::option::of(form_value());
    let ct = prop_oneof![8 => Just(Some("application/x-www-form-urlencoded".to_owned())), 1 => content_type()];
    (any::<bool>(), any::<bool>(), secret, scope, ct).prop_map(|(basic, encode, secret, scope, content_type)| {
        let mut form = vec![("grant_type".to_owned(), Piece::Text("client_credentials".to_owned()))];
        let auth = if basic {
            Auth::Basic { id: Piece::ClientId, secret, encode }
        } else {
            form.push(("client_id".to_owned(), Piece::ClientId));
            form.push(("client_secret".to_owned(), secret));
            Auth::None
        };
        form.extend(scope.map(|s| ("scope".to_owned(), s)));
        TokenRequest { method: "POST", content_type, auth, body: Body::Form(form) }
    })
}

fn token_request() -> impl Strategy<Value = TokenRequest> {
    let method = prop_oneof![12 => Just("POST"), 1 => prop::sample::select(vec!["GET", "PUT", "DELETE", "PATCH"])];
    let arbitrary = (method, content_type(), auth(), body()).prop_map(|(method, content_type, auth, body)| TokenRequest {
        method,
        content_type,
        auth,
        body,
    });
    prop_oneof![1 => well_formed(), 2 => arbitrary]
}

struct Sent {
    basic_attempted: bool,
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

async fn send(s: &TestServer, http: &reqwest::Client, id: &str, secret: &str, req: &TokenRequest) -> Sent {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let encode = |s: String| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let authorization = match &req.auth {
        Auth::None => None,
        Auth::Basic { id: i, secret: p, encode: e } => {
            let (i, p) = (i.resolve(id, secret), p.resolve(id, secret));
            let (i, p) = if *e { (encode(i), encode(p)) } else { (i, p) };
            Some(format!("Basic {}", b64(format!("{i}:{p}").as_bytes())))
        }
        Auth::BasicBytes(bytes) => Some(format!("Basic {}", b64(bytes))),
        Auth::Raw(v) => Some(v.clone()),
    };
    // Only values that can travel in a header; hyper trims surrounding whitespace, as the server sees it.
    let authorization = authorization.and_then(|a| HeaderValue::from_str(a.trim()).ok());
    let basic_attempted = authorization
        .as_ref()
        .and_then(|a| a.to_str().ok())
        .and_then(|a| a.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    let body: Vec<u8> = match &req.body {
        Body::Form(pairs) => {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                ser.append_pair(k, &v.resolve(id, secret));
            }
            ser.finish().into_bytes()
        }
        Body::Bytes(b) => b.clone(),
    };
    let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("method");
    let mut r = http.request(method, s.config.token_url()).body(body);
    if let Some(ct) = req.content_type.as_deref().and_then(|c| HeaderValue::from_str(c.trim()).ok()) {
        r = r.header(CONTENT_TYPE, ct);
    }
    if let Some(a) = authorization {
        r = r.header(AUTHORIZATION, a);
    }
    let answer = r.send().await.expect("the token endpoint answers");
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.expect("body").to_vec();
    Sent { basic_attempted, status, headers, body }
}

fn check(sent: &Sent) -> Result<(), TestCaseError> {
    let Sent { basic_attempted, status, headers, body } = sent;
    let text = String::from_utf8_lossy(body);
    prop_assert!(*status < 500, "{status}: {text}");
    prop_assert_eq!(headers.get(CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"), "{} {}", status, text);
    let json_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/json"));
    if (200..300).contains(status) {
        prop_assert_eq!(*status, 200);
        prop_assert!(json_type);
        let token: Value = serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert!(token["access_token"].as_str().is_some_and(|t| t.starts_with("pca_")), "{token}");
        prop_assert!(token["token_type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("bearer")), "{token}");
        prop_assert!(token["expires_in"].as_i64().is_some_and(|n| n > 0), "{token}");
        return Ok(());
    }
    prop_assert!((400..500).contains(status), "{status}: {text}");
    prop_assert!(json_type, "{status} answered {:?}: {text}", headers.get(CONTENT_TYPE));
    let error: Value =
        serde_json::from_slice(body).map_err(|e| TestCaseError::fail(format!("{status} not JSON ({e}): {text}")))?;
    let code = error["error"].as_str().unwrap_or_default();
    prop_assert!(ERROR_CODES.contains(&code), "{status}: {error}");
    prop_assert!(error.get("error_description").is_none_or(Value::is_string), "{error}");
    // RFC 6749 §5.2: the description's characters are %x20-21 / %x23-5B / %x5D-7E.
    let description = error["error_description"].as_str().unwrap_or_default();
    prop_assert!(
        description.chars().all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')),
        "error_description outside RFC 6749's character set: {error}"
    );
    if *basic_attempted && code == "invalid_client" {
        prop_assert_eq!(*status, 401, "{}", error);
        let challenge = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        prop_assert!(challenge.starts_with("Basic"), "a failed Basic attempt is challenged: {error}");
    }
    Ok(())
}

/// A sync test with its own runtime: proptest drives the cases, each one a real request.
#[test]
fn token_endpoint_survives_arbitrary_requests() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (server, issued) = rt.block_on(async {
        let s = TestServer::start().await;
        let (_patient, issued) = s.patient_app("Fuzzed app").await;
        (s, issued)
    });
    let http = reqwest::Client::new();
    let mut runner = TestRunner::new(Config::default());
    let result = runner.run(&token_request(), |req| {
        let sent = rt.block_on(send(&server, &http, &issued.client_id, &issued.client_secret, &req));
        check(&sent)
    });
    rt.block_on(server.stop());
    if let Err(e) = result {
        panic!("{e}");
    }
}
