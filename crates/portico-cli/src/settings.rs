//! What `portico serve` runs with: each setting from its flag, else its environment variable (clap reads
//! both), else the config file (`--config FILE` / `PORTICO_CONFIG`, TOML), else the default; then the
//! checks that keep a deployed server from sending tokens in clear text or naming itself wrongly.
//!
//! Every refusal here is a [`Refused`]: one line that names the setting, and exit code 2.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::database::{DbLocation, PoolSettings};

/// A setting that cannot work, said in one line; `portico serve` exits with code 2.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refuse<T>(message: impl Into<String>) -> Result<T, Refused> {
    Err(Refused(message.into()))
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line, for a log collector.
    Json,
}

/// The config file's keys: the settings of `portico serve`, named as the flags with `_` for `-`. Unknown
/// keys are errors, so a misspelt setting is never silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub db: Option<DbLocation>,
    pub db_pool_size: Option<usize>,
    pub db_statement_timeout_secs: Option<u64>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub public_hosts: Option<Vec<String>>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub behind_proxy: Option<bool>,
    pub log_format: Option<LogFormat>,
    pub audit_retention_days: Option<u32>,
    pub allow_signup: Option<bool>,
    pub sample_app_dir: Option<PathBuf>,
    pub name: Option<String>,
}

