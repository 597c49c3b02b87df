//! A typed client of Portico's management API and of its OAuth and FHIR endpoints, over reqwest.
//!
//! The desktop app and the CLI's demo speak to the service only through this crate, whether the service
//! runs embedded on 127.0.0.1 or remotely: one code path. Owns HTTP client concerns (URLs, headers, error
//! decoding); knows nothing about storage or the server's internals.

use portico_api as wire;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

mod jwks;
pub mod signin;
mod smart;
pub use jwks::{fetch_jwks, FetchError, FetchedJwks, JWKS_FETCH_MAX_BYTES, JWKS_FETCH_TIMEOUT};
pub use smart::{AuthorizeRequest, Authorized, SmartApp, SmartToken};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the Portico service: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("{message}")]
    Api { status: u16, code: wire::ErrorCode, message: String },
    #[error("OAuth error {error}: {description}")]
    OAuth { status: u16, error: String, description: String },
    #[error("FHIR error {status}: {diagnostics}")]
    Fhir { status: u16, diagnostics: String, outcome: Value },
    #[error("unexpected response ({status}): {body}")]
    Unexpected { status: u16, body: String },
    #[error("invalid service URL: {0}")]
    Url(String),
}

impl ClientError {
    /// The HTTP status, when the service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. }
            | ClientError::OAuth { status, .. }
            | ClientError::Fhir { status, .. }
            | ClientError::Unexpected { status, .. } => Some(*status),
            ClientError::Transport(e) => e.status().map(|s| s.as_u16()),
            ClientError::Url(_) => None,
        }
    }

    /// The service could not be reached at all (no answer), as opposed to answering with an error: what the
    /// desktop treats as "offline".
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Transport(e) if e.status().is_none())
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// The management API, as one signed-in (or not yet signed-in) user.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    session: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base.as_str()).field("signed_in", &self.session.is_some()).finish()
    }
}

fn parse_base(base: &str) -> Result<Url> {
    let mut url = Url::parse(base).map_err(|e| ClientError::Url(e.to_string()))?;
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    Ok(url)
}

impl Client {
    /// `base` is the service root, e.g. `http://127.0.0.1:8080`.
    pub fn new(base: &str) -> Result<Client> {
        // A server that does not answer is "offline" after a few seconds, not after the OS's minutes.
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(4))
            .build()
            .map_err(|e| ClientError::Url(format!("the HTTP client could not start: {e}")))?;
        Ok(Client { http, base: parse_base(base)?, session: None })
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// Reuses a session token kept elsewhere (e.g. the OS keychain).
    pub fn with_session(mut self, token: impl Into<String>) -> Client {
        self.session = Some(token.into());
        self
    }

    pub fn session_token(&self) -> Option<&str> {
        self.session.as_deref()
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.base.join(path.trim_start_matches('/')).map_err(|e| ClientError::Url(e.to_string()))
    }

