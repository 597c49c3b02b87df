//! The synthetic FHIR R4 patients Portico ships with (15 Synthea and 3 US Core patients; provenance and
//! licenses in `data/README.md`), compressed into the binary so the demo runs with nothing beside it.
//! Data only: no parsing, no storage.

use std::io::Read;

include!(concat!(env!("OUT_DIR"), "/bundles.rs"));

/// One embedded transaction bundle.
pub struct SampleBundle {
    /// Path below `data/`, e.g. `Alexis_Toy_….json` or `uscore-inferno/uscore_bundle_patient_85.json`.
    pub name: &'static str,
    compressed: &'static [u8],
}

impl SampleBundle {
    /// The bundle's JSON text.
    pub fn json(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(self.compressed).read_to_end(&mut out)?;
        Ok(out)
    }
}

/// All sample bundles, sorted by name.
pub fn bundles() -> impl Iterator<Item = SampleBundle> {
    BUNDLES.iter().map(|(name, compressed)| SampleBundle { name, compressed })
}

#[cfg(test)]
mod tests {
    #[test]
    fn all_eighteen_bundles_are_embedded_and_decompress() {
        let all: Vec<_> = super::bundles().collect();
        assert_eq!(all.len(), 18);
        for b in all {
            let json = b.json().unwrap_or_default();
            assert!(json.starts_with(b"{"), "{}", b.name);
        }
    }
}
