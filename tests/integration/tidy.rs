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
    let homes = [
        ("rusqlite", "portico-store"),
        ("axum", "portico-server"),
        ("reqwest", "portico-client"),
        ("tauri", "portico-desktop"),
        ("keyring", "portico-desktop"),
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
            assert!(name == home || !deps.iter().any(|d| d == system), "{name} depends on {system}, whose home is {home}");
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