    async fn send<T: DeserializeOwned>(&self, method: Method, path: &str, body: Option<&(impl Serialize + ?Sized)>) -> Result<T> {
        let mut req = self.http.request(method, self.url(path)?);
        if let Some(t) = &self.session {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            let body = if bytes.is_empty() { b"null".as_slice() } else { &bytes[..] };
            return serde_json::from_slice(body).map_err(|_| ClientError::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            });
        }
        Err(api_error(status, &bytes))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(Method::GET, path, None::<&()>).await
    }

    pub async fn sign_in(&mut self, username: &str, password: &str) -> Result<wire::Session> {
        let s: wire::Session = self
            .send(Method::POST, "api/session", Some(&wire::SignIn { username: username.into(), password: password.into() }))
            .await?;
        self.session = Some(s.token.clone());
        Ok(s)
    }

    pub async fn sign_out(&mut self) -> Result<()> {
        let r: Result<Value> = self.send(Method::DELETE, "api/session", None::<&()>).await;
        self.session = None;
        r.map(|_| ())
    }

    pub async fn me(&self) -> Result<wire::User> {
        self.get("api/me").await
    }

    pub async fn info(&self) -> Result<wire::ServiceInfo> {
        self.get("api/info").await
    }

    pub async fn credentials(&self) -> Result<Vec<wire::Credential>> {
        self.get("api/credentials").await
    }

    pub async fn create_credential(&self, req: &wire::NewCredential) -> Result<wire::IssuedSecret> {
        self.send(Method::POST, "api/credentials", Some(req)).await
    }

    pub async fn credential(&self, id: &str) -> Result<wire::Credential> {
        self.get(&format!("api/credentials/{}", seg(id))).await
    }

    pub async fn update_credential(&self, id: &str, change: &wire::CredentialUpdate) -> Result<wire::Credential> {
        self.send(Method::PATCH, &format!("api/credentials/{}", seg(id)), Some(change)).await
    }

    pub async fn regenerate(&self, id: &str, grace_seconds: Option<u32>) -> Result<wire::IssuedSecret> {
        self.send(Method::POST, &format!("api/credentials/{}/regenerate", seg(id)), Some(&wire::Regenerate { grace_seconds }))
            .await
    }

    pub async fn delete_credential(&self, id: &str) -> Result<wire::Deleted> {
        self.send(Method::DELETE, &format!("api/credentials/{}", seg(id)), None::<&()>).await
    }

    /// Revocation receipts of the user's deleted credentials.
    pub async fn receipts(&self) -> Result<Vec<wire::RevocationReceipt>> {
        self.get("api/credentials/deleted").await
    }

    pub async fn preview(&self, id: &str) -> Result<wire::Preview> {
        self.get(&format!("api/credentials/{}/preview", seg(id))).await
    }

    /// A FHIR read or search as the credential sees it; `fhir_path` like `Observation?category=vital-signs`.
    pub async fn preview_fhir(&self, id: &str, fhir_path: &str) -> Result<Value> {
        let mut req = self.http.get(self.url(&format!(
            "api/credentials/{}/preview/fhir/{}",
            seg(id),
            fhir_path.trim_start_matches('/')
        ))?);
        if let Some(t) = &self.session {
            req = req.bearer_auth(t);
        }
        fhir_response(req.send().await?).await
    }

    pub async fn history(&self, id: &str) -> Result<Vec<wire::AccessEvent>> {
        self.get(&format!("api/credentials/{}/history", seg(id))).await
    }

    pub async fn my_audit(&self) -> Result<Vec<wire::AccessEvent>> {
        self.get("api/audit").await
    }

    /// The signed-in patient's whole access history as a file: CSV, or a FHIR R4 Bundle of AuditEvents.
    pub async fn export_access_history(&self, format: wire::AccessHistoryFormat) -> Result<Vec<u8>> {
        let mut url = self.url("api/audit/export")?;
        url.query_pairs_mut().append_pair("format", format.as_str());
        let mut req = self.http.get(url);
        if let Some(t) = &self.session {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(api_error(status, &bytes))
    }

    /// Administrators: one page of the staff keys of their practices (see [`wire::StaffKeyQuery`]).
    pub async fn staff_credentials(&self, query: &wire::StaffKeyQuery) -> Result<wire::Page<wire::StaffKey>> {
        self.get(self.with_query("api/staff-credentials", &query.pairs())?.as_str()).await
    }

    /// Administrators: every staff key of their practices, newest first, page after page.
    pub async fn all_staff_credentials(&self) -> Result<Vec<wire::StaffKey>> {
        let mut out = Vec::new();
        loop {
            let query =
                wire::StaffKeyQuery { offset: Some(out.len() as u64), limit: Some(wire::MAX_PAGE_LIMIT), ..Default::default() };
            let page = self.staff_credentials(&query).await?;
            let done = page.items.is_empty() || out.len() + page.items.len() >= page.total as usize;
            out.extend(page.items);
            if done {
                return Ok(out);
            }
        }
    }

    fn with_query(&self, path: &str, pairs: &[(&str, String)]) -> Result<Url> {
        let mut url = self.url(path)?;
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        Ok(url)
    }

    /// Nudges about the signed-in person's own credentials and connected apps.
    pub async fn nudges(&self) -> Result<Vec<wire::Nudge>> {
        self.get("api/nudges").await
    }

    /// Administrators: nudges over the staff keys of their practices; `unused_days` defaults to 60.
    pub async fn practice_nudges(&self, unused_days: Option<u32>) -> Result<Vec<wire::Nudge>> {
        match unused_days {
            Some(d) => self.get(&format!("api/nudges/practice?unused_days={d}")).await,
            None => self.get("api/nudges/practice").await,
        }
    }

    /// "Got it": the owner acknowledges an access-change notice (the `notice_id` of an `access_changed` nudge).
    pub async fn acknowledge_access_change(&self, notice_id: i64) -> Result<wire::AccessChangeAcknowledged> {
        self.send(Method::POST, &format!("api/nudges/access-changes/{notice_id}/ack"), None::<&()>).await
    }

    /// Administrators: one page of the users they manage (see [`wire::UserQuery`]).
    pub async fn users(&self, query: &wire::UserQuery) -> Result<wire::Page<wire::User>> {
        self.get(self.with_query("api/users", &query.pairs())?.as_str()).await
    }

    /// Administrators: every user they manage, by name, page after page.
    pub async fn all_users(&self) -> Result<Vec<wire::User>> {
        let mut out = Vec::new();
        loop {
            let query =
                wire::UserQuery { offset: Some(out.len() as u64), limit: Some(wire::MAX_PAGE_LIMIT), ..Default::default() };
            let page = self.users(&query).await?;
            let done = page.items.is_empty() || out.len() + page.items.len() >= page.total as usize;
            out.extend(page.items);
            if done {
                return Ok(out);
            }
        }
    }

    /// Administrators: the user with this username, if they manage one.
    pub async fn user_named(&self, username: &str) -> Result<Option<wire::User>> {
        let query = wire::UserQuery { q: Some(username.to_owned()), limit: Some(wire::MAX_PAGE_LIMIT), ..Default::default() };
        Ok(self.users(&query).await?.items.into_iter().find(|u| u.username == username))
    }

    pub async fn create_user(&self, req: &wire::NewUser) -> Result<wire::User> {
        self.send(Method::POST, "api/users", Some(req)).await
    }

    pub async fn set_roles(&self, user: i64, roles: &[&str]) -> Result<wire::User> {
        let body = wire::SetRoles { roles: roles.iter().map(|r| (*r).to_owned()).collect() };
        self.send(Method::PUT, &format!("api/users/{user}/roles"), Some(&body)).await
    }

    pub async fn set_practices(&self, user: i64, practices: &[i64]) -> Result<wire::User> {
        self.send(
            Method::PUT,
            &format!("api/users/{user}/practices"),
            Some(&wire::SetPractices { practices: practices.to_vec() }),
        )
        .await
    }

    /// Patients of the signed-in staff member's practices matching `query` (a name's words, a birth date
    /// `YYYY-MM-DD`, `YYYY-MM` or `YYYY`, an MRN, an id; none: everyone), at most `limit` (the server's default
    /// when absent), exact identifiers first, then by name.
    pub async fn patients(&self, query: Option<&str>, limit: Option<usize>) -> Result<Vec<wire::PatientSummary>> {
        let mut url = self.url("api/patients")?;
        if let Some(q) = query {
            url.query_pairs_mut().append_pair("q", q);
        }
        if let Some(n) = limit {
            url.query_pairs_mut().append_pair("limit", &n.to_string());
        }
        self.get(url.as_str()).await
    }

    /// The summaries of these patients (those of the staff member's practices), by name; asked
    /// [`wire::PATIENTS_MAX_IDS`] at a time.
    pub async fn patients_by_id(&self, ids: &[String]) -> Result<Vec<wire::PatientSummary>> {
        let mut unique: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(id) {
                unique.push(id.clone());
            }
        }
        let mut out: Vec<wire::PatientSummary> = Vec::new();
        for chunk in unique.chunks(wire::PATIENTS_MAX_IDS) {
            let mut url = self.url("api/patients")?;
            url.query_pairs_mut().append_pair("ids", &chunk.join(","));
            let found: Vec<wire::PatientSummary> = self.get(url.as_str()).await?;
            // A server that predates `ids` answers its whole list: keep only what was asked.
            out.extend(found.into_iter().filter(|p| chunk.contains(&p.id)));
        }
        if unique.len() > wire::PATIENTS_MAX_IDS {
            out.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.id.cmp(&b.id)));
        }
        Ok(out)
    }

    pub async fn practices(&self) -> Result<Vec<wire::Practice>> {
        self.get("api/practices").await
    }

    /// What `/api/info` says beyond the URLs: whether sign-up is open, where the sample app is. Read
    /// leniently (absent fields are "no"), so a service that predates them simply offers neither.
    pub async fn features(&self) -> Result<ServiceFeatures> {
        self.get("api/info").await
    }

    /// Creates a developer account (`serve --allow-signup`), then signs in as it: the account exists only
    /// to register apps, and the person who made it expects to be in.
    pub async fn sign_up(&mut self, req: &wire::Signup) -> Result<wire::Session> {
        let _created: Value = self.send(Method::POST, "api/signup", Some(req)).await?;
        self.sign_in(&req.username, &req.password).await
    }

    // ---- third-party apps: the developer's registrations ----

    /// The caller's own registrations.
    pub async fn apps(&self) -> Result<Vec<wire::App>> {
        self.get("api/apps").await
    }

    /// Registers an app; the answer holds its secret once (client_secret_* apps).
    pub async fn register_app(&self, req: &wire::NewApp) -> Result<wire::IssuedAppSecret> {
        self.send(Method::POST, "api/apps", Some(req)).await
    }

    pub async fn app(&self, id: &str) -> Result<wire::App> {
        self.get(&format!("api/apps/{}", seg(id))).await
    }

    /// Edits, disables (`active: false`) or enables an app.
    pub async fn update_app(&self, id: &str, change: &wire::AppUpdate) -> Result<wire::App> {
        self.send(Method::PATCH, &format!("api/apps/{}", seg(id)), Some(change)).await
    }

    /// Deletes an app: every grant and token of it dies.
    pub async fn delete_app(&self, id: &str) -> Result<AppDeleted> {
        self.send(Method::DELETE, &format!("api/apps/{}", seg(id)), None::<&()>).await
    }

    pub async fn rotate_app_secret(&self, id: &str, grace_minutes: Option<u32>) -> Result<wire::IssuedAppSecret> {
        self.send(Method::POST, &format!("api/apps/{}/rotate-secret", seg(id)), Some(&wire::RotateAppSecret { grace_minutes }))
            .await
    }

    /// Asks a practice to approve the app (pending until an administrator of it decides).
    pub async fn request_approval(&self, app_id: &str, practice_id: i64) -> Result<wire::Approval> {
        self.send(Method::POST, &format!("api/apps/{}/approvals", seg(app_id)), Some(&wire::ApprovalRequest { practice_id }))
            .await
    }

    // ---- administrators: approvals for their practices ----

    pub async fn approvals(&self) -> Result<Vec<wire::Approval>> {
        self.get("api/approvals").await
    }

    pub async fn decide_approval(
        &self,
        app_id: &str,
        practice_id: i64,
        decision: &wire::ApprovalDecision,
    ) -> Result<wire::Approval> {
        self.send(Method::PUT, &format!("api/approvals/{}/{practice_id}", seg(app_id)), Some(decision)).await
    }

    // ---- patients and staff: the apps they authorized (grants) ----
    // Preview, history and revoke of a grant are the credential calls with the grant's id.

    pub async fn connected_apps(&self) -> Result<Vec<wire::ConnectedApp>> {
        self.get("api/connected-apps").await
    }

    /// Moves the end date of one's own grant.
    pub async fn extend_grant(&self, id: &str, change: &wire::ExtendGrant) -> Result<wire::ConnectedApp> {
        self.send(Method::PATCH, &format!("api/connected-apps/{}", seg(id)), Some(change)).await
    }

    /// The live CapabilityStatement (`GET /fhir/metadata`, no token needed).
    pub async fn capability_statement(&self) -> Result<Value> {
        fhir_response(self.http.get(self.url("fhir/metadata")?).header("Accept", "application/fhir+json").send().await?).await
    }
}

