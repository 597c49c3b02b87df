//! `portico demo`: flow 8 headless. Starts the service with demo data on a free loopback port, then acts
//! as the patient (management API) and as a third-party app (OAuth + FHIR) through real HTTP, printing
//! each step: first a credential the patient makes (client_credentials), then the SMART journey of a
//! registered app (register → approve → authorize → consent → code → token → read → refresh → revoke →
//! 401), with the authorization pages driven as the HTML forms they are.

use anyhow::{bail, Context, Result};
use portico_api as wire;
use portico_client::{AuthorizeRequest, Client, ClientAuthMethod, ClientError, FhirClient, SmartApp};
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
    let mut result = flow(&config.base_url, &config).await;
    if result.is_ok() {
        result = smart_flow(&config).await;
    }
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
    let name = person_name(&p);
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
    println!(
        "\nCredential walkthrough complete: create → token → read → preview → history → delete → 401 ({}).",
        config.base_url
    );
    Ok(())
}

/// A registered SMART app, from its registration to its revocation.
async fn smart_flow(config: &Config) -> Result<()> {
    const REDIRECT: &str = "http://127.0.0.1/callback";
    const SCOPE: &str = "launch/patient openid fhirUser offline_access patient/*.rs";
    let base = config.base_url.as_str();

    step(9, "A developer registers a SMART app through the management API");
    let mut developer = Client::new(base)?;
    developer.sign_in("developer", demo::DEMO_PASSWORD).await?;
    let issued = developer
        .register_app(&wire::NewApp {
            name: "Step Counter (demo)".into(),
            description: "A patient-facing app that charts vital signs".into(),
            app_type: "patient".into(),
            platform: "native".into(),
            client_auth: "none".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: SCOPE.into(),
            ..Default::default()
        })
        .await?;
    let app = issued.app;
    println!("    '{}' registered: client id {} (public client: PKCE, no secret)", app.name, app.client_id);
    println!("    redirect URI {REDIRECT}   scopes \"{}\"", app.scopes);

    step(10, "The developer asks the demo practice to approve it");
    let practice =
        developer.practices().await?.into_iter().find(|p| p.name == demo::PRACTICES[0]).context("the demo practice exists")?;
    let asked = developer.request_approval(&app.id, practice.id).await?;
    println!("    {}: {}", practice.name, asked.status);

    step(11, "An administrator of the practice approves it");
    let mut admin = Client::new(base)?;
    admin.sign_in("admin", demo::DEMO_PASSWORD).await?;
    let decided =
        admin.decide_approval(&app.id, practice.id, &wire::ApprovalDecision { status: "approved".into(), reason: None }).await?;
    println!("    {}: {} by admin", practice.name, decided.status);

    step(12, "The app sends the patient to Portico's authorize page; the patient signs in and consents");
    let (verifier, challenge) = pkce_pair();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let smart = SmartApp::new(base, &app.client_id)?;
    let request = AuthorizeRequest {
        client_id: app.client_id.clone(),
        redirect_uri: REDIRECT.into(),
        scope: SCOPE.into(),
        state: state.clone(),
        aud: config.fhir_base(),
        code_challenge: challenge,
    };
    println!("    GET {}/oauth/authorize?response_type=code&client_id={}&code_challenge_method=S256&…", base, app.client_id);
    let authorized = smart.authorize_as(&request, "patient", demo::DEMO_PASSWORD, |title| println!("    page: {title}")).await?;
    println!("    the patient allows: {}", authorized.allowed.join(" "));

    step(13, "Portico redirects back to the app with a code");
    if authorized.state != state {
        bail!("the state came back altered");
    }
    println!("    {REDIRECT}?code={}…&state=(the app's own, unchanged)", authorized.code.chars().take(8).collect::<String>());

    step(14, "The app exchanges the code for tokens, proving PKCE with its code_verifier");
    let token = smart.exchange_code(&authorized.code, REDIRECT, &verifier).await?;
    println!(
        "    {} token, expires_in {} s, patient {}, refresh token: {}, id_token: {}",
        token.token_type,
        token.expires_in,
        token.patient.as_deref().unwrap_or("-"),
        if token.refresh_token.is_some() { "yes" } else { "no" },
        if token.id_token.is_some() { "yes" } else { "no" },
    );
    println!("    scope \"{}\"", token.scope);
    let patient_id = token.patient.clone().context("a launch/patient token names its patient")?;

    step(15, "The app reads the patient's record");
    let fhir = FhirClient::new(&config.fhir_base(), &config.token_url())?;
    let p = fhir.get(&format!("Patient/{patient_id}"), &token.access_token).await?;
    println!("    Patient/{patient_id}: {}, born {}", person_name(&p), p["birthDate"].as_str().unwrap_or("?"));

    step(16, "The access token is short-lived; the app refreshes it (the refresh token rotates)");
    let refresh = token.refresh_token.clone().context("offline_access gives a refresh token")?;
    let renewed = smart.refresh(&refresh).await?;
    let rotated = renewed.refresh_token.as_deref().is_some_and(|r| r != refresh);
    println!(
        "    new access token, expires_in {} s; new refresh token: {}",
        renewed.expires_in,
        if rotated { "yes" } else { "no" }
    );
    let read = fhir.get(&format!("Patient/{patient_id}"), &renewed.access_token).await;
    println!("    read with the new token: {}", describe(&read));

    step(17, "The app is revoked (RFC 7009: access and refresh token)");
    smart.revoke(&renewed.access_token, "access_token").await?;
    if let Some(r) = &renewed.refresh_token {
        smart.revoke(r, "refresh_token").await?;
    }
    println!("    POST {}/oauth/revoke: 200", base);

    step(18, "The app tries again");
    let again = fhir.get(&format!("Patient/{patient_id}"), &renewed.access_token).await;
    println!("    FHIR read with the revoked token: {}", describe(&again));
    if again.as_ref().err().and_then(ClientError::status) != Some(401) {
        bail!("expected 401 after revocation");
    }
    if let Some(r) = &renewed.refresh_token {
        println!("    refresh with the revoked refresh token: {}", describe_oauth(&smart.refresh(r).await));
    }
    println!(
        "\nDemo complete: register → approve → authorize → consent → code → token → read → refresh → revoke → 401. Service: {base}"
    );
    Ok(())
}

/// A PKCE verifier (32 random bytes, base64url: 43 characters) and its S256 challenge.
fn pkce_pair() -> (String, String) {
    use base64::Engine as _;
    use rand::RngCore as _;
    use sha2::Digest as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let verifier = b64.encode(bytes);
    let challenge = b64.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn person_name(p: &serde_json::Value) -> String {
    let n = &p["name"][0];
    format!("{} {}", n["given"][0].as_str().unwrap_or("?"), n["family"].as_str().unwrap_or("?"))
}

fn describe_oauth<T>(r: &Result<T, ClientError>) -> String {
    match r {
        Ok(_) => "accepted".into(),
        Err(ClientError::OAuth { status, error, .. }) => format!("{status} {error}"),
        Err(e) => e.to_string(),
    }
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
