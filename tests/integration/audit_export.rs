//! A patient takes their access history with them (`GET /api/audit/export`): the CSV is the history the API
//! lists, row for row; the FHIR Bundle holds one AuditEvent per row; only the patient's own record is in it;
//! staff have none to take; an app name built to attack a spreadsheet arrives as inert text.

use std::collections::BTreeSet;

use portico_api as wire;
use portico_api::AccessHistoryFormat as Format;
use portico_client::{Client, ClientError};
use portico_domain::Role;
use serde_json::Value;

use crate::harness::{new_credential, TestServer, REYNA};

/// Commas, quotes and a formula: what someone naming an app to attack a spreadsheet would send. (Line breaks
/// cannot be in a credential name at all; the CSV writer's unit tests cover them.)
const HOSTILE: &str = "=cmd|' /C calc'!A0, \"quoted\", @SUM(1)";

const HEADER: [&str; 9] =
    ["event_id", "recorded_utc", "event", "app", "client_id", "resource_types", "resources_read", "outcome", "request"];

/// RFC 4180: fields separated by commas, records by CRLF, quoted fields with doubled quotes inside.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell, mut quoted) = (Vec::new(), Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(!quoted && cell.is_empty() && row.is_empty(), "the CSV ends with a complete CRLF-terminated record");
    rows
}

