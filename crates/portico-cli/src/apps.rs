//! `portico apps …`: register third-party apps and approve them for a practice on the database file, for
//! operators and scripts. Every rule (registration checks, roles, approvals, audit) is the service's own
//! `manage` functions, the same the management API calls.

use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use portico_api as wire;
use portico_domain::{ApprovalStatus, PracticeId, Role};
use portico_server::{manage, Config};
use portico_store::{ReadStore, UserRecord};

use crate::admin::{open, print_json};
use crate::DbArg;

#[derive(Subcommand)]
pub enum AppsCommand {
    /// Register an app for a developer. A client_secret_basic app's secret is printed this once.
    Register {
        #[command(flatten)]
        db: DbArg,
        /// The developer who owns it (a user with the developer or app_developer role).
        #[arg(long)]
        owner: String,
        #[arg(long)]
        name: String,
        /// patient (people sign in and consent) or system (a backend service).
        #[arg(long = "type", value_parser = ["patient", "system"])]
        app_type: String,
        /// How the app authenticates: none (public native app), client_secret_basic (web server) or
        /// private_key_jwt (with --jwks or --jwks-url; the only choice for a system app).
        #[arg(long, value_parser = ["none", "client_secret_basic", "private_key_jwt"])]
        client_auth: String,
        /// An exact redirect URI (repeatable).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A file holding the app's public keys as a JWKS.
        #[arg(long, value_name = "FILE", conflicts_with = "jwks_url")]
        jwks: Option<std::path::PathBuf>,
        /// Where the app publishes its JWKS.
        #[arg(long, value_name = "URL")]
        jwks_url: Option<String>,
        /// The SMART scopes it may ask for, space-separated (default: patient/*.rs with openid fhirUser
        /// launch/patient offline_access for a patient app, system/*.rs for a system app).
        #[arg(long, value_name = "SCOPES")]
        scope: Option<String>,
        /// Base URL the service is reached at, for the printed URLs.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
        /// Print {"client_id", "client_secret", "id"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve an app for a practice (asking on the developer's behalf if they have not yet).
    Approve {
        #[command(flatten)]
        db: DbArg,
        /// The app's client id (pci_smart_…).
        client_id: String,
        /// The practice: its numeric id or its name.
        #[arg(long, value_name = "PRACTICE_ID")]
        practice: String,
        /// The administrator of that practice recorded as deciding (default: its first administrator).
        #[arg(long, value_name = "USERNAME")]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List every registered app with its approvals.
    List {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        json: bool,
    },
}

/// The platform the CLI's three authentication choices imply: a public client is a native app, a
/// secret-holding client a web server, and a system app a service.
fn platform(app_type: &str, client_auth: &str) -> &'static str {
    match (app_type, client_auth) {
        ("system", _) => "service",
        (_, "none") => "native",
        _ => "web",
    }
}

fn default_scopes(app_type: &str) -> &'static str {
    if app_type == "system" {
        "system/*.rs"
    } else {
        "patient/*.rs openid fhirUser launch/patient offline_access"
    }
}

fn user(store: &dyn ReadStore, username: &str) -> Result<UserRecord> {
    store.user_by_username(username)?.ok_or_else(|| anyhow!("no user '{username}'"))
}

fn practice(store: &dyn ReadStore, given: &str) -> Result<(PracticeId, String)> {
    let all = store.practices()?;
    let found = match given.trim().parse::<i64>() {
        Ok(id) => all.into_iter().find(|(p, _)| p.0 == id),
        Err(_) => all.into_iter().find(|(_, name)| name.eq_ignore_ascii_case(given.trim())),
    };
    found.ok_or_else(|| anyhow!("no practice '{given}' (give its id or its name; see `portico users list`)"))
}

