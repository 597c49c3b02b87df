//! The `portico` command: run the service, load data, manage users, credentials and apps, and walk the whole
//! flow headless (`portico demo`). Thin: each subcommand parses arguments and calls the libraries.

mod admin;
mod apps;
mod data;
mod database;
mod demo;
mod migrate;
mod people;
mod serve;
mod settings;

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "portico",
    version,
    about = "Decide which apps may see health data, and enforce it: a SMART on FHIR authorization server and FHIR R4 API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
pub struct DbArg {
    /// The database: a SQLite file (created if missing; `sqlite:PATH` too) or a PostgreSQL URL
    /// (`postgres://user:password@host/dbname`).
    #[arg(long, env = "PORTICO_DB", default_value = "portico.db", hide_env_values = true)]
    pub db: database::DbLocation,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (loopback only unless --listen says otherwise; then with TLS or behind a proxy).
    Serve(serve::ServeArgs),
    /// Copy everything from a SQLite store into an empty PostgreSQL database (verified by counting every
    /// table on both sides); the SQLite file is left as it was.
    Migrate {
        /// The SQLite store: `sqlite:PATH` (or a plain path).
        #[arg(long, value_name = "sqlite:PATH")]
        from: database::DbLocation,
        /// The PostgreSQL database: `postgres://user:password@host/dbname`; it must hold no data yet.
        #[arg(long, value_name = "URL")]
        to: database::DbLocation,
    },
    /// Load FHIR R4 transaction bundles (files or directories of *.json).
    Import {
        #[command(flatten)]
        db: DbArg,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Clone the sample patients with fresh ids and names into a store of any size, and make a clinic's
    /// people: staff accounts and patient accounts linked to Patient records. The flags combine.
    #[command(group = clap::ArgGroup::new("what").required(true).multiple(true).args(["patients", "staff", "patient_users"]))]
    Generate {
        #[command(flatten)]
        db: DbArg,
        /// How many patients to create.
        #[arg(long)]
        patients: Option<usize>,
        /// How many staff accounts there should be (synthetic names; administrators, providers, nurses, front
        /// desk, developers; one or two practices each). Accounts a previous run made are kept, not doubled.
        #[arg(long)]
        staff: Option<usize>,
        /// How many patient accounts there should be, each linked to its own Patient record (more patients are
        /// generated when there are too few).
        #[arg(long)]
        patient_users: Option<usize>,
        /// The password of every new account (one for all); a random one is printed when absent.
        #[arg(long, env = "PORTICO_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Seed the demo practices, sample patients and one user per role into a database.
    Seed {
        #[command(flatten)]
        db: DbArg,
    },
    /// Users and roles.
    #[command(subcommand)]
    Users(admin::UsersCommand),
    /// Credentials (patient app credentials, developer and provider keys).
    #[command(subcommand)]
    Credentials(admin::CredentialsCommand),
    /// Third-party apps: register them and approve them for a practice.
    #[command(subcommand)]
    Apps(apps::AppsCommand),
    /// The id_token signing keys (`<db>.signing-keys.pem`, mode 0600).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Start the service with demo data on a free port and walk the whole flow through real HTTP.
    Demo,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new signing key; the old one stays published in the JWKS until the next rotation, so id_tokens
    /// signed before stay verifiable. A running service picks the new key up at its next start.
    Rotate {
        #[command(flatten)]
        db: DbArg,
    },
    /// The published key ids, current first.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

fn keys(c: KeysCommand) -> Result<()> {
    let (db, rotate) = match c {
        KeysCommand::Rotate { db } => (db.db, true),
        KeysCommand::List { db } => (db.db, false),
    };
    let ring = match &db {
        database::DbLocation::Sqlite(db) => {
            let path = portico_server::embedded::key_file_beside(db);
            let ring = if rotate { portico_jose::KeyRing::rotate(&path) } else { portico_jose::KeyRing::load_or_create(&path) }
                .with_context(|| format!("the key file {}", path.display()))?;
            if rotate {
                println!("New signing key {} in {}", ring.current_kid(), path.display());
            }
            ring
        }
        // Servers sharing a database keep their keys in it; running servers load them at their first
        // signature, so after a rotation restart them one by one.
        database::DbLocation::Postgres(_) => {
            let mut opened = database::open_existing(&db)?;
            let stored = opened.reader().signing_keys()?;
            let ring = match (stored, rotate) {
                (Some(pem), true) => portico_jose::KeyRing::from_pem(&pem)?.rotated()?,
                (None, _) => portico_jose::KeyRing::generate()?,
                (Some(pem), false) => portico_jose::KeyRing::from_pem(&pem)?,
            };
            let pem = ring.to_pem()?;
            opened.store().store_signing_keys(&pem, rotate, chrono::Utc::now())?;
            let ring = match opened.reader().signing_keys()? {
                Some(pem) => portico_jose::KeyRing::from_pem(&pem)?,
                None => anyhow::bail!("the signing keys could not be stored"),
            };
            opened.finish()?;
            if rotate {
                println!("New signing key {} in the database {db}; restart each server to sign with it", ring.current_kid());
            }
            ring
        }
    };
    println!("Published key ids (current first): {}", ring.kids().join(", "));
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve::run(args) {
            // A setting that cannot work is a usage error, like clap's own: one line, exit code 2.
            Err(e) if e.is::<settings::Refused>() => {
                eprintln!("portico serve: {e}");
                std::process::exit(2);
            }
            r => r,
        },
        Command::Import { db, paths } => data::import(&db.db, &paths),
        Command::Generate { db, patients, staff, patient_users, password } => {
            if let Some(n) = patients {
                data::generate(&db.db, n)?;
            }
            if staff.is_some() || patient_users.is_some() {
                let want = people::People { staff: staff.unwrap_or(0), patient_users: patient_users.unwrap_or(0), password };
                people::generate(&db.db, want)?;
            }
            Ok(())
        }
        Command::Seed { db } => data::seed(&db.db),
        Command::Migrate { from, to } => migrate::migrate(&from, &to),
        Command::Users(c) => admin::users(c),
        Command::Credentials(c) => admin::credentials(c),
        Command::Apps(c) => apps::apps(c),
        Command::Keys(c) => keys(c),
        Command::Demo => demo::run(),
    }
}

/// Logs go to stderr, filtered by RUST_LOG (default: info), as readable lines or one JSON object per line
/// (the event's fields at the top level, beside `timestamp`, `level` and `message`). They carry ids, counts
/// and outcomes only.
pub fn init_logging(format: settings::LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = match format {
        settings::LogFormat::Human => fmt.try_init(),
        settings::LogFormat::Json => fmt.json().flatten_event(true).with_current_span(false).with_span_list(false).try_init(),
    };
}

/// The demo accounts with their password, as `serve --demo` and `seed` print them.
pub fn print_demo_accounts() {
    use portico_server::demo;
    println!("Demo accounts (password: {}):", demo::DEMO_PASSWORD);
    for a in demo::ACCOUNTS {
        let roles: Vec<&str> = a.roles.iter().map(|r| r.as_str()).collect();
        println!("  {:<10} {:<28} {}", a.username, a.display_name, roles.join(", "));
    }
}
