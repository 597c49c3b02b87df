//! `portico serve` as a clinic deploys it: TLS (1.3 and 1.2 served, 1.0 and 1.1 refused), the refusals at
//! start (plain HTTP on a reachable address, a public URL clients could not use safely), the config file and
//! its precedence, the health probes and JSON logs. Each test runs the real binary on port 0.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// Settings the test runner's environment must not slip into the server under test.
const ENV: &[&str] = &[
    "PORTICO_CONFIG",
    "PORTICO_DB",
    "PORTICO_LISTEN",
    "PORTICO_PUBLIC_URL",
    "PORTICO_PUBLIC_HOSTS",
    "PORTICO_TLS_CERT",
    "PORTICO_TLS_KEY",
    "PORTICO_BEHIND_PROXY",
    "PORTICO_LOG_FORMAT",
    "PORTICO_AUDIT_RETENTION_DAYS",
    "PORTICO_ALLOW_SIGNUP",
    "PORTICO_SAMPLE_APP_DIR",
    "RUST_LOG",
];

/// A running `portico serve`, killed when dropped so a failing test leaves nothing running.
struct Server {
    child: Child,
    /// The bound address, from "listening on".
    addr: SocketAddr,
    scheme: String,
    public_url: String,
    stdout: mpsc::Receiver<String>,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGTERM, then what it printed until it exited, and whether it exited successfully.
    fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
        let mut out = String::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(20)) {
            out.push_str(&line);
            out.push('\n');
        }
        let status = self.child.wait().expect("wait");
        (status.success(), out)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

enum Start {
    Listening(Server),
    Exited { code: Option<i32>, stderr: String },
}

impl Start {
    fn listening(self) -> Server {
        match self {
            Start::Listening(s) => s,
            Start::Exited { code, stderr } => panic!("portico serve exited ({code:?}) instead of listening:\n{stderr}"),
        }
    }

    /// The exit code and stderr of a start that must be refused.
    fn refused(self) -> (Option<i32>, String) {
        match self {
            Start::Exited { code, stderr } => (code, stderr),
            Start::Listening(s) => panic!("portico serve started on {} but should have been refused", s.addr),
        }
    }
}

