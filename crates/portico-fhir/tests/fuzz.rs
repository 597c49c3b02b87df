//! Fuzzing by property tests: search parsing and bundle import never panic, whatever a client sends,
//! and what they accept keeps its promises (self links parse back to the same search; imported
//! resources carry valid ids and no unresolved `urn:uuid:` reference).
//!
//! Bounded: 256 cases per property by default, `PROPTEST_CASES=N` for more or fewer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use portico_fhir::types::COMMON_PARAMS;
use portico_fhir::{
    clone_record, is_valid_id, prepare_bundle, supported_types, ImportError, ParamDef, ParamKind, SearchQuery, TypeDef,
};
use proptest::prelude::*;
use serde_json::{json, Value};

// ---- search parsing ------------------------------------------------------------------------

/// Control parameters, common parameters and names that look like parameters but are not.
const EXTRA_NAMES: &[&str] = &[
    "_id",
    "_lastUpdated",
    "_count",
    "_offset",
    "_sort",
    "_summary",
    "_format",
    "_include",
    "_revinclude",
    "_elements",
    "patient",
    "subject",
    "code",
    "date",
    "",
];

fn modifier() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(String::new()),
        1 => prop::sample::select(vec![":exact", ":contains", ":Patient", ":Group", ":missing", ":not", ":text", ":", "::"])
            .prop_map(str::to_owned),
        1 => ":[A-Za-z]{0,8}",
    ]
}

/// A parameter name: usually one the type supports (so parsing gets past the name), sometimes anything.
fn param_name(names: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (prop::sample::select(names), modifier()).prop_map(|(n, m)| n + &m),
        1 => ".{0,16}",
    ]
}

fn date_value() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec!["", "", "eq", "ne", "lt", "le", "gt", "ge", "sa", "eb", "ap", "x", "é"]);
    let date = "-?[0-9]{0,5}(-[0-9]{0,3}(-[0-9]{0,3}(T[0-9]{0,3}(:[0-9]{0,3}(:[0-9]{0,3}(\\.[0-9]{0,12})?)?)?([Zz]|[+ -][0-9]{1,2}:?[0-9]{0,3})?)?)?)?";
    (prefix, date).prop_map(|(p, d)| format!("{p}{d}"))
}

fn single_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => date_value(),
        2 => "([a-z:/.]{0,12}\\|)?[A-Za-z0-9.-]{0,12}",
        2 => "(https?://[a-z.]{1,8}/(fhir/)?)?([A-Z][a-z]{0,10}/)?[A-Za-z0-9.-]{0,70}(/_history/[0-9]{1,3})?",
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => "[\\\\,|$:/a-z ]{0,12}",
        1 => prop::sample::select(vec!["count", "false", "true", "json", "application/fhir json", "-date", "_id,-_lastUpdated", "-"])
            .prop_map(str::to_owned),
        2 => ".{0,24}",
    ]
}

/// One value, or a comma-separated list of them (the OR of FHIR search).
fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => single_value(),
        1 => prop::collection::vec(single_value(), 0..5).prop_map(|v| v.join(",")),
    ]
}

/// A value shaped for the parameter's kind, so parsing gets past it and the rest of the query is
/// exercised too; the arbitrary values above cover the rest.
fn value_for(kind: ParamKind, name: &'static str) -> BoxedStrategy<String> {
    let one: BoxedStrategy<String> = match (kind, name) {
        (_, "_id") => "[A-Za-z0-9.-]{1,64}".boxed(),
        (ParamKind::Token, _) => "([a-z:/.]{0,12}\\|)?[A-Za-z0-9.-]{1,12}".boxed(),
        (ParamKind::Date, _) => {
            let prefix = prop::sample::select(vec!["", "eq", "ne", "lt", "le", "gt", "ge"]);
            let date = "[12][0-9]{3}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9])(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+ -][01][0-9]:[0-5][0-9]))?)?)?";
            (prefix, date).prop_map(|(p, d)| format!("{p}{d}")).boxed()
        }
        (ParamKind::Reference, _) => {
            "((https?://[a-z.]{1,8}/(fhir/)?)?(Patient|Practitioner|Group|Organization)/)?[A-Za-z0-9.-]{1,64}".boxed()
        }
        (ParamKind::String, _) => "([^,\\\\]|\\\\[,\\\\|$]){1,12}".boxed(),
    };
    prop_oneof![
        4 => one.clone(),
        1 => prop::collection::vec(one, 1..4).prop_map(|v| v.join(",")),
    ]
    .boxed()
}

