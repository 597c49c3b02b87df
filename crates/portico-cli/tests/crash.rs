//! The real `portico serve` killed with SIGKILL under write load, on SQLite and on PostgreSQL: the database
//! it leaves (which passes SQLite's integrity check) holds every write the server acknowledged, and every
//! write has its audit row (an action and its audit entry commit together, so a crash cannot keep one
//! without the other). On PostgreSQL the database server lives on; what is tested is that `portico serve`
//! answers only after its transaction committed.
//!
//! SIGKILL leaves the operating system's page cache intact, so what this catches is a server that answers
//! before its transaction commits (a group-commit writer acknowledging too early) or that commits an
//! action and its audit row in separate transactions; power loss is not simulated.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};
use tokio::sync::Notify;

use portico_api as wire;
use portico_client::{Client, ClientAuthMethod, FhirClient};
use portico_server::demo;
use rusqlite::Connection;
use serde_json::{json, Value};

/// Acknowledged writes after which the server is killed: enough for the kill to land mid-load.
const KILL_AFTER_ACKS: usize = 240;
/// The load never runs longer than this, however slow the machine.
const LOAD_LIMIT: Duration = Duration::from_secs(8);
/// The marker every Observation the load creates carries, so the check can count them.
const MARKER: &str = "crash-test-load";

/// The server process, killed when dropped so a failing test leaves nothing running.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the killed server kept its data.
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    fn arg(&self) -> String {
        match self {
            Db::Sqlite(p) => p.display().to_string(),
            Db::Postgres(url) => url.clone(),
        }
    }

    /// A count, from SQL both databases read alike (`?N` for the Nth of `args`, inlined as quoted literals:
    /// ids and markers of this test only), as another program with access to the data would run it.
    fn count(&self, sql: &str, args: &[&str]) -> i64 {
        let mut sql = sql.to_owned();
        for (i, a) in args.iter().enumerate().rev() {
            sql = sql.replace(&format!("?{}", i + 1), &format!("'{}'", a.replace('\'', "''")));
        }
        match self {
            Db::Sqlite(p) => {
                let conn = Connection::open(p).expect("reopen the killed server's database");
                conn.query_row(&sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
            Db::Postgres(url) => {
                let out = Command::new("psql").args([url, "-v", "ON_ERROR_STOP=1", "-Atc", &sql]).output().expect("psql");
                assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }
}

/// Starts `portico serve --demo --port 0` and reads the bound address from its banner line.
fn start(db: &Db, log: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["serve", "--demo", "--port", "0", "--db"])
        .arg(db.arg())
        .stdout(Stdio::piped())
        // Every request is logged; a pipe nobody reads would fill and stall the server.
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn portico serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split_once(" listening on ").map(|(_, u)| u.trim().to_owned()) {
                let _ = tx.send(url);
            }
        }
    });
    let base = match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(base) => base,
        Err(_) => {
            let _ = child.kill();
            panic!("portico serve never printed its address; log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
    };
    Server { child, base }
}

#[derive(Debug, Clone)]
enum Ack {
    Credential(String),
    Observation(String),
}

/// What the writers share: the stop flag and every write the server acknowledged.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    acks: Mutex<Vec<Ack>>,
    acked: AtomicUsize,
    progress: Notify,
}

impl Load {
    fn ack(&self, a: Ack) {
        self.acks.lock().unwrap().push(a);
        self.acked.fetch_add(1, Ordering::SeqCst);
        self.progress.notify_one();
    }
}

/// Writes until told to stop or until the server is gone, recording each write it was answered 2xx for.
async fn credential_writer(patient: Client, worker: usize, load: Arc<Load>) {
    let mut i = 0;
    while !load.stop.load(Ordering::SeqCst) {
        i += 1;
        let req = wire::NewCredential { kind: "patient_app".into(), name: format!("crash {worker}-{i}"), ..Default::default() };
        match patient.create_credential(&req).await {
            Ok(issued) => load.ack(Ack::Credential(issued.credential.id)),
            Err(e) if e.status().is_some() => panic!("the service refused a credential under load: {e}"),
            // No answer: the server is gone.
            Err(_) => return,
        }
    }
}

