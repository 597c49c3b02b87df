//! Search index entries: the values of every search parameter of a resource, extracted once when it is
//! written, so that a store can answer a search with indexed lookups instead of parsing resources.
//!
//! The per-element readers here (`token_values`, `reference_of`, `string_leaves`, and
//! `DateRange::of_value`) are the very ones `SearchQuery::matches` compares with, so an index built from
//! these entries can never disagree with the in-memory matcher about what a resource contains.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::compartment::{parse_reference, references};
use crate::date::DateRange;
use crate::element::values_at;
use crate::search::fold;
use crate::types::{type_def, ParamKind, COMMON_PARAMS};

/// The pseudo-parameter under which every reference to a shared (non-compartment) resource is indexed,
/// wherever it occurs in the resource: `$everything` follows these to the Organizations, Practitioners,
/// Locations… a patient's records point at. It cannot collide with a real parameter (no `$` in names).
pub const SHARED_REFERENCES: &str = "$shared";

/// A token value: `system|code` of a Coding, Identifier or ContactPoint, or a plain code or boolean
/// (which have no system).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenEntry {
    pub param: &'static str,
    pub system: Option<String>,
    pub code: String,
}

/// A date element as the half-open range `[start, end)` in epoch milliseconds (open Period ends are
/// `i64::MIN` / `i64::MAX`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateEntry {
    pub param: &'static str,
    pub start: i64,
    pub end: i64,
}

/// A literal reference, split into the target's type and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReferenceEntry {
    pub param: &'static str,
    pub target_type: String,
    pub target_id: String,
}

/// One textual part of a string element: `folded` for prefix and contains searches, `raw` for `:exact`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StringEntry {
    pub param: &'static str,
    pub folded: String,
    pub raw: String,
}

/// Every index entry of one resource, each list sorted and free of duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexEntries {
    pub tokens: Vec<TokenEntry>,
    pub dates: Vec<DateEntry>,
    pub references: Vec<ReferenceEntry>,
    pub strings: Vec<StringEntry>,
}

/// The entries of every search parameter of the resource's type, plus `_lastUpdated` and
/// [`SHARED_REFERENCES`]. `_id` is not extracted: every store keeps the id beside the resource. A
/// resource of an unsupported type has no entries.
pub fn index_entries(resource: &Value) -> IndexEntries {
    let Some(def) = resource.get("resourceType").and_then(Value::as_str).and_then(type_def) else {
        return IndexEntries::default();
    };
    let mut tokens = BTreeSet::new();
    let mut dates = BTreeSet::new();
    let mut refs = BTreeSet::new();
    let mut strings = BTreeSet::new();
    let params = COMMON_PARAMS.iter().filter(|p| p.name != "_id").chain(def.params);
    for p in params {
        let elements = p.paths.iter().flat_map(|path| values_at(resource, path));
        for element in elements {
            match p.kind {
                ParamKind::Token => {
                    let mut values = Vec::new();
                    token_values(element, &mut values);
                    tokens.extend(values.into_iter().map(|(system, code)| TokenEntry {
                        param: p.name,
                        system: system.map(str::to_owned),
                        code: code.to_owned(),
                    }));
                }
                ParamKind::Date => {
                    if let Some(r) = DateRange::of_value(element) {
                        dates.insert(DateEntry { param: p.name, start: r.start, end: r.end });
                    }
                }
                ParamKind::Reference => {
                    if let Some((target_type, target_id)) = reference_of(element) {
                        refs.insert(ReferenceEntry { param: p.name, target_type, target_id });
                    }
                }
                ParamKind::String => {
                    let mut leaves = Vec::new();
                    string_leaves(element, &mut leaves);
                    strings.extend(leaves.into_iter().map(|raw| StringEntry {
                        param: p.name,
                        folded: fold(raw),
                        raw: raw.to_owned(),
                    }));
                }
            }
        }
    }
    for (target_type, target_id) in references(resource).iter().filter_map(|r| parse_reference(r)) {
        if type_def(&target_type).is_some_and(|t| t.is_shared()) {
            refs.insert(ReferenceEntry { param: SHARED_REFERENCES, target_type, target_id });
        }
    }
    IndexEntries {
        tokens: tokens.into_iter().collect(),
        dates: dates.into_iter().collect(),
        references: refs.into_iter().collect(),
        strings: strings.into_iter().collect(),
    }
}