pub fn apps(cmd: AppsCommand) -> Result<()> {
    let now = chrono::Utc::now();
    match cmd {
        AppsCommand::Register {
            db,
            owner,
            name,
            app_type,
            client_auth,
            redirect_uris,
            jwks,
            jwks_url,
            scope,
            base_url,
            json,
        } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let owner = user(&*store, &owner)?;
            let jwks = jwks
                .map(|path| std::fs::read_to_string(&path).with_context(|| format!("reading the JWKS {}", path.display())))
                .transpose()?;
            let req = wire::NewApp {
                name,
                platform: platform(&app_type, &client_auth).to_owned(),
                scopes: scope.unwrap_or_else(|| default_scopes(&app_type).to_owned()),
                app_type,
                client_auth,
                redirect_uris,
                jwks,
                jwks_url,
                ..Default::default()
            };
            let issued =
                manage::register_app(&mut *store, &owner, &req, &Config::new(base_url), now).map_err(|e| anyhow!(e.message))?;
            opened.finish()?;
            if json {
                return print_json(&serde_json::json!({
                    "client_id": issued.app.client_id,
                    "client_secret": issued.client_secret,
                    "id": issued.app.id,
                }));
            }
            println!("Registered '{}' for {}.", issued.app.name, owner.username);
            println!("  id:            {}", issued.app.id);
            println!("  client id:     {}", issued.app.client_id);
            match &issued.client_secret {
                Some(s) => println!("  client secret: {s}   (shown this once)"),
                None => println!("  client secret: none ({})", issued.app.client_auth),
            }
            println!("  scopes:        {}", issued.app.scopes);
            println!("It reaches no practice's data until a practice approves it (`portico apps approve`).");
            Ok(())
        }
        AppsCommand::Approve { db, client_id, practice: given, by, json } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let app = store
                .app_by_client_id(&client_id)?
                .filter(|a| a.deleted_at.is_none())
                .ok_or_else(|| anyhow!("no app with client id '{client_id}'"))?;
            let (practice, practice_name) = practice(&*store, &given)?;
            let admin = match by {
                Some(name) => user(&*store, &name)?,
                None => store
                    .users(Some(&[practice]))?
                    .into_iter()
                    .find(|u| u.has(Role::Administrator) && u.practices.contains(&practice))
                    .ok_or_else(|| anyhow!("practice '{practice_name}' has no administrator to record; pass --by USERNAME"))?,
            };
            let owner = store.user(app.owner)?.ok_or_else(|| anyhow!("the app's owner is missing"))?;
            let current = store.approvals_of_app(&app.id)?.into_iter().find(|r| r.practice == practice).map(|r| r.status);
            if current == Some(ApprovalStatus::Approved) {
                println!("'{}' is already approved for {practice_name}.", app.name);
                return Ok(());
            }
            // The request (when the developer has not asked yet) and the decision are one unit.
            let approval = store
                .atomically(|s| {
                    if current != Some(ApprovalStatus::Pending) {
                        manage::request_approval(s, &owner, &app.id, &wire::ApprovalRequest { practice_id: practice.0 }, now)?;
                    }
                    let decision = wire::ApprovalDecision { status: "approved".into(), reason: None };
                    manage::decide_approval(s, &admin, &app.id, practice.0, &decision, now)
                })
                .map_err(|e| anyhow!(e.message))?;
            opened.finish()?;
            if json {
                return print_json(&approval);
            }
            println!(
                "Approved '{}' ({}) for {practice_name}, recorded as decided by {}.",
                app.name, app.client_id, admin.username
            );
            Ok(())
        }
        AppsCommand::List { db, json } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let mut all: Vec<wire::App> = Vec::new();
            for u in store.users(None)? {
                for a in store.apps_of(u.id)? {
                    all.push(manage::to_app(&*store, &a, now).map_err(|e| anyhow!(e.message))?);
                }
            }
            if json {
                return print_json(&all);
            }
            for a in all {
                let approved: Vec<&str> =
                    a.approvals.iter().filter(|p| p.status == "approved").map(|p| p.practice_name.as_str()).collect();
                println!(
                    "{}  {:<12} {:<30} {:<8} {:<20} {:<8} approved by: {}",
                    a.client_id,
                    a.owner,
                    a.name,
                    a.app_type,
                    a.client_auth,
                    if a.active { "active" } else { "disabled" },
                    if approved.is_empty() { "none".to_owned() } else { approved.join(", ") }
                );
            }
            Ok(())
        }
    }
}
