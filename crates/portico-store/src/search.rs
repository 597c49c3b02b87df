//! The search index (migration 0003) and FHIR search as SQL.
//!
//! Every live resource's search parameter values ([`portico_fhir::index_entries`]) are kept in four tables,
//! rewritten in the same transaction as the resource. A search becomes one SQL statement over `resources`
//! that counts the matches and picks the page: one selective criterion may drive through its `_lookup` index
//! (`r.rid IN (…)`), the others are probed per candidate with `EXISTS` on the (rid, param) clustering, and
//! date sort keys are read the same way. Each condition below restates one rule of `portico_fhir::search`
//! (token systems, date prefixes, folded prefixes) in SQL; `tests/search_index.rs` holds the two to the
//! same answers on the sample records.

use portico_domain::PatientScope;
use portico_fhir::search::{Criterion, DatePrefix, SearchValue, SortKey, StringMode, TokenSystem};
use portico_fhir::{index_entries, ParamKind};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};
use serde_json::Value;

use crate::portable::prefix_upper_bound;
use crate::resources::{resource_at, row_to_resource, PatientFilter, StoredResource, COLUMNS};
use crate::{placeholders, sqlite, Result, Store, StoreError};

impl Store {
    /// One page of a search: how many live resources of `resource_type` inside `filter` meet every
    /// criterion, and `limit` of them from `offset` in `sort` order (ties and no sort: ascending id).
    /// `limit` 0 answers the total alone.
    pub fn search(
        &self,
        resource_type: &str,
        filter: PatientFilter<'_>,
        criteria: &[Criterion],
        sort: &[SortKey],
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<StoredResource>)> {
        // A list of patients is already a narrow start (their compartments, by index); otherwise the most
        // selective-looking criterion drives, so a practice-wide search never walks every resource of the type.
        let narrow_by_patient = matches!(filter, PatientFilter::Scope(PatientScope::Only(_)));
        let driver = if narrow_by_patient { None } else { driving_criterion(criteria) };
        // Without statistics SQLite takes any indexed equality for a narrow start. When a criterion drives, a
        // unary `+` keeps the type and compartment tests from being used as one, so they only check the rows
        // the driver finds (an `_id` list still goes through the (type, id) key).
        let by_value = driver.is_some_and(|i| criteria[i].name() != "_id");
        let no_index = if by_value { "+" } else { "" };
        let mut q = Sql::default();
        // The SQLite that ships with rusqlite, left to itself, walks the (type, id) index of every live
        // resource of the type to save a sort, even when a few patients' compartments are asked for: on a
        // million resources that is 70 ms instead of 1. Those compartments are named here.
        let from = if narrow_by_patient { "resources r INDEXED BY resources_by_patient" } else { "resources r" };
        q.push(&format!("FROM {from} WHERE {no_index}r.type = ? AND r.deleted = 0"), [text(resource_type)]);
        match filter {
            PatientFilter::Shared => q.push(" AND r.patient_id IS NULL", []),
            PatientFilter::Scope(PatientScope::Only(ids)) => {
                q.push(&format!(" AND r.patient_id IN ({})", placeholders(ids.len())), ids.iter().map(|i| i.0.clone().into()))
            }
            PatientFilter::Scope(PatientScope::Practices(ps)) => q.push(
                &format!(
                    " AND {no_index}r.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id IN ({}))",
                    placeholders(ps.len())
                ),
                ps.iter().map(|p| p.0.into()),
            ),
        }
        for (i, c) in criteria.iter().enumerate() {
            q.text.push_str(" AND ");
            condition(&mut q, resource_type, c, driver == Some(i))?;
        }
        // One pass finds the matches (rid, id and sort keys only), counts them and picks the page, so only the
        // page's own rows are read whole. The LEFT JOIN keeps one row (with the total) when the page is empty.
        let (keys, key_args, order) = sort_keys(sort);
        let sql = format!(
            "WITH m AS MATERIALIZED (SELECT r.rid AS rid, r.id AS id{keys} {}),
                  page AS (SELECT * FROM m ORDER BY {order} LIMIT ? OFFSET ?)
             SELECT (SELECT count(*) FROM m), p.rid, {} FROM (SELECT 1) LEFT JOIN page p LEFT JOIN resources x ON x.rid = p.rid
             ORDER BY {}",
            q.text,
            columns("x"),
            order.replace("m.", "p.")
        );
        let args = key_args.into_iter().chain(q.args).chain([to_i64(limit).into(), to_i64(offset).into()]);
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let mut rows = st.query(params_from_iter(args)).map_err(sqlite)?;
        let mut total = 0;
        let mut page = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite)? {
            total = usize::try_from(row.get::<_, i64>(0).map_err(sqlite)?).unwrap_or(0);
            if row.get::<_, Option<i64>>(1).map_err(sqlite)?.is_some() {
                page.push(resource_at(row, 2).map_err(sqlite)?);
            }
        }
        Ok((total, page))
    }

    /// The live shared resources (Organization, Practitioner, Location, …) that the live resources of one
    /// patient's compartment refer to, anywhere in their JSON, ordered by type and id. (The `+`s keep SQLite
    /// from walking every shared resource: the patient's references drive, through the (type, id) key.)
    pub fn shared_referenced_by(&self, patient: &portico_domain::PatientId) -> Result<Vec<StoredResource>> {
        let sql = format!(
            "SELECT {} FROM resources r
             WHERE +r.deleted = 0 AND +r.patient_id IS NULL AND (r.type, r.id) IN (
                 SELECT x.target_type, x.target_id FROM resources c INDEXED BY resources_by_patient
                 JOIN search_reference x ON x.rid = c.rid
                 WHERE c.patient_id = ? AND c.deleted = 0 AND x.param = ?)
             ORDER BY r.type, r.id",
            columns("r")
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows =
            st.query_map(params![patient.as_str(), portico_fhir::index::SHARED_REFERENCES], row_to_resource).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }
}

