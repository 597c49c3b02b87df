//! `portico migrate` on the demo store: everything copied into an empty PostgreSQL database and checked
//! resource by resource (and account by account, credential by credential) through the store boundary of
//! each backend; a second run into the now-filled database is refused; a server started on the copy signs
//! in the demo users and serves their records with the keys it carried over.
//!
//! Needs PORTICO_TEST_PG (the test command's throwaway cluster); skipped without it unless
//! PORTICO_REQUIRE_PG is set.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use portico_store::{Cell, ReadStore, Store};
use portico_store_postgres::{PgDatabase, PgSettings};

fn portico(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portico")).args(args).output().expect("run portico")
}

/// A new empty database on the PORTICO_TEST_PG server; its URL.
fn fresh_database(admin: &str) -> String {
    let name = format!("portico_migrate_{}", std::process::id());
    let out = Command::new("psql")
        .args([admin, "-v", "ON_ERROR_STOP=1", "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (base, _) = admin.rsplit_once('/').expect("a URL");
    format!("{base}/{name}")
}

#[test]
fn the_demo_store_moves_to_postgres_whole_and_serves_from_there() {
    let Some(admin) = std::env::var("PORTICO_TEST_PG").ok().filter(|u| !u.is_empty()) else {
        assert!(std::env::var_os("PORTICO_REQUIRE_PG").is_none(), "PORTICO_REQUIRE_PG is set but PORTICO_TEST_PG is not");
        eprintln!("note: PORTICO_TEST_PG is not set; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("clinic.db");
    let db_arg = db.to_str().unwrap();
    assert!(portico(&["seed", "--db", db_arg]).status.success());
    // A credential, so tokens' and credentials' tables hold rows too, and its audit entries.
    let made = portico(&[
        "credentials",
        "create",
        "--db",
        db_arg,
        "--owner",
        "patient",
        "--kind",
        "patient_app",
        "--name",
        "moved",
        "--json",
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // The signing keys a SQLite server keeps beside its file.
    let keys = portico(&["keys", "list", "--db", db_arg]);
    let keys = String::from_utf8_lossy(&keys.stdout).to_string();
    let kid = keys.rsplit(": ").next().expect("a key id").trim().to_owned();
    let url = fresh_database(&admin);

    let out = portico(&["migrate", "--from", &format!("sqlite:{db_arg}"), "--to", &url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Verified: every table holds the same number of rows"), "{stdout}");
    assert!(stdout.contains("Signing keys"), "{stdout}");

    // Resource by resource, through each backend's own reads.
    let sqlite = Store::open(&db).unwrap();
    let pg = PgDatabase::connect(PgSettings::new(url.clone())).unwrap();
    let pg = pg.store().unwrap();
    let cols = vec!["type".to_owned(), "id".to_owned()];
    let mut keys: Vec<(String, String)> = Vec::new();
    sqlite
        .each_row("resources", &cols, 1000, &mut |rows| {
            for r in rows {
                if let [Cell::Text(t), Cell::Text(i)] = r.as_slice() {
                    keys.push((t.clone(), i.clone()));
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(keys.len() > 2000, "the demo store holds the sample records ({})", keys.len());
    for (t, i) in &keys {
        let (a, b) = (ReadStore::read_resource(&sqlite, t, i).unwrap(), ReadStore::read_resource(&pg, t, i).unwrap());
        let (a, b) = (a.expect("in SQLite"), b.unwrap_or_else(|| panic!("{t}/{i} missing on PostgreSQL")));
        assert_eq!((a.version, &a.json, a.deleted, &a.last_updated), (b.version, &b.json, b.deleted, &b.last_updated), "{t}/{i}");
    }
    assert_eq!(ReadStore::resource_counts(&sqlite).unwrap(), ReadStore::resource_counts(&pg).unwrap());
    // Accounts and credentials, whole.
    let users = |s: &dyn ReadStore| -> Vec<String> {
        s.users(None)
            .unwrap()
            .into_iter()
            .map(|u| format!("{} {} {:?} {:?} {}", u.id.0, u.username, u.roles, u.practices, u.password_hash))
            .collect()
    };
    assert_eq!(users(&sqlite), users(&pg));
    for u in sqlite.users(None).unwrap() {
        let ids = |s: &dyn ReadStore| -> Vec<String> {
            s.credentials_of(u.id)
                .unwrap()
                .into_iter()
                .map(|c| format!("{} {} {:?} {}", c.id, c.name, c.secret_digest.0, c.client_id))
                .collect()
        };
        assert_eq!(ids(&sqlite), ids(&pg), "credentials of {}", u.username);
    }
    assert_eq!(ReadStore::audit_rows(&sqlite).unwrap(), ReadStore::audit_rows(&pg).unwrap());

    // Into a database that now holds data: refused, and nothing written.
    let again = portico(&["migrate", "--from", &format!("sqlite:{db_arg}"), "--to", &url]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(ReadStore::audit_rows(&pg).unwrap(), ReadStore::audit_rows(&sqlite).unwrap());
    // Not a SQLite file as the source, not PostgreSQL as the target: said so.
    let wrong = portico(&["migrate", "--from", &url, "--to", &url]);
    assert!(!wrong.status.success() && String::from_utf8_lossy(&wrong.stderr).contains("--from must be a SQLite file"));

    // A server on the copy: the demo patient signs in with the password they had, and the service publishes
    // the key it signed with before the move.
    let mut server = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["serve", "--db", &url, "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let stdout = server.stdout.take().expect("stdout");
    let base = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .find_map(|l| l.split_once(" listening on ").map(|(_, u)| u.trim().to_owned()))
        .expect("the server's address");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (signed_in, jwks) = rt.block_on(async {
        let http = reqwest::Client::new();
        let session = http
            .post(format!("{base}/api/session"))
            .json(&serde_json::json!({"username": "patient", "password": "portico-demo"}))
            .send()
            .await
            .unwrap();
        let jwks: serde_json::Value = http.get(format!("{base}/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        (session.status().as_u16(), jwks)
    });
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(signed_in, 200);
    assert_eq!(jwks["keys"][0]["kid"].as_str(), Some(kid.as_str()), "{jwks}");
}
