//! Search result Bundles.

use serde_json::{json, Value};

/// A searchset Bundle: total, link self (+ next when given), entries with fullUrl `{base}/{type}/{id}` and search.mode "match".
///
/// `entry` is left out when there are no resources because FHIR JSON forbids empty arrays.
pub fn searchset(base: &str, total: usize, resources: Vec<Value>, self_url: &str, next_url: Option<&str>) -> Value {
    let base = base.trim_end_matches('/');
    let mut links = vec![json!({"relation": "self", "url": self_url})];
    if let Some(next) = next_url {
        links.push(json!({"relation": "next", "url": next}));
    }
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    });
    if !resources.is_empty() {
        let entries: Vec<Value> = resources
            .into_iter()
            .map(|resource| {
                let ty = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
                let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
                let full_url = format!("{base}/{ty}/{id}");
                json!({"fullUrl": full_url, "resource": resource, "search": {"mode": "match"}})
            })
            .collect();
        bundle["entry"] = Value::Array(entries);
    }
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searchset_shape() {
        let b = searchset(
            "http://h/fhir/",
            3,
            vec![json!({"resourceType": "Patient", "id": "a"})],
            "http://h/fhir/Patient?_count=1&_offset=0",
            Some("http://h/fhir/Patient?_count=1&_offset=1"),
        );
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "searchset");
        assert_eq!(b["total"], 3);
        assert_eq!(b["link"][0]["relation"], "self");
        assert_eq!(b["link"][1]["relation"], "next");
        assert_eq!(b["link"][1]["url"], "http://h/fhir/Patient?_count=1&_offset=1");
        assert_eq!(b["entry"][0]["fullUrl"], "http://h/fhir/Patient/a");
        assert_eq!(b["entry"][0]["search"]["mode"], "match");
        assert_eq!(b["entry"][0]["resource"]["id"], "a");

        let empty = searchset("http://h/fhir", 0, vec![], "http://h/fhir/Patient", None);
        assert!(empty.get("entry").is_none());
        assert_eq!(empty["link"].as_array().map(Vec::len), Some(1));
    }
}
