//! The `portico` binary as operators and scripts use it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portico_store::Store;
use serde_json::Value;

fn portico(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portico")).args(args).output().expect("run portico")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../portico-samples/data")
}

fn counts(db: &Path) -> Vec<(String, i64)> {
    Store::open(db).expect("open").resource_counts().expect("counts")
}

#[test]
fn import_is_idempotent_and_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let db_s = db.to_str().expect("utf8");
    let sample_dir = samples();
    let first = portico(&["import", "--db", db_s, sample_dir.to_str().expect("utf8")]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("Imported 18 bundles"), "{}", stdout(&first));
    let after_first = counts(&db);
    let patients = after_first.iter().find(|(t, _)| t == "Patient").map(|(_, n)| *n);
    assert_eq!(patients, Some(18));

    let second = portico(&["import", "--db", db_s, sample_dir.to_str().expect("utf8")]);
    assert!(second.status.success());
    assert!(stdout(&second).contains(": 0 created, 0 updated"), "importing twice changes nothing: {}", stdout(&second));
    assert_eq!(counts(&db), after_first);

    // A broken bundle is named with its entry, and nothing of the batch is written.
    let broken = dir.path().join("broken.json");
    let bundle = serde_json::json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111", "resource": {"resourceType": "Patient", "id": "11111111-1111-4111-8111-111111111111"}, "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "urn:uuid:99999999-9999-4999-8999-999999999999"}}, "request": {"method": "POST", "url": "Observation"}}
        ]
    });
    std::fs::write(&broken, bundle.to_string()).expect("write");
    let good = sample_dir.join("Luigi_Wiegand_e27d88b0-c5e5-4042-ad49-184f6a900ee3.json");
    let r = portico(&["import", "--db", db_s, good.to_str().expect("utf8"), broken.to_str().expect("utf8")]);
    assert!(!r.status.success());
    let err = stderr(&r);
    assert!(err.contains("broken.json") && err.contains("entry 1"), "{err}");
    assert_eq!(counts(&db), after_first, "the store is unchanged");

    let not_json = dir.path().join("not.json");
    std::fs::write(&not_json, "{ nope").expect("write");
    let r = portico(&["import", "--db", db_s, not_json.to_str().expect("utf8")]);
    assert!(!r.status.success());
    assert!(stderr(&r).contains("not.json"), "{}", stderr(&r));
}

#[test]
fn generate_clones_patients_with_fresh_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("g.db");
    let db_s = db.to_str().expect("utf8");
    let r = portico(&["generate", "--db", db_s, "--patients", "40"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stdout(&r).contains("Generated 40 patients"), "{}", stdout(&r));
    let c = counts(&db);
    assert_eq!(c.iter().find(|(t, _)| t == "Patient").map(|(_, n)| *n), Some(40));
    assert!(c.iter().find(|(t, _)| t == "Observation").map(|(_, n)| *n).unwrap_or(0) > 40 * 20);
    let store = Store::open(&db).expect("open");
    let in_practices: usize =
        store.practices().expect("practices").iter().map(|(p, _)| store.practice_patient_ids(*p).expect("ids").len()).sum();
    assert_eq!(in_practices, 40, "every generated patient belongs to a practice");
    // Each has its own medical record number (the samples' are not copied), in the picker's directory too.
    let practices: Vec<_> = store.practices().expect("practices").into_iter().map(|(p, _)| p).collect();
    let listed = store.patients(&practices, &portico_store::PatientQuery::All, 100).expect("directory");
    assert_eq!(listed.len(), 40);
    let mut mrns: Vec<String> = listed.iter().map(|p| p.mrn.clone().expect("an MRN")).collect();
    assert!(mrns.iter().all(|m| m.len() == 10 && m.bytes().all(|b| b.is_ascii_digit())), "{mrns:?}");
    mrns.sort();
    mrns.dedup();
    assert_eq!(mrns.len(), 40, "no two share one");
}

