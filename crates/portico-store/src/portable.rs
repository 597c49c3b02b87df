//! What every backend computes the same way outside its SQL: a resource's stamped meta, the rolled-up
//! audit's daily counts, a text prefix's upper bound. One copy, so the backends cannot drift apart.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::Value;

/// One audit row on its way into a daily count.
pub struct Read {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub key: DayKey,
    pub resource_types: String,
    pub count: i64,
}

/// The columns a daily count is kept per; "none" is '' (or 0 for the actor), as in the table.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayKey {
    pub day: String,
    pub kind: String,
    pub credential_id: String,
    pub client_id: String,
    pub patient_id: String,
    pub actor: i64,
}

#[derive(Default)]
pub struct DayCounts {
    pub types: BTreeMap<String, i64>,
    pub events: i64,
    pub resources: i64,
    pub last: Option<(DateTime<Utc>, i64)>,
}

impl DayCounts {
    pub fn add(&mut self, r: &Read) {
        merge_types(&mut self.types, &r.resource_types);
        self.events += 1;
        self.resources += r.count;
        self.last = self.last.max(Some((r.at, r.seq)));
    }
}

/// Adds "Type:n,Type:m" counts into `into`. An entry without a count (not written by today's engine, but
/// possible in old rows) counts once, so its type is never lost.
pub fn merge_types(into: &mut BTreeMap<String, i64>, types: &str) {
    for entry in types.split(',').filter(|s| !s.is_empty()) {
        let (name, n) = match entry.rsplit_once(':') {
            Some((name, n)) => match n.parse::<i64>() {
                Ok(n) => (name, n),
                Err(_) => (entry, 1),
            },
            None => (entry, 1),
        };
        *into.entry(name.to_owned()).or_default() += n;
    }
}

pub fn render_types(types: &BTreeMap<String, i64>) -> String {
    types.iter().map(|(t, n)| format!("{t}:{n}")).collect::<Vec<_>>().join(",")
}

/// The start (UTC midnight) of the day `t` falls on.
pub fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// Sets meta.versionId and meta.lastUpdated on a resource object.
pub fn stamp(resource: &mut Value, version: i64, last_updated: &str) {
    if let Some(obj) = resource.as_object_mut() {
        let meta = obj.entry("meta").or_insert_with(|| Value::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("versionId".into(), Value::String(version.to_string()));
            meta.insert("lastUpdated".into(), Value::String(last_updated.to_owned()));
        }
    }
}

/// The resource without the server-managed meta fields, for "did anything change?".
pub fn content(resource: &Value) -> Value {
    let mut v = resource.clone();
    if let Some(meta) = v.get_mut("meta").and_then(Value::as_object_mut) {
        meta.remove("versionId");
        meta.remove("lastUpdated");
        if meta.is_empty() {
            if let Some(obj) = v.as_object_mut() {
                obj.remove("meta");
            }
        }
    }
    v
}

/// The least string greater than every string that starts with `prefix` (SQLite compares text bytewise,
/// and UTF-8 byte order is code point order): the last character raised by one. None when every string
/// from `prefix` on qualifies (empty, or all U+10FFFF).
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_upper_bound_table() {
        for (prefix, want) in [
            ("", None),
            ("a", Some("b")),
            ("smi", Some("smj")),
            ("z", Some("{")),
            ("é", Some("ê")),
            ("a\u{D7FF}", Some("a\u{E000}")),
            ("a\u{10FFFF}", Some("b")),
            ("\u{10FFFF}", None),
        ] {
            assert_eq!(prefix_upper_bound(prefix).as_deref(), want, "{prefix:?}");
        }
    }
}
