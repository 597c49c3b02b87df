//! Compresses the sample bundles in `data/` into OUT_DIR and writes the table that embeds them, so the
//! binary carries its demo data (about 0.8 MB compressed instead of 9 MB of JSON).

use std::io::Write;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=data");
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for dir in [data.clone(), data.join("uscore-inferno")] {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let rel = path.strip_prefix(&data)?.to_string_lossy().replace('\\', "/");
                files.push((rel, path));
            }
        }
    }
    files.sort();
    let mut table = String::from("pub(crate) static BUNDLES: &[(&str, &[u8])] = &[\n");
    for (i, (name, path)) in files.iter().enumerate() {
        let gz = out.join(format!("bundle{i}.json.gz"));
        let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz)?, flate2::Compression::new(6));
        enc.write_all(&std::fs::read(path)?)?;
        enc.finish()?;
        table.push_str(&format!("    ({name:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/bundle{i}.json.gz\"))),\n"));
    }
    table.push_str("];\n");
    std::fs::write(out.join("bundles.rs"), table)?;
    Ok(())
}
