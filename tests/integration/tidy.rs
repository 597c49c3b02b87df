//! Architecture invariants as a test (ARCHITECTURE.md): each external system has one home crate, and the
//! pure crates stay pure.

use std::path::Path;

fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).expect("manifest");
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            // Only what ships counts: [dependencies] and [build-dependencies], not dev-dependencies.
            in_deps = line == "[dependencies]" || line == "[build-dependencies]";
            continue;
        }
        if in_deps {
            if let Some(name) = line.split(['=', '.', ' ']).next().filter(|n| !n.is_empty() && !n.starts_with('#')) {
                deps.push(name.to_owned());
            }
        }
    }
    deps
}

#[test]
fn each_external_system_has_one_home_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("root").to_owned();
    // rusqlite has two homes: the service's database, and the desktop's own cache file (never the service's schema).
    // PostgreSQL's driver has one: its backend (and the store suite, which makes throwaway databases).
    let homes: [(&str, &[&str]); 11] = [
        ("rusqlite", &["portico-store", "portico-offline"]),
        ("tokio-postgres", &["portico-store-postgres", "portico-store-suite"]),
        ("deadpool-postgres", &["portico-store-postgres"]),
        ("axum", &["portico-server"]),
        ("minijinja", &["portico-server"]),
        ("jsonwebtoken", &["portico-jose"]),
        ("tower-http", &["portico-server"]),
        ("reqwest", &["portico-client"]),
        ("oauth2", &["portico-client"]),
        ("tauri", &["portico-desktop"]),
        ("keyring", &["portico-desktop"]),
    ];
    let pure = ["portico-fhir", "portico-domain", "portico-api"];
    let forbidden_in_pure = ["tokio", "rusqlite", "axum", "reqwest", "tauri", "tracing"];
    let mut manifests: Vec<std::path::PathBuf> =
        std::fs::read_dir(root.join("crates")).expect("crates").map(|e| e.expect("entry").path().join("Cargo.toml")).collect();
    manifests.push(root.join("src-tauri/Cargo.toml"));
    let mut checked = 0;
    for m in manifests {
        let text = std::fs::read_to_string(&m).expect("manifest");
        let name =
            text.lines().find_map(|l| l.strip_prefix("name = ")).map(|n| n.trim_matches('"').to_owned()).expect("package name");
        let deps = dependencies(&m);
        for (system, home) in homes {
            assert!(
                home.contains(&name.as_str()) || !deps.iter().any(|d| d == system),
                "{name} depends on {system}, whose home is {}",
                home.join(" or ")
            );
        }
        if pure.contains(&name.as_str()) {
            for f in forbidden_in_pure {
                assert!(!deps.iter().any(|d| d == f), "{name} must stay pure but depends on {f}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 9, "found only {checked} crates");
}

/// The names a file takes from portico-store: `use portico_store::{A, B}` lists and `portico_store::A` paths,
/// plus any `Store::` call, `&Store` or `&mut Store`. Comments are skipped.
fn store_names(source: &str) -> Vec<String> {
    let code: String = source.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let mut names = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("portico_store::") {
        rest = &rest[i + "portico_store::".len()..];
        let list = match rest.strip_prefix('{') {
            Some(inner) => &inner[..inner.find('}').unwrap_or(inner.len())],
            None => rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""),
        };
        names.extend(list.split(',').map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()));
    }
    let words: Vec<&str> = code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '&' || c == ':')).collect();
    for (i, w) in words.iter().enumerate() {
        let by_ref = *w == "&Store" || (*w == "&mut" && words.get(i + 1) == Some(&"Store"));
        if by_ref || w.starts_with("Store::") {
            names.push("Store".to_owned());
        }
    }
    names
}

#[test]
fn store_names_finds_the_sqlite_store_however_it_is_named() {
    let cases: &[(&str, &[&str])] = &[
        (
            "use portico_store::{CredentialRecord, PatientFilter, Store, StoredResource};",
            &["CredentialRecord", "PatientFilter", "Store", "StoredResource"],
        ),
        ("use portico_store::Store;", &["Store"]),
        ("fn f(store: &mut portico_store::Store) {}", &["Store"]),
        ("fn f(store: &Store) {}", &["Store"]),
        ("fn f(store: &mut Store) {}", &["Store"]),
        ("let s = Store::open(&path)?;", &["Store"]),
        ("use portico_store::{ReadStore, WriteStore};", &["ReadStore", "WriteStore"]),
        ("fn f(store: &dyn ReadStore, e: StoreError) {}", &[]),
        ("// a comment about portico_store::Store", &[]),
        ("    Store(#[from] StoreError),", &[]),
    ];
    for (source, expected) in cases {
        assert_eq!(store_names(source), *expected, "{source}");
    }
}

/// The server works through the backend-neutral traits (`ReadStore`, `WriteStore`, `Backend`), so a second
/// backend slots in without touching it. Only the code that opens a database names the SQLite types; tests
/// (after `#[cfg(test)]`) may open one too.
#[test]
fn the_server_names_no_concrete_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("root").join("crates/portico-server/src");
    let opens_the_database: &[(&str, &str)] = &[("embedded.rs", "Store"), ("embedded.rs", "Database"), ("lib.rs", "Database")];
    let mut files = vec![src.clone()];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).expect("dir").map(|e| e.expect("entry").path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        let shipped = text.split("#[cfg(test)]").next().unwrap_or("");
        let relative = path.strip_prefix(&src).expect("under src").to_string_lossy().replace('\\', "/");
        for name in store_names(shipped) {
            let concrete = name == "Store" || name == "Database";
            assert!(
                !concrete || opens_the_database.contains(&(relative.as_str(), name.as_str())),
                "crates/portico-server/src/{relative} names portico_store::{name}; use ReadStore / WriteStore / Backend"
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "found only {checked} server sources");
}
