//! The patient directory (SQLite: `directory.rs`): one row per live Patient with what a picker shows (name,
//! birth date, gender, MRN) and the folded words of its names, kept in step with every Patient write,
//! import and delete in the same transaction. A picker's search is one statement over these indexes.

use std::collections::BTreeSet;

use portico_domain::{PatientId, PracticeId};
use portico_fhir::patient::card;
use portico_fhir::search::fold;
use portico_store::{PatientQuery, PatientSummary, Result, TextQuery};
use serde_json::Value;

use crate::search::{prefix_range, Sql};
use crate::{col, copy_text, PgStore};

/// An MRN is matched by prefix from this many characters (or from one, when the text has a digit), a
/// Patient id from [`ID_PREFIX_MIN`]: shorter text is a name's start far more often than an identifier's.
const MRN_PREFIX_MIN: usize = 3;
const ID_PREFIX_MIN: usize = 8;

/// Writes the directory row and name words of the Patient stored at `rid` (its old ones already cleared).
pub(crate) fn write_directory(store: &PgStore, rid: i64, id: &str, patient: &Value) -> Result<()> {
    let c = card(patient);
    store.execute(
        "INSERT INTO patient_directory(rid, patient_id, name, sort_key, birth_date, gender, mrn, mrn_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&rid, &id, &c.name, &c.sort_key, &c.birth_date, &c.gender, &c.mrn, &c.mrn.as_deref().map(fold)],
    )?;
    if !c.words.is_empty() {
        store.execute(
            "INSERT INTO patient_name_words(word, rid) SELECT w, $1 FROM unnest($2::text[]) AS w ON CONFLICT DO NOTHING",
            &[&rid, &c.words],
        )?;
    }
    Ok(())
}

/// Removes the Patients stored at `rids` from the directory (deleted, or about to be rewritten).
pub(crate) fn clear_directory(store: &PgStore, rids: &[i64]) -> Result<()> {
    store.execute("DELETE FROM patient_name_words WHERE rid = ANY($1)", &[&rids])?;
    store.execute("DELETE FROM patient_directory WHERE rid = ANY($1)", &[&rids])?;
    Ok(())
}

/// The directory rows of many Patients as `COPY` payloads, for an import.
#[derive(Default)]
pub(crate) struct DirectoryCopy {
    rows: String,
    words: String,
}

impl DirectoryCopy {
    /// Adds the Patient `id` stored at `rid`.
    pub(crate) fn add(&mut self, rid: i64, id: &str, patient: &Value) {
        let c = card(patient);
        let rid = rid.to_string();
        self.rows.push_str(&rid);
        let mrn_key = c.mrn.as_deref().map(fold);
        for field in [
            Some(id),
            Some(c.name.as_str()),
            Some(c.sort_key.as_str()),
            c.birth_date.as_deref(),
            c.gender.as_deref(),
            c.mrn.as_deref(),
            mrn_key.as_deref(),
        ] {
            self.rows.push('\t');
            copy_text(&mut self.rows, field);
        }
        self.rows.push('\n');
        // A name may repeat a word; the key holds it once (SQLite: INSERT OR IGNORE).
        for w in c.words.iter().collect::<BTreeSet<_>>() {
            copy_text(&mut self.words, Some(w));
            self.words.push('\t');
            self.words.push_str(&rid);
            self.words.push('\n');
        }
    }

    /// Loads what was added (the Patients' old rows already cleared).
    pub(crate) fn load(self, store: &PgStore) -> Result<()> {
        if !self.rows.is_empty() {
            store.copy_in(
                "COPY patient_directory (rid, patient_id, name, sort_key, birth_date, gender, mrn, mrn_key) FROM STDIN",
                bytes::Bytes::from(self.rows),
            )?;
        }
        if !self.words.is_empty() {
            store.copy_in("COPY patient_name_words (word, rid) FROM STDIN", bytes::Bytes::from(self.words))?;
        }
        Ok(())
    }
}

