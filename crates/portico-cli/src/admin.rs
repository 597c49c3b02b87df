//! `portico users …` and `portico credentials …`: administration on the database file, for operators and
//! scripts. Credential rules (names, kinds, patient lists, audit) are the service's own `manage` functions.

use anyhow::{anyhow, Result};
use clap::Subcommand;
use portico_api as wire;
use portico_domain::{hash_password, PatientId, PracticeId, Role, Username};
use portico_server::{manage, Config};
use portico_store::NewUser;

use crate::database::Opened;

use crate::DbArg;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// List users with their roles and practices.
    List {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        json: bool,
    },
    /// Create a user. The password comes from --password or the PORTICO_PASSWORD variable.
    Create {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        #[arg(long, env = "PORTICO_PASSWORD", hide_env_values = true)]
        password: String,
        /// administrator, provider, developer, nurse, front_desk, patient or app_developer (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Practice id (repeatable).
        #[arg(long = "practice")]
        practices: Vec<i64>,
        /// The Patient resource a patient user is.
        #[arg(long)]
        patient: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Replace a user's roles.
    SetRoles {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        username: String,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum CredentialsCommand {
    /// List credentials (all owners, or one).
    List {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Create a credential for a user; the secret is printed once.
    Create {
        #[command(flatten)]
        db: DbArg,
        #[arg(long)]
        owner: String,
        /// patient_app, developer or provider.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        /// Provider keys: a chosen patient (repeatable).
        #[arg(long = "patient")]
        patients: Vec<String>,
        /// RFC 3339 instant.
        #[arg(long)]
        valid_from: Option<String>,
        #[arg(long)]
        valid_to: Option<String>,
        /// Base URL the service is reached at, for the printed token and FHIR URLs.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete (revoke) a credential by id: its tokens stop working at once.
    Revoke {
        #[command(flatten)]
        db: DbArg,
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn open(db: &DbArg) -> Result<Opened> {
    crate::database::open_existing(&db.db)
}

fn roles(names: &[String]) -> Result<Vec<Role>> {
    names.iter().map(|r| Role::parse(r).ok_or_else(|| anyhow!("unknown role '{r}'"))).collect()
}

pub(crate) fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn users(cmd: UsersCommand) -> Result<()> {
    match cmd {
        UsersCommand::List { db, json } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let users: Vec<wire::User> = store
                .users(None)?
                .iter()
                .map(|u| manage::to_user(&*store, u).map_err(|e| anyhow!(e.message)))
                .collect::<Result<_>>()?;
            if json {
                return print_json(&users);
            }
            for u in users {
                let practices: Vec<&str> = u.practices.iter().map(|p| p.name.as_str()).collect();
                println!(
                    "{:>4}  {:<12} {:<28} {:<28} {}",
                    u.id,
                    u.username,
                    u.display_name,
                    u.roles.join(","),
                    practices.join(", ")
                );
            }
            Ok(())
        }
        UsersCommand::Create { db, username, display_name, password, roles: role_names, practices, patient, json } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let username =
                Username::parse(&username).ok_or_else(|| anyhow!("username: 3–64 lowercase letters, digits, '.', '_' or '-'"))?;
            let hash = hash_password(&password, &mut rand::rngs::OsRng)?;
            let roles = roles(&role_names)?;
            let practices: Vec<PracticeId> = practices.into_iter().map(PracticeId).collect();
            let patient = patient.map(PatientId);
            let id = store.create_user(
                &NewUser {
                    username: username.as_str(),
                    display_name: &display_name,
                    password_hash: &hash,
                    roles: &roles,
                    practices: &practices,
                    patient: patient.as_ref(),
                },
                chrono::Utc::now(),
            )?;
            let u = store.user(id)?.ok_or_else(|| anyhow!("user vanished"))?;
            let u = manage::to_user(&*store, &u).map_err(|e| anyhow!(e.message))?;
            opened.finish()?;
            if json {
                return print_json(&u);
            }
            println!("Created user {} (id {})", u.username, u.id);
            Ok(())
        }
        UsersCommand::SetRoles { db, username, roles: role_names } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let u = store.user_by_username(&username)?.ok_or_else(|| anyhow!("no user '{username}'"))?;
            let roles = roles(&role_names)?;
            // The owner is told what this did to their keys, as when an administrator changes roles.
            let changed = store
                .atomically(|s| manage::set_roles_as_operator(s, &u, &roles, chrono::Utc::now()))
                .map_err(|e| anyhow!(e.message))?;
            opened.finish()?;
            println!("{username}: roles set to {}", role_names.join(", "));
            for name in changed {
                println!("  what '{name}' reaches changed: its owner is told in Portico");
            }
            Ok(())
        }
    }
}

fn instant(s: Option<String>, what: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    s.map(|v| portico_domain::parse_instant(&v).ok_or_else(|| anyhow!("{what}: not an RFC 3339 instant: {v}"))).transpose()
}

pub fn credentials(cmd: CredentialsCommand) -> Result<()> {
    let now = chrono::Utc::now();
    match cmd {
        CredentialsCommand::List { db, owner, json } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let owners = match owner {
                Some(name) => vec![store.user_by_username(&name)?.ok_or_else(|| anyhow!("no user '{name}'"))?],
                None => store.users(None)?,
            };
            let mut all: Vec<wire::Credential> = Vec::new();
            for o in &owners {
                all.extend(manage::list_credentials(&*store, o, now).map_err(|e| anyhow!(e.message))?);
            }
            if json {
                return print_json(&all);
            }
            for c in all {
                let last = c.last_used_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never used".into());
                println!("{}  {:<12} {:<10} {:<30} {:?}  {}", c.id, c.owner, c.kind, c.name, c.status, last);
            }
            Ok(())
        }
        CredentialsCommand::Create { db, owner, kind, name, patients, valid_from, valid_to, base_url, json } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let user = store.user_by_username(&owner)?.ok_or_else(|| anyhow!("no user '{owner}'"))?;
            let req = wire::NewCredential {
                kind,
                name,
                note: None,
                valid_from: instant(valid_from, "--valid-from")?,
                valid_to: instant(valid_to, "--valid-to")?,
                active: None,
                patients,
            };
            let issued = manage::create_credential(&mut *store, &user, &req, &Config::new(base_url), now)
                .map_err(|e| anyhow!(e.message))?;
            opened.finish()?;
            if json {
                return print_json(&issued);
            }
            println!("Created '{}' for {owner}. The secret is shown this once:", issued.credential.name);
            println!("  client id:     {}", issued.client_id);
            println!("  client secret: {}", issued.client_secret);
            println!("  token URL:     {}", issued.token_url);
            println!("  FHIR base:     {}", issued.fhir_base_url);
            Ok(())
        }
        CredentialsCommand::Revoke { db, id, json } => {
            let mut opened = open(&db)?;
            let store = opened.store();
            let cred = store.credential(&id)?.ok_or_else(|| anyhow!("no credential '{id}'"))?;
            let owner = store.user(cred.owner)?.ok_or_else(|| anyhow!("credential owner missing"))?;
            let d = manage::delete_credential(&mut *store, &owner, &id, now).map_err(|e| anyhow!(e.message))?;
            opened.finish()?;
            if json {
                return print_json(&d);
            }
            if d.deleted_now {
                println!("Deleted '{}': {} tokens revoked; it has no access from now on.", cred.name, d.tokens_revoked);
            } else {
                println!("'{}' was already deleted.", cred.name);
            }
            Ok(())
        }
    }
}
