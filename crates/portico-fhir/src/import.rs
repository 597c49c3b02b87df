//! Turning uploaded R4 Bundles into the resources to store.
//!
//! Sample and client bundles identify entries by `urn:uuid:` fullUrls and refer to each other by
//! them; the store only understands `Type/id`. This module assigns the ids and rewrites the
//! references before anything is stored, so a bundle is either fully resolvable or rejected.

use crate::compartment::parse_reference;
use crate::types::type_def;
use serde_json::{json, Value};
use std::collections::HashMap;

/// One resource ready to store under `resource_type`/`id` (the same as in `resource`).
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedResource {
    pub resource_type: String,
    pub id: String,
    pub resource: Value,
}

/// Why a bundle was rejected; `entry` is the 0-based index in `Bundle.entry` when one entry is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    pub entry: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.entry {
            Some(i) => write!(f, "entry {i}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

fn entry_err<T>(i: usize, message: impl Into<String>) -> Result<T, ImportError> {
    Err(ImportError { entry: Some(i), message: message.into() })
}

const URN_UUID: &str = "urn:uuid:";

/// Honours `PUT Type/id` (the id comes from the URL; the resource's own id must match or is set), gives POST entries a
/// deterministic id (the uuid of a `urn:uuid:` fullUrl, else the resource's own id, else `new_id()`), rewrites every
/// `urn:uuid:` reference (anywhere in the tree) to `Type/id` of the entry it names, keeps meta.versionId/lastUpdated as they are.
/// Errors (naming the entry index): not a Bundle, entry without resource, resourceType unknown to `type_def` or mismatching request.url,
/// missing/unsupported request.method (only POST and PUT), invalid id (FHIR id: [A-Za-z0-9-.]{1,64}), a urn:uuid reference that no entry defines.
///
/// Entries of a `collection` Bundle have no `request`; they are treated as POSTs.
pub fn prepare_bundle(bundle: &Value, new_id: &mut dyn FnMut() -> String) -> Result<Vec<PreparedResource>, ImportError> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(ImportError { entry: None, message: "not a Bundle".into() });
    }
    let bundle_type = bundle.get("type").and_then(Value::as_str).unwrap_or_default();
    if !matches!(bundle_type, "transaction" | "batch" | "collection") {
        return Err(ImportError {
            entry: None,
            message: format!("Bundle.type '{bundle_type}' cannot be imported (use transaction, batch or collection)"),
        });
    }
    let entries: &[Value] = match bundle.get("entry") {
        None => &[],
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(ImportError { entry: None, message: "Bundle.entry is not an array".into() }),
    };

    let mut prepared = Vec::with_capacity(entries.len());
    let mut urn_targets: HashMap<&str, String> = HashMap::new();
    let mut taken: HashMap<(String, String), usize> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let Some(resource) = entry.get("resource").filter(|r| r.is_object()) else {
            return entry_err(i, "entry has no resource");
        };
        let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
            return entry_err(i, "resource has no resourceType");
        };
        if type_def(ty).is_none() {
            return entry_err(i, format!("resource type '{ty}' is not supported"));
        }
        let own_id = resource.get("id").and_then(Value::as_str);
        let full_url = entry.get("fullUrl").and_then(Value::as_str);
        let request = entry.get("request");
        let method = request.and_then(|r| r.get("method")).and_then(Value::as_str);
        let url = request.and_then(|r| r.get("url")).and_then(Value::as_str).map(|u| u.trim_start_matches('/'));
        let id = match (method, bundle_type) {
            (Some("PUT"), _) => {
                let Some(url) = url else {
                    return entry_err(i, "PUT entry has no request.url");
                };
                let Some((url_type, url_id)) = url.split_once('/').filter(|(_, id)| !id.contains(['/', '?'])) else {
                    return entry_err(
                        i,
                        format!("PUT request.url '{url}' must be Type/id (conditional updates are not supported)"),
                    );
                };
                if url_type != ty {
                    return entry_err(i, format!("request.url '{url}' does not match resourceType {ty}"));
                }
                if own_id.is_some_and(|own| own != url_id) {
                    return entry_err(
                        i,
                        format!("resource id '{}' does not match request.url '{url}'", own_id.unwrap_or_default()),
                    );
                }
                url_id.to_owned()
            }
            (Some("POST"), _) | (None, "collection") => {
                if let Some(url) = url {
                    if url.trim_end_matches('/') != ty {
                        return entry_err(i, format!("request.url '{url}' does not match resourceType {ty}"));
                    }
                }
                match (full_url.and_then(|u| u.strip_prefix(URN_UUID)), own_id) {
                    (Some(uuid), _) => uuid.to_ascii_lowercase(),
                    (None, Some(own)) => own.to_owned(),
                    (None, None) => new_id(),
                }
            }
            (None, _) => return entry_err(i, "entry has no request.method"),
            (Some(m), _) => return entry_err(i, format!("request.method {m} is not supported (only POST and PUT)")),
        };
        if !is_valid_id(&id) {
            return entry_err(i, format!("'{id}' is not a valid FHIR id"));
        }
        if let Some(first) = taken.insert((ty.to_owned(), id.clone()), i) {
            return entry_err(i, format!("{ty}/{id} is also defined by entry {first}"));
        }
        if let Some(urn) = full_url.filter(|u| u.starts_with(URN_UUID)) {
            if urn_targets.insert(urn, format!("{ty}/{id}")).is_some() {
                return entry_err(i, format!("fullUrl {urn} is used by more than one entry"));
            }
        }
        prepared.push(PreparedResource { resource_type: ty.to_owned(), id, resource: resource.clone() });
    }

    for (i, p) in prepared.iter_mut().enumerate() {
        p.resource["id"] = json!(p.id);
        let mut unresolved = None;
        rewrite_references(&mut p.resource, &mut |reference| {
            if !reference.starts_with(URN_UUID) {
                return None;
            }
            let target = urn_targets.get(reference).cloned();
            if target.is_none() && unresolved.is_none() {
                unresolved = Some(reference.to_owned());
            }
            target
        });
        if let Some(urn) = unresolved {
            return entry_err(i, format!("reference {urn} does not name any entry in the bundle"));
        }
    }
    Ok(prepared)
}

