//! `portico serve`.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::Args;
use portico_server::{demo, AppState, Config};
use portico_store::Store;

use crate::DbArg;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArg,
    /// Address to listen on. Loopback by default: the embedded service is for this machine only.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Seed the demo practices, patients and users if the database is empty.
    #[arg(long)]
    demo: bool,
    /// Public base URL, if clients reach the service under another name (default: the bound address).
    #[arg(long)]
    public_url: Option<String>,
    /// Another `host:port` clients may address the service by (repeatable). On a loopback address the
    /// service answers only its base URL's host and these, against DNS rebinding; elsewhere, giving any
    /// turns the same check on.
    #[arg(long = "public-host", value_name = "HOST:PORT")]
    public_hosts: Vec<String>,
    /// Days each successful read stays in the audit log as its own entry; after that, reads are kept as
    /// per-app, per-patient daily counts that the history still shows. Other events are kept forever.
    #[arg(long = "audit-retention-days", value_name = "N", default_value_t = Config::DEFAULT_AUDIT_READ_RETENTION_DAYS)]
    audit_retention_days: u32,
    /// Let anyone create an app-developer account from the sign-in screen (`POST /api/signup`): such an
    /// account can register apps and ask practices to approve them, nothing else.
    #[arg(long)]
    allow_signup: bool,
    /// Serve the built sample SMART app (`sample-app/dist`, made by `npm run build` in sample-app/) at
    /// /sample-app/. With --demo it is registered and approved as a public client.
    #[arg(long, value_name = "DIR")]
    sample_app_dir: Option<std::path::PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<()> {
    crate::init_logging();
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<()> {
    let mut store = Store::open(&args.db.db).with_context(|| format!("opening {}", args.db.db.display()))?;
    if args.demo {
        let s = demo::seed(&mut store, chrono::Utc::now()).context("seeding the demo data")?;
        if !s.already_seeded {
            println!("Seeded demo data: {} patients, {} resources", s.patients, s.import.created);
        }
    }
    let addr: SocketAddr = format!("{}:{}", args.host, args.port).parse().context("--host and --port must form an address")?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    let base = args.public_url.unwrap_or_else(|| format!("http://{bound}"));
    let mut config = Config::new(base);
    config.audit_read_retention_days = args.audit_retention_days;
    config.key_file = Some(portico_server::embedded::key_file_beside(&args.db.db));
    config.allow_signup = args.allow_signup;
    if let Some(dir) = &args.sample_app_dir {
        if !dir.join("index.html").is_file() {
            eprintln!("warning: {} has no index.html; /sample-app/ will say the app is not installed", dir.display());
        }
    }
    config.sample_app_dir = args.sample_app_dir;
    if bound.ip().is_loopback() || !args.public_hosts.is_empty() {
        // The bound address itself stays reachable too, when a public URL names the service otherwise.
        config = config.trusting_only(args.public_hosts.into_iter().chain([bound.to_string()]));
    }
    print_banner(&config, &args.db.db, args.demo);
    let state = AppState::new(portico_server::Database::new(store).context("starting the database writer")?, config);
    portico_server::serve(listener, state, shutdown_signal()).await.context("serving")?;
    println!("Portico stopped.");
    Ok(())
}

fn print_banner(config: &Config, db: &std::path::Path, demo_accounts: bool) {
    println!("Portico {} listening on {}", env!("CARGO_PKG_VERSION"), config.base_url);
    println!("  FHIR base:  {}", config.fhir_base());
    println!("  Token URL:  {}", config.token_url());
    println!("  Database:   {}", db.display());
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