/// The `(system, code)` pairs a token parameter sees in one element: a plain code or boolean (no
/// system), each Coding of a CodeableConcept, or the system and code/value of a Coding, Identifier or
/// ContactPoint.
pub(crate) fn token_values<'a>(element: &'a Value, out: &mut Vec<(Option<&'a str>, &'a str)>) {
    match element {
        Value::String(s) => out.push((None, s)),
        Value::Bool(b) => out.push((None, if *b { "true" } else { "false" })),
        Value::Object(o) => {
            if let Some(Value::Array(codings)) = o.get("coding") {
                codings.iter().for_each(|c| token_values(c, out));
                return;
            }
            // A present but non-text `code` is not a code, and then `value` is not looked at either.
            let Some(code) = o.get("code").or_else(|| o.get("value")).and_then(Value::as_str) else {
                return;
            };
            out.push((o.get("system").and_then(Value::as_str), code));
        }
        _ => {}
    }
}

/// The `(type, id)` a Reference element (or a canonical held directly as a string) points at.
pub(crate) fn reference_of(element: &Value) -> Option<(String, String)> {
    let reference = match element {
        Value::Object(o) => o.get("reference").and_then(Value::as_str),
        Value::String(s) => Some(s.as_str()),
        _ => None,
    };
    reference.and_then(parse_reference)
}

/// The strings a string parameter is compared with. For HumanName and Address that is every
/// textual part (family, given, prefix, suffix, text; line, city, state, …) but not codes such
/// as `use`.
pub(crate) fn string_leaves<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| string_leaves(i, out)),
        Value::Object(o) => {
            for (k, child) in o {
                if !matches!(k.as_str(), "use" | "type" | "period" | "system" | "extension" | "id" | "rank") {
                    string_leaves(child, out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_of_one_observation() {
        let obs = json!({
            "resourceType": "Observation",
            "id": "o1",
            "meta": {"lastUpdated": "2020-01-01T00:00:00Z"},
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}, {"code": "local"}], "text": "Height"},
            "subject": {"reference": "Patient/p1"},
            "performer": [{"reference": "Practitioner/dr"}, {"reference": "urn:uuid:x"}],
            "effectiveDateTime": "2019-05",
            "encounter": {"reference": "Encounter/e"}
        });
        let e = index_entries(&obs);
        let tok =
            |param, system: Option<&str>, code: &str| TokenEntry { param, system: system.map(str::to_owned), code: code.into() };
        assert!(e.tokens.contains(&tok("status", None, "final")));
        assert!(e.tokens.contains(&tok("code", Some("http://loinc.org"), "8302-2")));
        assert!(e.tokens.contains(&tok("code", None, "local")));
        assert!(e.tokens.contains(&tok("combo-code", Some("http://loinc.org"), "8302-2")));
        assert!(!e.tokens.iter().any(|t| t.param == "_id"), "the id is the store's own column");
        let refs: Vec<(&str, &str, &str)> =
            e.references.iter().map(|r| (r.param, r.target_type.as_str(), r.target_id.as_str())).collect();
        assert!(refs.contains(&("patient", "Patient", "p1")));
        assert!(refs.contains(&("subject", "Patient", "p1")));
        assert!(refs.contains(&("performer", "Practitioner", "dr")));
        // only shared targets are followed for $everything; urn: references are not literal references
        assert!(refs.contains(&(SHARED_REFERENCES, "Practitioner", "dr")));
        assert!(!refs.iter().any(|r| r.0 == SHARED_REFERENCES && r.1 != "Practitioner"));
        assert_eq!(e.dates.iter().filter(|d| d.param == "date").count(), 1);
        assert_eq!(e.dates.iter().filter(|d| d.param == "_lastUpdated").count(), 1);
        assert!(e.strings.is_empty());
    }

    #[test]
    fn strings_are_folded_and_kept_raw() {
        let p = json!({"resourceType": "Patient", "id": "p", "name": [{"use": "official", "family": "Núñez", "given": ["Ana", "Ana"]}]});
        let e = index_entries(&p);
        let family: Vec<(&str, &str)> =
            e.strings.iter().filter(|s| s.param == "family").map(|s| (s.folded.as_str(), s.raw.as_str())).collect();
        assert_eq!(family, [("nunez", "Núñez")]);
        // `use` is a code, not text; duplicates collapse
        let name: Vec<&str> = e.strings.iter().filter(|s| s.param == "name").map(|s| s.raw.as_str()).collect();
        assert_eq!(name, ["Ana", "Núñez"]);
        assert_eq!(index_entries(&json!({"resourceType": "Basic"})), IndexEntries::default());
    }
}
