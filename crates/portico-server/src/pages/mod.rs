//! The server-rendered pages of `/oauth/authorize`: sign-in, patient picker, consent and error, plus the one
//! stylesheet they share.
//!
//! Pure rendering: each page is a function from a view model to HTML. What a page shows, where its form
//! posts and which hidden fields it carries are decided by the authorize flow, never here; this module
//! knows nothing of sessions, codes or the store. Templates are minijinja with HTML autoescaping (every
//! template name ends in `.html`), and a link is only ever rendered as a link when its URL is http(s):
//! an app's homepage or privacy policy is text the developer typed, so `javascript:` and friends are shown
//! as plain text. The pages need no JavaScript; the consent page loads one optional script that refreshes
//! its preview as boxes are ticked (by posting the form with `action=preview` and reading back the page), so
//! a preview post must not consume anything single-use (a CSRF token, the request id).
//!
//! Every page posts back to `action` with its `hidden` fields and a submit button named `action`:
//! - sign-in: `username`, `password`, `action=sign_in`;
//! - patient picker: `q` with `action=search` (the search form), or `patient` with `action=select_patient`;
//! - consent: `scope` (repeated: the resource scopes and category scopes left ticked, and every scope that
//!   has no checkbox), `end_date` (yyyy-mm-dd, may be empty), and `action` = `preview`, `allow` or `deny`.
//!   A posted form is the user's wish, not a grant: the flow intersects it with what was requested.

use std::sync::LazyLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, Value};
use minijinja::{context, Environment, UndefinedBehavior};
use serde::Serialize;

#[cfg(test)]
mod tests;

/// Where the flow must serve [`stylesheet`]; the pages link to it.
pub const STYLESHEET_PATH: &str = "/oauth/assets/pages.css";
/// Where the flow must serve [`consent_script`]; the consent page loads it.
pub const CONSENT_SCRIPT_PATH: &str = "/oauth/assets/consent.js";

const STYLESHEET: &str = include_str!("pages.css");
/// Optional: updates the consent page's preview as boxes are ticked. The page works without it.
const CONSENT_SCRIPT: &str = include_str!("consent.js");

/// Hidden form fields, `(name, value)`, carried by every form of a page: the authorize request's
/// parameters or an opaque request id, as the flow chooses.
pub type HiddenFields = Vec<(String, String)>;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A template failed to render: a bug in a template or a view model, never the user's input.
    #[error("page template failed: {0}")]
    Template(#[from] minijinja::Error),
    /// A template did not parse when the pages were first used.
    #[error("page templates failed to load: {0}")]
    Setup(String),
}

impl IntoResponse for PageError {
    /// A page that cannot be rendered still answers in HTML, from a fixed text (no template involved).
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "page rendering failed");
        html(StatusCode::INTERNAL_SERVER_ERROR, FALLBACK_ERROR_PAGE.to_owned())
    }
}

const FALLBACK_ERROR_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Something went wrong</title></head><body><main><h1>Something went wrong</h1>\
<p>Portico could not show this page. Please close this window and try again from the app.</p></main></body></html>";

