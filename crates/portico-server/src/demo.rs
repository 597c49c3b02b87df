//! The demo data set: two practices, the 18 sample patients split between them, one user per role, and
//! the sample SMART app registered and approved. Used by `portico serve --demo`, `portico demo` and the
//! desktop app's first run.

use chrono::{DateTime, Utc};
use portico_domain::{hash_password, AppType, ApprovalStatus, ClientAuth, PatientId, Platform, PracticeId, Role};
use portico_fhir::import::{prepare_bundle, PreparedResource};
use portico_store::{AppRecord, ImportSummary, NewUser, StoreError, WriteStore};

/// Every demo account's password where the demo is public (`portico serve --demo`, `portico demo`, the
/// test peers). Printed by the commands that create them; a demo store is not for real data. The desktop
/// app's embedded demo does not use it: see [`DemoPassword::per_launch`].
pub const DEMO_PASSWORD: &str = "portico-demo";

/// The demo accounts' password for one run of the desktop app. Anyone can read [`DEMO_PASSWORD`], so a web
/// page that reached the embedded service could sign in with it; this one is random, set afresh at each
/// launch and known only to the app, which hands it to itself. Redacted in `Debug`, never logged.
#[derive(Clone)]
pub struct DemoPassword(String);

impl DemoPassword {
    /// 192 random bits.
    pub fn per_launch() -> DemoPassword {
        use base64::Engine as _;
        use rand::RngCore as _;
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        DemoPassword(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn documented() -> DemoPassword {
        DemoPassword(DEMO_PASSWORD.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DemoPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DemoPassword(<redacted>)")
    }
}

pub const PRACTICES: [&str; 2] = ["Riverside Family Medicine", "Hillcrest Community Clinic"];

/// The patient the demo `patient` user is: Reyna Ziemann, the largest sample record.
pub const DEMO_PATIENT: &str = "76d2fa2d-66a6-4823-8dab-52cd70822844";

#[derive(Clone, Debug)]
pub struct DemoAccount {
    pub username: &'static str,
    pub display_name: &'static str,
    pub roles: &'static [Role],
    /// Index into [`PRACTICES`].
    pub practice: usize,
}

pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount { username: "admin", display_name: "Ada Admin", roles: &[Role::Administrator], practice: 0 },
    DemoAccount { username: "provider", display_name: "Dr. Paula Provider", roles: &[Role::Provider], practice: 0 },
    DemoAccount { username: "developer", display_name: "Dev Developer", roles: &[Role::Developer], practice: 0 },
    DemoAccount { username: "nurse", display_name: "Nina Nurse", roles: &[Role::Nurse], practice: 0 },
    DemoAccount { username: "frontdesk", display_name: "Frank Front Desk", roles: &[Role::FrontDesk], practice: 0 },
    DemoAccount { username: "patient", display_name: "Reyna Ziemann", roles: &[Role::Patient], practice: 0 },
];

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("sample bundle {name}: {message}")]
    Bundle { name: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Password,
}

#[derive(Debug, Clone, Copy)]
pub struct SeedSummary {
    pub already_seeded: bool,
    pub import: ImportSummary,
    pub patients: usize,
}

/// The embedded sample bundles, prepared for import, with each bundle's Patient id.
pub fn sample_records() -> Result<Vec<(String, Vec<PreparedResource>)>, SeedError> {
    let mut out = Vec::new();
    for b in portico_samples::bundles() {
        let err = |message: String| SeedError::Bundle { name: b.name.to_owned(), message };
        let bytes = b.json().map_err(|e| err(e.to_string()))?;
        let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
        let mut fresh = || uuid::Uuid::new_v4().to_string();
        let prepared = prepare_bundle(&json, &mut fresh).map_err(|e| err(e.to_string()))?;
        out.push((b.name.to_owned(), prepared));
    }
    Ok(out)
}

fn patient_id(resources: &[PreparedResource]) -> Option<PatientId> {
    resources.iter().find(|r| r.resource_type == "Patient").map(|r| PatientId(r.id.clone()))
}

/// Gives every demo account `password` (one hash for all: they share it anyway). Accounts that do not exist
/// are skipped, and no other account is touched.
pub fn set_demo_password(store: &mut dyn WriteStore, password: &DemoPassword) -> Result<(), SeedError> {
    let hash = hash_password(password.expose(), &mut rand::rngs::OsRng).map_err(|_| SeedError::Password)?;
    store.atomically(|store| {
        for a in ACCOUNTS {
            store.set_password_hash(a.username, &hash)?;
        }
        Ok(())
    })
}

/// The sample SMART app's client id: fixed, so the app served at `/sample-app/` knows it without asking.
pub const SAMPLE_APP_CLIENT_ID: &str = "pci_smart_sample";
pub const SAMPLE_APP_NAME: &str = "Portico Sample Health App";
/// A loopback URI, which matches on whatever port the service runs (RFC 8252 §7.3).
pub const SAMPLE_APP_REDIRECT_URI: &str = "http://127.0.0.1/sample-app/";
pub const SAMPLE_APP_SCOPES: &str = "launch/patient openid fhirUser offline_access patient/*.rs";

/// Seeds an empty store. A store that already has practices keeps its data; it only gets the sample
/// app if it lacks it (a store seeded before the app existed).
pub fn seed(store: &mut dyn WriteStore, now: DateTime<Utc>) -> Result<SeedSummary, SeedError> {
    if !store.practices()?.is_empty() {
        store.atomically(|s| ensure_sample_app(s, now))?;
        return Ok(SeedSummary { already_seeded: true, import: ImportSummary::default(), patients: 0 });
    }
    let records = sample_records()?;
    let all: Vec<PreparedResource> = records.iter().flat_map(|(_, r)| r.iter().cloned()).collect();
    let import = store.import(&all, now)?;
    let practices: Vec<PracticeId> = PRACTICES.iter().map(|n| store.create_practice(n)).collect::<Result<_, _>>()?;
    let mut patients = 0;
    for (i, (_, resources)) in records.iter().enumerate() {
        if let Some(p) = patient_id(resources) {
            // The demo patient always lands in the first practice, where the demo staff work.
            let practice = if p.0 == DEMO_PATIENT { practices[0] } else { practices[i % 2] };
            store.assign_patient(&p, practice)?;
            patients += 1;
        }
    }
    let mut rng = rand::rngs::OsRng;
    for a in ACCOUNTS {
        let hash = hash_password(DEMO_PASSWORD, &mut rng).map_err(|_| SeedError::Password)?;
        let patient = a.roles.contains(&Role::Patient).then(|| PatientId(DEMO_PATIENT.to_owned()));
        let staff_practices: Vec<PracticeId> = if patient.is_some() { Vec::new() } else { vec![practices[a.practice]] };
        store.create_user(
            &NewUser {
                username: a.username,
                display_name: a.display_name,
                password_hash: &hash,
                roles: a.roles,
                practices: &staff_practices,
                patient: patient.as_ref(),
            },
            now,
        )?;
    }
    ensure_sample_app(store, now)?;
    Ok(SeedSummary { already_seeded: false, import, patients })
}

/// Registers the sample SMART app (a public browser client owned by the demo developer) and has the first
/// demo practice approve it, unless it is registered already; a store without the demo developer or
/// administrator (not a demo store) is left alone. Written directly rather than through
/// `manage::register_app`, which draws a random client id.
fn ensure_sample_app(store: &mut dyn WriteStore, now: DateTime<Utc>) -> Result<(), StoreError> {
    if store.app_by_client_id(SAMPLE_APP_CLIENT_ID)?.is_some() {
        return Ok(());
    }
    let (Some(developer), Some(admin)) = (store.user_by_username("developer")?, store.user_by_username("admin")?) else {
        return Ok(());
    };
    let Some(practice) = store.practice_by_name(PRACTICES[0])? else { return Ok(()) };
    let app = AppRecord {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: SAMPLE_APP_CLIENT_ID.to_owned(),
        owner: developer.id,
        name: SAMPLE_APP_NAME.to_owned(),
        description: "A small browser app built with the fhirclient library: it shows the signed-in patient's \
                      name, conditions, medications and latest vital signs. Served by this Portico service."
            .to_owned(),
        homepage: None,
        privacy_policy: None,
        app_type: AppType::Patient,
        platform: Platform::Browser,
        client_auth: ClientAuth::None,
        secret_digest: None,
        secret_hint: None,
        previous: None,
        jwks: None,
        jwks_url: None,
        redirect_uris: vec![SAMPLE_APP_REDIRECT_URI.to_owned()],
        scopes: SAMPLE_APP_SCOPES.to_owned(),
        active: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    store.insert_app(&app)?;
    store.request_approval(&app.id, practice, developer.id, now)?;
    store.decide_approval(&app.id, practice, ApprovalStatus::Approved, None, admin.id, now)
}