fn utc(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn export(c: &Client, format: Format) -> Vec<u8> {
    c.export_access_history(format).await.expect("export")
}

/// Reads as an app with `issued`'s token: each path must answer `status`.
async fn reads(s: &TestServer, issued: &wire::IssuedSecret, paths: &[(&str, u16)]) {
    let token = s.token(issued).await.access_token;
    for (path, status) in paths {
        assert_eq!(s.get(path, &token).await.0, *status, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_exports_exactly_their_own_history() {
    let s = TestServer::start().await;
    let other = s.patients_of(1).into_iter().find(|p| p != REYNA).expect("another patient");

    // Reyna's app, named to attack a spreadsheet: reads her record, and is refused someone else's.
    let (reyna, hostile) = s.patient_app(HOSTILE).await;
    reads(&s, &hostile, &[(&format!("Patient/{REYNA}"), 200), ("Observation?_count=5", 200), (&format!("Patient/{other}"), 404)])
        .await;
    // Another patient's app reads the other record.
    s.add_user("patient-b", &[Role::Patient], &[], Some(&other));
    let b = s.client("patient-b").await;
    let b_app = b.create_credential(&new_credential("patient_app", "B's app")).await.expect("b app");
    reads(&s, &b_app, &[(&format!("Patient/{other}"), 200), ("Observation", 200)]).await;
    // A provider key reaching both reads both: each patient's history shows only their own part.
    let provider = s.client("provider").await;
    let key = wire::NewCredential { patients: vec![REYNA.into(), other.clone()], ..new_credential("provider", "Ward round") };
    let key = provider.create_credential(&key).await.expect("provider key");
    reads(&s, &key, &[("Observation?_count=1000", 200)]).await;

    let listed = reyna.my_audit().await.expect("history");
    let csv_bytes = export(&reyna, Format::Csv).await;
    let text = String::from_utf8(csv_bytes).expect("UTF-8");
    let rows = parse_csv(&text);
    assert_eq!(rows[0], HEADER);
    let rows = &rows[1..];
    assert_eq!(rows.len(), listed.len(), "one row per listed event");
    assert!(listed.len() >= 5, "creation, token, three reads at least: {}", listed.len());
    for (row, e) in rows.iter().zip(&listed) {
        assert_eq!(row.len(), HEADER.len());
        let name = e.credential_name.clone().unwrap_or_default();
        let name = if name.starts_with(['=', '+', '-', '@']) { format!("'{name}") } else { name };
        let want = [
            e.seq.to_string(),
            utc(e.at),
            e.kind.clone(),
            name,
            e.client_id.clone().unwrap_or_default(),
            e.resource_types.join(";"),
            e.count.map(|n| n.to_string()).unwrap_or_default(),
            e.outcome.clone(),
            e.detail.clone().unwrap_or_default(),
        ];
        assert_eq!(row.as_slice(), want.as_slice(), "event {}", e.seq);
    }
    // The hostile name: quoted as one field, its quotes doubled, and a text cell, never a formula.
    assert!(text.contains(&format!("\"'{}\"", HOSTILE.replace('"', "\"\""))), "{text}");
    assert!(rows.iter().all(|r| !r.iter().any(|c| c.starts_with(['=', '+', '-', '@']))), "no cell starts a formula");
    assert!(rows.iter().any(|r| r[4] == hostile.client_id && r[2] == "fhir_refused"), "the refused read is there");
    // Nothing of the other patient's: not their app, and the provider key's search only in Reyna's part.
    let clients: BTreeSet<&str> = rows.iter().map(|r| r[4].as_str()).collect();
    assert!(!clients.contains(b_app.client_id.as_str()), "{clients:?}");
    let ward: Vec<&Vec<String>> = rows.iter().filter(|r| r[4] == key.client_id).collect();
    assert_eq!(ward.len(), 1, "one read by the provider key about Reyna");

    // FHIR: one AuditEvent per row, about Reyna's Patient alone.
    let bundle: Value = serde_json::from_slice(&export(&reyna, Format::Fhir).await).expect("JSON");
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), rows.len());
    let mut ids = BTreeSet::new();
    for (entry, row) in entries.iter().zip(rows) {
        let e = &entry["resource"];
        assert_eq!(e["resourceType"], "AuditEvent");
        assert!(ids.insert(e["id"].as_str().expect("id").to_owned()), "ids are unique");
        assert_eq!(e["entity"][0]["what"]["reference"], format!("Patient/{REYNA}"));
        assert_eq!(e["recorded"], row[1]);
        assert_eq!(e["outcome"], if row[7] == "ok" { "0" } else { "4" }, "{e}");
        assert_eq!(e["agent"][0]["requestor"], false);
        if !row[4].is_empty() {
            assert_eq!(e["agent"][0]["who"]["identifier"]["value"], row[4]);
        }
    }
    let hostile_event = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|e| e["agent"][0]["who"]["identifier"]["value"] == hostile.client_id.as_str())
        .expect("the hostile app's events");
    assert_eq!(hostile_event["agent"][0]["who"]["display"], HOSTILE, "JSON carries the name as it is");
    let ward_event = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|e| e["agent"][0]["who"]["identifier"]["value"] == key.client_id.as_str())
        .expect("the provider key's read");
    assert_eq!(ward_event["type"]["code"], "rest");
    assert_eq!(ward_event["action"], "R");
    assert_eq!(ward_event["entity"][1]["type"]["code"], "Observation");

    // The other patient's export has their app and not Reyna's.
    let b_text = String::from_utf8(export(&b, Format::Csv).await).expect("UTF-8");
    assert!(b_text.contains(&b_app.client_id) && !b_text.contains(&hostile.client_id), "{b_text}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_download_is_a_file_for_patients_only() {
    let s = TestServer::start().await;
    let (reyna, _) = s.patient_app("Phone app").await;
    let token = reyna.session_token().expect("session").to_owned();
    for (query, status, content_type, extension) in [
        ("", 200, "text/csv", ".csv\""),
        ("?format=csv", 200, "text/csv", ".csv\""),
        ("?format=fhir", 200, "application/fhir+json", ".fhir.json\""),
        ("?format=xlsx", 400, "application/json", ""),
    ] {
        let r = s.http().get(format!("{}/api/audit/export{query}", s.base)).bearer_auth(&token).send().await.expect("export");
        assert_eq!(r.status().as_u16(), status, "{query}");
        let header = |h: &str| r.headers().get(h).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(header("content-type").starts_with(content_type), "{query}: {}", header("content-type"));
        if status == 200 {
            let disposition = header("content-disposition");
            assert!(disposition.starts_with("attachment; filename=\"portico-access-history-"), "{disposition}");
            assert!(disposition.ends_with(extension), "{disposition}");
            assert_eq!(header("cache-control"), "no-store");
        }
    }
    // Staff have no record of their own to take: 403, whatever the format. Without a session: 401.
    for user in ["provider", "admin", "nurse"] {
        let c = s.client(user).await;
        for format in Format::ALL {
            match c.export_access_history(format).await {
                Err(ClientError::Api { status, .. }) => assert_eq!(status, 403, "{user} {format:?}"),
                other => panic!("{user} {format:?}: {other:?}"),
            }
        }
    }
    let anonymous = Client::new(&s.base).expect("client");
    assert_eq!(anonymous.export_access_history(Format::Csv).await.err().and_then(|e| e.status()), Some(401));
    s.stop().await;
}
