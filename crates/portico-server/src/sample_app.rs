//! The sample SMART app at `/sample-app/`: static files from `Config::sample_app_dir` (the built
//! `sample-app/dist`), served to browsers on the service's own origin, so the app talks to `/oauth` and
//! `/fhir` without CORS.
//!
//! Only plain files inside that directory are served: a request path is a list of segments made of
//! `[A-Za-z0-9._-]` (no `..`, no hidden files, no percent-escapes, which a build's file names never
//! need), with an extension from a fixed table that gives its content type; the file found must resolve
//! (symlinks followed) to a place inside the directory. Everything else is a 404. Each answer carries a
//! Content-Security-Policy that lets the app reach only its own origin. Without a directory (or without
//! its `index.html`) every path answers one HTML page that says how to build the app.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// Where the app is served; `/api/info` advertises `{base_url}{PATH}` when it is installed.
pub(crate) const PATH: &str = "/sample-app/";

/// The app loads its own scripts and styles and talks to the service on the same origin, nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const NOT_INSTALLED: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sample app not installed · Portico</title>
<link rel="stylesheet" href="/oauth/assets/pages.css"></head>
<body><main class="page"><h1>The sample app is not installed</h1>
<p>This Portico service has no sample SMART app to serve. Build it from the repository and point the
service at the result:</p>
<pre>cd sample-app &amp;&amp; npm ci &amp;&amp; npm run build
portico serve --demo --sample-app-dir sample-app/dist</pre>
</main></body></html>
"#;

const NOT_FOUND: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not found · Portico</title>
<link rel="stylesheet" href="/oauth/assets/pages.css"></head>
<body><main class="page"><h1>Not found</h1><p>The sample app has no such file.
<a href="/sample-app/">Open the sample app</a>.</p></main></body></html>
"#;

/// The directory, when it holds a built app.
pub(crate) fn installed_dir(dir: Option<&Path>) -> Option<&Path> {
    dir.filter(|d| d.join("index.html").is_file())
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/sample-app", get(redirect_to_root)).route(PATH, get(file)).route("/sample-app/{*path}", get(file))
}

/// `GET /sample-app`: the app's relative links need the trailing slash.
async fn redirect_to_root() -> Redirect {
    Redirect::permanent(PATH)
}

/// `GET /sample-app/{*path}`.
async fn file(State(state): State<AppState>, uri: Uri) -> Response {
    let Some(root) = installed_dir(state.config().sample_app_dir.as_deref()).map(Path::to_owned) else {
        return page(StatusCode::NOT_FOUND, NOT_INSTALLED);
    };
    let rest = uri.path().strip_prefix(PATH).unwrap_or_default();
    let Some((relative, content_type)) = resolve(rest) else {
        return page(StatusCode::NOT_FOUND, NOT_FOUND);
    };
    match read_inside(root, relative).await {
        Some(bytes) => {
            let mut r = (StatusCode::OK, bytes).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            // Vite names assets by content hash, so only the HTML must be asked for afresh.
            let cache = if content_type.starts_with("text/html") { "no-cache" } else { "public, max-age=3600" };
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            secure(r)
        }
        None => page(StatusCode::NOT_FOUND, NOT_FOUND),
    }
}

/// The file a request path names, relative to the app's directory, and its content type; `None` for
/// anything that is not a plain file name of a known type.
fn resolve(rest: &str) -> Option<(PathBuf, &'static str)> {
    let rest = if rest.is_empty() || rest.ends_with('/') { format!("{rest}index.html") } else { rest.to_owned() };
    let mut path = PathBuf::new();
    for segment in rest.split('/') {
        let plain = segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if segment.is_empty() || segment.starts_with('.') || !plain {
            return None;
        }
        path.push(segment);
    }
    let ext = path.extension()?.to_str()?;
    Some((path.clone(), content_type(ext)?))
}

fn content_type(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// Reads `relative` under `root` if it is a regular file that stays inside `root` once symlinks are
/// resolved (on a blocking thread: these are small files, but file I/O never runs on the async runtime).
async fn read_inside(root: PathBuf, relative: PathBuf) -> Option<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let root = std::fs::canonicalize(&root).ok()?;
        let full = std::fs::canonicalize(root.join(relative)).ok()?;
        if !full.starts_with(&root) || !std::fs::metadata(&full).ok()?.is_file() {
            return None;
        }
        std::fs::read(&full).ok()
    })
    .await
    .ok()
    .flatten()
}

fn page(status: StatusCode, body: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    secure(r)
}

fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The redirect back carries the authorization code in the query; no other site may see it.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_files_of_known_types_resolve() {
        for (rest, expected) in [
            ("", Some(("index.html", "text/html; charset=utf-8"))),
            ("launch.html", Some(("launch.html", "text/html; charset=utf-8"))),
            ("assets/index-4f2a_B.js", Some(("assets/index-4f2a_B.js", "text/javascript; charset=utf-8"))),
            ("assets/", Some(("assets/index.html", "text/html; charset=utf-8"))),
            ("assets/app.css", Some(("assets/app.css", "text/css; charset=utf-8"))),
            ("../secret.html", None),
            ("assets/../../x.js", None),
            ("..", None),
            ("%2e%2e/x.js", None),
            ("assets//x.js", None),
            (".env", None),
            ("assets/.hidden.js", None),
            ("a\\..\\b.js", None),
            ("index.php", None),
            ("Makefile", None),
            ("x.js\0.html", None),
        ] {
            let got = resolve(rest);
            let got = got.as_ref().map(|(p, t)| (p.to_str().unwrap_or("?"), *t));
            assert_eq!(got, expected, "{rest:?}");
        }
    }
}
