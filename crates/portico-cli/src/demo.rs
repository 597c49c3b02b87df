//! `portico demo`: flow 8 headless. Starts the service with demo data on a free loopback port, then acts
//! as the patient (management API) and as a third-party app (OAuth + FHIR) through real HTTP, printing
//! each step.

use anyhow::{bail, Context, Result};
use portico_api as wire;
use portico_client::{Client, ClientAuthMethod, ClientError, FhirClient};
use portico_server::embedded::{Demo, Embedded};
use portico_server::{demo, Config};

pub fn run() -> Result<()> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(walk())
}

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

async fn walk() -> Result<()> {
    let dir = tempfile_dir()?;
    let service =
        Embedded::start(&dir.join("portico-demo.db"), Demo::DocumentedPassword).await.context("starting the service")?;
    let config = service.config.clone();
    let (patients, resources) = service.seeded.map_or((0, 0), |s| (s.patients, s.import.created));
    println!("Portico demo: service on {} with {patients} sample patients ({resources} resources)", config.base_url);
    println!("  FHIR base {}   token URL {}", config.fhir_base(), config.token_url());
    let result = flow(&config.base_url, &config).await;
    service.shutdown().await.context("stopping the service")?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn flow(base: &str, config: &Config) -> Result<()> {
    step(1, "The patient signs in to Portico");
    let mut patient = Client::new(base)?;
    let session = patient.sign_in("patient", demo::DEMO_PASSWORD).await?;
    let patient_id = session.user.patient_id.clone().context("the demo patient has a record")?;
    println!("    signed in as {} (Patient/{patient_id})", session.user.display_name);

    step(2, "The patient creates a credential named \"Phone health app\"");
    let issued = patient
        .create_credential(&wire::NewCredential {
            kind: "patient_app".into(),
            name: "Phone health app".into(),
            ..Default::default()
        })
        .await?;
    println!("    client id:     {}", issued.client_id);
    println!("    client secret: {} (shown once; masked here)", issued.credential.secret_hint);
    println!("    token URL:     {}", issued.token_url);
    println!("    FHIR base:     {}", issued.fhir_base_url);

    step(3, "The app exchanges id and secret for an access token (client_credentials, HTTP Basic)");
    let app = FhirClient::new(&issued.fhir_base_url, &issued.token_url)?;
    let token = app.token(&issued.client_id, &issued.client_secret, ClientAuthMethod::Basic, None).await?;
    println!(
        "    Bearer token, expires_in {} s, scope \"{}\", patient {}",
        token.expires_in,
        token.scope,
        token.patient.as_deref().unwrap_or("-")
    );

    step(4, "The app reads the patient's record");
    let p = app.get(&format!("Patient/{patient_id}"), &token.access_token).await?;
    let name = p["name"][0]["given"][0].as_str().unwrap_or("?").to_owned() + " " + p["name"][0]["family"].as_str().unwrap_or("?");
    println!("    Patient/{patient_id}: {name}, born {}", p["birthDate"].as_str().unwrap_or("?"));
    let obs = app.get(&format!("Observation?patient={patient_id}&_count=5&_sort=-date"), &token.access_token).await?;
    let app_obs = obs["total"].as_u64().unwrap_or(0);
    println!("    Observation search: {app_obs} in total; newest:");
    for e in obs["entry"].as_array().into_iter().flatten().take(3) {
        let r = &e["resource"];
        println!(
            "      {}  {}",
            r["effectiveDateTime"].as_str().unwrap_or("").get(..10).unwrap_or(""),
            r["code"]["text"].as_str().or(r["code"]["coding"][0]["display"].as_str()).unwrap_or("?")
        );
    }
    let other = app.get("Patient/85", &token.access_token).await;
    println!("    Another patient's record (Patient/85): {}", describe(&other));

    step(5, "The patient previews what the credential can see (same enforcement code as the token)");
    let preview = patient.preview(&issued.credential.id).await?;
    for c in &preview.counts {
        println!("    {:<24} {:>5}", c.resource_type, c.count);
    }
    println!("    {:<24} {:>5}", "total", preview.total);
    let preview_obs = preview.counts.iter().find(|c| c.resource_type == "Observation").map_or(0, |c| c.count) as u64;
    if preview_obs != app_obs {
        bail!("the preview shows {preview_obs} Observations but the app got {app_obs}");
    }
    println!("    the preview's Observation count equals what the app got ({app_obs})");

    step(6, "The patient looks at the access history");
    for e in patient.history(&issued.credential.id).await?.iter().take(5) {
        println!(
            "    {}  {:<16} {:<8} {} {}",
            e.at.format("%H:%M:%S"),
            e.kind,
            e.outcome,
            e.detail.as_deref().unwrap_or(""),
            e.resource_types.join(" ")
        );
    }

    step(7, "The patient deletes the credential");
    let deleted = patient.delete_credential(&issued.credential.id).await?;
    println!("    'Phone health app' was deleted and no longer has access ({} token revoked)", deleted.tokens_revoked);

    step(8, "The app tries again");
    let again = app.get(&format!("Patient/{patient_id}"), &token.access_token).await;
    println!("    FHIR read with the old token: {}", describe(&again));
    if again.as_ref().err().and_then(ClientError::status) != Some(401) {
        bail!("expected 401 after deletion");
    }
    let retoken = app.token(&issued.client_id, &issued.client_secret, ClientAuthMethod::Basic, None).await;
    match retoken {
        Err(ClientError::OAuth { status, error, .. }) => println!("    token endpoint: {status} {error}"),
        other => bail!("expected invalid_client, got {:?}", other.map(|_| "a token")),
    }
    println!("\nDemo complete: create → token → read → preview → history → delete → 401. Config: {}", config.base_url);
    Ok(())
}

fn describe(r: &Result<serde_json::Value, ClientError>) -> String {
    match r {
        Ok(_) => "200 OK".into(),
        Err(ClientError::Fhir { status, diagnostics, .. }) => format!("{status} ({diagnostics})"),
        Err(e) => e.to_string(),
    }
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("portico-demo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