fn columns(alias: &str) -> String {
    COLUMNS.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

/// For the sort keys: the extra columns of the match list (`, <expr> AS k0, …`), their arguments, and the
/// ORDER BY over the list (`m.k0 … , m.id`). A date key is the earliest start ascending, the latest end
/// descending, with resources without a value last either way; the id breaks ties, as `SearchQuery::sort`.
fn sort_keys(sort: &[SortKey]) -> (String, Vec<SqlValue>, String) {
    let mut columns = Sql::default();
    let mut order = String::new();
    for (i, key) in sort.iter().enumerate() {
        let dir = if key.descending() { "DESC" } else { "ASC" };
        if key.by_id() {
            order.push_str(&format!("m.id {dir}, "));
        } else {
            let edge = if key.descending() { "max(\"end\")" } else { "min(start)" };
            columns.push(
                &format!(", (SELECT {edge} FROM search_date WHERE rid = r.rid AND param = ?) AS k{i}"),
                [text(key.param())],
            );
            order.push_str(&format!("m.k{i} {dir} NULLS LAST, "));
        }
    }
    order.push_str("m.id");
    (columns.text, columns.args, order)
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_owned())
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// SQL text with its positional arguments, in order.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<SqlValue>,
}

impl Sql {
    fn push(&mut self, text: &str, args: impl IntoIterator<Item = SqlValue>) {
        self.text.push_str(text);
        self.args.extend(args);
    }
}

/// How well a criterion narrows through its lookup index, lower is better; None when it cannot (a
/// `:contains`, `ne` or `system|` search scans its parameter's whole range of the index).
fn selectivity(c: &Criterion) -> Option<u8> {
    let all = |f: fn(&SearchValue) -> bool| c.values().iter().all(f);
    match c.kind() {
        _ if c.name() == "_id" => Some(0),
        ParamKind::Reference => Some(1),
        ParamKind::Token if all(|v| matches!(v, SearchValue::Token { code: Some(_), .. })) => Some(2),
        ParamKind::String if c.string_mode() != StringMode::Contains => Some(3),
        ParamKind::Date if all(|v| !matches!(v, SearchValue::Date { prefix: DatePrefix::Ne, .. })) => Some(4),
        _ => None,
    }
}

