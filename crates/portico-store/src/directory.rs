//! The patient directory (migration 0009): one row per live Patient with what a picker shows (name, birth
//! date, gender, MRN) and the folded words of its names, kept in step with every Patient write, import and
//! delete in the same transaction. A picker's search is one SQL statement over these indexes: no Patient's
//! JSON is parsed to answer it.

use portico_domain::{PatientId, PracticeId};
use portico_fhir::patient::card;
use portico_fhir::search::fold;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};
use serde_json::Value;

use crate::portable::prefix_upper_bound;
use crate::{placeholders, sqlite, PatientSummary, Result, Store, StoreError};

/// At most this many words of a name search count; the rest are ignored.
pub const MAX_QUERY_WORDS: usize = 8;
/// An MRN is matched by prefix from this many characters (or from one, when the text has a digit), a
/// Patient id from [`ID_PREFIX_MIN`]: shorter text is a name's start far more often than an identifier's.
const MRN_PREFIX_MIN: usize = 3;
const ID_PREFIX_MIN: usize = 8;

/// What a picker asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatientQuery {
    /// Everyone, by name.
    All,
    /// Typed text (see [`PatientQuery::text`]).
    Text(TextQuery),
    /// These Patients (those that exist and are visible), by name.
    Ids(Vec<PatientId>),
}

/// Typed text, read every way a person may mean it; a Patient matching any of them is an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextQuery {
    /// Folded words; each must start a word of one of the Patient's names.
    pub words: Vec<String>,
    /// A birth date or its start: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// The text as an identifier (no spaces): an MRN (folded) or a Patient id (as typed).
    pub code: Option<String>,
}

