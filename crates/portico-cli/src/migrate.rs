//! `portico migrate --from sqlite:PATH --to postgres://…`: a clinic's whole SQLite store copied into an
//! empty PostgreSQL database, table by table with `COPY`, in one transaction (a copy that fails leaves the
//! target as empty as it was), then every table's rows counted on both sides.

use anyhow::{bail, Context, Result};
use portico_store::Store;
use portico_store_postgres::{PgDatabase, PgSettings};

use crate::data::bar;
use crate::database::DbLocation;

/// Rows per `COPY`: large enough to stream, small enough that a few MB are in flight at a time.
const CHUNK: usize = 5_000;

pub fn migrate(from: &DbLocation, to: &DbLocation) -> Result<()> {
    let DbLocation::Sqlite(path) = from else { bail!("--from must be a SQLite file (sqlite:PATH)") };
    let DbLocation::Postgres(url) = to else { bail!("--to must be a PostgreSQL URL (postgres://…)") };
    if !path.exists() {
        bail!("{from} does not exist");
    }
    // Opening brings the file's schema up to this version's, so both sides have the same tables.
    let source = Store::open(path).with_context(|| format!("opening {from}"))?;
    let target_db = PgDatabase::connect(PgSettings { writers: 1, ..PgSettings::new(url.clone()) })
        .with_context(|| format!("connecting to {to}"))?;
    let mut target = target_db.store()?;
    let tables = target.load_order()?;

    // Refused before anything is written: a target that holds data, or tables the two do not share.
    for t in &tables {
        let n = target.count_rows(t)?;
        if n > 0 {
            bail!("{to} is not empty ({} holds {n} rows): portico migrate writes only into an empty database", t.name);
        }
    }
    let source_tables = source.data_tables()?;
    for name in &source_tables {
        if !tables.iter().any(|t| &t.name == name) {
            bail!("{from} has a table {name} that {to} lacks: this version of portico cannot move it");
        }
    }
    let mut counts = Vec::new();
    for t in &tables {
        if !source_tables.contains(&t.name) {
            bail!("{to} has a table {} that {from} lacks", t.name);
        }
        let theirs = source.table_columns(&t.name)?;
        if let Some(c) = t.column_names().iter().find(|c| !theirs.contains(c)) {
            bail!("{from}'s table {} has no column {c}", t.name);
        }
        counts.push(source.count_rows(&t.name)?);
    }

    let total: i64 = counts.iter().sum();
    println!("Copying {} rows in {} tables from {from} to {to}", total, tables.len());
    let pb = bar(u64::try_from(total).unwrap_or(0), "rows");
    target.begin()?;
    target.prepare_load(&tables)?;
    for t in &tables {
        pb.set_message(t.name.clone());
        let columns = t.column_names();
        source
            .each_row(&t.name, &columns, CHUNK, &mut |rows| {
                target.load_rows(t, rows)?;
                pb.inc(rows.len() as u64);
                Ok(())
            })
            .with_context(|| format!("copying {}", t.name))?;
    }
    target.finish_load(&tables)?;
    // A SQLite server keeps its signing keys in a file beside the database; servers sharing PostgreSQL keep
    // them in it. Carried over, id_tokens signed before the move still verify.
    let key_file = portico_server::embedded::key_file_beside(path);
    let keys_moved = if key_file.exists() {
        let ring = portico_jose::KeyRing::load_or_create(&key_file).with_context(|| format!("the key file {}", key_file.display()))?;
        portico_store::WriteStore::store_signing_keys(&mut target, &ring.to_pem()?, true, chrono::Utc::now())?;
        Some(ring.kids().join(", "))
    } else {
        None
    };
    target.commit().context("committing the copy")?;
    pb.finish_and_clear();

    // Every table's count, read back from the target after the commit.
    let mut mismatched = Vec::new();
    for (t, want) in tables.iter().zip(&counts) {
        // The one row of moved signing keys is the key file's, not a row of the SQLite store.
        let want = if t.name == "signing_keys" && keys_moved.is_some() { 1 } else { *want };
        let got = target.count_rows(t)?;
        if got != want {
            mismatched.push(format!("{}: {want} rows in {from}, {got} in {to}", t.name));
        }
    }
    if !mismatched.is_empty() {
        bail!("the copy does not match: {}", mismatched.join("; "));
    }
    println!("Verified: every table holds the same number of rows on both sides ({total} rows).");
    if let Some(kids) = keys_moved {
        println!("Signing keys {kids} moved from {} into the database.", key_file.display());
    }
    for (t, n) in tables.iter().zip(&counts).filter(|(_, n)| **n > 0) {
        println!("  {:<28} {n:>10}", t.name);
    }
    println!("Point `portico serve --db` at {to} to serve from it; the SQLite file is left as it was.");
    Ok(())
}
