//! Which Patient a resource belongs to, and what it points at.
//!
//! Access control is by patient compartment: a client allowed to see patient 85 may see every
//! resource whose compartment reference names Patient/85. This module answers that question from
//! the JSON alone; deciding who may see which patient is someone else's job.

use crate::element::values_at;
use crate::types::type_def;
use serde_json::Value;

/// The id of the Patient this resource belongs to: Patient → its own id; other compartment types → the id in the first
/// `Patient/<id>` reference found on their compartment paths (references may also be absolute URLs ending in Patient/<id>); shared types → None.
pub fn patient_of(resource: &Value) -> Option<String> {
    let ty = resource.get("resourceType")?.as_str()?;
    let def = type_def(ty)?;
    if ty == "Patient" {
        return resource.get("id")?.as_str().map(str::to_owned);
    }
    def.compartment
        .iter()
        .flat_map(|path| values_at(resource, path))
        .filter_map(|r| r.get("reference")?.as_str())
        .filter_map(parse_reference)
        .find(|(t, _)| t == "Patient")
        .map(|(_, id)| id)
}

/// Every `reference` string in the resource (walks the whole JSON tree), for reference-following checks.
pub fn references(resource: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_references(resource, &mut out);
    out
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("reference", Value::String(s)) => out.push(s.clone()),
                    _ => collect_references(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

/// Splits a literal reference into `(type, id)`: `Patient/123`, `Patient/123/_history/2` and
/// absolute URLs such as `http://x/fhir/Patient/123` all give `("Patient", "123")`. Contained
/// (`#x`), `urn:` and other non-RESTful references give None.
pub fn parse_reference(reference: &str) -> Option<(String, String)> {
    if reference.starts_with('#') || reference.starts_with("urn:") {
        return None;
    }
    let path = reference.split(['?', '#']).next().unwrap_or(reference);
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() >= 4 && segments[segments.len() - 2] == "_history" {
        segments.truncate(segments.len() - 2);
    }
    let [.., ty, id] = segments.as_slice() else {
        return None;
    };
    // The type segment of a RESTful reference is a resource type name: an uppercase ASCII letter
    // followed by letters. Checking the shape rather than `type_def` lets references to types
    // Portico does not store (Group, Location…) still parse.
    let looks_like_type = ty.starts_with(|c: char| c.is_ascii_uppercase()) && ty.chars().all(|c| c.is_ascii_alphabetic());
    (looks_like_type && crate::import::is_valid_id(id)).then(|| ((*ty).to_owned(), (*id).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(reference: &str, expected: Option<(&str, &str)>) {
        let got = parse_reference(reference);
        assert_eq!(got.as_ref().map(|(t, i)| (t.as_str(), i.as_str())), expected, "{reference}");
    }

    #[test]
    fn parse_reference_table() {
        check("Patient/123", Some(("Patient", "123")));
        check("Patient/123/_history/4", Some(("Patient", "123")));
        check("http://x.org/fhir/Patient/123", Some(("Patient", "123")));
        check("https://x.org/fhir/Patient/a-b.c/_history/1", Some(("Patient", "a-b.c")));
        check("Group/1", Some(("Group", "1")));
        check("urn:uuid:0b3a", None);
        check("#contained", None);
        check("123", None);
        check("patient/123", None);
        check("Patient/", None);
        check("Patient/bad id", None);
    }

    #[test]
    fn patient_of_by_type() {
        let check = |resource: Value, expected: Option<&str>| {
            assert_eq!(patient_of(&resource).as_deref(), expected, "{resource}");
        };
        check(json!({"resourceType": "Patient", "id": "p1"}), Some("p1"));
        check(json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}}), Some("p1"));
        check(json!({"resourceType": "Observation", "subject": {"reference": "Group/g"}}), None);
        check(json!({"resourceType": "Observation", "subject": {"reference": "http://h/fhir/Patient/p2"}}), Some("p2"));
        check(
            json!({"resourceType": "Provenance", "target": [{"reference": "Observation/o"}, {"reference": "Patient/p3"}]}),
            Some("p3"),
        );
        check(json!({"resourceType": "Coverage", "beneficiary": {"reference": "Patient/p4"}}), Some("p4"));
        check(json!({"resourceType": "Immunization", "patient": {"reference": "Patient/p5"}}), Some("p5"));
        check(json!({"resourceType": "Organization", "id": "o", "partOf": {"reference": "Patient/x"}}), None);
        check(json!({"resourceType": "Unknown", "subject": {"reference": "Patient/x"}}), None);
        check(json!({"subject": {"reference": "Patient/x"}}), None);
    }

    #[test]
    fn references_walks_everything() {
        let r = json!({
            "resourceType": "ExplanationOfBenefit",
            "patient": {"reference": "Patient/1"},
            "contained": [{"resourceType": "Coverage", "beneficiary": {"reference": "Patient/1"}}],
            "item": [{"encounter": [{"reference": "Encounter/2"}]}],
            "note": {"text": "reference"}
        });
        let mut refs = references(&r);
        refs.sort();
        assert_eq!(refs, ["Encounter/2", "Patient/1", "Patient/1"]);
    }
}
