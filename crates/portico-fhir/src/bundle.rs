//! Search result Bundles.

use serde_json::{json, Value};

/// Why an entry is in a searchset (`Bundle.entry.search.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// It meets the search's criteria.
    Match,
    /// `_include` or `_revinclude` brought it.
    Include,
    /// An OperationOutcome about the search itself (e.g. the parameters a lenient search ignored).
    Outcome,
}

impl SearchMode {
    fn as_str(self) -> &'static str {
        match self {
            SearchMode::Match => "match",
            SearchMode::Include => "include",
            SearchMode::Outcome => "outcome",
        }
    }
}

/// A searchset Bundle: total, link self (+ next when given), entries with fullUrl `{base}/{type}/{id}` and search.mode "match".
///
/// `entry` is left out when there are no resources because FHIR JSON forbids empty arrays.
pub fn searchset(base: &str, total: usize, resources: Vec<Value>, self_url: &str, next_url: Option<&str>) -> Value {
    let entries = resources.into_iter().map(|r| (r, SearchMode::Match)).collect();
    searchset_entries(base, Some(total), entries, self_url, next_url)
}

/// A searchset Bundle whose entries say why each is there; `total` None leaves it out (`_total=none`). An
/// outcome entry has no fullUrl: an OperationOutcome about this search has no address of its own.
pub fn searchset_entries(
    base: &str,
    total: Option<usize>,
    entries: Vec<(Value, SearchMode)>,
    self_url: &str,
    next_url: Option<&str>,
) -> Value {
    let base = base.trim_end_matches('/');
    let mut links = vec![json!({"relation": "self", "url": self_url})];
    if let Some(next) = next_url {
        links.push(json!({"relation": "next", "url": next}));
    }
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
    });
    if let Some(total) = total {
        bundle["total"] = json!(total);
    }
    if !entries.is_empty() {
        let entries: Vec<Value> = entries
            .into_iter()
            .map(|(resource, mode)| {
                if mode == SearchMode::Outcome {
                    return json!({"resource": resource, "search": {"mode": mode.as_str()}});
                }
                let ty = resource.get("resourceType").and_then(Value::as_str).unwrap_or_default();
                let id = resource.get("id").and_then(Value::as_str).unwrap_or_default();
                let full_url = format!("{base}/{ty}/{id}");
                json!({"fullUrl": full_url, "resource": resource, "search": {"mode": mode.as_str()}})
            })
            .collect();
        bundle["entry"] = Value::Array(entries);
    }
    bundle
}

/// The same searchset as [`searchset`], written as JSON text from resources that are already JSON text
/// (`(type, id, json)`, e.g. as stored), so a large Bundle (`$everything`) is built without parsing and
/// re-serializing every resource. The caller vouches that each `json` is one valid JSON object.
pub fn searchset_json<'a>(
    base: &str,
    total: usize,
    resources: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    self_url: &str,
    next_url: Option<&str>,
) -> String {
    let base = base.trim_end_matches('/');
    let mut links = vec![json!({"relation": "self", "url": self_url})];
    if let Some(next) = next_url {
        links.push(json!({"relation": "next", "url": next}));
    }
    let mut out = format!(r#"{{"resourceType":"Bundle","type":"searchset","total":{total},"link":{}"#, Value::Array(links));
    let mut any = false;
    for (ty, id, resource) in resources {
        out.push_str(if any { "," } else { r#","entry":["# });
        any = true;
        let full_url = Value::String(format!("{base}/{ty}/{id}"));
        out.push_str(&format!(r#"{{"fullUrl":{full_url},"resource":{resource},"search":{{"mode":"match"}}}}"#));
    }
    // `entry` is left out when empty, as in `searchset`.
    if any {
        out.push(']');
    }
    out.push('}');
    out
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

    #[test]
    fn searchset_json_is_the_same_bundle() {
        let resources = [
            json!({"resourceType": "Patient", "id": "a", "name": [{"family": "Ó'Brien \"Q\""}]}),
            json!({"resourceType": "Organization", "id": "o"}),
        ];
        let texts: Vec<(String, String, String)> = resources
            .iter()
            .map(|r| (r["resourceType"].to_string().replace('"', ""), r["id"].to_string().replace('"', ""), r.to_string()))
            .collect();
        for n in [0, 1, 2] {
            for next in [None, Some("http://h/fhir/x?a=\"b\"&c")] {
                let parsed = searchset("http://h/fhir/", 7, resources[..n].to_vec(), "http://h/fhir/self", next);
                let text = searchset_json(
                    "http://h/fhir/",
                    7,
                    texts[..n].iter().map(|(t, i, j)| (t.as_str(), i.as_str(), j.as_str())),
                    "http://h/fhir/self",
                    next,
                );
                assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(parsed), "{n} resources, next {next:?}");
            }
        }
    }
}
