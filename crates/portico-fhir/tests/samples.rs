//! prepare_bundle, patient_of and clone_record against all 18 sample bundles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{counter, sample_bundles};
use portico_fhir::{clone_record, patient_of, prepare_bundle, references, type_def};
use serde_json::Value;
use std::collections::HashSet;

/// The one reference in the samples whose target is not in its bundle.
const OUTSIDE_REFERENCE: &str = "MedicationRequest/medicationrequest-coded-oral-axid";

#[test]
fn there_are_18_samples() {
    assert_eq!(sample_bundles().len(), 18);
}

#[test]
fn prepare_every_sample() {
    for (name, bundle) in sample_bundles() {
        let entries = bundle["entry"].as_array().unwrap();
        let prepared = prepare_bundle(&bundle, &mut counter("gen")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(prepared.len(), entries.len(), "{name}");
        let mut keys = HashSet::new();
        for (p, entry) in prepared.iter().zip(entries) {
            assert_eq!(p.resource["resourceType"], p.resource_type.as_str(), "{name}");
            assert_eq!(p.resource["id"], p.id.as_str(), "{name}");
            assert!(keys.insert((p.resource_type.clone(), p.id.clone())), "{name}: duplicate {}", p.id);
            // meta is kept as it came
            assert_eq!(p.resource.get("meta"), entry["resource"].get("meta"), "{name}");
            for r in references(&p.resource) {
                assert!(!r.starts_with("urn:uuid:"), "{name}: {r} left in {}/{}", p.resource_type, p.id);
            }
        }
        // every rewritten reference points into the bundle (the samples are self-contained, but
        // for one reference the client-test bundle makes to a resource it does not include)
        for p in &prepared {
            for r in references(&p.resource).into_iter().filter(|r| !r.starts_with('#') && r != OUTSIDE_REFERENCE) {
                let (ty, id) = portico_fhir::parse_reference(&r).unwrap_or_else(|| panic!("{name}: odd reference {r}"));
                assert!(keys.contains(&(ty.clone(), id.clone())), "{name}: dangling {r}");
            }
        }
        // POST ids come from the urn:uuid fullUrls, so no fresh ids were needed
        assert!(prepared.iter().all(|p| !p.id.starts_with("gen")), "{name}");
    }
}

#[test]
fn uscore_85_put_id_wins() {
    let bundle = common::bundle("uscore_bundle_patient_85");
    let patient_urn = bundle["entry"][0]["fullUrl"].as_str().unwrap().to_owned();
    assert!(patient_urn.starts_with("urn:uuid:"));
    let prepared = prepare_bundle(&bundle, &mut counter("gen")).unwrap();
    assert_eq!(prepared[0].resource_type, "Patient");
    assert_eq!(prepared[0].id, "85");
    let original_refs = bundle["entry"].as_array().unwrap().iter().map(|e| references(&e["resource"])).collect::<Vec<_>>();
    let mut rewritten = 0;
    for (p, before) in prepared.iter().zip(original_refs) {
        for (old, new) in before.iter().zip(references(&p.resource)) {
            if *old == patient_urn {
                assert_eq!(new, "Patient/85");
                rewritten += 1;
            }
        }
    }
    assert!(rewritten > 200, "only {rewritten} references to the patient");
}

#[test]
fn client_test_bundle_keeps_put_ids() {
    let prepared = common::prepared("uscore_bundle_patient_client_test");
    assert_eq!(prepared[0].id, "us-core-client-tests-patient");
    let bundle = common::bundle("uscore_bundle_patient_client_test");
    for (p, e) in prepared.iter().zip(bundle["entry"].as_array().unwrap()) {
        let url = e["request"]["url"].as_str().unwrap();
        assert_eq!(format!("{}/{}", p.resource_type, p.id), url);
    }
}

#[test]
fn every_compartment_resource_resolves_to_its_patient() {
    for (name, bundle) in sample_bundles() {
        let prepared = prepare_bundle(&bundle, &mut counter("gen")).unwrap();
        let patients: Vec<&str> = prepared.iter().filter(|p| p.resource_type == "Patient").map(|p| p.id.as_str()).collect();
        assert_eq!(patients.len(), 1, "{name}");
        let patient_id = patients[0];
        for p in &prepared {
            let def = type_def(&p.resource_type).unwrap();
            let expected = (!def.is_shared()).then_some(patient_id);
            assert_eq!(patient_of(&p.resource).as_deref(), expected, "{name}: {}/{}", p.resource_type, p.id);
        }
    }
}

#[test]
fn every_sample_type_is_supported() {
    for (name, bundle) in sample_bundles() {
        for e in bundle["entry"].as_array().unwrap() {
            let ty = e["resource"]["resourceType"].as_str().unwrap();
            assert!(type_def(ty).is_some(), "{name}: {ty}");
        }
    }
}

#[test]
fn clone_record_leaves_no_old_id() {
    for prefix in ["Agustin", "uscore_bundle_patient_85", "uscore_bundle_patient_client_test"] {
        let original = common::prepared(prefix);
        let old_ids: HashSet<String> = original.iter().map(|p| p.id.clone()).collect();
        let clone = clone_record(&original, "Ana", "Núñez", &mut counter("clone-"));
        assert_eq!(clone.len(), original.len());
        let new_ids: HashSet<String> = clone.iter().map(|p| format!("{}/{}", p.resource_type, p.id)).collect();
        for (c, o) in clone.iter().zip(&original) {
            assert!(!old_ids.contains(&c.id), "{prefix}: id {} kept", c.id);
            assert_eq!(c.resource["id"], c.id.as_str());
            assert_eq!(c.resource_type, o.resource_type);
            for r in references(&c.resource).into_iter().filter(|r| !r.starts_with('#') && r != OUTSIDE_REFERENCE) {
                let (ty, id) = portico_fhir::parse_reference(&r).unwrap();
                assert!(!old_ids.contains(&id), "{prefix}: {r} in {}/{}", c.resource_type, c.id);
                assert!(new_ids.contains(&format!("{ty}/{id}")), "{prefix}: dangling {r}");
            }
        }
        let patient = clone.iter().find(|p| p.resource_type == "Patient").unwrap();
        assert_eq!(patient.resource["name"][0]["family"], "Núñez");
        assert_eq!(patient.resource["name"][0]["given"], serde_json::json!(["Ana"]));
        assert_eq!(patient.resource["name"][0]["text"], "Ana Núñez");
        assert_eq!(patient.resource["name"].as_array().map(Vec::len), Some(1));
        // the clone is its own compartment
        for c in &clone {
            if !type_def(&c.resource_type).unwrap().is_shared() {
                assert_eq!(patient_of(&c.resource).as_deref(), Some(patient.id.as_str()));
            }
        }
        // the original is untouched
        assert!(original.iter().all(|p| p.resource["id"] == Value::String(p.id.clone())));
    }
}