fn modifier_for(kind: ParamKind) -> BoxedStrategy<String> {
    let m: Vec<&'static str> = match kind {
        ParamKind::String => vec!["", "", ":exact", ":contains"],
        ParamKind::Reference => vec!["", "", ":Patient", ":Practitioner"],
        _ => vec![""],
    };
    prop::sample::select(m).prop_map(str::to_owned).boxed()
}

fn control(td: &'static TypeDef) -> BoxedStrategy<(String, String)> {
    let mut sort_keys: Vec<String> = vec!["_id".into(), "_lastUpdated".into()];
    sort_keys.extend(td.params.iter().filter(|p| p.kind == ParamKind::Date).map(|p| p.name.to_owned()));
    let sort = prop::collection::vec((any::<bool>(), prop::sample::select(sort_keys)), 1..3)
        .prop_map(|keys| keys.into_iter().map(|(d, k)| if d { format!("-{k}") } else { k }).collect::<Vec<_>>().join(","));
    prop_oneof![
        (0..1100usize).prop_map(|n| ("_count".to_owned(), n.to_string())),
        (0..2_000_000_000usize).prop_map(|n| ("_offset".to_owned(), n.to_string())),
        sort.prop_map(|s| ("_sort".to_owned(), s)),
        prop::sample::select(vec!["count", "false"]).prop_map(|v| ("_summary".to_owned(), v.to_owned())),
        prop::sample::select(vec!["json", "application/fhir json"]).prop_map(|v| ("_format".to_owned(), v.to_owned())),
    ]
    .boxed()
}

fn search_param(td: &'static TypeDef) -> BoxedStrategy<(String, String)> {
    let defs: Vec<&'static ParamDef> = COMMON_PARAMS.iter().chain(td.params.iter()).collect();
    let mut names: Vec<String> = EXTRA_NAMES.iter().map(|n| (*n).to_owned()).collect();
    names.extend(defs.iter().map(|p| p.name.to_owned()));
    let shaped = prop::sample::select(defs)
        .prop_flat_map(|d| (modifier_for(d.kind).prop_map(move |m| format!("{}{m}", d.name)), value_for(d.kind, d.name)));
    prop_oneof![
        6 => shaped,
        2 => control(td),
        1 => (param_name(names), param_value()),
    ]
    .boxed()
}

fn search_request() -> impl Strategy<Value = (&'static str, Vec<(String, String)>)> {
    let types: Vec<&'static TypeDef> = supported_types().iter().collect();
    prop_oneof![
        30 => prop::sample::select(types)
            .prop_flat_map(|td| (Just(td.name), prop::collection::vec(search_param(td), 0..5))),
        1 => (
            prop::sample::select(vec!["Spaceship", "patient", "", "Observation/_search"]),
            prop::collection::vec((param_name(vec!["_id".into(), "code".into()]), param_value()), 0..3)
        ),
    ]
}

/// Query pairs as a server decodes them from a query string built by `query_string`.
fn decode_query(q: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("query_string encodes UTF-8")
    };
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("every pair has '='");
            (decode(k), decode(v))
        })
        .collect()
}

/// A few stored resources of each type, to run accepted searches against.
fn samples_by_type() -> &'static BTreeMap<String, Vec<Value>> {
    static SAMPLES: OnceLock<BTreeMap<String, Vec<Value>>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (_, bundle) in common::sample_bundles() {
            for r in prepare_bundle(&bundle, &mut common::counter("s")).expect("samples import") {
                let list = by_type.entry(r.resource_type).or_default();
                if list.len() < 8 {
                    list.push(r.resource);
                }
            }
        }
        by_type
    })
}

