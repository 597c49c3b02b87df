//! The search index and FHIR search as SQL (SQLite: `search.rs`).
//!
//! Every live resource's search parameter values ([`portico_fhir::index_entries`]) are kept in four tables,
//! rewritten in the same transaction as the resource. A search is one statement over `resources` that
//! counts the matches and picks the page; each criterion is an `EXISTS` over the resource's own entries
//! (which PostgreSQL's planner may turn around to drive from the `_lookup` index). Each condition restates
//! one rule of `portico_fhir::search` (token systems, date prefixes, folded prefixes) in SQL, as SQLite's
//! does; the suite holds both backends to the same answers on the sample records.
//!
//! Statements are built from fixed fragments only; every value is a `$n` parameter.

use portico_domain::{PatientId, PatientScope};
use portico_fhir::search::{Criterion, DatePrefix, SearchValue, SortKey, StringMode, TokenSystem};
use portico_fhir::{index_entries, ParamKind};
use portico_store::portable::prefix_upper_bound;
use portico_store::{PatientFilter, Result, StoreError, StoredResource};
use serde_json::Value;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use crate::nul_free;
use crate::resources::{columns, resource_at};
use crate::{col, copy_text, Param, PgStore};

/// The parameters of a statement built for one call, each with its type; each method adds one and returns
/// its placeholder (`$n`), so fragments may be written in any order.
#[derive(Default)]
pub(crate) struct Sql {
    args: Vec<(Box<dyn ToSql + Sync>, Type)>,
}

impl Sql {
    fn arg(&mut self, v: impl ToSql + Sync + 'static, ty: Type) -> String {
        self.args.push((Box::new(v), ty));
        format!("${}", self.args.len())
    }

    /// A text parameter, made storable (see [`nul_free`]) as the indexed text was.
    pub(crate) fn text(&mut self, s: &str) -> String {
        self.arg(nul_free(s).into_owned(), Type::TEXT)
    }

    /// A text array parameter, each made storable.
    pub(crate) fn texts<'a>(&mut self, v: impl IntoIterator<Item = &'a str>) -> String {
        self.arg(v.into_iter().map(|s| nul_free(s).into_owned()).collect::<Vec<String>>(), Type::TEXT_ARRAY)
    }

    pub(crate) fn int(&mut self, n: i64) -> String {
        self.arg(n, Type::INT8)
    }

    pub(crate) fn ints(&mut self, v: Vec<i64>) -> String {
        self.arg(v, Type::INT8_ARRAY)
    }
}

impl PgStore {
    /// Runs a statement built for this one call (a search's text varies with its criteria) as a one-shot
    /// unnamed statement, in one round trip. It is planned with its values each time: a prepared statement
    /// may settle on a generic plan, which suits a rare code and not a common one. And it is not cached: the
    /// per-connection cache of prepared statements would grow with every new shape of search a client sends.
    pub(crate) fn query_once(&self, sql: &str, q: &Sql) -> Result<Vec<Row>> {
        let params: Vec<(Param<'_>, Type)> = q.args.iter().map(|(v, t)| (v.as_ref() as Param<'_>, t.clone())).collect();
        self.block(self.client.query_typed(sql, &params))
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgStore {
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
        let mut q = Sql::default();
        let ty = q.text(resource_type);
        let mut cond = format!("r.type = {ty} AND NOT r.deleted");
        match filter {
            PatientFilter::Shared => cond.push_str(" AND r.patient_id IS NULL"),
            PatientFilter::Scope(PatientScope::Only(ids)) => {
                cond.push_str(&format!(" AND r.patient_id = ANY({})", q.texts(ids.iter().map(PatientId::as_str))));
            }
            PatientFilter::Scope(PatientScope::Practices(ps)) => {
                let ps: Vec<i64> = ps.iter().map(|p| p.0).collect();
                cond.push_str(&format!(
                    " AND r.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id = ANY({}))",
                    q.ints(ps)
                ));
            }
        }
        for c in criteria {
            cond.push_str(" AND ");
            condition(&mut q, &mut cond, &ty, c)?;
        }
        let (keys, order) = sort_keys(&mut q, sort);
        let (lim, off) = (q.int(to_i64(limit)), q.int(to_i64(offset)));
        // One pass finds the matches (rid, id and sort keys only), counts them and picks the page, so only the
        // page's own rows are read whole. The LEFT JOIN keeps one row (with the total) when the page is empty.
        let sql = format!(
            "WITH m AS MATERIALIZED (SELECT r.rid AS rid, r.id AS id{keys} FROM resources r WHERE {cond}),
                  page AS (SELECT * FROM m ORDER BY {order} LIMIT {lim} OFFSET {off})
             SELECT (SELECT count(*) FROM m), p.rid, {}
             FROM (SELECT 1) AS one LEFT JOIN page p ON true LEFT JOIN resources x ON x.rid = p.rid
             ORDER BY {}",
            columns("x"),
            order.replace("m.", "p.")
        );
        let rows = self.query_once(&sql, &q)?;
        let mut total = 0;
        let mut page = Vec::new();
        for row in &rows {
            total = usize::try_from(col::<i64>(row, 0)?).unwrap_or(0);
            if col::<Option<i64>>(row, 1)?.is_some() {
                page.push(resource_at(row, 2)?);
            }
        }
        Ok((total, page))
    }