/// The matching arms of a text query: `SELECT rid, rank …` each, rank 0 for an exact identifier, 1 for a
/// name or birth date, 2 for an identifier's start. Empty when nothing could match.
fn arms(t: &TextQuery, q: &mut Sql) -> Vec<String> {
    let mut arms = Vec::new();
    if let Some(code) = &t.code {
        let key = fold(code);
        arms.push(format!("SELECT rid, 0 AS rank FROM patient_directory WHERE mrn_key = {}", q.text(&key)));
        arms.push(format!("SELECT rid, 0 AS rank FROM patient_directory WHERE patient_id = {}", q.text(code)));
        if key.chars().count() >= MRN_PREFIX_MIN || key.chars().any(|c| c.is_ascii_digit()) {
            arms.push(format!("SELECT rid, 2 AS rank FROM patient_directory WHERE {}", prefix_range(q, "mrn_key", &key)));
        }
        if code.chars().count() >= ID_PREFIX_MIN {
            arms.push(format!("SELECT rid, 2 AS rank FROM patient_directory WHERE {}", prefix_range(q, "patient_id", code)));
        }
    }
    if !t.words.is_empty() {
        let each: Vec<String> =
            t.words.iter().map(|w| format!("SELECT rid FROM patient_name_words WHERE {}", prefix_range(q, "word", w))).collect();
        arms.push(format!("SELECT rid, 1 AS rank FROM ({}) AS w", each.join(" INTERSECT ")));
    }
    if let Some(b) = &t.birth_date {
        arms.push(format!("SELECT rid, 1 AS rank FROM patient_directory WHERE {}", prefix_range(q, "birth_date", b)));
    }
    arms
}

impl PgStore {
    /// Patients of `practices` that `query` finds, at most `limit`: exact identifiers first, then by name
    /// (folded) and id. Each with its practices (all of them, not only those among `practices`).
    pub fn patients(&self, practices: &[PracticeId], query: &PatientQuery, limit: usize) -> Result<Vec<PatientSummary>> {
        let mut q = Sql::default();
        let (from, only, order) = match query {
            PatientQuery::All => ("patient_directory d".to_owned(), String::new(), "d.sort_key, d.patient_id"),
            PatientQuery::Ids(ids) => {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let ids = q.texts(ids.iter().map(PatientId::as_str));
                ("patient_directory d".to_owned(), format!("d.patient_id = ANY({ids}) AND "), "d.sort_key, d.patient_id")
            }
            PatientQuery::Text(t) => {
                let arms = arms(t, &mut q);
                if arms.is_empty() {
                    return Ok(Vec::new());
                }
                let from = format!(
                    "(SELECT rid, min(rank) AS rank FROM ({}) AS a GROUP BY rid) h JOIN patient_directory d ON d.rid = h.rid",
                    arms.join(" UNION ALL ")
                );
                (from, String::new(), "h.rank, d.sort_key, d.patient_id")
            }
        };
        let practices: Vec<i64> = practices.iter().map(|p| p.0).collect();
        let practices = q.ints(practices);
        let limit = q.int(i64::try_from(limit).unwrap_or(i64::MAX));
        let sql = format!(
            "SELECT d.patient_id, d.name, d.birth_date, d.gender, d.mrn,
                    (SELECT array_agg(practice_id ORDER BY practice_id) FROM patient_practices WHERE patient_id = d.patient_id)
             FROM {from}
             WHERE {only}d.patient_id IN (SELECT patient_id FROM patient_practices WHERE practice_id = ANY({practices}))
             ORDER BY {order} LIMIT {limit}"
        );
        self.query_once(&sql, &q)?
            .iter()
            .map(|r| {
                Ok(PatientSummary {
                    id: PatientId(col(r, 0)?),
                    name: col(r, 1)?,
                    birth_date: col(r, 2)?,
                    gender: col(r, 3)?,
                    mrn: col(r, 4)?,
                    practices: col::<Option<Vec<i64>>>(r, 5)?.unwrap_or_default().into_iter().map(PracticeId).collect(),
                })
            })
            .collect()
    }
}