/// Runs `portico serve ARGS` with only `env` of Portico's variables set, in `dir`, and waits for its banner
/// (it prints it once the port is bound, so requests can follow at once) or its exit.
fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Start {
    let log = dir.join(format!("serve-{}.log", uuid()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portico"));
    cmd.arg("serve").args(args).current_dir(dir);
    for v in ENV {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    // The log goes to a file: a pipe nobody reads would fill and stall the server.
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(&log).expect("log file")).spawn().expect("spawn portico serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let (mut listening, mut public) = (None, None);
    while public.is_none() {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some((_, u)) = line.split_once(" listening on ") {
                    listening = Some(u.trim().to_owned());
                }
                if let Some((_, u)) = line.split_once("Public URL:") {
                    public = Some(u.trim().to_owned());
                }
            }
            // Closed: the process ended before its banner.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("wait");
                return Start::Exited { code: status.code(), stderr: std::fs::read_to_string(&log).unwrap_or_default() };
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("portico serve printed no banner in 60 s; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
        }
    }
    let listening = listening.expect("a listening line before the public URL");
    let (scheme, addr) = listening.split_once("://").expect("scheme://addr");
    Start::Listening(Server {
        child,
        addr: addr.parse().expect("socket address"),
        scheme: scheme.to_owned(),
        public_url: public.expect("public url"),
        stdout: rx,
        log,
    })
}

fn uuid() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// One HTTP/1.1 request over any stream; the status and the body.
fn http<S: Read + Write>(mut stream: S, host: &str, path: &str) -> (u16, String) {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("send");
    let mut raw = Vec::new();
    // A TLS peer may close without close_notify after `Connection: close`; what arrived is the answer.
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn get(addr: SocketAddr, host: &str, path: &str) -> (u16, String) {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    http(tcp, host, path)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

// ---------------------------------------------------------------------------------------------------------
// TLS

struct Pki {
    ca: rustls::pki_types::CertificateDer<'static>,
    cert: PathBuf,
    key: PathBuf,
}

/// A throwaway CA and a server certificate for `localhost` and 127.0.0.1, signed by it.
fn pki(dir: &Path) -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Portico test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().expect("ca key")).expect("ca");
    let key = rcgen::KeyPair::generate().expect("server key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("params");
    let cert = params.signed_by(&key, &ca).expect("server certificate");
    let (cert_file, key_file) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::write(&cert_file, cert.pem()).expect("write cert");
    std::fs::write(&key_file, key.serialize_pem()).expect("write key");
    Pki { ca: ca.der().clone(), cert: cert_file, key: key_file }
}

/// GET over TLS with the client restricted to `version`: the version negotiated, the status and the body.
fn tls_get(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    version: &'static rustls::SupportedProtocolVersion,
    path: &str,
) -> (rustls::ProtocolVersion, u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("trust the test CA");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let (status, body) = http(&mut tls, &addr.to_string(), path);
    (tls.conn.protocol_version().expect("negotiated"), status, body)
}

/// A minimal ClientHello, built by hand because no TLS library will still send a TLS 1.0 or 1.1 one:
/// `version` as both record and client version, no supported_versions extension (so it cannot be read as a
/// TLS 1.3 hello), ECDHE suites for an ECDSA or RSA certificate and the extensions they need.
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut ext = Vec::new();
    ext.extend([0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]); // supported_groups: x25519, P-256
    ext.extend([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // ec_point_formats: uncompressed
    ext.extend([0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]); // signature_algorithms
    let mut body = Vec::new();
    body.extend(version);
    body.extend([0x42; 32]); // random
    body.push(0); // no session id
                  // ECDHE-ECDSA/RSA-AES128-GCM-SHA256 (TLS 1.2), ECDHE-ECDSA-AES128-SHA, RSA-AES128-SHA (TLS 1.0/1.1).
    body.extend([0x00, 0x08, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x09, 0x00, 0x2f]);
    body.extend([0x01, 0x00]); // compression: null only
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![0x01]; // client_hello
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16]; // handshake
    record.extend(version);
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

#[derive(Debug, PartialEq)]
enum HelloAnswer {
    ServerHello,
    Alert,
    Closed,
    Other(u8),
}

fn answer_to_hello(addr: SocketAddr, version: [u8; 2]) -> HelloAnswer {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    tcp.write_all(&client_hello(version)).expect("send hello");
    let mut header = [0u8; 6];
    let mut got = 0;
    while got < header.len() {
        match tcp.read(&mut header[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    match (got, header[0]) {
        (0, _) => HelloAnswer::Closed,
        (_, 0x15) => HelloAnswer::Alert,
        // A handshake record whose first message is of type 2: ServerHello.
        (6, 0x16) if header[5] == 0x02 => HelloAnswer::ServerHello,
        (_, t) => HelloAnswer::Other(t),
    }
}

#[test]
fn tls_serves_1_3_and_1_2_refuses_1_0_and_1_1_and_stops_gracefully() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = pki(dir.path());
    let (cert, key) = (pki.cert.to_str().expect("utf8"), pki.key.to_str().expect("utf8"));
    let server =
        start(dir.path(), &["--db", "p.db", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key], &[]).listening();
    assert_eq!(server.scheme, "https");
    assert_eq!(server.public_url, format!("https://{}", server.addr));

    // A client that connects and never says hello holds only its own handshake task.
    let stalled = TcpStream::connect(server.addr).expect("connect");

    for (version, expected) in
        [(&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3), (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2)]
    {
        let (negotiated, status, body) = tls_get(server.addr, &pki.ca, version, "/healthz");
        assert_eq!((negotiated, status), (expected, 200), "{body}");
        assert_eq!(json(&body), serde_json::json!({"status": "ok"}));
    }
    let (_, status, body) = tls_get(server.addr, &pki.ca, &rustls::version::TLS13, "/.well-known/openid-configuration");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["issuer"], server.public_url, "links name the https URL");

    // The hand-built hello is a good one: offered as TLS 1.2 it gets a ServerHello. The same bytes as TLS 1.0
    // or 1.1 get an alert or a closed connection, never a ServerHello.
    assert_eq!(answer_to_hello(server.addr, [0x03, 0x03]), HelloAnswer::ServerHello);
    for old in [[0x03, 0x01], [0x03, 0x02]] {
        let answer = answer_to_hello(server.addr, old);
        assert!(matches!(answer, HelloAnswer::Alert | HelloAnswer::Closed), "TLS {old:?} answered {answer:?}");
    }
    drop(stalled);

    let (ok, out) = server.terminate();
    assert!(ok && out.contains("Portico stopped."), "SIGTERM stops the TLS server cleanly: {out}");
}

#[test]
fn unusable_tls_material_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = pki(dir.path());
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write");
    let (cert, key, junk) = (pki.cert.to_str().unwrap(), pki.key.to_str().unwrap(), junk.to_str().unwrap());
    for (args, says) in [
        (vec!["--tls-cert", cert], "--tls-cert needs --tls-key"),
        (vec!["--tls-key", key], "--tls-key needs --tls-cert"),
        (vec!["--tls-cert", junk, "--tls-key", key], "junk.pem holds no PEM certificate"),
        (vec!["--tls-cert", cert, "--tls-key", junk], "junk.pem holds no usable PEM private key"),
        (vec!["--tls-cert", cert, "--tls-key", "missing.key"], "cannot read missing.key"),
    ] {
        let mut all = vec!["--db", "p.db", "--listen", "127.0.0.1:0"];
        all.extend(&args);
        let (code, stderr) = start(dir.path(), &all, &[]).refused();
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says) && stderr.trim().lines().count() == 1, "{args:?}: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Refusals at start

#[test]
fn plain_http_on_a_reachable_address_needs_tls_or_a_proxy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stderr) = start(dir.path(), &["--db", "p.db", "--listen", "0.0.0.0:0"], &[]).refused();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("refusing to serve plain HTTP on 0.0.0.0:0") && stderr.contains("--behind-proxy"), "{stderr}");
    // Every interface, and no URL to name itself by.
    let (code, stderr) = start(dir.path(), &["--db", "p.db", "--listen", "0.0.0.0:0", "--behind-proxy"], &[]).refused();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("needs --public-url"), "{stderr}");

    let server = start(
        dir.path(),
        &["--db", "p.db", "--listen", "0.0.0.0:0", "--behind-proxy", "--public-url", "https://portico.clinic.example"],
        &[],
    )
    .listening();
    assert_eq!(server.scheme, "http");
    let local = SocketAddr::from(([127, 0, 0, 1], server.addr.port()));
    let (status, body) = get(local, "portico.clinic.example", "/.well-known/smart-configuration");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["token_endpoint"], "https://portico.clinic.example/oauth/token");
    let (status, _) = get(local, "portico.clinic.example", "/healthz");
    assert_eq!(status, 200);
}

