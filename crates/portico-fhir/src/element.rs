//! Walking dotted element paths through resource JSON.
//!
//! Search parameters and compartments are defined as simple dotted paths (no FHIRPath), which is
//! all the supported parameter table needs; arrays are flattened at every step, as FHIRPath does.

use serde_json::Value;

/// Every value found at `path` (e.g. `name.given`), with arrays flattened.
pub(crate) fn values_at<'a>(resource: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![resource];
    for segment in path.split('.') {
        let mut next = Vec::new();
        for v in current {
            if let Some(child) = v.get(segment) {
                push_flat(child, &mut next);
            }
        }
        current = next;
    }
    current
}

fn push_flat<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| push_flat(i, out)),
        Value::Null => {}
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_arrays() {
        let r = json!({"name": [{"given": ["A", "B"]}, {"given": ["C"], "family": "F"}], "x": null});
        let given: Vec<_> = values_at(&r, "name.given").into_iter().filter_map(Value::as_str).collect();
        assert_eq!(given, ["A", "B", "C"]);
        assert_eq!(values_at(&r, "name.family").len(), 1);
        assert!(values_at(&r, "x").is_empty());
        assert!(values_at(&r, "missing.path").is_empty());
    }
}