async fn observation_writer(http: reqwest::Client, url: String, token: String, load: Arc<Load>) {
    let body = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": MARKER},
        "subject": {"reference": format!("Patient/{}", demo::DEMO_PATIENT)},
    })
    .to_string();
    while !load.stop.load(Ordering::SeqCst) {
        let sent =
            http.post(&url).bearer_auth(&token).header("content-type", "application/fhir+json").body(body.clone()).send().await;
        let Ok(r) = sent else { return };
        let status = r.status();
        // Acknowledged only once the whole answer, with the new id, has arrived.
        let Ok(answer) = r.json::<Value>().await else { return };
        assert!(status.is_success(), "the service refused a create under load: {status} {answer}");
        load.ack(Ack::Observation(answer["id"].as_str().expect("created id").to_owned()));
    }
}

#[test]
fn sigkill_under_write_load_loses_no_acknowledged_write_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::Sqlite(dir.path().join("crash.db"));
    sigkill_under_write_load(&db, dir.path());
    let Db::Sqlite(path) = &db else { unreachable!() };
    let conn = Connection::open(path).expect("reopen the killed server's database");
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(integrity, "ok");
    assert_eq!(db.count("SELECT count(*) FROM pragma_foreign_key_check", &[]), 0, "foreign keys hold");
    drop(conn);
    // The service's own open (PRAGMAs, migrations) accepts the file as it is.
    let store = portico_store::Store::open(path).expect("Store::open after the crash");
    let stored = db.count("SELECT count(*) FROM resources WHERE type = 'Observation' AND json LIKE '%' || ?1 || '%'", &[MARKER]);
    let counts = store.resource_counts().expect("counts");
    assert!(counts.iter().any(|(t, n)| t == "Observation" && *n >= stored));
}

#[test]
fn sigkill_under_write_load_loses_no_acknowledged_write_on_postgres() {
    let Some(admin) = std::env::var("PORTICO_TEST_PG").ok().filter(|u| !u.is_empty()) else {
        assert!(std::env::var_os("PORTICO_REQUIRE_PG").is_none(), "PORTICO_REQUIRE_PG is set but PORTICO_TEST_PG is not");
        eprintln!("note: PORTICO_TEST_PG is not set; skipped");
        return;
    };
    let name = format!("portico_crash_{}", std::process::id());
    let made = Command::new("psql").args([&admin, "-v", "ON_ERROR_STOP=1", "-qc", &format!("CREATE DATABASE {name}")]).output();
    assert!(made.expect("psql").status.success(), "create database");
    let (base, _) = admin.rsplit_once('/').expect("a URL");
    let dir = tempfile::tempdir().expect("tempdir");
    sigkill_under_write_load(&Db::Postgres(format!("{base}/{name}")), dir.path());
}