fn driving_criterion(criteria: &[Criterion]) -> Option<usize> {
    criteria.iter().enumerate().filter_map(|(i, c)| selectivity(c).map(|s| (s, i))).min().map(|(_, i)| i)
}

fn table(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Token => "search_token",
        ParamKind::Date => "search_date",
        ParamKind::Reference => "search_reference",
        ParamKind::String => "search_string",
    }
}

/// One criterion as a condition on `r`. Driving: `r.rid IN (…)` with one indexed lookup per value (or one
/// `IN` list for plain codes). Otherwise a correlated `EXISTS` over the resource's own entries.
fn condition(q: &mut Sql, resource_type: &str, c: &Criterion, drive: bool) -> Result<()> {
    if c.name() == "_id" {
        // Every store keeps the id beside the resource; `_id` values are plain ids (the parser refuses systems).
        let ids: Vec<SqlValue> = c
            .values()
            .iter()
            .map(|v| match v {
                SearchValue::Token { code: Some(code), .. } => Ok(code.clone().into()),
                _ => Err(StoreError::Corrupt("an _id value without an id".into())),
            })
            .collect::<Result<_>>()?;
        q.push(&format!("r.id IN ({})", placeholders(ids.len())), ids);
        return Ok(());
    }
    let table = table(c.kind());
    if !drive {
        q.push(&format!("EXISTS (SELECT 1 FROM {table} WHERE rid = r.rid AND param = ? AND ("), [text(c.name())]);
        for (i, v) in c.values().iter().enumerate() {
            if i > 0 {
                q.text.push_str(" OR ");
            }
            value_condition(q, c, v);
        }
        q.text.push_str("))");
        return Ok(());
    }
    let arm = |q: &mut Sql| {
        q.push(&format!("SELECT rid FROM {table} WHERE type = ? AND param = ? AND "), [text(resource_type), text(c.name())])
    };
    q.text.push_str("r.rid IN (");
    let mut first = true;
    // Plain codes share one arm: one IN list on the lookup index.
    let plain: Vec<SqlValue> = c
        .values()
        .iter()
        .filter_map(|v| match v {
            SearchValue::Token { system: TokenSystem::Any, code: Some(code) } => Some(code.clone().into()),
            _ => None,
        })
        .collect();
    if !plain.is_empty() {
        arm(q);
        q.push(&format!("code IN ({})", placeholders(plain.len())), plain);
        first = false;
    }
    for v in c.values() {
        if matches!(v, SearchValue::Token { system: TokenSystem::Any, code: Some(_) }) {
            continue;
        }
        if !first {
            q.text.push_str(" UNION ALL ");
        }
        first = false;
        arm(q);
        value_condition(q, c, v);
    }
    q.text.push(')');
    Ok(())
}

/// One value as a condition on one index row. Mirrors the matcher in `portico_fhir::search`.
fn value_condition(q: &mut Sql, c: &Criterion, v: &SearchValue) {
    match v {
        SearchValue::Token { system, code } => {
            let system = match system {
                TokenSystem::Any => None,
                TokenSystem::Absent => Some(("system IS NULL", None)),
                TokenSystem::Is(s) => Some(("system = ?", Some(s.clone()))),
            };
            match (code, system) {
                (Some(code), None) => q.push("code = ?", [code.clone().into()]),
                (Some(code), Some((sql, arg))) => {
                    q.push(&format!("(code = ? AND {sql})"), [code.clone().into()].into_iter().chain(arg.map(SqlValue::from)))
                }
                (None, Some((sql, arg))) => q.push(sql, arg.map(SqlValue::from)),
                (None, None) => q.push("1", []),
            }
        }
        SearchValue::Date { prefix, range } => {
            let (start, end) = (range.start, range.end);
            // The element's range [start, end) against the searched one; see `date_matches`.
            match prefix {
                DatePrefix::Eq => q.push("(start >= ? AND \"end\" <= ?)", [start.into(), end.into()]),
                DatePrefix::Ne => q.push("NOT (start >= ? AND \"end\" <= ?)", [start.into(), end.into()]),
                DatePrefix::Gt => q.push("\"end\" > ?", [end.into()]),
                DatePrefix::Lt => q.push("start < ?", [start.into()]),
                DatePrefix::Ge => q.push("\"end\" > ?", [start.into()]),
                DatePrefix::Le => q.push("start < ?", [end.into()]),
            }
        }
        SearchValue::Reference { ty, id } => match ty {
            Some(t) => q.push("(target_id = ? AND target_type = ?)", [id.clone().into(), t.clone().into()]),
            None => q.push("target_id = ?", [id.clone().into()]),
        },
        SearchValue::Str { raw, folded } => match c.string_mode() {
            // Equal raw text has equal folded text, so the folded index narrows exact searches too.
            StringMode::Exact => q.push("(folded = ? AND raw = ?)", [folded.clone().into(), raw.clone().into()]),
            StringMode::Contains => q.push("instr(folded, ?) > 0", [folded.clone().into()]),
            StringMode::Prefix => match prefix_upper_bound(folded) {
                Some(upper) => q.push("(folded >= ? AND folded < ?)", [folded.clone().into(), upper.into()]),
                None => q.push("folded >= ?", [folded.clone().into()]),
            },
        },
    }
}

