//! `portico serve`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::database::{DbLocation, Opened};
use anyhow::{Context, Result};
use clap::builder::BoolishValueParser;
use clap::Args;
use portico_server::{demo, AppState, Config};

use crate::settings::{FileSettings, Given, LogFormat, Refused, Settings};

#[derive(Args)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below (keys as the flags, `_` for `-`, e.g. `public_url`).
    /// A flag beats its environment variable, which beats the file.
    #[arg(long, env = "PORTICO_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The database: a SQLite file (created if missing; `sqlite:PATH` too) or a PostgreSQL URL
    /// (`postgres://user:password@host/dbname?sslmode=...`), which several servers may share
    /// [default: portico.db].
    #[arg(long, env = "PORTICO_DB", value_name = "FILE|URL", hide_env_values = true)]
    db: Option<DbLocation>,
    /// PostgreSQL: connections this server keeps at most, readers and its two writer threads together
    /// [default: 16].
    #[arg(long, env = "PORTICO_DB_POOL_SIZE", value_name = "N")]
    db_pool_size: Option<usize>,
    /// PostgreSQL: seconds a statement (or a wait for a row lock) may take before it is cancelled and its
    /// request answered 503 [default: 30].
    #[arg(long = "db-statement-timeout", env = "PORTICO_DB_STATEMENT_TIMEOUT", value_name = "SECONDS")]
    db_statement_timeout_secs: Option<u64>,
    /// Address and port to listen on; port 0 picks a free one. Loopback by default [default: 127.0.0.1:8080];
    /// any other address needs TLS (--tls-cert, --tls-key) or --behind-proxy.
    #[arg(long, env = "PORTICO_LISTEN", value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Replaces the IP address of --listen.
    #[arg(long, value_name = "IP")]
    host: Option<String>,
    /// Replaces the port of --listen; 0 picks a free one.
    #[arg(long)]
    port: Option<u16>,
    /// Seed the demo practices, patients and users if the database is empty.
    #[arg(long)]
    demo: bool,
    /// The URL clients reach the service by (e.g. https://portico.clinic.example), used in every link, the
    /// discovery documents and tokens' audience [default: the bound address]. https:// unless the host is
    /// this machine; no path, query or fragment.
    #[arg(long, env = "PORTICO_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Another `host:port` clients may address the service by (repeatable; comma-separated in the
    /// environment). On a loopback address the service answers only its public URL's host, the bound
    /// address and these, against DNS rebinding; elsewhere, giving any turns the same check on.
    #[arg(long = "public-host", env = "PORTICO_PUBLIC_HOSTS", value_name = "HOST:PORT", value_delimiter = ',')]
    public_hosts: Vec<String>,
    /// The TLS certificate chain (PEM, leaf first): serve HTTPS, TLS 1.2 and 1.3 only.
    #[arg(long, env = "PORTICO_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "PORTICO_TLS_KEY", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy in front of this server terminates TLS: allows plain HTTP on a non-loopback address
    /// and an https:// public URL without --tls-cert.
    #[arg(long, env = "PORTICO_BEHIND_PROXY", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    behind_proxy: Option<bool>,
    /// How logs are written to stderr: `human` lines, or `json`, one object per line [default: human].
    #[arg(long, env = "PORTICO_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Days each successful read stays in the audit log as its own entry; after that, reads are kept as
    /// per-app, per-patient daily counts that the history still shows. Other events are kept forever.
    /// [default: 90]
    #[arg(long = "audit-retention-days", env = "PORTICO_AUDIT_RETENTION_DAYS", value_name = "N")]
    audit_retention_days: Option<u32>,
    /// Let anyone create an app-developer account from the sign-in screen (`POST /api/signup`): such an
    /// account can register apps and ask practices to approve them, nothing else.
    #[arg(long, env = "PORTICO_ALLOW_SIGNUP", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = BoolishValueParser::new())]
    allow_signup: Option<bool>,
    /// Serve the built sample SMART app (`sample-app/dist`, made by `npm run build` in sample-app/) at
    /// /sample-app/. With --demo it is registered and approved as a public client.
    #[arg(long, env = "PORTICO_SAMPLE_APP_DIR", value_name = "DIR")]
    sample_app_dir: Option<PathBuf>,
    /// What people call this server ("Riverside Clinic"): desktop apps show it when they connect.
    /// [default: Portico]
    #[arg(long, env = "PORTICO_NAME", value_name = "NAME")]
    name: Option<String>,
}

