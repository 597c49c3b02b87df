//! TLS to the database. `sslmode=require` (or `prefer`) in the URL turns it on, with the server's
//! certificate always verified, against the system's roots or the CA file given as `sslrootcert=PATH`
//! (stricter than libpq's `require`, which checks nothing: a database reached over a network carries health
//! data and passwords). Without `sslmode`, a database on this machine (loopback, a Unix socket) is reached in
//! clear and any other is refused; `sslmode=disable` says clear text is meant (a network you trust).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use portico_store::{Result, StoreError};
use tokio_postgres::config::SslMode;

/// How to reach the database, parsed from its URL: the driver's settings and our own `sslrootcert`.
pub(crate) struct Target {
    pub config: tokio_postgres::Config,
    pub root_cert: Option<PathBuf>,
}

impl Target {
    /// Parses `url`; `shown` (the URL without its password) names it in errors.
    pub(crate) fn parse(url: &str, shown: &str) -> Result<Target> {
        let (url, root_cert) = take_param(url, "sslrootcert");
        let mut config =
            tokio_postgres::Config::from_str(&url).map_err(|e| StoreError::Corrupt(format!("bad database URL {shown}: {e}")))?;
        if !url.contains("sslmode=") {
            if !config.get_hosts().iter().all(on_this_machine) {
                return Err(StoreError::Corrupt(format!(
                    "{shown} is reached over a network: add sslmode=require (with sslrootcert=CA.pem unless the \
                     system's roots vouch for its certificate), or sslmode=disable if clear text is really meant"
                )));
            }
            config.ssl_mode(SslMode::Disable);
        }
        Ok(Target { config, root_cert: root_cert.map(PathBuf::from) })
    }

    pub(crate) fn wants_tls(&self) -> bool {
        !matches!(self.config.get_ssl_mode(), SslMode::Disable)
    }

    /// The connector for `sslmode=require`/`prefer`: rustls, verifying the server's certificate and name.
    pub(crate) fn connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.root_cert {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| StoreError::Corrupt(format!("cannot read sslrootcert {}: {e}", path.display())))?;
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| StoreError::Corrupt(format!("sslrootcert {}: {e}", path.display())))?;
                    roots.add(cert).map_err(|e| StoreError::Corrupt(format!("sslrootcert {}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(StoreError::Corrupt(format!("sslrootcert {} holds no certificate", path.display())));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    return Err(StoreError::Corrupt(
                        "sslmode asks for TLS but this system has no CA certificates: give sslrootcert=PATH".into(),
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Corrupt(format!("TLS settings: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }
}

fn on_this_machine(host: &tokio_postgres::config::Host) -> bool {
    match host {
        tokio_postgres::config::Host::Tcp(name) => {
            name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(_) => true,
    }
}

/// `url` without the query parameter `name`, and that parameter's value (the driver refuses names it does
/// not know).
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_owned(), None) };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| match p.split_once('=') {
            Some((k, v)) if k == name => {
                value = Some(v.to_owned());
                false
            }
            _ => true,
        })
        .collect();
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    (url, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_parameter_is_taken_out_before_the_driver_reads_the_url() {
        assert_eq!(
            take_param("postgres://h/d?sslmode=require&sslrootcert=/etc/ca.pem", "sslrootcert"),
            ("postgres://h/d?sslmode=require".to_owned(), Some("/etc/ca.pem".to_owned()))
        );
        assert_eq!(
            take_param("postgres://h/d?sslrootcert=ca.pem", "sslrootcert"),
            ("postgres://h/d".to_owned(), Some("ca.pem".into()))
        );
        assert_eq!(take_param("postgres://h/d", "sslrootcert"), ("postgres://h/d".to_owned(), None));
    }

    #[test]
    fn clear_text_is_for_this_machine_unless_said_outright() {
        // (URL, Some(wants TLS) or None: refused)
        let table: &[(&str, Option<bool>)] = &[
            ("postgres://u@127.0.0.1:5432/d", Some(false)),
            ("postgres://u@localhost/d", Some(false)),
            ("postgres://u@[::1]/d", Some(false)),
            ("postgres://u@db.clinic.example/d", None),
            ("postgres://u@10.0.0.5/d", None),
            ("postgres://u@db.clinic.example/d?sslmode=disable", Some(false)),
            ("postgres://u@db.clinic.example/d?sslmode=require&sslrootcert=x.pem", Some(true)),
            ("postgres://u@127.0.0.1/d?sslmode=prefer", Some(true)),
        ];
        for (url, want) in table {
            let got = Target::parse(url, "shown").map(|t| t.wants_tls()).ok();
            assert_eq!(got, *want, "{url}");
        }
    }
}