#[derive(Debug, Clone, Serialize)]
pub struct SignInView {
    pub app_name: String,
    pub app_homepage: Option<String>,
    /// Shown above the form and tied to both inputs (e.g. "Wrong username or password").
    pub error: Option<String>,
    /// Kept after a failed attempt, so only the password is typed again.
    pub username: String,
    pub hidden: HiddenFields,
    pub action: String,
    /// The Portico desktop app signing in through the browser (not a third-party app asking for data).
    pub desktop: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PickerView {
    pub app_name: String,
    /// The search as typed; empty before the first search.
    pub query: String,
    pub patients: Vec<PatientRow>,
    pub hidden: HiddenFields,
    pub action: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatientRow {
    pub id: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    /// The medical record number, shown instead of the id when there is one.
    pub mrn: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsentView {
    pub app: AppInfo,
    /// Who is signed in, e.g. "Amy Shaw (amy)".
    pub user_display: String,
    /// Whose record the app would read; `None` when no patient is in context.
    pub patient_display: Option<String>,
    /// Every requested scope, in the request's order. Rows with a `resource_type` get a checkbox; the
    /// others (openid, fhirUser, launch/patient, offline_access) are listed in words and posted as they are.
    pub scopes: Vec<ScopeRow>,
    pub openid: bool,
    pub fhir_user: bool,
    pub offline_access: bool,
    /// The end date's current value (yyyy-mm-dd): the default, or what the user chose before a preview.
    pub default_end_date: Option<String>,
    /// Earliest date the date input offers (yyyy-mm-dd), usually today; the flow checks it again.
    pub min_end_date: Option<String>,
    /// Records the app would receive with the current choices, per resource type.
    pub preview: Vec<(String, u64)>,
    /// A problem with the submitted choices (e.g. an end date in the past), tied to the form.
    pub error: Option<String>,
    pub hidden: HiddenFields,
    pub action: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    pub name: String,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub privacy_policy: Option<String>,
    /// Names of the practices that approved the app.
    pub approved_by: Vec<String>,
    pub developer: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeRow {
    /// The scope string, posted as `scope` when ticked.
    pub value: String,
    /// The scope in plain words, e.g. "Read and search your lab results and vital signs".
    pub description: String,
    pub resource_type: Option<String>,
    pub checked: bool,
    /// Narrower `?category=` scopes offered instead of the whole type (Observation, Condition).
    pub categories: Vec<CategoryRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryRow {
    /// The category scope string, posted as `scope` when ticked.
    pub value: String,
    pub label: String,
    pub checked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    pub title: String,
    pub message: String,
    /// Technical detail for the app's developer (e.g. the OAuth error code), folded away.
    pub details: Option<String>,
}

pub fn sign_in(view: &SignInView) -> Result<String, PageError> {
    render("sign_in.html", Value::from(Serde(view)))
}

pub fn patient_picker(view: &PickerView) -> Result<String, PageError> {
    render("patient_picker.html", Value::from(Serde(view)))
}

pub fn consent(view: &ConsentView) -> Result<String, PageError> {
    let total: u64 = view.preview.iter().map(|(_, n)| n).sum();
    render("consent.html", context! { preview_total => total, ..Value::from(Serde(view)) })
}

pub fn error_page(view: &ErrorView) -> Result<String, PageError> {
    render("error.html", Value::from(Serde(view)))
}

/// A rendered page as a response, with the headers every authorization page needs: never cached (it
/// carries a user's data and a request in flight), never framed (a framed consent page is clickjacking),
/// no referrer (the URL carries the authorize request), and no script or style from elsewhere (the
/// consent script fetches its own page, hence `connect-src 'self'`). No
/// `form-action` directive: browsers apply it to the redirect that follows a posted form, which goes to
/// the app.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// `GET /oauth/assets/pages.css`.
pub async fn stylesheet() -> Response {
    asset(STYLESHEET, "text/css; charset=utf-8")
}

/// `GET /oauth/assets/consent.js`.
pub async fn consent_script() -> Response {
    asset(CONSENT_SCRIPT, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Short: the assets change with the binary and their URLs carry no version.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn render(name: &str, ctx: Value) -> Result<String, PageError> {
    let env = ENVIRONMENT.as_ref().map_err(|e| PageError::Setup(e.clone()))?;
    let template = env.get_template(name)?;
    Ok(template.render(context! { stylesheet => STYLESHEET_PATH, consent_script => CONSENT_SCRIPT_PATH, ..ctx })?)
}

/// Built once; a template that does not parse is kept as an error that every render reports (tests parse
/// them all, so it cannot reach a user unnoticed).
static ENVIRONMENT: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A misspelt variable is an error in a test, not an empty spot on a consent page.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Block tags on their own lines leave no blank lines behind, so the HTML stays readable.
    env.set_syntax(SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build().map_err(|e| e.to_string())?);
    env.add_test("http_url", |v: Value| v.as_str().is_some_and(is_http_url));
    env.add_filter("long_date", long_date);
    for (name, source) in TEMPLATES {
        env.add_template(name, source).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(env)
});

const TEMPLATES: [(&str, &str); 6] = [
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("sign_in.html", include_str!("templates/sign_in.html")),
    ("patient_picker.html", include_str!("templates/patient_picker.html")),
    ("consent.html", include_str!("templates/consent.html")),
    ("error.html", include_str!("templates/error.html")),
];

/// "2027-02-23" → "23 February 2027": a date in words cannot be misread as month-first or day-first. Any
/// other text is shown as it is.
fn long_date(s: &str) -> String {
    match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(date) => date.format("%-d %B %Y").to_string(),
        Err(_) => s.to_owned(),
    }
}

/// Only absolute http(s) URLs with a host become links; anything else (`javascript:`, `data:`, relative
/// paths) is shown as text.
fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
}