/// Replaces the index entries of resource `rid` with those of `resource` (its JSON as stored).
pub(crate) fn write_index(conn: &Connection, rid: i64, resource_type: &str, resource: &Value) -> Result<()> {
    clear_index(conn, rid)?;
    let e = index_entries(resource);
    let mut ord = 0i64;
    let mut next = || {
        ord += 1;
        ord
    };
    let mut st = conn
        .prepare_cached("INSERT INTO search_token(rid, param, ord, type, system, code) VALUES (?, ?, ?, ?, ?, ?)")
        .map_err(sqlite)?;
    for t in &e.tokens {
        st.execute(params![rid, t.param, next(), resource_type, t.system, t.code]).map_err(sqlite)?;
    }
    let mut st = conn
        .prepare_cached("INSERT INTO search_date(rid, param, ord, type, start, \"end\") VALUES (?, ?, ?, ?, ?, ?)")
        .map_err(sqlite)?;
    for d in &e.dates {
        st.execute(params![rid, d.param, next(), resource_type, d.start, d.end]).map_err(sqlite)?;
    }
    let mut st = conn
        .prepare_cached("INSERT INTO search_reference(rid, param, ord, type, target_type, target_id) VALUES (?, ?, ?, ?, ?, ?)")
        .map_err(sqlite)?;
    for r in &e.references {
        st.execute(params![rid, r.param, next(), resource_type, r.target_type, r.target_id]).map_err(sqlite)?;
    }
    let mut st = conn
        .prepare_cached("INSERT INTO search_string(rid, param, ord, type, folded, raw) VALUES (?, ?, ?, ?, ?, ?)")
        .map_err(sqlite)?;
    for s in &e.strings {
        st.execute(params![rid, s.param, next(), resource_type, s.folded, s.raw]).map_err(sqlite)?;
    }
    Ok(())
}

/// Removes every index entry of resource `rid` (it was deleted, or is about to be re-indexed).
pub(crate) fn clear_index(conn: &Connection, rid: i64) -> Result<()> {
    for table in ["search_token", "search_date", "search_reference", "search_string"] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE rid = ?")).map_err(sqlite)?.execute([rid]).map_err(sqlite)?;
    }
    Ok(())
}

/// Indexes every live resource; run once, in the transaction of migration 0003, for databases that
/// already held resources.
pub(crate) fn backfill_index(conn: &Connection) -> Result<()> {
    let mut st = conn.prepare("SELECT rid, type, json FROM resources WHERE deleted = 0").map_err(sqlite)?;
    let mut rows = st.query([]).map_err(sqlite)?;
    while let Some(row) = rows.next().map_err(sqlite)? {
        let (rid, ty, json): (i64, String, String) =
            (row.get(0).map_err(sqlite)?, row.get(1).map_err(sqlite)?, row.get(2).map_err(sqlite)?);
        let resource: Value = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("{ty} rid {rid}: {e}")))?;
        write_index(conn, rid, &ty, &resource)?;
    }
    Ok(())
}