fn sigkill_under_write_load(db: &Db, dir: &Path) {
    let started = Instant::now();
    let log = dir.join("serve.log");
    let mut server = start(db, &log);
    let base = server.base.clone();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (acks, dev_credential) = rt.block_on(async {
        // A developer who is also a provider may write FHIR resources of the practice's patients.
        let mut admin = Client::new(&base).expect("client");
        admin.sign_in("admin", demo::DEMO_PASSWORD).await.expect("admin signs in");
        let developer = admin.user_named("developer").await.expect("users").expect("developer");
        admin.set_roles(developer.id, &["developer", "provider"]).await.expect("set roles");
        let mut dev = Client::new(&base).expect("client");
        dev.sign_in("developer", demo::DEMO_PASSWORD).await.expect("developer signs in");
        let key = dev
            .create_credential(&wire::NewCredential { kind: "developer".into(), name: "writer".into(), ..Default::default() })
            .await
            .expect("developer key");
        let fhir = FhirClient::new(&key.fhir_base_url, &key.token_url).expect("fhir client");
        let token = fhir.token(&key.client_id, &key.client_secret, ClientAuthMethod::Basic, None).await.expect("token");
        let mut patient = Client::new(&base).expect("client");
        patient.sign_in("patient", demo::DEMO_PASSWORD).await.expect("patient signs in");

        let load = Arc::new(Load::default());
        let http = reqwest::Client::new();
        let url = format!("{}/Observation", key.fhir_base_url.trim_end_matches('/'));
        let mut writers = Vec::new();
        for worker in 0..3 {
            writers.push(tokio::spawn(credential_writer(patient.clone(), worker, load.clone())));
            writers.push(tokio::spawn(observation_writer(http.clone(), url.clone(), token.access_token.clone(), load.clone())));
        }

        // Kill once enough writes were acknowledged, while the writers still have requests in flight.
        let deadline = tokio::time::Instant::now() + LOAD_LIMIT;
        while load.acked.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
            if tokio::time::timeout_at(deadline, load.progress.notified()).await.is_err() {
                break;
            }
        }
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reap");
        load.stop.store(true, Ordering::SeqCst);
        for w in writers {
            tokio::time::timeout(Duration::from_secs(10), w).await.expect("writers end once the server is gone").expect("writer");
        }
        let acks = load.acks.lock().unwrap().clone();
        (acks, key.credential.id)
    });

    let credentials: Vec<&String> =
        acks.iter().filter_map(|a| if let Ack::Credential(id) = a { Some(id) } else { None }).collect();
    let observations: Vec<&String> =
        acks.iter().filter_map(|a| if let Ack::Observation(id) = a { Some(id) } else { None }).collect();
    assert!(!credentials.is_empty() && !observations.is_empty(), "the load wrote both kinds: {acks:?}");

    // Every acknowledged id, in one query per kind (ids are uuids: safe as literals).
    let listed = |ids: &[&String]| ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ");
    let found = db.count(&format!("SELECT count(*) FROM credentials WHERE id IN ({})", listed(&credentials)), &[]);
    assert_eq!(found, credentials.len() as i64, "every acknowledged credential is stored");
    let found = db.count(
        &format!(
            "SELECT count(*) FROM resources WHERE type = 'Observation' AND NOT deleted AND id IN ({})",
            listed(&observations)
        ),
        &[],
    );
    assert_eq!(found, observations.len() as i64, "every acknowledged Observation is stored");

    // Writes equal their audit rows, including writes that committed but whose answer the kill cut off.
    let created = db.count("SELECT count(*) FROM credentials WHERE name LIKE 'crash %'", &[]);
    assert!(created >= credentials.len() as i64);
    let unaudited = db.count(
        "SELECT count(*) FROM credentials c WHERE c.name LIKE 'crash %'
         AND (SELECT count(*) FROM audit a WHERE a.kind = 'credential_created' AND a.credential_id = c.id) <> 1",
        &[],
    );
    assert_eq!(unaudited, 0, "every created credential has exactly one credential_created row");
    let orphaned = db.count(
        "SELECT count(*) FROM audit a WHERE a.kind = 'credential_created'
         AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.id = a.credential_id)",
        &[],
    );
    assert_eq!(orphaned, 0, "no credential_created row without its credential");
    let stored = db.count("SELECT count(*) FROM resources WHERE type = 'Observation' AND json LIKE '%' || ?1 || '%'", &[MARKER]);
    assert!(stored >= observations.len() as i64);
    let audited = db.count(
        "SELECT count(*) FROM audit WHERE kind = 'fhir_access' AND detail = 'create Observation' AND credential_id = ?1",
        &[&dev_credential],
    );
    assert_eq!(stored, audited, "every stored create has its fhir_access row and no row lacks its create");

    eprintln!(
        "crash test: {} credentials and {} Observations acknowledged ({created} and {stored} stored) in {:.1} s",
        credentials.len(),
        observations.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(started.elapsed() < Duration::from_secs(20), "the crash test is bounded");
}
