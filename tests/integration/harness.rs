//! A real Portico service per test: a seeded database (a SQLite file in a temp dir, or with
//! `PORTICO_TEST_BACKEND=postgres` a PostgreSQL database on the `PORTICO_TEST_PG` server, copied from a
//! seeded template), the server on 127.0.0.1:0, a clock the test can move, and every log line the process
//! writes captured for inspection.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{Duration, Utc};
use portico_api as wire;
use portico_client::{Client, ClientAuthMethod, FhirClient, TokenResponse};
use portico_domain::{PatientId, PracticeId, Role};
use portico_server::{demo, AppState, Config};
use portico_store::{NewUser, Store, WriteStore};
use portico_store_postgres::{PgDatabase, PgSettings, PgStore};
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

/// Whether this run's servers use PostgreSQL (`PORTICO_TEST_BACKEND=postgres`, the server named by
/// `PORTICO_TEST_PG`) rather than SQLite files.
pub fn on_postgres() -> bool {
    static PG: OnceLock<bool> = OnceLock::new();
    *PG.get_or_init(|| {
        let pg = std::env::var("PORTICO_TEST_BACKEND").is_ok_and(|b| b == "postgres");
        assert!(
            !pg || std::env::var("PORTICO_TEST_PG").is_ok_and(|u| !u.is_empty()),
            "PORTICO_TEST_BACKEND=postgres needs PORTICO_TEST_PG"
        );
        pg
    })
}

/// For a test of SQLite's own behaviour (its files, its write lock): whether to skip it on this run.
pub fn sqlite_only(what: &str) -> bool {
    if on_postgres() {
        eprintln!("SQLite only, skipped on PostgreSQL: {what}");
    }
    on_postgres()
}

/// A seeded PostgreSQL database, built once per test binary; each test's database is a copy of it
/// (`CREATE DATABASE ... TEMPLATE`).
fn pg_template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("portico_tpl_{}", std::process::id());
        let url = pg_create(&format!("CREATE DATABASE {name}"), &name);
        let db = PgDatabase::connect(PgSettings { pool_size: 2, writers: 1, ..PgSettings::new(url) }).expect("template");
        let mut store = db.store().expect("connection");
        demo::seed(&mut store, Utc::now()).expect("seed");
        drop(store);
        db.close();
        name
    })
}