proptest! {
    /// Whatever the parameters, parsing answers Ok or a SearchError (never a panic), and an accepted
    /// search can be matched, paged and turned into a self link that parses back to the same search.
    #[test]
    fn search_parsing_never_panics((ty, params) in search_request()) {
        let Ok(q) = SearchQuery::parse(ty, &params) else {
            return Ok(());
        };
        prop_assert_eq!(q.resource_type(), ty);
        let _ = (q.criteria(), q.sort_keys(), q.count(), q.offset(), q.summary_count());
        let mut resources = samples_by_type().get(ty).cloned().unwrap_or_default();
        for r in &resources {
            let _ = q.matches(r);
        }
        q.sort(&mut resources);

        // The self/next links a searchset carries must lead to the same search.
        let link = q.query_string(q.offset());
        let again = SearchQuery::parse(ty, &decode_query(&link));
        prop_assert!(again.is_ok(), "{ty}?{link} does not parse back: {:?} (from {params:?})", again.err());
        let again = again.expect("checked");
        prop_assert_eq!(again.query_string(q.offset()), link.clone(), "self link of {:?}", params);
        prop_assert_eq!(again.count(), q.count());
        prop_assert_eq!(again.criteria(), q.criteria());
        prop_assert_eq!(again.sort_keys(), q.sort_keys());
    }
}

// ---- bundle import -------------------------------------------------------------------------

const P: &str = "urn:uuid:5a0c1c0e-0000-4000-8000-000000000001";
const E: &str = "urn:uuid:5a0c1c0e-0000-4000-8000-000000000002";
const PR: &str = "urn:uuid:5A0C1C0E-0000-4000-8000-000000000003";

/// A small transaction bundle that uses every rewriting rule: urn:uuid fullUrls (one in upper case),
/// PUT with an id in the URL, POST with its own id and with none, nested and list references, a
/// reference that is already `Type/id`, and a contained resource.
fn compact_bundle() -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": P, "resource": {"resourceType": "Patient", "name": [{"family": "Fuzz"}],
                "managingOrganization": {"reference": "Organization/org-1"}}, "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Organization", "id": "org-1", "name": "Clinic"},
                "request": {"method": "PUT", "url": "Organization/org-1"}},
            {"fullUrl": PR, "resource": {"resourceType": "Practitioner", "id": "pr-1"}, "request": {"method": "POST", "url": "Practitioner"}},
            {"fullUrl": E, "resource": {"resourceType": "Encounter", "status": "finished", "subject": {"reference": P},
                "participant": [{"individual": {"reference": PR}}]}, "request": {"method": "POST", "url": "Encounter"}},
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
                "subject": {"reference": P}, "encounter": {"reference": E}, "performer": [{"reference": PR}, {"reference": "#c1"}],
                "contained": [{"resourceType": "Practitioner", "id": "c1"}],
                "effectiveDateTime": "2020-01-02T03:04:05Z"}, "request": {"method": "POST", "url": "Observation"}},
            {"resource": {"resourceType": "Condition", "subject": {"reference": P}}, "request": {"method": "POST", "url": "/Condition/"}},
        ]
    })
}

fn seed_bundles() -> &'static [Value] {
    static SEEDS: OnceLock<Vec<Value>> = OnceLock::new();
    SEEDS.get_or_init(|| vec![compact_bundle(), common::bundle("uscore_bundle_patient_client_test")])
}

#[derive(Debug, Clone)]
enum Mutation {
    /// The node becomes arbitrary JSON.
    Replace(Value),
    /// A string node becomes another string (ids, URLs, methods, references, types).
    Text(String),
    /// The node disappears from its object or array.
    Remove,
    /// An array element is repeated (duplicate entries, fullUrls, ids).
    Duplicate,
}

/// Which node a mutation hits: any node, or one under a key that import reads.
#[derive(Debug, Clone)]
struct Target {
    interesting: bool,
    index: usize,
}

const INTERESTING_KEYS: &[&str] =
    &["resourceType", "id", "fullUrl", "request", "method", "url", "reference", "entry", "type", "resource"];

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

