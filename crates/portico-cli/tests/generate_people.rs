//! `portico generate --staff N --patient-users M` on a seeded store: the accounts it makes, their roles and
//! practices, a generated person signing in through the real `portico serve`, and a second run adding nothing.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use portico_client::Client;
use portico_domain::Role;
use portico_store::{Store, UserRecord};

const PASSWORD: &str = "generated-people-pw";

fn portico(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portico")).args(args).env("PORTICO_PASSWORD", PASSWORD).output().expect("run portico")
}

fn ok(o: Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "stdout: {out}\nstderr: {}", String::from_utf8_lossy(&o.stderr));
    out
}

/// The accounts `generate` made: everyone but the six demo accounts.
fn generated(db: &Path) -> Vec<UserRecord> {
    let demo: BTreeSet<&str> = portico_server::demo::ACCOUNTS.iter().map(|a| a.username).collect();
    Store::open(db)
        .expect("open")
        .users(None)
        .expect("users")
        .into_iter()
        .filter(|u| !demo.contains(u.username.as_str()))
        .collect()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `portico serve --port 0` on the database; answers the base URL from its banner.
fn serve(db: &Path, log: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["serve", "--port", "0", "--db"])
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("spawn portico serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((_, url)) = line.split_once(" listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let server = Server(child);
    let base = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
        panic!("portico serve never printed its address; log:\n{}", std::fs::read_to_string(log).unwrap_or_default())
    });
    (server, base)
}

#[test]
fn generates_staff_and_patient_users_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("people.db");
    let db_s = db.to_str().expect("utf8");
    ok(portico(&["seed", "--db", db_s]));
    let out = ok(portico(&["generate", "--db", db_s, "--staff", "20", "--patient-users", "50"]));
    // The seed has 18 patients, one of them the demo patient's: 33 more are generated, and said so.
    assert!(out.contains("generating 33 more patients"), "{out}");
    assert!(out.contains("Added 20 staff and 50 patient users"), "{out}");
    assert!(out.contains("accounts/s"), "the closing line gives the rate: {out}");
    assert!(!out.contains(PASSWORD), "a password the operator chose is not echoed: {out}");

    let users = generated(&db);
    assert_eq!(users.len(), 70);
    let store = Store::open(&db).expect("open");
    let practices: BTreeSet<i64> = store.practices().expect("practices").into_iter().map(|(p, _)| p.0).collect();

    let staff: Vec<&UserRecord> = users.iter().filter(|u| u.patient.is_none()).collect();
    assert_eq!(staff.len(), 20);
    let mut roles: BTreeMap<&str, usize> = BTreeMap::new();
    for u in &staff {
        assert_eq!(u.roles.len(), 1, "{}", u.username);
        *roles.entry(u.roles[0].as_str()).or_default() += 1;
        assert!((1..=2).contains(&u.practices.len()), "{} is in {:?}", u.username, u.practices);
        assert!(u.practices.iter().all(|p| practices.contains(&p.0)), "existing practices only");
        let (given, family) = u.display_name.trim_start_matches("Dr. ").split_once(' ').expect("given and family name");
        assert!(!given.is_empty() && !family.is_empty(), "{}", u.display_name);
    }
    for (role, want) in
        [(Role::Administrator, 1), (Role::Provider, 7), (Role::Nurse, 6), (Role::FrontDesk, 4), (Role::Developer, 2)]
    {
        assert_eq!(roles.get(role.as_str()).copied().unwrap_or(0), want, "{role:?} in {roles:?}");
    }
    assert!(staff.iter().any(|u| u.practices.len() == 2), "some staff work at two practices");

    let patients: Vec<&UserRecord> = users.iter().filter(|u| u.patient.is_some()).collect();
    assert_eq!(patients.len(), 50);
    let linked: BTreeSet<&str> = patients.iter().filter_map(|u| u.patient.as_ref()).map(|p| p.0.as_str()).collect();
    assert_eq!(linked.len(), 50, "one patient user per Patient");
    assert!(!linked.contains(portico_server::demo::DEMO_PATIENT), "the demo patient has an account already");
    for u in &patients {
        assert_eq!(u.roles, [Role::Patient], "{}", u.username);
        let p = u.patient.as_ref().expect("patient");
        assert!(store.read_resource("Patient", &p.0).expect("read").is_some(), "{} is linked to a real Patient", u.username);
        assert!(!store.patient_practices(p).expect("practices").is_empty(), "the patient belongs to a practice");
    }
    let usernames: BTreeSet<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(usernames.len(), users.len());
    drop(store);

    // A generated nurse and a generated patient sign in through the real service with the shared password.
    let nurse = staff.iter().find(|u| u.roles == [Role::Nurse]).expect("a nurse").username.clone();
    let patient = patients[0].clone();
    let (server, base) = serve(&db, &dir.path().join("serve.log"));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut c = Client::new(&base).expect("client");
        let s = c.sign_in(&nurse, PASSWORD).await.expect("the nurse signs in");
        assert_eq!(s.user.roles, ["nurse"]);
        let mut c = Client::new(&base).expect("client");
        c.sign_in(&patient.username, PASSWORD).await.expect("the patient signs in");
        let me = c.me().await.expect("me");
        assert_eq!(me.patient_id.as_deref(), patient.patient.as_ref().map(|p| p.0.as_str()));
        assert!(Client::new(&base).expect("client").sign_in(&nurse, "not-the-password").await.is_err());
    });
    drop(server);

    // Again: the same accounts are found, nothing is added, no more patients are generated.
    let before = Store::open(&db).expect("open").resource_counts().expect("counts");
    let again = ok(portico(&["generate", "--db", db_s, "--staff", "20", "--patient-users", "50"]));
    assert!(again.contains("Nothing to add: all 70 requested accounts exist already"), "{again}");
    assert_eq!(generated(&db).len(), 70);
    assert_eq!(Store::open(&db).expect("open").resource_counts().expect("counts"), before);

    // Growing the numbers adds only the difference, with a printed password when none is given.
    let grown = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["generate", "--db", db_s, "--staff", "25", "--patient-users", "50"])
        .env_remove("PORTICO_PASSWORD")
        .output()
        .expect("run portico");
    let grown = ok(grown);
    assert!(grown.contains("Added 5 staff and 0 patient users (5 accounts, 70 existed already)"), "{grown}");
    assert!(grown.contains("Password of every new account: "), "{grown}");
    assert_eq!(generated(&db).len(), 75);
}

#[test]
fn generate_needs_something_to_make() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("none.db");
    let r = portico(&["generate", "--db", db.to_str().expect("utf8")]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("--patients"), "{}", String::from_utf8_lossy(&r.stderr));
}
