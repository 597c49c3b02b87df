//! `portico import`, `portico generate` and `portico seed`.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use portico_domain::{PatientId, PracticeId};
use portico_fhir::import::{clone_record, prepare_bundle, PreparedResource};
use portico_fhir::patient::set_mrn;
use portico_server::demo;
use portico_store::ImportSummary;

use crate::database::{DbLocation, Opened};
use rand::seq::SliceRandom;
use rand::Rng;

pub(crate) fn bar(len: u64, what: &str) -> ProgressBar {
    // indicatif draws only on a terminal; piped output gets just the summary lines.
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what} {{msg}}")) {
        pb.set_style(style);
    }
    pb
}

fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = Vec::new();
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
                    let path = entry?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_some_and(|e| e == "json") {
                        found.push(path);
                    }
                }
            }
            found.sort();
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(files)
}

/// Every bundle is read and checked before anything is written, and the write is one transaction, so a
/// broken bundle leaves the store exactly as it was.
pub fn import(db: &DbLocation, paths: &[PathBuf]) -> Result<()> {
    let files = collect_files(paths)?;
    let pb = bar(files.len() as u64, "bundles");
    let mut all: Vec<PreparedResource> = Vec::new();
    for f in &files {
        pb.set_message(f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let text = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let json: serde_json::Value =
            serde_json::from_slice(&text).with_context(|| format!("{}: not valid JSON", f.display()))?;
        let mut fresh = || uuid_v4();
        let prepared = prepare_bundle(&json, &mut fresh).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        all.extend(prepared);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut opened = Opened::open(db)?;
    opened.tune_for_bulk_load()?;
    let s = opened.store().import(&all, chrono::Utc::now()).context("writing the resources")?;
    opened.finish()?;
    println!(
        "Imported {} bundle{} ({} resources): {} created, {} updated, {} unchanged",
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        all.len(),
        s.created,
        s.updated,
        s.unchanged
    );
    Ok(())
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn seed(db: &DbLocation) -> Result<()> {
    let mut opened = Opened::open(db)?;
    let s = demo::seed(opened.store(), chrono::Utc::now())?;
    opened.finish()?;
    if s.already_seeded {
        println!("{db} already holds data; nothing seeded.");
        return Ok(());
    }
    println!(
        "Seeded {}: {} patients, {} resources, practices {}",
        db,
        s.patients,
        s.import.created,
        demo::PRACTICES.join(" and ")
    );
    crate::print_demo_accounts();
    Ok(())
}

const GIVEN: &[&str] = &[
    "Ava", "Ben", "Chloe", "Dmitri", "Elena", "Farah", "Gus", "Hana", "Ivo", "Jade", "Kofi", "Lena", "Mateo", "Nia", "Omar",
    "Priya", "Quinn", "Rosa", "Sven", "Tomás", "Uma", "Viktor", "Wen", "Yara", "Zoë",
];
const FAMILY: &[&str] = &[
    "Abara",
    "Brandt",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quiroga",
    "Rossi",
    "Silva",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmermann",
];

/// The identifier system of the medical record numbers `generate` gives its patients.
pub const GENERATED_MRN_SYSTEM: &str = "urn:portico:generated:mrn";

/// A ten-digit medical record number not given before in this run (so one clinic's generated patients never
/// share one; across runs two may, rarely, as at clinics that merged).
fn fresh_mrn(rng: &mut impl Rng, given: &mut HashSet<u64>) -> String {
    loop {
        let n = rng.gen_range(0..10_000_000_000u64);
        if given.insert(n) {
            return format!("{n:010}");
        }
    }
}

/// Clones the sample patients round-robin, 100 patients per transaction, spreading them over the practices.
pub fn generate(db: &DbLocation, patients: usize) -> Result<()> {
    if patients == 0 {
        bail!("--patients must be at least 1");
    }
    let mut opened = Opened::open(db)?;
    opened.tune_for_bulk_load()?;
    let store = opened.store();
    let mut practices: Vec<PracticeId> = store.practices()?.into_iter().map(|(id, _)| id).collect();
    if practices.is_empty() {
        practices = demo::PRACTICES.iter().map(|n| store.create_practice(n)).collect::<Result<_, _>>()?;
    }
    let samples = demo::sample_records()?;
    let pb = bar(patients as u64, "patients");
    let mut rng = rand::thread_rng();
    let mut total = ImportSummary::default();
    let mut batch: Vec<PreparedResource> = Vec::new();
    let mut batch_patients: Vec<PatientId> = Vec::new();
    let mut fresh = || uuid_v4();
    let mut mrns = HashSet::new();
    for i in 0..patients {
        let (_, record) = &samples[i % samples.len()];
        let given = GIVEN.choose(&mut rng).copied().unwrap_or("Alex");
        let family = FAMILY.choose(&mut rng).copied().unwrap_or("Doe");
        let mut clone = clone_record(record, given, family, &mut fresh);
        if let Some(p) = clone.iter_mut().find(|r| r.resource_type == "Patient") {
            // Each clone is its own person at the clinic: its own medical record number, not the sample's.
            set_mrn(&mut p.resource, GENERATED_MRN_SYSTEM, &fresh_mrn(&mut rng, &mut mrns));
            batch_patients.push(PatientId(p.id.clone()));
        }
        batch.extend(clone);
        if batch_patients.len() == 100 || i + 1 == patients {
            let store = opened.store();
            let s = store.import(&batch, chrono::Utc::now())?;
            total.created += s.created;
            total.updated += s.updated;
            total.unchanged += s.unchanged;
            for (j, p) in batch_patients.iter().enumerate() {
                store.assign_patient(p, practices[(i + j) % practices.len()])?;
            }
            opened.commit_so_far()?;
            pb.inc(batch_patients.len() as u64);
            batch.clear();
            batch_patients.clear();
        }
    }
    pb.finish_and_clear();
    println!(
        "Generated {patients} patients: {} resources created ({} shared resources unchanged)",
        total.created, total.unchanged
    );
    opened.finish()
}