fn paths(v: &Value, here: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, bool)>) {
    let interesting = matches!(here.last(), Some(Seg::Key(k)) if INTERESTING_KEYS.contains(&k.as_str()));
    out.push((here.clone(), interesting));
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                here.push(Seg::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                here.push(Seg::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |node, seg| match seg {
        Seg::Key(k) => node.get_mut(k.as_str()),
        Seg::Index(i) => node.get_mut(*i),
    })
}

fn apply(bundle: &mut Value, target: &Target, m: &Mutation) {
    let mut all = Vec::new();
    paths(bundle, &mut Vec::new(), &mut all);
    let candidates: Vec<&Vec<Seg>> = all.iter().filter(|(_, i)| *i || !target.interesting).map(|(p, _)| p).collect();
    let Some(path) = candidates.get(target.index % candidates.len().max(1)).map(|p| (*p).clone()) else {
        return;
    };
    match m {
        Mutation::Replace(new) => {
            if let Some(node) = node_mut(bundle, &path) {
                *node = new.clone();
            }
        }
        Mutation::Text(s) => {
            if let Some(node) = node_mut(bundle, &path).filter(|n| n.is_string()) {
                *node = Value::String(s.clone());
            }
        }
        Mutation::Remove | Mutation::Duplicate => {
            let Some((last, parent)) = path.split_last() else {
                return;
            };
            match (node_mut(bundle, parent), last) {
                (Some(Value::Object(o)), Seg::Key(k)) if matches!(m, Mutation::Remove) => {
                    o.remove(k);
                }
                (Some(Value::Array(items)), Seg::Index(i)) if matches!(m, Mutation::Remove) => {
                    items.remove(*i);
                }
                (Some(Value::Array(items)), Seg::Index(i)) => {
                    let copy = items[*i].clone();
                    items.insert(*i, copy);
                }
                _ => {}
            }
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["resourceType", "id", "reference", "request", "method", "url", "fullUrl", "x"])
                    .prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(vec![P, E, PR, "urn:uuid:", "Patient/org-1", "Organization/org-1", "#c1", "POST", "PUT", "DELETE",
            "post", "transaction", "batch", "collection", "searchset", "Bundle", "Patient", "Observation", "Basic", "Organization/",
            "/", "Patient/a/_history/1", "Organization/org-1?x=1", ""]).prop_map(str::to_owned),
        2 => "urn:uuid:[0-9a-fA-F-]{0,40}",
        2 => "(Patient|Observation|Encounter|Organization|Basic|)/?[A-Za-z0-9.-]{0,70}",
        1 => "[A-Za-z0-9.-]{60,70}",
        2 => ".{0,30}",
    ]
}

fn mutation() -> impl Strategy<Value = (Target, Mutation)> {
    let target = (any::<bool>(), any::<usize>()).prop_map(|(interesting, index)| Target { interesting, index });
    let m = prop_oneof![
        2 => json_value().prop_map(Mutation::Replace),
        3 => text().prop_map(Mutation::Text),
        2 => Just(Mutation::Remove),
        1 => Just(Mutation::Duplicate),
    ];
    (target, m)
}

/// Every `reference` string anywhere in a resource.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                match child {
                    Value::String(s) if k == "reference" => out.push(s.clone()),
                    _ => references(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| references(i, out)),
        _ => {}
    }
}

proptest! {
    /// A mutated bundle is imported or refused with an error that names a real entry, never a panic;
    /// what is imported has valid unique ids and no `urn:uuid:` reference left, and can be cloned.
    #[test]
    fn bundle_import_never_panics(seed in 0..2usize, mutations in prop::collection::vec(mutation(), 1..6)) {
        let mut bundle = seed_bundles()[seed].clone();
        for (target, m) in &mutations {
            apply(&mut bundle, target, m);
        }
        let entries = bundle.get("entry").and_then(Value::as_array).map_or(0, Vec::len);
        match prepare_bundle(&bundle, &mut common::counter("new-")) {
            Err(ImportError { entry, message }) => {
                prop_assert!(!message.is_empty());
                prop_assert!(entry.is_none_or(|i| i < entries), "entry {:?} of {}: {}", entry, entries, message);
            }
            Ok(prepared) => {
                prop_assert_eq!(prepared.len(), entries);
                let mut seen = HashSet::new();
                for p in &prepared {
                    prop_assert!(is_valid_id(&p.id), "{:?}", p.id);
                    prop_assert_eq!(p.resource["id"].as_str(), Some(p.id.as_str()));
                    prop_assert_eq!(p.resource["resourceType"].as_str(), Some(p.resource_type.as_str()));
                    prop_assert!(seen.insert((p.resource_type.clone(), p.id.clone())), "{}/{} twice", p.resource_type, p.id);
                    let mut refs = Vec::new();
                    references(&p.resource, &mut refs);
                    prop_assert!(!refs.iter().any(|r| r.starts_with("urn:uuid:")), "unresolved in {}", p.resource);
                }
                let cloned = clone_record(&prepared, "Given", "Family", &mut common::counter("clone-"));
                prop_assert_eq!(cloned.len(), prepared.len());
            }
        }
    }
}