#[test]
fn credentials_and_users_for_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("c.db");
    let db_s = db.to_str().expect("utf8");
    let seed = portico(&["seed", "--db", db_s]);
    assert!(seed.status.success(), "{}", stderr(&seed));
    assert!(stdout(&seed).contains("portico-demo"), "the demo passwords are printed");

    let r = portico(&[
        "credentials",
        "create",
        "--db",
        db_s,
        "--owner",
        "developer",
        "--kind",
        "developer",
        "--name",
        "CI key",
        "--json",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let issued: Value = serde_json::from_str(&stdout(&r)).expect("json");
    let secret = issued["client_secret"].as_str().expect("secret");
    assert!(secret.starts_with("pcs_dev_"));
    let id = issued["credential"]["id"].as_str().expect("id").to_owned();

    let r = portico(&["credentials", "list", "--db", db_s, "--json"]);
    let list: Value = serde_json::from_str(&stdout(&r)).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(!stdout(&r).contains(secret), "listing never shows the secret");

    let r = portico(&["credentials", "create", "--db", db_s, "--owner", "patient", "--kind", "developer", "--name", "x"]);
    assert!(!r.status.success(), "a patient cannot own a developer key");

    // Roles from the command line: a role that changes nothing the key may do is just set; a clinical role
    // lets the key write, which its owner is told (an access-change notice, as from an administrator).
    let r =
        portico(&["users", "set-roles", "--db", db_s, "--username", "developer", "--role", "developer", "--role", "front_desk"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(stdout(&r), "developer: roles set to developer, front_desk\n");
    let r = portico(&["users", "set-roles", "--db", db_s, "--username", "developer", "--role", "developer", "--role", "nurse"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stdout(&r).contains("what 'CI key' reaches changed: its owner is told in Portico"), "{}", stdout(&r));

    let r = portico(&["credentials", "revoke", "--db", db_s, &id, "--json"]);
    let d: Value = serde_json::from_str(&stdout(&r)).expect("json");
    assert_eq!(d["deleted_now"], true);
    let r = portico(&["credentials", "revoke", "--db", db_s, &id, "--json"]);
    let d: Value = serde_json::from_str(&stdout(&r)).expect("json");
    assert_eq!(d["deleted_now"], false, "revoking twice is harmless");

    let r = portico(&["users", "list", "--db", db_s, "--json"]);
    let users: Value = serde_json::from_str(&stdout(&r)).expect("json");
    let names: Vec<&str> = users.as_array().expect("users").iter().filter_map(|u| u["username"].as_str()).collect();
    for n in ["admin", "provider", "developer", "nurse", "frontdesk", "patient"] {
        assert!(names.contains(&n), "{n}");
    }
}

#[test]
fn demo_walks_the_whole_flow() {
    let r = portico(&["demo"]);
    let out = stdout(&r);
    assert!(r.status.success(), "{out}\n{}", stderr(&r));
    for needle in ["[1]", "invalid_client", "401", "Demo complete"] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
}

/// `portico keys rotate`: a new current key, the previous one still published, the file private.
#[test]
fn keys_rotate_keeps_the_previous_key_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let db_s = db.to_str().expect("utf8");
    let kids = |o: &Output| -> Vec<String> {
        let line =
            stdout(o).lines().find_map(|l| l.strip_prefix("Published key ids (current first): ").map(str::to_owned)).unwrap();
        line.split(", ").map(str::to_owned).collect()
    };
    let first = portico(&["keys", "list", "--db", db_s]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = kids(&first);
    assert_eq!(before.len(), 1);
    let rotated = portico(&["keys", "rotate", "--db", db_s]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let after = kids(&rotated);
    assert_eq!(after.len(), 2);
    assert_ne!(after[0], before[0], "a new current key");
    assert_eq!(after[1], before[0], "the previous key stays published");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir.path().join("p.db.signing-keys.pem")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}