    /// The live shared resources (Organization, Practitioner, Location, …) that the live resources of one
    /// patient's compartment refer to, anywhere in their JSON, ordered by type and id.
    pub fn shared_referenced_by(&self, patient: &PatientId) -> Result<Vec<StoredResource>> {
        let sql = format!(
            "SELECT {} FROM resources r
             WHERE NOT r.deleted AND r.patient_id IS NULL AND (r.type, r.id) IN (
                 SELECT x.target_type, x.target_id FROM resources c JOIN search_reference x ON x.rid = c.rid
                 WHERE c.patient_id = $1 AND NOT c.deleted AND x.param = $2)
             ORDER BY r.type, r.id",
            columns("r")
        );
        self.query(&sql, &[&nul_free(patient.as_str()), &portico_fhir::index::SHARED_REFERENCES])?
            .iter()
            .map(|r| resource_at(r, 0))
            .collect()
    }
}

/// For the sort keys: the extra columns of the match list (`, <expr> AS k0, …`) and the ORDER BY over it
/// (`m.k0 … , m.id`). A date key is the earliest start ascending, the latest end descending, with
/// resources without a value last either way; the id breaks ties, as `SearchQuery::sort`.
fn sort_keys(q: &mut Sql, sort: &[SortKey]) -> (String, String) {
    let mut columns = String::new();
    let mut order = String::new();
    for (i, key) in sort.iter().enumerate() {
        let dir = if key.descending() { "DESC" } else { "ASC" };
        if key.by_id() {
            order.push_str(&format!("m.id {dir}, "));
        } else {
            let edge = if key.descending() { "max(\"end\")" } else { "min(start)" };
            let param = q.text(key.param());
            columns.push_str(&format!(", (SELECT {edge} FROM search_date WHERE rid = r.rid AND param = {param}) AS k{i}"));
            order.push_str(&format!("m.k{i} {dir} NULLS LAST, "));
        }
    }
    order.push_str("m.id");
    (columns, order)
}

fn table(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Token => "search_token",
        ParamKind::Date => "search_date",
        ParamKind::Reference => "search_reference",
        ParamKind::String => "search_string",
    }
}

/// One criterion as a condition on `r`: an `EXISTS` over the resource's own entries of the parameter, any
/// value matching. The entries' `type` is the resource's: said anyway, so the planner may start from the
/// (type, param, value) lookup index when the criterion is the narrow one.
fn condition(q: &mut Sql, cond: &mut String, ty: &str, c: &Criterion) -> Result<()> {
    if c.name() == "_id" {
        // Every store keeps the id beside the resource; `_id` values are plain ids (the parser refuses systems).
        let ids: Vec<&str> = c
            .values()
            .iter()
            .map(|v| match v {
                SearchValue::Token { code: Some(code), .. } => Ok(code.as_str()),
                _ => Err(StoreError::Corrupt("an _id value without an id".into())),
            })
            .collect::<Result<_>>()?;
        cond.push_str(&format!("r.id = ANY({})", q.texts(ids)));
        return Ok(());
    }
    let param = q.text(c.name());
    cond.push_str(&format!(
        "EXISTS (SELECT 1 FROM {} WHERE rid = r.rid AND type = {ty} AND param = {param} AND (",
        table(c.kind())
    ));
    // Plain codes share one arm: one `= ANY` on the lookup index.
    let plain: Vec<&str> = c
        .values()
        .iter()
        .filter_map(|v| match v {
            SearchValue::Token { system: TokenSystem::Any, code: Some(code) } => Some(code.as_str()),
            _ => None,
        })
        .collect();
    let mut arms = Vec::new();
    if !plain.is_empty() {
        arms.push(format!("code = ANY({})", q.texts(plain)));
    }
    for v in c.values() {
        if !matches!(v, SearchValue::Token { system: TokenSystem::Any, code: Some(_) }) {
            arms.push(value_condition(q, c, v));
        }
    }
    cond.push_str(&arms.join(" OR "));
    cond.push_str("))");
    Ok(())
}