impl FileSettings {
    /// Reads and parses `path`. Relative paths inside are taken from the file's directory, so the file
    /// means the same whichever directory the service starts in.
    pub fn load(path: &Path) -> Result<FileSettings, Refused> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Refused(format!("cannot read the config file {}: {e}", path.display())))?;
        let mut s = FileSettings::parse(&text).map_err(|e| Refused(format!("{}:{e}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        s.db = s.db.take().map(|db| db.relative_to(dir));
        for p in [&mut s.tls_cert, &mut s.tls_key, &mut s.sample_app_dir].into_iter().flatten() {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        Ok(s)
    }

    /// Parses the file's text; an error reads `LINE: key `KEY`: what is wrong`.
    pub fn parse(text: &str) -> Result<FileSettings, String> {
        toml::from_str(text).map_err(|e| {
            let Some(span) = e.span() else {
                return format!(" {}", e.message());
            };
            let start = span.start.min(text.len());
            let line_no = text[..start].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("");
            match line.split_once('=') {
                Some((key, _)) => format!("{line_no}: key `{}`: {}", key.trim(), e.message().trim()),
                None => format!("{line_no}: {}", e.message().trim()),
            }
        })
    }
}

/// The settings after precedence, checked.
#[derive(Debug)]
pub struct Settings {
    pub db: DbLocation,
    /// PostgreSQL only: connections per server and the statement timeout.
    pub db_pool: PoolSettings,
    pub listen: SocketAddr,
    /// The public base URL without a trailing slash; `None`: the bound address (known once bound).
    pub public_url: Option<String>,
    pub public_hosts: Vec<String>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub behind_proxy: bool,
    pub log_format: LogFormat,
    pub audit_retention_days: u32,
    pub allow_signup: bool,
    pub sample_app_dir: Option<PathBuf>,
    /// What people call this server, shown by desktop apps that connect to it.
    pub name: String,
}

/// One setting as the command line gave it (flag or environment variable, `None` when neither did).
pub struct Given {
    pub db: Option<DbLocation>,
    pub db_pool_size: Option<usize>,
    pub db_statement_timeout_secs: Option<u64>,
    pub listen: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub public_url: Option<String>,
    pub public_hosts: Vec<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub behind_proxy: Option<bool>,
    pub log_format: Option<LogFormat>,
    pub audit_retention_days: Option<u32>,
    pub allow_signup: Option<bool>,
    pub sample_app_dir: Option<PathBuf>,
    pub name: Option<String>,
}

impl Settings {
    pub fn resolve(given: Given, file: FileSettings, default_retention: u32) -> Result<Settings, Refused> {
        let listen = given.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let mut listen: SocketAddr = listen.trim().parse().map_err(|_| {
            Refused(format!("--listen {listen:?} is not ADDR:PORT (an IP address and a port, e.g. 127.0.0.1:8080 or [::]:8443)"))
        })?;
        // --host and --port (the older flags) replace their half of the listen address.
        if let Some(host) = given.host {
            let ip: IpAddr = host
                .trim()
                .trim_matches(['[', ']'])
                .parse()
                .map_err(|_| Refused(format!("--host {host:?} is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::1)")))?;
            listen.set_ip(ip);
        }
        if let Some(port) = given.port {
            listen.set_port(port);
        }
        let tls = match (given.tls_cert.or(file.tls_cert), given.tls_key.or(file.tls_key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => return refuse("--tls-cert needs --tls-key (the certificate's private key, PEM)"),
            (None, Some(_)) => return refuse("--tls-key needs --tls-cert (the certificate chain, PEM, leaf first)"),
        };
        let behind_proxy = given.behind_proxy.or(file.behind_proxy).unwrap_or(false);
        if tls.is_none() && !behind_proxy && !listen.ip().is_loopback() {
            return refuse(format!(
                "refusing to serve plain HTTP on {listen}, which other machines can reach: their passwords and tokens \
                 would cross the network in clear text. Give --tls-cert and --tls-key, or --behind-proxy if a reverse \
                 proxy in front of this server terminates TLS."
            ));
        }
        let public_url = match given.public_url.or(file.public_url) {
            Some(u) => Some(check_public_url(&u, tls.is_some(), behind_proxy)?),
            None if listen.ip().is_unspecified() => {
                return refuse(format!(
                    "listening on every interface ({listen}) needs --public-url, the https:// URL clients reach this \
                     server by: it goes into every link, the discovery documents and each token's audience"
                ))
            }
            None => None,
        };
        let mut public_hosts = given.public_hosts;
        if public_hosts.is_empty() {
            public_hosts = file.public_hosts.unwrap_or_default();
        }
        Ok(Settings {
            db: given.db.or(file.db).unwrap_or_else(|| DbLocation::Sqlite(PathBuf::from("portico.db"))),
            db_pool: pool_settings(
                given.db_pool_size.or(file.db_pool_size),
                given.db_statement_timeout_secs.or(file.db_statement_timeout_secs),
            )?,
            listen,
            public_url,
            public_hosts,
            tls,
            behind_proxy,
            log_format: given.log_format.or(file.log_format).unwrap_or_default(),
            audit_retention_days: given.audit_retention_days.or(file.audit_retention_days).unwrap_or(default_retention),
            allow_signup: given.allow_signup.or(file.allow_signup).unwrap_or(false),
            sample_app_dir: given.sample_app_dir.or(file.sample_app_dir),
            name: check_name(given.name.or(file.name))?,
        })
    }
}

/// The PostgreSQL pool: 2 to 1,000 connections (a server keeps two writer threads beside its readers), and a
/// statement timeout of 1 second to 1 hour.
fn pool_settings(size: Option<usize>, timeout_secs: Option<u64>) -> Result<PoolSettings, Refused> {
    let mut pool = PoolSettings::default();
    if let Some(n) = size {
        if !(2..=1000).contains(&n) {
            return refuse("--db-pool-size must be 2 to 1000 connections");
        }
        pool.size = n;
    }
    if let Some(secs) = timeout_secs {
        if !(1..=3600).contains(&secs) {
            return refuse("--db-statement-timeout must be 1 to 3600 seconds");
        }
        pool.statement_timeout = std::time::Duration::from_secs(secs);
    }
    Ok(pool)
}

/// The server's name: at most 80 characters, no control or format characters (it is shown in other
/// people's apps); "Portico" when unset.
fn check_name(name: Option<String>) -> Result<String, Refused> {
    let Some(name) = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else { return Ok("Portico".into()) };
    if name.chars().count() > 80
        || name
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
    {
        return refuse("--name must be at most 80 characters of plain text");
    }
    Ok(name)
}

/// The public URL's rules, each refusal one line:
/// - an absolute `https://` URL (or `http://` for a loopback host: 127.0.0.0/8, ::1, `localhost`), because
///   OAuth 2.0 requires TLS wherever tokens and passwords travel between machines, and a proxy in front
///   does not change the URL clients use;
/// - no user name or password, query or fragment, and no path: the endpoints live at the host's root;
/// - `https://` needs something to terminate TLS: `--tls-cert`/`--tls-key` here, or `--behind-proxy`;
/// - with `--tls-cert` and no proxy, clients speak TLS to this port, so the URL is `https://`.
pub fn check_public_url(given: &str, tls: bool, behind_proxy: bool) -> Result<String, Refused> {
    let bad = |why: &str| Refused(format!("--public-url {given:?} {why}"));
    let url = url::Url::parse(given.trim()).map_err(|e| bad(&format!("is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("must start with https:// (or http:// for this machine only)"));
    }
    let Some(host) = url.host() else {
        return Err(bad("names no host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query (?…) or a fragment (#…)"));
    }
    if url.path() != "/" {
        return Err(bad("must have no path: Portico's endpoints and pages live at the root of its host"));
    }
    let loopback = match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let https = url.scheme() == "https";
    if !https && !loopback {
        return Err(bad(
            "is http:// on a host other machines reach: clients would send passwords and tokens in clear text; use https://",
        ));
    }
    if https && !tls && !behind_proxy {
        return Err(bad(
            "is https:// but this server speaks plain HTTP: give --tls-cert and --tls-key, or --behind-proxy if a reverse proxy terminates TLS",
        ));
    }
    if !https && tls && !behind_proxy {
        return Err(bad("is http:// but this server speaks TLS (--tls-cert): use https://"));
    }
    // The URL crate writes the default port away (https://x:443 → https://x), as browsers send `Host`.
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls() {
        // (url, tls, behind_proxy, Ok(normalized) or Err(part of the message))
        let cases: &[(&str, bool, bool, Result<&str, &str>)] = &[
            ("https://portico.example", true, false, Ok("https://portico.example")),
            ("https://portico.example:443/", true, false, Ok("https://portico.example")),
            ("https://portico.example:8443", false, true, Ok("https://portico.example:8443")),
            ("http://127.0.0.1:8080", false, false, Ok("http://127.0.0.1:8080")),
            ("http://localhost:8080/", false, false, Ok("http://localhost:8080")),
            ("http://[::1]:8080", false, false, Ok("http://[::1]:8080")),
            ("ftp://x", false, false, Err("must start with https://")),
            ("not a url", false, false, Err("is not an absolute URL")),
            ("https://x/?q=1", true, false, Err("must not have a query")),
            ("https://x/#f", true, false, Err("must not have a query")),
            ("https://user:pw@x", true, false, Err("user name or password")),
            ("https://x/portico", true, false, Err("must have no path")),
            ("http://portico.example", false, false, Err("clear text")),
            ("http://portico.example", false, true, Err("clear text")),
            ("http://10.0.0.5:8080", true, false, Err("clear text")),
            ("https://portico.example", false, false, Err("speaks plain HTTP")),
            ("http://127.0.0.1:8443", true, false, Err("speaks TLS")),
        ];
        for (url, tls, proxy, expected) in cases {
            let got = check_public_url(url, *tls, *proxy);
            match (expected, &got) {
                (Ok(want), Ok(have)) => assert_eq!(have, want, "{url}"),
                (Err(part), Err(Refused(m))) => assert!(m.contains(part), "{url}: {m}"),
                _ => panic!("{url} (tls {tls}, proxy {proxy}): expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn config_file_errors_name_the_line_and_key() {
        let e = FileSettings::parse("listen = \"0.0.0.0:8443\"\nlisten_adress = 1\n").err();
        assert!(e.as_deref().is_some_and(|e| e.starts_with("2: key `listen_adress`") && e.contains("unknown field")), "{e:?}");
        let e = FileSettings::parse("db = \"p.db\"\n\naudit_retention_days = \"ninety\"\n").err();
        assert!(
            e.as_deref().is_some_and(|e| e.starts_with("3: key `audit_retention_days`") && e.contains("invalid type")),
            "{e:?}"
        );
        let example = FileSettings::parse(include_str!("../../../docs/deploy/portico.toml"));
        assert!(
            example.as_ref().is_ok_and(|s| s.public_url.is_some() && s.tls_cert.is_some()),
            "docs/deploy/portico.toml: {example:?}"
        );
        let ok = FileSettings::parse("behind_proxy = true\nlog_format = \"json\"\npublic_hosts = [\"a:1\"]\n");
        assert!(ok.is_ok_and(|s| s.behind_proxy == Some(true) && s.log_format == Some(LogFormat::Json)));
    }
}
