//! What changed in a list between two fetches: how the desktop says "meanwhile on the server" (a credential
//! deleted elsewhere, a new connected app).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The difference between two fetches of one list, as labels of the items for the person to read. Each
/// item's label is its `name`, else `display_name`, else `username` (the first that is a non-empty string),
/// else its id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListChange {
    /// Items whose id is new, in the new list's order.
    pub added: Vec<String>,
    /// Items whose id is gone, in the old list's order.
    pub removed: Vec<String>,
    /// Items with the same id whose JSON differs, in the new list's order.
    pub changed: Vec<String>,
}

impl ListChange {
    /// Nothing added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares two fetches of a list. `None` unless both are JSON arrays whose every item is an object (so a
/// detail page or a list of strings is not compared). Items are matched by their `id` field, a string or a
/// number (compared by its text, so `7` and `"7"` are the same item); items without one cannot be matched and
/// are left out, and of two items with the same id only the first counts.
pub fn list_change(before: &Value, after: &Value) -> Option<ListChange> {
    let before = keyed(before)?;
    let after = keyed(after)?;
    let old: HashMap<&str, &Map<String, Value>> = before.iter().map(|(id, item)| (id.as_str(), *item)).collect();
    let new: HashMap<&str, &Map<String, Value>> = after.iter().map(|(id, item)| (id.as_str(), *item)).collect();
    let mut change = ListChange::default();
    for (id, item) in &after {
        match old.get(id.as_str()) {
            None => change.added.push(label(item, id)),
            Some(was) if was != item => change.changed.push(label(item, id)),
            Some(_) => {}
        }
    }
    for (id, item) in &before {
        if !new.contains_key(id.as_str()) {
            change.removed.push(label(item, id));
        }
    }
    Some(change)
}

/// The items of a list of objects with their ids, in order, the first of each id only; `None` when `value`
/// is not a list of objects.
fn keyed(value: &Value) -> Option<Vec<(String, &Map<String, Value>)>> {
    let items = value.as_array()?.iter().map(Value::as_object).collect::<Option<Vec<_>>>()?;
    let mut seen = HashSet::new();
    Some(items.into_iter().filter_map(|item| Some((id_of(item)?, item))).filter(|(id, _)| seen.insert(id.clone())).collect())
}

fn id_of(item: &Map<String, Value>) -> Option<String> {
    match item.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn label(item: &Map<String, Value>, id: &str) -> String {
    ["name", "display_name", "username"]
        .iter()
        .find_map(|field| item.get(*field).and_then(Value::as_str).filter(|s| !s.trim().is_empty()))
        .unwrap_or(id)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(added: &[&str], removed: &[&str], changed: &[&str]) -> Option<ListChange> {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        Some(ListChange { added: owned(added), removed: owned(removed), changed: owned(changed) })
    }

    #[test]
    fn what_changed_between_two_fetches() {
        let cases: Vec<(&str, Value, Value, Option<ListChange>)> = vec![
            ("same list", json!([{"id": "a", "name": "A"}]), json!([{"id": "a", "name": "A"}]), change(&[], &[], &[])),
            ("both empty", json!([]), json!([]), change(&[], &[], &[])),
            (
                "a credential deleted elsewhere, a new connected app",
                json!([{"id": "c1", "name": "Lab key"}, {"id": "c2", "name": "Old key"}]),
                json!([{"id": "c1", "name": "Lab key"}, {"id": "g9", "name": "Phone health app"}]),
                change(&["Phone health app"], &["Old key"], &[]),
            ),
            (
                "same id, different JSON",
                json!([{"id": "c1", "name": "Lab key", "status": "active"}]),
                json!([{"id": "c1", "name": "Lab key", "status": "inactive"}]),
                change(&[], &[], &["Lab key"]),
            ),
            (
                "a renamed item is changed, labelled by its new name",
                json!([{"id": "c1", "name": "Old"}]),
                json!([{"id": "c1", "name": "New"}]),
                change(&[], &[], &["New"]),
            ),
            (
                "reordering alone changes nothing",
                json!([{"id": 1, "name": "One"}, {"id": 2, "name": "Two"}]),
                json!([{"id": 2, "name": "Two"}, {"id": 1, "name": "One"}]),
                change(&[], &[], &[]),
            ),
            (
                "numeric ids",
                json!([{"id": 1, "display_name": "Dr Ada"}, {"id": 2, "display_name": "Dr Bo"}]),
                json!([{"id": 2, "display_name": "Dr Bo", "roles": ["staff"]}, {"id": 3, "display_name": "Dr Cy"}]),
                change(&["Dr Cy"], &["Dr Ada"], &["Dr Bo"]),
            ),
            (
                "a number and its text are the same id",
                json!([{"id": 7, "name": "N"}]),
                json!([{"id": "7", "name": "N"}]),
                change(&[], &[], &["N"]),
            ),
            (
                "labels: name, else display_name, else username, else id",
                json!([]),
                json!([{"id": "1", "name": "by name", "username": "u"}, {"id": "2", "display_name": "by display"},
                       {"id": "3", "username": "by username"}, {"id": "4"}, {"id": 5, "name": ""}, {"id": "6", "name": null, "username": "u6"}]),
                change(&["by name", "by display", "by username", "4", "5", "u6"], &[], &[]),
            ),
            (
                "items without an id are left out; a repeated id counts once",
                json!([{"name": "no id"}, {"id": null, "name": "null id"}]),
                json!([{"name": "still no id"}, {"id": "x", "name": "X"}, {"id": "x", "name": "X again"}]),
                change(&["X"], &[], &[]),
            ),
            (
                "everything removed",
                json!([{"id": "a"}, {"id": "b", "username": "bee"}]),
                json!([]),
                change(&[], &["a", "bee"], &[]),
            ),
            ("an object is not a list", json!({"id": "a"}), json!({"id": "b"}), None),
            ("a list then an object", json!([{"id": "a"}]), json!({"items": []}), None),
            ("an object then a list", json!(null), json!([{"id": "a"}]), None),
            ("a list of strings", json!(["a", "b"]), json!(["a"]), None),
            ("a list with a non-object", json!([{"id": "a"}]), json!([{"id": "a"}, 3]), None),
        ];
        for (what, before, after, expected) in cases {
            assert_eq!(list_change(&before, &after), expected, "{what}");
        }
    }

    #[test]
    fn is_empty_only_without_any_difference() {
        assert!(ListChange::default().is_empty());
        for c in [change(&["a"], &[], &[]), change(&[], &["a"], &[]), change(&[], &[], &["a"])] {
            assert!(!c.unwrap().is_empty());
        }
    }
}