/// One value as a condition on one index row. Mirrors the matcher in `portico_fhir::search`.
fn value_condition(q: &mut Sql, c: &Criterion, v: &SearchValue) -> String {
    match v {
        SearchValue::Token { system, code } => {
            let system = match system {
                TokenSystem::Any => None,
                TokenSystem::Absent => Some("system IS NULL".to_owned()),
                TokenSystem::Is(s) => Some(format!("system = {}", q.text(s))),
            };
            match (code, system) {
                (Some(code), None) => format!("code = {}", q.text(code)),
                (Some(code), Some(system)) => format!("(code = {} AND {system})", q.text(code)),
                (None, Some(system)) => system,
                (None, None) => "true".to_owned(),
            }
        }
        SearchValue::Date { prefix, range } => {
            let (start, end) = (range.start, range.end);
            // The element's range [start, end) against the searched one; see `date_matches`.
            match prefix {
                DatePrefix::Eq => format!("(start >= {} AND \"end\" <= {})", q.int(start), q.int(end)),
                DatePrefix::Ne => format!("NOT (start >= {} AND \"end\" <= {})", q.int(start), q.int(end)),
                DatePrefix::Gt => format!("\"end\" > {}", q.int(end)),
                DatePrefix::Lt => format!("start < {}", q.int(start)),
                DatePrefix::Ge => format!("\"end\" > {}", q.int(start)),
                DatePrefix::Le => format!("start < {}", q.int(end)),
            }
        }
        SearchValue::Reference { ty, id } => match ty {
            Some(t) => format!("(target_id = {} AND target_type = {})", q.text(id), q.text(t)),
            None => format!("target_id = {}", q.text(id)),
        },
        SearchValue::Str { raw, folded } => match c.string_mode() {
            // Equal raw text has equal folded text, so the folded index narrows exact searches too.
            StringMode::Exact => format!("(folded = {} AND raw = {})", q.text(folded), q.text(raw)),
            StringMode::Contains => format!("strpos(folded, {}) > 0", q.text(folded)),
            StringMode::Prefix => prefix_range(q, "folded", folded),
        },
    }
}

/// `column >= $a AND column < $b` for a prefix (only `>=` when no string bounds it). The column must be
/// COLLATE "C", so that the bound is bytewise, as [`prefix_upper_bound`] assumes.
pub(crate) fn prefix_range(q: &mut Sql, column: &str, prefix: &str) -> String {
    let prefix = nul_free(prefix);
    let from = q.text(&prefix);
    match prefix_upper_bound(&prefix) {
        Some(upper) => format!("({column} >= {from} AND {column} < {})", q.text(&upper)),
        None => format!("{column} >= {from}"),
    }
}

/// Removes every index entry of the resources `rids` (deleted, or about to be re-indexed).
pub(crate) fn clear_index(store: &PgStore, rids: &[i64]) -> Result<()> {
    for sql in [
        "DELETE FROM search_token WHERE rid = ANY($1)",
        "DELETE FROM search_date WHERE rid = ANY($1)",
        "DELETE FROM search_reference WHERE rid = ANY($1)",
        "DELETE FROM search_string WHERE rid = ANY($1)",
    ] {
        store.execute(sql, &[&rids])?;
    }
    Ok(())
}