/// Runs `sql` (a CREATE DATABASE) as the `PORTICO_TEST_PG` user, retrying while the template's last
/// connections are still closing; returns the URL of database `name`.
fn pg_create(sql: &str, name: &str) -> String {
    let admin = std::env::var("PORTICO_TEST_PG").expect("PORTICO_TEST_PG");
    let sql = sql.to_owned();
    let admin2 = admin.clone();
    // A thread of its own: the caller may be an async test, where a runtime cannot block.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&admin2, tokio_postgres::NoTls).await.expect("connect as admin");
            let driver = tokio::spawn(conn);
            let mut tries = 0;
            loop {
                match client.batch_execute(&sql).await {
                    Ok(()) => break,
                    Err(e) if tries < 100 && e.to_string().contains("being accessed by other users") => {
                        tries += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("{sql}: {e}"),
                }
            }
            drop(client);
            let _ = driver.await;
        });
    })
    .join()
    .expect("create database");
    let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
    format!("{base}/{name}")
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
    /// The SQLite file (on PostgreSQL runs, a path nothing is at).
    pub db: PathBuf,
    /// On PostgreSQL runs, the database's URL.
    pub pg: Option<String>,
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

    /// Starts a SQLite server after `setup` has adjusted its writer connection (e.g. a shorter busy timeout).
    pub async fn start_with(setup: impl FnOnce(&Store)) -> TestServer {
        TestServer::start_configured(setup, |c| c).await
    }

    /// Starts a server whose configuration `configure` has adjusted (e.g. signup allowed); `setup` adjusts a
    /// SQLite server's writer connection (not called on PostgreSQL runs).
    pub async fn start_configured(setup: impl FnOnce(&Store), configure: impl FnOnce(Config) -> Config) -> TestServer {
        init_logging();
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("portico.db");
        let (backend, pg): (Box<dyn portico_store::Backend>, Option<String>) = if on_postgres() {
            static N: AtomicI64 = AtomicI64::new(0);
            let name = format!("portico_it_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
            let url = pg_create(&format!("CREATE DATABASE {name} TEMPLATE {}", pg_template()), &name);
            let settings = PgSettings { pool_size: 8, ..PgSettings::new(url.clone()) };
            (Box::new(PgDatabase::connect(settings).expect("connect")), Some(url))
        } else {
            std::fs::copy(template(), &db).expect("copy template");
            let store = Store::open(&db).expect("open store");
            setup(&store);
            (Box::new(portico_store::Database::new(store).expect("database")), None)
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        // Guarded like the embedded service: only its own Host, no cross-site /api requests.
        let config = configure(Config::new(&base).trusting_only([]));
        let offset = Arc::new(AtomicI64::new(0));
        let o = offset.clone();
        let clock: portico_server::Clock = Arc::new(move || Utc::now() + Duration::seconds(o.load(Ordering::SeqCst)));
        let mut config = config;
        config.keys_in_store = pg.is_some();
        let state = AppState::with_clock(backend, config.clone(), clock);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(portico_server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        TestServer { base, config, db, pg, _dir: dir, offset, stop: Some(stop), task: Some(task) }
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

    /// Runs one SQL statement (the same text on either database; `?` for each of `args`) on a connection of
    /// its own, as another program with access to the database would: the rows as text, or the database's
    /// refusal.
    pub fn sql(&self, sql: &str, args: &[&str]) -> Result<Vec<Vec<String>>, String> {
        let sql = inline_args(sql, args);
        match &self.pg {
            None => {
                let conn = rusqlite::Connection::open(&self.db).map_err(|e| e.to_string())?;
                let mut st = conn.prepare(&sql).map_err(|e| e.to_string())?;
                let n = st.column_count();
                let mut rows = st.query([]).map_err(|e| e.to_string())?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(|e| e.to_string())? {
                    out.push(
                        (0..n)
                            .map(|i| match row.get_ref(i) {
                                Ok(rusqlite::types::ValueRef::Integer(v)) => v.to_string(),
                                Ok(rusqlite::types::ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                                Ok(rusqlite::types::ValueRef::Real(v)) => v.to_string(),
                                _ => String::new(),
                            })
                            .collect(),
                    );
                }
                Ok(out)
            }
            Some(url) => {
                let url = url.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
                    rt.block_on(async {
                        let (client, conn) =
                            tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
                        let driver = tokio::spawn(conn);
                        let answer = client.simple_query(&sql).await.map_err(|e| match e.as_db_error() {
                            Some(db) => db.message().to_owned(),
                            None => e.to_string(),
                        });
                        drop(client);
                        let _ = driver.await;
                        let rows = answer?
                            .into_iter()
                            .filter_map(|m| match m {
                                tokio_postgres::SimpleQueryMessage::Row(r) => {
                                    Some((0..r.len()).map(|i| r.get(i).unwrap_or_default().to_owned()).collect())
                                }
                                _ => None,
                            })
                            .collect();
                        Ok(rows)
                    })
                })
                .join()
                .map_err(|_| "the query thread panicked".to_owned())?
            }
        }
    }

    /// `sql`'s single number (a count).
    pub fn sql_count(&self, sql: &str, args: &[&str]) -> i64 {
        let rows = self.sql(sql, args).expect(sql);
        rows.first().and_then(|r| r.first()).and_then(|v| v.parse().ok()).expect(sql)
    }

    /// Everything the database keeps at rest, as an attacker with the disk (or a dump) would see it:
    /// SQLite's files, or PostgreSQL's data as `pg_dump` writes it. Stop the server first.
    pub fn at_rest(&self) -> Vec<(String, Vec<u8>)> {
        match &self.pg {
            Some(url) => {
                let out = std::process::Command::new("pg_dump").args(["--data-only", url]).output().expect("pg_dump");
                assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
                vec![("pg_dump of the database".into(), out.stdout)]
            }
            None => {
                // A connection held open through the reads: the last connection to close moves the WAL into
                // the main file and deletes it, which between two reads would hide rows from both.
                let conn = rusqlite::Connection::open(&self.db).expect("open");
                let files = ["", "-wal", "-shm"]
                    .iter()
                    .filter_map(|suffix| {
                        let name = format!("portico.db{suffix}");
                        std::fs::read(self.db.with_file_name(&name)).ok().map(|b| (name, b))
                    })
                    .collect();
                drop(conn);
                files
            }
        }
    }

    /// A second connection to the same database, for setting up users and checking state (each write is
    /// committed as it returns).
    pub fn store(&self) -> TestStore {
        match &self.pg {
            Some(url) => {
                let db = PgDatabase::connect(PgSettings { pool_size: 1, writers: 1, ..PgSettings::new(url.clone()) })
                    .expect("connect");
                let store = db.store().expect("connection");
                TestStore::Postgres(store, db)
            }
            None => TestStore::Sqlite(Store::open(&self.db).expect("open store")),
        }
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

/// `sql` with each `?` replaced by the next of `args` as a quoted literal (test values only: ids, tokens).
fn inline_args(sql: &str, args: &[&str]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    for ch in sql.chars() {
        match (ch, args.len()) {
            ('?', n) if n > 0 => {
                let a = args.next().map(|a| a.replace('\'', "''")).unwrap_or_default();
                out.push_str(&format!("'{a}'"));
            }
            (c, _) => out.push(c),
        }
    }
    out
}

/// A connection of a test's own to its server's database.
pub enum TestStore {
    Sqlite(Store),
    /// The connection, and the pool it came from (kept open while the connection is used).
    Postgres(PgStore, #[allow(dead_code)] PgDatabase),
}

impl std::ops::Deref for TestStore {
    type Target = dyn WriteStore;
    fn deref(&self) -> &(dyn WriteStore + 'static) {
        match self {
            TestStore::Sqlite(s) => s,
            TestStore::Postgres(s, _) => s,
        }
    }
}

impl std::ops::DerefMut for TestStore {
    fn deref_mut(&mut self) -> &mut (dyn WriteStore + 'static) {
        match self {
            TestStore::Sqlite(s) => s,
            TestStore::Postgres(s, _) => s,
        }
    }
}