impl ServeArgs {
    fn settings(self) -> Result<(Settings, bool), Refused> {
        let file = match &self.config {
            Some(path) => FileSettings::load(path)?,
            None => FileSettings::default(),
        };
        let given = Given {
            db: self.db,
            db_pool_size: self.db_pool_size,
            db_statement_timeout_secs: self.db_statement_timeout_secs,
            listen: self.listen,
            host: self.host,
            port: self.port,
            public_url: self.public_url,
            public_hosts: self.public_hosts,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            behind_proxy: self.behind_proxy,
            log_format: self.log_format,
            audit_retention_days: self.audit_retention_days,
            allow_signup: self.allow_signup,
            sample_app_dir: self.sample_app_dir,
            name: self.name,
        };
        Ok((Settings::resolve(given, file, Config::DEFAULT_AUDIT_READ_RETENTION_DAYS)?, self.demo))
    }
}

pub fn run(args: ServeArgs) -> Result<()> {
    let (settings, demo) = args.settings()?;
    // Checked before anything is opened or bound, so a wrong certificate is a refusal at start (exit 2).
    let tls = match &settings.tls {
        Some((cert, key)) => Some(portico_server::tls::server_config(cert, key).map_err(|e| Refused(e.to_string()))?),
        None => None,
    };
    crate::init_logging(settings.log_format);
    // Opened before the async runtime starts: PostgreSQL's pool runs a runtime of its own, which cannot be
    // started from inside another one's task.
    let mut opened = Opened::open_with(&settings.db, settings.db_pool)?;
    if demo {
        let s = demo::seed(opened.store(), chrono::Utc::now()).context("seeding the demo data")?;
        if !s.already_seeded {
            println!("Seeded demo data: {} patients, {} resources", s.patients, s.import.created);
        }
    }
    let keys_in_store = opened.is_postgres();
    let transport = opened.transport();
    let backend = opened.into_backend()?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(serve(settings, (backend, transport), keys_in_store, demo, tls))
}

async fn serve(
    settings: Settings,
    (backend, transport): (Box<dyn portico_store::Backend>, &str),
    keys_in_store: bool,
    demo: bool,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<()> {
    let db = settings.db;
    let addr = settings.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = settings.public_url.unwrap_or_else(|| format!("{scheme}://{bound}"));
    let mut config = Config::new(base);
    config.audit_read_retention_days = settings.audit_retention_days;
    // Servers sharing a database sign with the keys stored in it; a SQLite server keeps its own key file.
    match &db {
        DbLocation::Sqlite(path) => config.key_file = Some(portico_server::embedded::key_file_beside(path)),
        DbLocation::Postgres(_) => config.keys_in_store = keys_in_store,
    }
    config.allow_signup = settings.allow_signup;
    config.name = settings.name.clone();
    if let Some(dir) = &settings.sample_app_dir {
        if !dir.join("index.html").is_file() {
            eprintln!("warning: {} has no index.html; /sample-app/ will say the app is not installed", dir.display());
        }
    }
    config.sample_app_dir = settings.sample_app_dir;
    if bound.ip().is_loopback() || !settings.public_hosts.is_empty() {
        // The public URL's host is trusted by `trusting_only` itself; the bound address stays reachable
        // too, for a proxy that forwards `Host: 127.0.0.1:port` and for checks on this machine.
        config = config.trusting_only(settings.public_hosts.into_iter().chain([bound.to_string()]));
    }
    let tls_note = match (&settings.tls, settings.behind_proxy) {
        (Some((cert, _)), _) => format!("TLS 1.3 and 1.2, certificate {}", cert.display()),
        (None, true) => "terminated by the reverse proxy in front (--behind-proxy)".to_owned(),
        (None, false) => "none (loopback only)".to_owned(),
    };
    print_banner(&config, &format!("{scheme}://{bound}"), &tls_note, &format!("{db} ({transport})"), demo);
    let state = AppState::new(backend, config);
    match tls {
        Some(tls) => portico_server::serve_tls(listener, tls, state, shutdown_signal()).await,
        None => portico_server::serve(listener, state, shutdown_signal()).await,
    }
    .context("serving")?;
    println!("Portico stopped.");
    Ok(())
}

fn print_banner(config: &Config, bound: &str, tls: &str, db: &str, demo_accounts: bool) {
    // Scripts (tests/peers, tests/peers-npm, crash.rs) read the address after "listening on".
    println!("Portico {} listening on {bound}", env!("CARGO_PKG_VERSION"));
    println!("  Public URL: {}", config.base_url);
    println!("  TLS:        {tls}");
    println!("  FHIR base:  {}", config.fhir_base());
    println!("  Token URL:  {}", config.token_url());
    println!("  Database:   {db}");
    if config.sample_app_dir.as_deref().is_some_and(|d| d.join("index.html").is_file()) {
        println!("  Sample app: {}/sample-app/", config.base_url);
    }
    if demo_accounts {
        crate::print_demo_accounts();
    }
    println!("Press Ctrl-C to stop.");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
