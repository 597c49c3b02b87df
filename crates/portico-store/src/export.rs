//! Whole tables read row by row, in SQLite's own types: what `portico migrate` carries to another database.
//! Names of tables and columns are only ever ones SQLite itself lists (`sqlite_master`, `table_info`), quoted.

use rusqlite::types::ValueRef;

use crate::{sqlite, Result, Store, StoreError};

/// One value of a row as SQLite holds it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Store {
    /// The tables that hold data (not SQLite's own).
    pub fn data_tables(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .map_err(sqlite)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    /// The columns of `table`, in order; an error when there is no such table.
    pub fn table_columns(&self, table: &str) -> Result<Vec<String>> {
        if !self.data_tables()?.iter().any(|t| t == table) {
            return Err(StoreError::NotFound);
        }
        let mut st =
            self.conn.prepare(&format!("SELECT name FROM pragma_table_info({})", quote_literal(table))).map_err(sqlite)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(sqlite)?;
        rows.collect::<std::result::Result<_, _>>().map_err(sqlite)
    }

    pub fn count_rows(&self, table: &str) -> Result<i64> {
        let table = self.checked_table(table)?;
        self.conn.query_row(&format!("SELECT count(*) FROM {}", quote_ident(&table)), [], |r| r.get(0)).map_err(sqlite)
    }

    /// Every row of `table` (those `columns`, which must all be its own), handed to `f` `batch` at a time.
    pub fn each_row(
        &self,
        table: &str,
        columns: &[String],
        batch: usize,
        f: &mut dyn FnMut(&[Vec<Cell>]) -> Result<()>,
    ) -> Result<u64> {
        let table = self.checked_table(table)?;
        let known = self.table_columns(&table)?;
        if let Some(c) = columns.iter().find(|c| !known.contains(c)) {
            return Err(StoreError::Corrupt(format!("{table} has no column {c}")));
        }
        let list: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let mut st = self.conn.prepare(&format!("SELECT {} FROM {}", list.join(", "), quote_ident(&table))).map_err(sqlite)?;
        let mut rows = st.query([]).map_err(sqlite)?;
        let mut chunk: Vec<Vec<Cell>> = Vec::with_capacity(batch);
        let mut total = 0u64;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let mut cells = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                cells.push(match row.get_ref(i).map_err(sqlite)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Integer(n),
                    ValueRef::Real(x) => Cell::Real(x),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                });
            }
            chunk.push(cells);
            total += 1;
            if chunk.len() >= batch {
                f(&chunk)?;
                chunk.clear();
            }
        }
        if !chunk.is_empty() {
            f(&chunk)?;
        }
        Ok(total)
    }

    fn checked_table(&self, table: &str) -> Result<String> {
        self.data_tables()?.into_iter().find(|t| t == table).ok_or(StoreError::NotFound)
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_out_in_sqlite_types_and_unknown_names_are_refused() {
        let mut store = Store::open_in_memory().unwrap();
        store.create_practice("Riverside").unwrap();
        assert!(store.data_tables().unwrap().contains(&"practices".to_owned()));
        assert_eq!(store.table_columns("practices").unwrap(), ["id", "name"]);
        assert_eq!(store.count_rows("practices").unwrap(), 1);
        let mut seen = Vec::new();
        let cols = vec!["id".to_owned(), "name".to_owned()];
        let n = store
            .each_row("practices", &cols, 10, &mut |rows| {
                seen.extend_from_slice(rows);
                Ok(())
            })
            .unwrap();
        assert_eq!((n, seen), (1, vec![vec![Cell::Integer(1), Cell::Text("Riverside".into())]]));
        assert!(matches!(store.count_rows("practices; DROP TABLE users"), Err(StoreError::NotFound)));
        let bad = vec!["id\"; --".to_owned()];
        assert!(store.each_row("practices", &bad, 10, &mut |_| Ok(())).is_err());
    }
}
