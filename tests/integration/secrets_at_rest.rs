//! After a run that issues every kind of secret, neither the database (SQLite's files, or a dump of
//! PostgreSQL's) nor the logs contain any of them.

use portico_client::ClientAuthMethod;
use portico_domain::Role;

use crate::harness::{captured_logs, new_credential, TestServer, REYNA};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_token_or_session_is_stored_or_logged() {
    let mut s = TestServer::start().await;
    let mut secrets: Vec<String> = Vec::new();
    s.add_user("sec-dev", &[Role::Developer, Role::Provider], &[1], None);
    for (user, kind) in [("patient", "patient_app"), ("sec-dev", "developer"), ("sec-dev", "provider")] {
        let c = s.client(user).await;
        secrets.push(c.session_token().expect("session").to_owned());
        let mut req = new_credential(kind, &format!("{kind} at rest"));
        if kind == "provider" {
            req.patients = vec![REYNA.to_owned()];
        }
        let issued = c.create_credential(&req).await.expect("create");
        secrets.push(issued.client_secret.clone());
        for method in [ClientAuthMethod::Basic, ClientAuthMethod::Post] {
            let t = s.app().token(&issued.client_id, &issued.client_secret, method, None).await.expect("token");
            assert_eq!(s.get(&format!("Patient/{REYNA}"), &t.access_token).await.0, 200);
            secrets.push(t.access_token);
        }
        let regen = c.regenerate(&issued.credential.id, Some(60)).await.expect("regenerate");
        secrets.push(regen.client_secret.clone());
        // A wrong secret presented to the token endpoint must not be recorded either.
        let mut wrong = regen.client_secret.clone().into_bytes();
        wrong[12] = if wrong[12] == b'a' { b'b' } else { b'a' };
        let wrong = String::from_utf8(wrong).expect("ascii");
        assert!(s.app().token(&regen.client_id, &wrong, ClientAuthMethod::Post, None).await.is_err());
        secrets.push(wrong);
        c.delete_credential(&issued.credential.id).await.expect("delete");
    }
    s.shutdown().await;
    let mut files = s.at_rest();
    let logs = captured_logs().lock().map(|l| l.clone()).unwrap_or_default();
    assert!(!logs.is_empty(), "the server logged nothing, so the log check would be vacuous");
    files.push(("captured logs".into(), logs));
    // The files do hold what they should (client ids), so the scan is looking at the right bytes.
    let all: Vec<u8> = files.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    assert!(contains(&all, b"pci_app_"), "client ids are stored in clear, as expected");
    assert!(secrets.len() >= 15);
    for secret in &secrets {
        for (name, bytes) in &files {
            assert!(!contains(bytes, secret.as_bytes()), "{name} contains an issued secret ({}…)", &secret[..8]);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
