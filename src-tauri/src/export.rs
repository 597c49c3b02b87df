//! Saving an export where the person will find it: a new file, never one that is already there.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use portico_api::AccessHistoryFormat;

/// `portico-access-history-2026-12-04.csv` (or `.fhir.json`), with `-2`, `-3`... when that name is taken.
pub fn save(dir: &Path, format: AccessHistoryFormat, day: NaiveDate, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let ext = match format {
        AccessHistoryFormat::Csv => "csv",
        AccessHistoryFormat::Fhir => "fhir.json",
    };
    for n in 1..1000 {
        let suffix = if n == 1 { String::new() } else { format!("-{n}") };
        let path = dir.join(format!("portico-access-history-{day}{suffix}.{ext}"));
        // create_new: an existing file (another export, or something of the person's) is never replaced.
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                f.write_all(bytes)?;
                f.sync_all()?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many exports today in this folder"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_never_replace_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let a = save(dir.path(), AccessHistoryFormat::Csv, day, b"first").unwrap();
        let b = save(dir.path(), AccessHistoryFormat::Csv, day, b"second").unwrap();
        let c = save(dir.path(), AccessHistoryFormat::Fhir, day, b"{}").unwrap();
        assert_eq!(a.file_name().unwrap(), "portico-access-history-2026-12-04.csv");
        assert_eq!(b.file_name().unwrap(), "portico-access-history-2026-12-04-2.csv");
        assert_eq!(c.file_name().unwrap(), "portico-access-history-2026-12-04.fhir.json");
        assert_eq!(std::fs::read(&a).unwrap(), b"first");
        assert_eq!(std::fs::read(&b).unwrap(), b"second");
    }
}
