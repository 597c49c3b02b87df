//! A real Portico service per test: a seeded SQLite file in a temp dir, the server on 127.0.0.1:0, a clock
//! the test can move, and every log line the process writes captured for inspection.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Duration, Utc};
use portico_api as wire;
use portico_client::{Client, ClientAuthMethod, FhirClient, TokenResponse};
use portico_domain::{PatientId, PracticeId, Role};
use portico_server::{demo, AppState, Config};
use portico_store::{NewUser, Store};
use serde_json::Value;

pub const PASSWORD: &str = demo::DEMO_PASSWORD;
/// The demo patient (practice 1).
pub const REYNA: &str = demo::DEMO_PATIENT;

/// Everything any test's server logged, for the secrets-at-rest check.
pub fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = captured_logs().lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(|| Capture)
            .with_ansi(false)
            .try_init();
    });
}

/// A seeded database file, built once per test binary and copied for each test (seeding hashes passwords
/// and imports 2,858 resources; copying is much cheaper).
pub fn template() -> &'static PathBuf {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("portico-template-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("template dir");
        let path = dir.join("template.db");
        let _ = std::fs::remove_file(&path);
        let mut store = Store::open(&path).expect("open template");
        demo::seed(&mut store, Utc::now()).expect("seed");
        store.checkpoint().expect("checkpoint");
        drop(store);
        path
    })
}

pub struct TestServer {
    pub base: String,
    pub config: Config,
    pub db: PathBuf,
    /// Kept so the database directory lives as long as the server.
    pub _dir: tempfile::TempDir,
    /// Seconds added to the real clock, so tests can step past validity windows and expiry.
    pub offset: Arc<AtomicI64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server after `setup` has adjusted its writer connection (e.g. a shorter busy timeout).
    pub async fn start_with(setup: impl FnOnce(&Store)) -> TestServer {
        TestServer::start_configured(setup, |c| c).await
    }

    /// Starts a server whose configuration `configure` has adjusted (e.g. signup allowed).
    pub async fn start_configured(setup: impl FnOnce(&Store), configure: impl FnOnce(Config) -> Config) -> TestServer {
        init_logging();
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("portico.db");
        std::fs::copy(template(), &db).expect("copy template");
        let store = Store::open(&db).expect("open store");
        setup(&store);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        // Guarded like the embedded service: only its own Host, no cross-site /api requests.
        let config = configure(Config::new(&base).trusting_only([]));
        let offset = Arc::new(AtomicI64::new(0));
        let o = offset.clone();
        let clock: portico_server::Clock = Arc::new(move || Utc::now() + Duration::seconds(o.load(Ordering::SeqCst)));
        let state = AppState::with_clock(portico_store::Database::new(store).expect("database"), config.clone(), clock);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(portico_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        TestServer { base, config, db, _dir: dir, offset, stop: Some(stop), task: Some(task) }
    }

    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    /// Stops the server (finishing in-flight requests) but keeps the database files.
    pub async fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// A second connection to the same database file, for setting up users and checking state.
    pub fn store(&self) -> Store {
        Store::open(&self.db).expect("open store")
    }

    pub async fn client(&self, username: &str) -> Client {
        let mut c = Client::new(&self.base).expect("client");
        c.sign_in(username, PASSWORD).await.expect("sign in");
        c
    }

    /// The demo patient, signed in, with a new app credential named `name`.
    pub async fn patient_app(&self, name: &str) -> (Client, wire::IssuedSecret) {
        let patient = self.client("patient").await;
        let issued = patient.create_credential(&new_credential("patient_app", name)).await.expect("create credential");
        (patient, issued)
    }

    pub fn app(&self) -> FhirClient {
        FhirClient::new(&self.config.fhir_base(), &self.config.token_url()).expect("fhir client")
    }

    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    pub fn fhir(&self, path: &str) -> String {
        format!("{}/{}", self.config.fhir_base(), path.trim_start_matches('/'))
    }

    /// Creates a user directly in the store (password `PASSWORD`).
    pub fn add_user(&self, username: &str, roles: &[Role], practices: &[i64], patient: Option<&str>) -> i64 {
        let mut store = self.store();
        let patient = patient.map(|p| PatientId(p.to_owned()));
        let practices: Vec<PracticeId> = practices.iter().map(|p| PracticeId(*p)).collect();
        store
            .create_user(
                &NewUser {
                    username,
                    display_name: username,
                    password_hash: password_hash(),
                    roles,
                    practices: &practices,
                    patient: patient.as_ref(),
                },
                Utc::now(),
            )
            .expect("create user")
            .0
    }

    /// Patients of a practice, per the seeded assignment.
    pub fn patients_of(&self, practice: i64) -> Vec<String> {
        self.store().practice_patient_ids(PracticeId(practice)).expect("patients").into_iter().map(|p| p.0).collect()
    }

    pub async fn token(&self, issued: &wire::IssuedSecret) -> TokenResponse {
        self.app().token(&issued.client_id, &issued.client_secret, ClientAuthMethod::Basic, None).await.expect("token")
    }

    /// RFC 7009 revocation of `token`, authenticated as the client of `issued`; returns the status.
    pub async fn revoke(&self, issued: &wire::IssuedSecret, token: &str) -> u16 {
        self.http()
            .post(self.config.revoke_url())
            .basic_auth(&issued.client_id, Some(&issued.client_secret))
            .form(&[("token", token)])
            .send()
            .await
            .expect("revoke")
            .status()
            .as_u16()
    }

    /// `POST /api/session` as any client would send it: status, `Retry-After` and the JSON body.
    pub async fn sign_in_raw(&self, username: &str, password: &str) -> (u16, Option<String>, Value) {
        let r = self
            .http()
            .post(format!("{}/api/session", self.base))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("sign in");
        let status = r.status().as_u16();
        let retry = r.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, retry, r.json().await.unwrap_or(Value::Null))
    }

    /// GET with a bearer token, returning status and JSON body.
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self.http().get(self.fhir(path)).bearer_auth(token).send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| portico_domain::hash_password(PASSWORD, &mut rand::rngs::OsRng).expect("hash"))
}

pub fn new_credential(kind: &str, name: &str) -> wire::NewCredential {
    wire::NewCredential { kind: kind.into(), name: name.into(), ..Default::default() }
}

/// Sends only the head of a request that declares a `declared`-byte body plus its first kilobyte, then
/// reads the answer. A server must refuse an oversized body from its declared length, before the client
/// has sent it all (reqwest would fail with a broken pipe trying to push the rest).
pub async fn declare_oversized(
    s: &TestServer,
    method: &str,
    path: &str,
    content_type: &str,
    auth: &str,
    declared: usize,
) -> (u16, Value) {
    let addr = s.base.trim_start_matches("http://");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nContent-Type: {content_type}\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    );
    raw_exchange(&s.base, &head, &[b'{'; 1024]).await
}

/// Writes `head` and `body` to a fresh connection exactly as given and reads the answer to the end: its
/// status and the JSON object in its body (which may be chunked).
pub async fn raw_exchange(base: &str, head: &str, body: &[u8]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(body).await.expect("body");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let json = body.find('{').and_then(|start| body.rfind('}').map(|end| &body[start..=end])).unwrap_or("null");
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}