#[test]
fn wrong_public_urls_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    // (public URL, other flags, what the message says)
    let cases: &[(&str, &[&str], &str)] = &[
        ("ftp://x", &[], "must start with https://"),
        ("not a url", &[], "is not an absolute URL"),
        ("/relative", &[], "is not an absolute URL"),
        ("https://x/?q=1", &["--behind-proxy"], "must not have a query"),
        ("https://x/#top", &["--behind-proxy"], "must not have a query"),
        ("https://admin:pw@x", &["--behind-proxy"], "must not carry a user name or password"),
        ("https://x/portico", &["--behind-proxy"], "must have no path"),
        ("http://portico.clinic.example", &[], "clear text"),
        ("http://portico.clinic.example", &["--behind-proxy"], "clear text"),
        ("https://portico.clinic.example", &[], "speaks plain HTTP"),
    ];
    for (url, flags, says) in cases {
        let mut args = vec!["--db", "p.db", "--listen", "127.0.0.1:0", "--public-url", url];
        args.extend(*flags);
        let (code, stderr) = start(dir.path(), &args, &[]).refused();
        assert_eq!(code, Some(2), "{url}: {stderr}");
        assert!(stderr.contains("--public-url") && stderr.contains(says), "{url}: expected {says:?} in {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    assert!(!dir.path().join("p.db").exists(), "refused before the database is opened");
}

// ---------------------------------------------------------------------------------------------------------
// The config file

#[test]
fn config_file_values_apply_and_flags_and_environment_override_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).expect("mkdir");
    let file = etc.join("portico.toml");
    std::fs::write(
        &file,
        "# a clinic's settings\ndb = \"data/portico.db\"\nlisten = \"127.0.0.2:0\"\npublic_url = \"http://localhost:7001\"\n\
         audit_retention_days = 30\n",
    )
    .expect("write");
    std::fs::create_dir(etc.join("data")).expect("mkdir");
    let config = file.to_str().expect("utf8");

    // From the file: the listen address, the public URL (issuer), and the database beside the file.
    let server = start(dir.path(), &["--config", config], &[]).listening();
    assert_eq!(server.addr.ip().to_string(), "127.0.0.2");
    assert_eq!(server.public_url, "http://localhost:7001");
    let (status, body) = get(server.addr, &server.addr.to_string(), "/.well-known/openid-configuration");
    assert_eq!((status, json(&body)["issuer"].clone()), (200, Value::from("http://localhost:7001")), "{body}");
    assert!(etc.join("data/portico.db").exists(), "a relative db path is taken from the config file's directory");
    // On loopback the Host guard is on: the public URL's host:port passes, another name does not.
    assert_eq!(get(server.addr, "localhost:7001", "/fhir/metadata").0, 200);
    assert_eq!(get(server.addr, "localhost:7009", "/fhir/metadata").0, 421);
    drop(server);

    // A flag beats the file; so does an environment variable; and the flag beats the variable.
    let server = start(dir.path(), &["--config", config, "--public-url", "http://localhost:7002"], &[]).listening();
    assert_eq!(server.public_url, "http://localhost:7002");
    drop(server);
    let env = [("PORTICO_CONFIG", config), ("PORTICO_PUBLIC_URL", "http://localhost:7003"), ("PORTICO_LISTEN", "127.0.0.3:0")];
    let server = start(dir.path(), &[], &env).listening();
    assert_eq!((server.public_url.as_str(), server.addr.ip().to_string()), ("http://localhost:7003", "127.0.0.3".to_owned()));
    drop(server);
    let server = start(dir.path(), &["--listen", "127.0.0.1:0"], &env).listening();
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    drop(server);

    // Unknown keys and wrong types name the file, the line and the key.
    for (text, line_and_key, what) in [
        ("listen = \"127.0.0.1:0\"\nlisten_address = \"0.0.0.0:443\"\n", "2: key `listen_address`", "unknown field"),
        ("db = \"p.db\"\naudit_retention_days = \"ninety\"\n", "2: key `audit_retention_days`", "invalid type"),
        ("behind_proxy = \"yes\"\n", "1: key `behind_proxy`", "invalid type"),
        ("log_format = \"xml\"\n", "1: key `log_format`", "unknown variant"),
    ] {
        let bad = etc.join("bad.toml");
        std::fs::write(&bad, text).expect("write");
        let (code, stderr) = start(dir.path(), &["--config", bad.to_str().expect("utf8")], &[]).refused();
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(&format!("bad.toml:{line_and_key}")) && stderr.contains(what), "{text}: {stderr}");
    }
    let (code, stderr) = start(dir.path(), &["--config", "nowhere.toml"], &[]).refused();
    assert!(code == Some(2) && stderr.contains("cannot read the config file nowhere.toml"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------------------
// Probes and logs

#[test]
fn probes_answer_without_a_token_and_whatever_host_a_checker_uses() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The older --host/--port flags still work.
    let server = start(dir.path(), &["--db", "p.db", "--host", "127.0.0.1", "--port", "0"], &[]).listening();
    let own = server.addr.to_string();
    let (status, body) = get(server.addr, &own, "/healthz");
    assert_eq!((status, json(&body)), (200, serde_json::json!({"status": "ok"})));
    let (status, body) = get(server.addr, &own, "/readyz");
    assert_eq!((status, json(&body)), (200, serde_json::json!({"status": "ready"})));
    // A loopback service refuses other host names (DNS rebinding), but not for the probes.
    let other = format!("localhost:{}", server.addr.port());
    assert_eq!(get(server.addr, &other, "/fhir/metadata").0, 421);
    assert_eq!(get(server.addr, &other, "/healthz").0, 200);
    assert_eq!(get(server.addr, &other, "/readyz").0, 200);
    assert!(!server.log().contains("/healthz"), "probes are not logged at info level: {}", server.log());
}

#[test]
fn json_logs_are_one_object_per_line_without_the_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), &["--db", "p.db", "--listen", "127.0.0.1:0", "--log-format", "json"], &[]).listening();
    let own = server.addr.to_string();
    assert_eq!(get(server.addr, &own, "/fhir/metadata?name=Reyna").0, 200);
    let log_file = server.log.clone();
    let (ok, _) = server.terminate();
    assert!(ok);
    let log = std::fs::read_to_string(log_file).expect("log");
    let lines: Vec<Value> = log.lines().filter(|l| !l.trim().is_empty()).map(json).collect();
    let request = lines.iter().find(|l| l["message"] == "request").unwrap_or_else(|| panic!("no request line in {log}"));
    assert_eq!(request["method"], "GET");
    assert_eq!(request["path"], "/fhir/metadata");
    assert_eq!(request["status"], 200);
    assert!(request["ms"].is_u64() && request["level"] == "INFO" && request["timestamp"].is_string(), "{request}");
    assert!(!log.contains("Reyna"), "the query is never logged: {log}");
}