/// Replaces every `reference` string for which `map` returns a new value.
fn rewrite_references(v: &mut Value, map: &mut dyn FnMut(&str) -> Option<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                match child {
                    Value::String(s) if k == "reference" => {
                        if let Some(new) = map(s) {
                            *s = new;
                        }
                    }
                    _ => rewrite_references(child, map),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_references(i, map)),
        _ => {}
    }
}

/// Clone a prepared patient record with fresh ids: every id gets a new value from new_id() (shared types too) and all references are rewritten; the Patient's name (family/given/text) is replaced by the given one.
///
/// References to resources outside `resources` are left alone. Identifiers are copied unchanged.
pub fn clone_record(
    resources: &[PreparedResource],
    given: &str,
    family: &str,
    new_id: &mut dyn FnMut() -> String,
) -> Vec<PreparedResource> {
    let new_ids: HashMap<(&str, &str), String> =
        resources.iter().map(|r| ((r.resource_type.as_str(), r.id.as_str()), new_id())).collect();
    resources
        .iter()
        .map(|r| {
            let id = new_ids.get(&(r.resource_type.as_str(), r.id.as_str())).cloned().unwrap_or_else(|| r.id.clone());
            let mut resource = r.resource.clone();
            resource["id"] = json!(id);
            rewrite_references(&mut resource, &mut |reference| {
                let (ty, old) = parse_reference(reference)?;
                new_ids.get(&(ty.as_str(), old.as_str())).map(|new| format!("{ty}/{new}"))
            });
            if r.resource_type == "Patient" {
                resource["name"] = json!([{
                    "use": "official",
                    "text": format!("{given} {family}"),
                    "family": family,
                    "given": [given],
                }]);
            }
            PreparedResource { resource_type: r.resource_type.clone(), id, resource }
        })
        .collect()
}

/// A FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}