/// The parts of `/api/info` that say what the service offers besides its URLs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceFeatures {
    /// The sign-in screen may offer "Create a developer account".
    #[serde(default)]
    pub allow_signup: bool,
    /// The sample SMART app the service serves, e.g. `http://127.0.0.1:4000/sample-app/`.
    #[serde(default)]
    pub sample_app_url: Option<String>,
}

/// What deleting an app did.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppDeleted {
    /// Grants (and with them every token) that died with the app.
    #[serde(default)]
    pub revoked_grants: u32,
}

/// Percent-encodes one path segment.
/// A management-API failure: its `{code, message}` body, or what came instead.
fn api_error(status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<wire::ApiError>(bytes) {
        Ok(e) => ClientError::Api { status: status.as_u16(), code: e.code, message: e.message },
        Err(_) => {
            ClientError::Unexpected { status: status.as_u16(), body: String::from_utf8_lossy(bytes).chars().take(200).collect() }
        }
    }
}

fn seg(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

async fn fhir_response(resp: reqwest::Response) -> Result<Value> {
    let status = resp.status();
    let bytes = resp.bytes().await?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap_or("").to_owned();
    Err(ClientError::Fhir { status: status.as_u16(), diagnostics, outcome: body })
}

/// An OAuth token response (RFC 6749 §5.1, plus SMART's `patient`).
#[derive(Clone, Deserialize, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    #[serde(default)]
    pub patient: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("patient", &self.patient)
            .finish_non_exhaustive()
    }
}

