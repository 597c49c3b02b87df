//! `portico apps register` and `portico apps approve` as operators and scripts use them.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

fn portico(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portico")).args(args).env("RUST_BACKTRACE", "0").output().expect("run portico")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn failed(o: Output) -> String {
    assert!(!o.status.success(), "expected a failure: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn register_prints_the_secret_once_and_approve_takes_a_practice_id_or_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("apps.db");
    let db = db.to_str().expect("utf8");
    ok(portico(&["seed", "--db", db]));
    ok(portico(&[
        "users",
        "create",
        "--db",
        db,
        "--username",
        "appdev",
        "--display-name",
        "App Dev",
        "--password",
        "app-dev-password",
        "--role",
        "app_developer",
    ]));

    let register = |extra: &[&str]| {
        let mut args = vec!["apps", "register", "--db", db, "--owner", "appdev", "--json"];
        args.extend_from_slice(extra);
        portico(&args)
    };
    let out = ok(register(&[
        "--name",
        "Web app",
        "--type",
        "patient",
        "--client-auth",
        "client_secret_basic",
        "--redirect-uri",
        "https://app.example/cb",
    ]));
    let web: Value = serde_json::from_str(&out).expect("json");
    let keys: Vec<&str> = web.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["client_id", "client_secret", "id"]);
    let secret = web["client_secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("pcs_smart_") && web["client_id"].as_str().is_some_and(|c| c.starts_with("pci_smart_")), "{web}");

    let native: Value = serde_json::from_str(&ok(register(&[
        "--name",
        "Native app",
        "--type",
        "patient",
        "--client-auth",
        "none",
        "--redirect-uri",
        "http://127.0.0.1:7000/cb",
        "--scope",
        "patient/Observation.rs openid fhirUser",
    ])))
    .expect("json");
    assert_eq!(native["client_secret"], Value::Null);

    // A system app with keys from a file; a private key in that file, or a secret for a system app, is refused.
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, r#"{"keys":[{"kty":"RSA","kid":"k1","n":"sXch","e":"AQAB"}]}"#).expect("write");
    let system: Value = serde_json::from_str(&ok(register(&[
        "--name",
        "Backend",
        "--type",
        "system",
        "--client-auth",
        "private_key_jwt",
        "--jwks",
        jwks.to_str().expect("utf8"),
    ])))
    .expect("json");
    assert_eq!(system["client_secret"], Value::Null);
    std::fs::write(&jwks, r#"{"keys":[{"kty":"RSA","n":"sXch","e":"AQAB","d":"private"}]}"#).expect("write");
    let jwks_s = jwks.to_str().expect("utf8");
    for (args, why) in [
        (
            vec!["--name", "Leaky", "--type", "system", "--client-auth", "private_key_jwt", "--jwks", jwks_s],
            "private key material",
        ),
        (vec!["--name", "Secretive", "--type", "system", "--client-auth", "client_secret_basic"], "private_key_jwt"),
        (vec!["--name", "Nowhere", "--type", "patient", "--client-auth", "none"], "redirect URI"),
        (
            vec![
                "--name",
                "Wide",
                "--type",
                "patient",
                "--client-auth",
                "none",
                "--redirect-uri",
                "http://127.0.0.1/cb",
                "--scope",
                "system/*.rs",
            ],
            "system/",
        ),
    ] {
        let err = failed(register(&args));
        assert!(err.contains(why), "{args:?}: {err}");
    }

    // Approve by name, then by id (recorded as the practice's administrator, or whoever --by names).
    let client_id = web["client_id"].as_str().expect("client id");
    let out = ok(portico(&["apps", "approve", "--db", db, client_id, "--practice", "Riverside Family Medicine"]));
    assert!(out.contains("Approved 'Web app'") && out.contains("admin"), "{out}");
    assert!(ok(portico(&["apps", "approve", "--db", db, client_id, "--practice", "1"])).contains("already approved"));
    let err = failed(portico(&["apps", "approve", "--db", db, client_id, "--practice", "2"]));
    assert!(err.contains("no administrator"), "{err}");
    let err = failed(portico(&["apps", "approve", "--db", db, client_id, "--practice", "2", "--by", "admin"]));
    assert!(err.contains("no such approval request"), "an administrator of another practice cannot decide: {err}");
    let err = failed(portico(&["apps", "approve", "--db", db, client_id, "--practice", "Nowhere Clinic"]));
    assert!(err.contains("no practice"), "{err}");
    let err = failed(portico(&["apps", "approve", "--db", db, "pci_smart_unknown", "--practice", "1"]));
    assert!(err.contains("no app"), "{err}");

    let list: Value = serde_json::from_str(&ok(portico(&["apps", "list", "--db", db, "--json"]))).expect("json");
    let apps = list.as_array().expect("array");
    // The three registered here, and the sample SMART app the demo seed registers.
    assert_eq!(apps.len(), 4);
    assert!(apps.iter().any(|a| a["client_id"] == "pci_smart_sample"));
    let approved = apps.iter().find(|a| a["client_id"] == client_id).expect("listed");
    assert_eq!(approved["approvals"][0]["status"], "approved");
    assert_eq!(approved["approvals"][0]["practice_name"], "Riverside Family Medicine");
    assert_eq!(approved["approvals"][0]["decided_by"], "admin");
    assert!(!list.to_string().contains(&secret), "the list never holds the secret");
    let bytes = std::fs::read(db).expect("db");
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "the database holds the secret");
}