/// Writes the index entries of one resource (stored at `rid`, its old entries already cleared): one
/// statement per kind that has entries, the values as arrays.
pub(crate) fn write_index(store: &PgStore, rid: i64, resource_type: &str, resource: &Value) -> Result<()> {
    let e = index_entries(resource);
    let mut ord = 0i64;
    let mut next = |n: usize| {
        (0..n)
            .map(|_| {
                ord += 1;
                ord
            })
            .collect::<Vec<i64>>()
    };
    let ords = next(e.tokens.len());
    if !e.tokens.is_empty() {
        let params: Vec<&str> = e.tokens.iter().map(|t| t.param).collect();
        let systems: Vec<Option<&str>> = e.tokens.iter().map(|t| t.system.as_deref()).collect();
        let codes: Vec<&str> = e.tokens.iter().map(|t| t.code.as_str()).collect();
        store.execute(
            "INSERT INTO search_token(rid, param, ord, type, system, code)
             SELECT $1, u.p, u.o, $2, u.s, u.c FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[]) AS u(p, o, s, c)",
            &[&rid, &resource_type, &params, &ords, &systems, &codes],
        )?;
    }
    let ords = next(e.dates.len());
    if !e.dates.is_empty() {
        let params: Vec<&str> = e.dates.iter().map(|d| d.param).collect();
        let starts: Vec<i64> = e.dates.iter().map(|d| d.start).collect();
        let ends: Vec<i64> = e.dates.iter().map(|d| d.end).collect();
        store.execute(
            "INSERT INTO search_date(rid, param, ord, type, start, \"end\")
             SELECT $1, u.p, u.o, $2, u.s, u.e FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) AS u(p, o, s, e)",
            &[&rid, &resource_type, &params, &ords, &starts, &ends],
        )?;
    }
    let ords = next(e.references.len());
    if !e.references.is_empty() {
        let params: Vec<&str> = e.references.iter().map(|r| r.param).collect();
        let types: Vec<&str> = e.references.iter().map(|r| r.target_type.as_str()).collect();
        let ids: Vec<&str> = e.references.iter().map(|r| r.target_id.as_str()).collect();
        store.execute(
            "INSERT INTO search_reference(rid, param, ord, type, target_type, target_id)
             SELECT $1, u.p, u.o, $2, u.t, u.i FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[]) AS u(p, o, t, i)",
            &[&rid, &resource_type, &params, &ords, &types, &ids],
        )?;
    }
    let ords = next(e.strings.len());
    if !e.strings.is_empty() {
        let params: Vec<&str> = e.strings.iter().map(|s| s.param).collect();
        let folded: Vec<&str> = e.strings.iter().map(|s| s.folded.as_str()).collect();
        let raw: Vec<&str> = e.strings.iter().map(|s| s.raw.as_str()).collect();
        store.execute(
            "INSERT INTO search_string(rid, param, ord, type, folded, raw)
             SELECT $1, u.p, u.o, $2, u.f, u.r FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[]) AS u(p, o, f, r)",
            &[&rid, &resource_type, &params, &ords, &folded, &raw],
        )?;
    }
    Ok(())
}

/// The index entries of many resources as `COPY` payloads, one per table, for an import.
#[derive(Default)]
pub(crate) struct IndexCopy {
    token: String,
    date: String,
    reference: String,
    string: String,
}

/// Appends one `COPY` text row: `rid, param, ord, type` and then `rest` (already escaped, tab-led).
fn copy_row(out: &mut String, rid: i64, param: &str, ord: i64, resource_type: &str, rest: &[Option<&str>]) {
    out.push_str(&rid.to_string());
    out.push('\t');
    copy_text(out, Some(param));
    out.push('\t');
    out.push_str(&ord.to_string());
    out.push('\t');
    copy_text(out, Some(resource_type));
    for field in rest {
        out.push('\t');
        copy_text(out, *field);
    }
    out.push('\n');
}

impl IndexCopy {
    /// Adds the entries of one resource stored at `rid`, numbered as [`write_index`] numbers them.
    pub(crate) fn add(&mut self, rid: i64, resource_type: &str, resource: &Value) {
        let e = index_entries(resource);
        let mut ord = 0i64;
        let mut next = || {
            ord += 1;
            ord
        };
        for t in &e.tokens {
            copy_row(&mut self.token, rid, t.param, next(), resource_type, &[t.system.as_deref(), Some(&t.code)]);
        }
        for d in &e.dates {
            let (start, end) = (d.start.to_string(), d.end.to_string());
            copy_row(&mut self.date, rid, d.param, next(), resource_type, &[Some(&start), Some(&end)]);
        }
        for r in &e.references {
            copy_row(&mut self.reference, rid, r.param, next(), resource_type, &[Some(&r.target_type), Some(&r.target_id)]);
        }
        for s in &e.strings {
            copy_row(&mut self.string, rid, s.param, next(), resource_type, &[Some(&s.folded), Some(&s.raw)]);
        }
    }

    /// Loads what was added (the resources' old entries already cleared).
    pub(crate) fn load(self, store: &PgStore) -> Result<()> {
        for (sql, data) in [
            ("COPY search_token (rid, param, ord, type, system, code) FROM STDIN", self.token),
            ("COPY search_date (rid, param, ord, type, start, \"end\") FROM STDIN", self.date),
            ("COPY search_reference (rid, param, ord, type, target_type, target_id) FROM STDIN", self.reference),
            ("COPY search_string (rid, param, ord, type, folded, raw) FROM STDIN", self.string),
        ] {
            if !data.is_empty() {
                store.copy_in(sql, bytes::Bytes::from(data))?;
            }
        }
        Ok(())
    }
}
