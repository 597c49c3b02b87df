//! Loading the sample bundles shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use portico_fhir::{prepare_bundle, PreparedResource};
use serde_json::Value;
use std::path::PathBuf;

/// (file name, bundle) for all 18 sample bundles, in a fixed order.
pub fn sample_bundles() -> Vec<(String, Value)> {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../portico-samples/data");
    let mut files = Vec::new();
    for dir in [data.clone(), data.join("uscore-inferno")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, bundle)
        })
        .collect()
}

pub fn bundle(name_prefix: &str) -> Value {
    sample_bundles().into_iter().find(|(n, _)| n.starts_with(name_prefix)).map(|(_, b)| b).unwrap()
}

/// A deterministic id source for tests.
pub fn counter(prefix: &str) -> impl FnMut() -> String + '_ {
    let mut n = 0;
    move || {
        n += 1;
        format!("{prefix}{n}")
    }
}

pub fn prepared(name_prefix: &str) -> Vec<PreparedResource> {
    prepare_bundle(&bundle(name_prefix), &mut counter("gen")).unwrap()
}

pub fn of_type(prepared: &[PreparedResource], ty: &str) -> Vec<Value> {
    prepared.iter().filter(|p| p.resource_type == ty).map(|p| p.resource.clone()).collect()
}