/// How the app presents its client credentials at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMethod {
    Basic,
    Post,
}

/// What a third-party app does with a credential: get tokens, call FHIR.
#[derive(Clone, Debug)]
pub struct FhirClient {
    http: reqwest::Client,
    fhir_base: Url,
    token_url: Url,
}

impl FhirClient {
    pub fn new(fhir_base: &str, token_url: &str) -> Result<FhirClient> {
        Ok(FhirClient {
            http: reqwest::Client::new(),
            fhir_base: parse_base(fhir_base)?,
            token_url: Url::parse(token_url).map_err(|e| ClientError::Url(e.to_string()))?,
        })
    }

    pub async fn token(
        &self,
        client_id: &str,
        secret: &str,
        method: ClientAuthMethod,
        scope: Option<&str>,
    ) -> Result<TokenResponse> {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let mut req = self.http.post(self.token_url.clone());
        match method {
            ClientAuthMethod::Basic => req = req.basic_auth(enc(client_id), Some(enc(secret))),
            ClientAuthMethod::Post => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret));
            }
        }
        let resp = req.form(&form).send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status == StatusCode::OK {
            return serde_json::from_slice(&bytes)
                .map_err(|_| ClientError::Unexpected { status: 200, body: "malformed token response".into() });
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(ClientError::OAuth {
            status: status.as_u16(),
            error: v["error"].as_str().unwrap_or("unknown").to_owned(),
            description: v["error_description"].as_str().unwrap_or("").to_owned(),
        })
    }

    /// GET `{fhir_base}/{path}` with the token.
    pub async fn get(&self, path: &str, token: &str) -> Result<Value> {
        let url = self.fhir_base.join(path.trim_start_matches('/')).map_err(|e| ClientError::Url(e.to_string()))?;
        fhir_response(self.http.get(url).bearer_auth(token).header("Accept", "application/fhir+json").send().await?).await
    }
}

/// RFC 6749 §2.3.1: form-urlencode the parts of Basic client credentials.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
