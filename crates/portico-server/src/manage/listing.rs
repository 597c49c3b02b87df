//! The query string of a paged list (`GET /api/users`, `GET /api/staff-credentials`): every parameter checked,
//! each refusal a sentence naming the parameter and what it accepts.

use portico_api as wire;
use portico_domain::PracticeId;
use portico_store::UserRecord;

use crate::error::ApiFailure;

use super::Result;

/// The largest `offset` accepted: far beyond any real list, small enough for every integer type on the way.
const MAX_OFFSET: u64 = 1_000_000_000;

/// A list's query string, parameter by parameter: unknown or repeated names are refused.
pub(super) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(super) fn new(pairs: Vec<(String, String)>, known: &[&str]) -> Result<Params> {
        for (i, (k, _)) in pairs.iter().enumerate() {
            if !known.contains(&k.as_str()) {
                return Err(ApiFailure::invalid(format!(
                    "unknown parameter '{}' (this list takes {})",
                    clip(k),
                    known.join(", ")
                )));
            }
            if pairs[..i].iter().any(|(other, _)| other == k) {
                return Err(ApiFailure::invalid(format!("the parameter '{k}' is given more than once")));
            }
        }
        Ok(Params { pairs })
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `q`: trimmed; blank is no search; at most [`wire::MAX_SEARCH_CHARS`] characters.
    pub(super) fn search(&self) -> Result<Option<String>> {
        let Some(q) = self.get("q").map(str::trim).filter(|q| !q.is_empty()) else { return Ok(None) };
        if q.chars().count() > wire::MAX_SEARCH_CHARS {
            return Err(ApiFailure::invalid(format!("q: at most {} characters", wire::MAX_SEARCH_CHARS)));
        }
        if q.chars().any(char::is_control) {
            return Err(ApiFailure::invalid("q: printable characters only"));
        }
        Ok(Some(q.to_owned()))
    }

    /// `practice`: one of the administrator's practices.
    pub(super) fn practice(&self, admin: &UserRecord) -> Result<Option<PracticeId>> {
        let Some(v) = self.get("practice") else { return Ok(None) };
        let id = v.parse::<i64>().map(PracticeId).map_err(|_| ApiFailure::invalid("practice: a practice id (a whole number)"))?;
        if !admin.practices.contains(&id) {
            return Err(ApiFailure::invalid(format!("practice: {} is not one of your practices", id.0)));
        }
        Ok(Some(id))
    }

    /// `sort` among `options` (default `default`) and `dir` (`asc`/`desc`): without a `sort`, `default_desc`
    /// says the default direction; with one, `asc` unless `dir` says otherwise.
    pub(super) fn order<T: Copy>(&self, options: &[(&str, T)], default: T, default_desc: bool) -> Result<(T, bool)> {
        let sort = match self.get("sort") {
            None => None,
            Some(s) => Some(options.iter().find(|(name, _)| *name == s).map(|(_, v)| *v).ok_or_else(|| {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                ApiFailure::invalid(format!("sort: one of {} (not '{}')", names.join(", "), clip(s)))
            })?),
        };
        let desc = match self.get("dir") {
            None => sort.is_none() && default_desc,
            Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(ApiFailure::invalid(format!("dir: asc or desc (not '{}')", clip(other)))),
        };
        Ok((sort.unwrap_or(default), desc))
    }

    /// `offset` (default 0) and `limit` (1–100, default 25).
    pub(super) fn window(&self) -> Result<(u64, u32)> {
        let offset = match self.get("offset") {
            None => 0,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|o| *o <= MAX_OFFSET)
                .ok_or_else(|| ApiFailure::invalid(format!("offset: a whole number from 0 to {MAX_OFFSET}")))?,
        };
        let limit = match self.get("limit") {
            None => wire::DEFAULT_PAGE_LIMIT,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=wire::MAX_PAGE_LIMIT).contains(l))
                .ok_or_else(|| ApiFailure::invalid(format!("limit: a whole number from 1 to {}", wire::MAX_PAGE_LIMIT)))?,
        };
        Ok((offset, limit))
    }
}

/// A value quoted back in an error, cut short.
pub(super) fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}

pub(super) fn page<T>(items: Vec<T>, total: usize, offset: u64, limit: u32) -> wire::Page<T> {
    wire::Page { items, total: total as u64, offset, limit }
}