impl PatientQuery {
    /// Reads typed text: name words (any word's start, case and accents ignored), a birth date written
    /// `YYYY-MM-DD` (or only `YYYY` or `YYYY-MM`), an MRN (exact, or its start) or a Patient id (exact, or its
    /// first 8 characters or more). Blank text is [`PatientQuery::All`].
    pub fn text(q: &str) -> PatientQuery {
        let q = q.trim();
        if q.is_empty() {
            return PatientQuery::All;
        }
        let words: Vec<String> = q
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|w| fold(w.trim_matches(|c: char| matches!(c, '.' | '(' | ')' | '"' | '-' | '\'' | '’'))))
            .filter(|w| !w.is_empty())
            .take(MAX_QUERY_WORDS)
            .collect();
        let code = (!q.contains(char::is_whitespace)).then(|| q.to_owned());
        PatientQuery::Text(TextQuery { words, birth_date: birth_date_prefix(q), code })
    }
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` naming a real year, month or day; anything else is not a date.
pub fn birth_date_prefix(q: &str) -> Option<String> {
    let b = q.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let ok = match b.len() {
        4 => digits(0..4),
        7 => digits(0..4) && b[4] == b'-' && digits(5..7) && (1..=12).contains(&q[5..7].parse::<u32>().unwrap_or(0)),
        10 => chrono::NaiveDate::parse_from_str(q, "%Y-%m-%d").is_ok() && digits(0..4),
        _ => false,
    };
    ok.then(|| q.to_owned())
}

/// Writes (or rewrites) the directory row and name words of the Patient stored at `rid`.
pub(crate) fn write(conn: &Connection, rid: i64, id: &str, patient: &Value) -> Result<()> {
    clear(conn, rid)?;
    let c = card(patient);
    conn.prepare_cached(
        "INSERT INTO patient_directory(rid, patient_id, name, sort_key, birth_date, gender, mrn, mrn_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .map_err(sqlite)?
    .execute(params![rid, id, c.name, c.sort_key, c.birth_date, c.gender, c.mrn, c.mrn.as_deref().map(fold)])
    .map_err(sqlite)?;
    let mut st = conn.prepare_cached("INSERT OR IGNORE INTO patient_name_words(word, rid) VALUES (?, ?)").map_err(sqlite)?;
    for w in &c.words {
        st.execute(params![w, rid]).map_err(sqlite)?;
    }
    Ok(())
}

/// Removes the Patient stored at `rid` from the directory (it was deleted, or is about to be rewritten).
pub(crate) fn clear(conn: &Connection, rid: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM patient_name_words WHERE rid = ?").map_err(sqlite)?.execute([rid]).map_err(sqlite)?;
    conn.prepare_cached("DELETE FROM patient_directory WHERE rid = ?").map_err(sqlite)?.execute([rid]).map_err(sqlite)?;
    Ok(())
}

/// Adds every live Patient; run once, in the transaction of migration 0009.
pub(crate) fn backfill(conn: &Connection) -> Result<()> {
    let mut st = conn.prepare("SELECT rid, id, json FROM resources WHERE type = 'Patient' AND deleted = 0").map_err(sqlite)?;
    let mut rows = st.query([]).map_err(sqlite)?;
    while let Some(row) = rows.next().map_err(sqlite)? {
        let (rid, id, json): (i64, String, String) =
            (row.get(0).map_err(sqlite)?, row.get(1).map_err(sqlite)?, row.get(2).map_err(sqlite)?);
        let patient: Value = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("Patient {id}: {e}")))?;
        write(conn, rid, &id, &patient)?;
    }
    Ok(())
}

/// `column >= ? AND column < ?` for a prefix (only `>=` when no string bounds it).
fn prefix_range(column: &str, prefix: &str, args: &mut Vec<SqlValue>) -> String {
    args.push(prefix.to_owned().into());
    match prefix_upper_bound(prefix) {
        Some(upper) => {
            args.push(upper.into());
            format!("{column} >= ? AND {column} < ?")
        }
        None => format!("{column} >= ?"),
    }
}

/// The matching arms of a text query: `SELECT rid, rank …` each, rank 0 for an exact identifier, 1 for a
/// name or birth date, 2 for an identifier's start. Empty when nothing could match.
fn arms(t: &TextQuery, args: &mut Vec<SqlValue>) -> Vec<String> {
    let mut arms = Vec::new();
    if let Some(code) = &t.code {
        let key = fold(code);
        args.push(key.clone().into());
        arms.push("SELECT rid, 0 AS rank FROM patient_directory WHERE mrn_key = ?".to_owned());
        args.push(code.clone().into());
        arms.push("SELECT rid, 0 AS rank FROM patient_directory WHERE patient_id = ?".to_owned());
        if key.chars().count() >= MRN_PREFIX_MIN || key.chars().any(|c| c.is_ascii_digit()) {
            arms.push(format!("SELECT rid, 2 AS rank FROM patient_directory WHERE {}", prefix_range("mrn_key", &key, args)));
        }
        if code.chars().count() >= ID_PREFIX_MIN {
            arms.push(format!("SELECT rid, 2 AS rank FROM patient_directory WHERE {}", prefix_range("patient_id", code, args)));
        }
    }
    if !t.words.is_empty() {
        let each: Vec<String> = t
            .words
            .iter()
            .map(|w| format!("SELECT rid FROM patient_name_words WHERE {}", prefix_range("word", w, args)))
            .collect();
        arms.push(format!("SELECT rid, 1 AS rank FROM ({})", each.join(" INTERSECT ")));
    }
    if let Some(b) = &t.birth_date {
        arms.push(format!("SELECT rid, 1 AS rank FROM patient_directory WHERE {}", prefix_range("birth_date", b, args)));
    }
    arms
}

impl Store {
    /// Patients of `practices` that `query` finds, at most `limit`: exact identifiers first, then by name
    /// (folded) and id. Each with its practices (all of them, not only those among `practices`).
    pub fn patients(&self, practices: &[PracticeId], query: &PatientQuery, limit: usize) -> Result<Vec<PatientSummary>> {
        let mut args: Vec<SqlValue> = Vec::new();
        let (from, only, order) = match query {
            PatientQuery::All => ("patient_directory d".to_owned(), String::new(), "d.sort_key, d.patient_id"),
            PatientQuery::Ids(ids) => {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                args.extend(ids.iter().map(|i| SqlValue::from(i.0.clone())));
                (
                    "patient_directory d".to_owned(),
                    format!("d.patient_id IN ({}) AND ", placeholders(ids.len())),
                    "d.sort_key, d.patient_id",
                )
            }
            PatientQuery::Text(t) => {
                let arms = arms(t, &mut args);
                if arms.is_empty() {
                    return Ok(Vec::new());
                }
                let from = format!(
                    "(SELECT rid, min(rank) AS rank FROM ({}) GROUP BY rid) h JOIN patient_directory d ON d.rid = h.rid",
                    arms.join(" UNION ALL ")
                );
                (from, String::new(), "h.rank, d.sort_key, d.patient_id")
            }
        };
        args.extend(practices.iter().map(|p| SqlValue::from(p.0)));
        args.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
        let sql = format!(
            "SELECT d.patient_id, d.name, d.birth_date, d.gender, d.mrn,
                    (SELECT group_concat(practice_id) FROM patient_practices WHERE patient_id = d.patient_id)
             FROM {from}
             WHERE {only}d.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id IN ({}))
             ORDER BY {order} LIMIT ?",
            placeholders(practices.len())
        );
        let mut st = self.conn.prepare_cached(&sql).map_err(sqlite)?;
        let rows = st
            .query_map(params_from_iter(args), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(sqlite)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, birth_date, gender, mrn, of) = row.map_err(sqlite)?;
            let mut practices: Vec<PracticeId> =
                of.unwrap_or_default().split(',').filter_map(|p| p.parse().ok()).map(PracticeId).collect();
            practices.sort();
            out.push(PatientSummary { id: PatientId(id), name, birth_date, gender, mrn, practices });
        }
        Ok(out)
    }
}
