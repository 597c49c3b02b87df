//! prepare_bundle rejections, each naming the entry at fault.
#![allow(clippy::unwrap_used)]

mod common;

use portico_fhir::{prepare_bundle, ImportError};
use serde_json::{json, Value};

fn check(bundle: Value, expected_entry: Option<usize>, expected_text: &str) {
    let got = prepare_bundle(&bundle, &mut common::counter("gen"));
    match got {
        Err(ImportError { entry, message }) => {
            assert_eq!(entry, expected_entry, "{message}");
            assert!(message.contains(expected_text), "'{message}' lacks '{expected_text}'");
        }
        Ok(p) => panic!("accepted {bundle}: {p:?}"),
    }
}

fn tx(entries: Value) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

fn post(ty: &str, urn: &str, extra: Value) -> Value {
    let mut resource = json!({"resourceType": ty});
    if let Value::Object(extra) = extra {
        resource.as_object_mut().unwrap().extend(extra);
    }
    json!({"fullUrl": format!("urn:uuid:{urn}"), "resource": resource, "request": {"method": "POST", "url": ty}})
}

const P: &str = "11111111-1111-1111-1111-111111111111";
const O: &str = "22222222-2222-2222-2222-222222222222";

#[test]
fn errors_table() {
    let ok_patient = post("Patient", P, json!({}));
    check(json!({"resourceType": "Patient"}), None, "not a Bundle");
    check(json!([1, 2]), None, "not a Bundle");
    check(json!({"resourceType": "Bundle", "type": "searchset", "entry": []}), None, "searchset");
    check(tx(json!([ok_patient, {"request": {"method": "POST", "url": "Patient"}}])), Some(1), "no resource");
    check(tx(json!([ok_patient, post("Basic", O, json!({}))])), Some(1), "'Basic' is not supported");
    check(
        tx(json!([ok_patient, {"resource": {"id": "x"}, "request": {"method": "POST", "url": "Patient"}}])),
        Some(1),
        "no resourceType",
    );
    check(
        tx(json!([ok_patient, {"resource": {"resourceType": "Observation"}, "request": {"method": "POST", "url": "Condition"}}])),
        Some(1),
        "does not match resourceType",
    );
    check(
        tx(
            json!([ok_patient, {"resource": {"resourceType": "Observation"}, "request": {"method": "PUT", "url": "Condition/1"}}]),
        ),
        Some(1),
        "does not match resourceType",
    );
    check(
        tx(
            json!([ok_patient, {"resource": {"resourceType": "Observation", "id": "a"}, "request": {"method": "PUT", "url": "Observation/b"}}]),
        ),
        Some(1),
        "does not match request.url",
    );
    check(
        tx(
            json!([ok_patient, {"resource": {"resourceType": "Observation"}, "request": {"method": "PUT", "url": "Observation?identifier=x"}}]),
        ),
        Some(1),
        "Type/id",
    );
    check(tx(json!([ok_patient, {"resource": {"resourceType": "Observation"}}])), Some(1), "no request.method");
    check(
        tx(
            json!([ok_patient, {"resource": {"resourceType": "Observation"}, "request": {"method": "DELETE", "url": "Observation/1"}}]),
        ),
        Some(1),
        "DELETE is not supported",
    );
    check(
        tx(
            json!([ok_patient, {"resource": {"resourceType": "Observation"}, "request": {"method": "PUT", "url": "Observation/bad_id!"}}]),
        ),
        Some(1),
        "not a valid FHIR id",
    );
    check(
        tx(
            json!([{"resource": {"resourceType": "Patient", "id": "x".repeat(65)}, "request": {"method": "POST", "url": "Patient"}}]),
        ),
        Some(0),
        "not a valid FHIR id",
    );
    check(
        tx(json!([
            ok_patient,
            post("Observation", O, json!({"subject": {"reference": "urn:uuid:33333333-3333-3333-3333-333333333333"}}))
        ])),
        Some(1),
        "does not name any entry",
    );
    check(
        tx(json!([
            ok_patient,
            post("Observation", O, json!({"hasMember": [{"reference": "Patient/1"}, {"reference": "urn:uuid:nope"}]}))
        ])),
        Some(1),
        "urn:uuid:nope",
    );
    check(tx(json!([ok_patient, post("Patient", P, json!({}))])), Some(1), "also defined by entry 0");
}

#[test]
fn error_display_names_the_entry() {
    let e = ImportError { entry: Some(12), message: "boom".into() };
    assert_eq!(e.to_string(), "entry 12: boom");
    let e = ImportError { entry: None, message: "not a Bundle".into() };
    assert_eq!(e.to_string(), "not a Bundle");
}

#[test]
fn ids_and_rewrites() {
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        post("Patient", P, json!({"id": "ignored", "meta": {"versionId": "7", "lastUpdated": "2020-01-01T00:00:00Z"}})),
        {"resource": {"resourceType": "Organization", "id": "org-1"}, "request": {"method": "POST", "url": "Organization"}},
        {"resource": {"resourceType": "Practitioner"}, "request": {"method": "POST", "url": "Practitioner"}},
        {"fullUrl": format!("urn:uuid:{O}"), "resource": {"resourceType": "Patient"}, "request": {"method": "PUT", "url": "Patient/85"}},
        post("Observation", "33333333-3333-3333-3333-333333333333", json!({
            "subject": {"reference": format!("urn:uuid:{P}")},
            "performer": [{"reference": "urn:uuid:22222222-2222-2222-2222-222222222222"}, {"reference": "Organization/org-1"}],
            "contained": [{"resourceType": "Provenance", "target": [{"reference": format!("urn:uuid:{P}")}]}]
        })),
    ]});
    let prepared = prepare_bundle(&bundle, &mut common::counter("gen")).unwrap();
    let ids: Vec<&str> = prepared.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [P, "org-1", "gen1", "85", "33333333-3333-3333-3333-333333333333"]);
    assert_eq!(prepared[0].resource["meta"], json!({"versionId": "7", "lastUpdated": "2020-01-01T00:00:00Z"}));
    let obs = &prepared[4].resource;
    assert_eq!(obs["subject"]["reference"], format!("Patient/{P}"));
    assert_eq!(obs["performer"][0]["reference"], "Patient/85");
    assert_eq!(obs["performer"][1]["reference"], "Organization/org-1");
    assert_eq!(obs["contained"][0]["target"][0]["reference"], format!("Patient/{P}"));

    // collection bundles have no requests: entries are treated as POSTs
    let collection = json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": format!("urn:uuid:{P}"), "resource": {"resourceType": "Patient"}},
        {"resource": {"resourceType": "Observation", "subject": {"reference": format!("urn:uuid:{P}")}}},
    ]});
    let prepared = prepare_bundle(&collection, &mut common::counter("gen")).unwrap();
    assert_eq!(prepared[1].id, "gen1");
    assert_eq!(prepared[1].resource["subject"]["reference"], format!("Patient/{P}"));
    assert_eq!(
        prepare_bundle(&json!({"resourceType": "Bundle", "type": "transaction"}), &mut common::counter("g")).unwrap(),
        vec![]
    );
}

#[test]
fn valid_ids() {
    for (id, ok) in [
        ("a", true),
        ("A-b.9", true),
        ("85", true),
        (&"x".repeat(64)[..], true),
        (&"x".repeat(65)[..], false),
        ("", false),
        ("a_b", false),
        ("a b", false),
        ("a/b", false),
        ("ñ", false),
    ] {
        assert_eq!(portico_fhir::is_valid_id(id), ok, "{id:?}");
    }
}
