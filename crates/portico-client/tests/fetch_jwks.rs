//! `fetch_jwks` against a small HTTP server on 127.0.0.1 that answers each way a JWKS URL can:
//! a good set with caching headers, a redirect, an error status, a body over the limit (declared or
//! endless), and silence.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use portico_client::{fetch_jwks, FetchError, FetchedJwks, JWKS_FETCH_MAX_BYTES, JWKS_FETCH_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-384","kid":"ec-1","x":"AA","y":"AA"}]}"#;

#[derive(Clone)]
enum Reply {
    Fixed(String),
    /// A chunked 200 whose body never ends: the server writes until the client hangs up (at most
    /// 64 MiB) and counts what it managed to send.
    Endless(Arc<AtomicUsize>),
    /// Reads the request and never answers.
    Silent,
}

struct Server {
    url: String,
    requests: Arc<AtomicUsize>,
}

async fn serve(reply: Reply) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer(stream, reply.clone()));
        }
    });
    Server { url, requests }
}

async fn answer(mut stream: TcpStream, reply: Reply) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request).to_ascii_lowercase();
    assert!(request.starts_with("get /.well-known/jwks.json "), "{request}");
    assert!(request.contains("accept: application/jwk-set+json"), "{request}");
    match reply {
        Reply::Fixed(text) => {
            let _ = stream.write_all(text.as_bytes()).await;
        }
        Reply::Endless(sent) => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
            for _ in 0..4096 {
                if stream.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
                sent.fetch_add(0x4000, Ordering::SeqCst);
            }
        }
        Reply::Silent => std::future::pending::<()>().await,
    }
}

fn response(status: &str, headers: &str, body: &str) -> Reply {
    Reply::Fixed(format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    ))
}

#[tokio::test]
async fn a_good_jwks_comes_back_with_its_cache_lifetime() {
    let table = [("Cache-Control: public, max-age=3600\r\n", Some(3600)), ("Cache-Control: no-store\r\n", Some(0)), ("", None)];
    for (headers, max_age) in table {
        let server = serve(response("200 OK", headers, JWKS)).await;
        let fetched = fetch_jwks(&server.url, JWKS_FETCH_TIMEOUT, JWKS_FETCH_MAX_BYTES).await.unwrap();
        assert_eq!(fetched, FetchedJwks { body: JWKS.to_string(), max_age }, "{headers:?}");
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = serve(response("302 Found", "Location: /elsewhere/jwks.json\r\n", "")).await;
    let err = fetch_jwks(&server.url, JWKS_FETCH_TIMEOUT, JWKS_FETCH_MAX_BYTES).await.unwrap_err();
    assert!(matches!(err, FetchError::Redirect(302)), "{err:?}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 1, "only the registered URL was asked");
}

#[tokio::test]
async fn an_error_status_is_an_error() {
    let server = serve(response("404 Not Found", "", r#"{"keys":[]}"#)).await;
    let err = fetch_jwks(&server.url, JWKS_FETCH_TIMEOUT, JWKS_FETCH_MAX_BYTES).await.unwrap_err();
    assert!(matches!(err, FetchError::Status(404)), "{err:?}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let big = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(JWKS_FETCH_MAX_BYTES));
    let server = serve(response("200 OK", "", &big)).await;
    let err = fetch_jwks(&server.url, JWKS_FETCH_TIMEOUT, JWKS_FETCH_MAX_BYTES).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge(JWKS_FETCH_MAX_BYTES)), "{err:?}");
    // Exactly at the limit is fine.
    let exact = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(100));
    let server = serve(response("200 OK", "", &exact)).await;
    assert_eq!(fetch_jwks(&server.url, JWKS_FETCH_TIMEOUT, exact.len()).await.unwrap().body, exact);
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_the_limit() {
    let sent = Arc::new(AtomicUsize::new(0));
    let server = serve(Reply::Endless(sent.clone())).await;
    let err = fetch_jwks(&server.url, JWKS_FETCH_TIMEOUT, JWKS_FETCH_MAX_BYTES).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge(_)), "{err:?}");
    // The server's writes fail once the client hangs up, long before its 64 MiB: the body was not
    // downloaded past the limit (plus what the socket buffers held).
    assert!(sent.load(Ordering::SeqCst) < 32 * 1024 * 1024, "sent {}", sent.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let server = serve(Reply::Silent).await;
    let timeout = Duration::from_millis(300);
    let err = fetch_jwks(&server.url, timeout, JWKS_FETCH_MAX_BYTES).await.unwrap_err();
    assert!(matches!(err, FetchError::Timeout(t) if t == timeout), "{err:?}");
}

#[tokio::test]
async fn plain_http_off_loopback_is_refused_before_connecting() {
    for url in ["http://app.example/jwks.json", "ftp://app.example/jwks.json", "not a url"] {
        let err = fetch_jwks(url, JWKS_FETCH_TIMEOUT, JWKS_FETCH_MAX_BYTES).await.unwrap_err();
        assert!(matches!(err, FetchError::InsecureUrl | FetchError::BadUrl), "{url}: {err:?}");
    }
    // https is allowed anywhere (and TLS is built in): here nothing listens, so the connection fails.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let err = fetch_jwks(&format!("https://{closed}/jwks.json"), JWKS_FETCH_TIMEOUT, JWKS_FETCH_MAX_BYTES).await.unwrap_err();
    assert!(matches!(err, FetchError::Transport(_)), "{err:?}");
}
