"""The desktop app against a clinic's own Portico server over HTTPS, end to end.

A throwaway CA signs a certificate for 127.0.0.1; `portico serve --demo` runs with it as its own process.
The app adds the server (a certificate it can't trust and an address where nothing answers are refused in
words first), switches to it and signs in through "the system browser": xdg-open finds this test's handler
(a desktop entry in the app's own XDG dirs, and $BROWSER as well) which only records the URL; the test opens
that URL in Debian's headless Chromium and signs in as the demo patient, and the server sends the browser
back to the app's loopback listener. Then: a credential made in the app works from an outside client; the
server stops → the offline banner, the cached list, a delete that waits in the outbox (not shown as done);
the server comes back → the delete is sent, the credential is gone and its token gets 401; a relaunch is
signed in from the keychain (the kernel keyring of this run's keyctl session) without the browser; signing
out ends the refresh token at the server.

Skipped unless PORTICO_E2E_REMOTE=1 (scripts/test sets it). Needs the `portico` binary beside the app
(PORTICO_BIN, default target/debug/portico), the openssl CLI, keyctl, chromium and chromedriver.
Screenshots: tests/artifacts/remote-*.png. Prints `PORTICO_FIGURE remote_sign_in_ms=<n>`.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options as ChromeOptions
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from a11y import assert_accessible
from conftest import ARTIFACTS, ROOT, App, free_port

from test_e2e import TIMEOUT, click, issued_details, press, tid, toast_text, wait

pytestmark = pytest.mark.skipif(
    os.environ.get("PORTICO_E2E_REMOTE") != "1",
    reason="set PORTICO_E2E_REMOTE=1 (scripts/test does)",
)

SERVER_NAME = "Riverside Clinic"
PATIENT = "patient"
PASSWORD = "portico-demo"  # the demo accounts of `portico serve --demo`
CREDENTIAL = "Remote phone app"
DESKTOP_CLIENT_ID = "portico-desktop"
KEYCHAIN_SERVICE = "app.portico.desktop"
# Starting apps and servers on a busy 2-core CI machine: generous, but every wait is for a condition.
LONG = 120


# ---------------------------------------------------------------------------------------------------------
# Certificates, the server, the "system browser", Chromium


def openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {r.stderr.strip()}")


def make_certs(d: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate it signs for 127.0.0.1 and localhost, and a self-signed one (untrusted)."""
    if not shutil.which("openssl"):
        pytest.fail("the openssl CLI is missing (apt-get install openssl)")
    d.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Portico E2E throwaway CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-sha256", "-extfile", "server.ext", cwd=d)
    # The same names, but signed by nobody the app trusts.
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", cwd=d)
    return {name: d / f"{name}" for name in ("ca.pem", "server.pem", "server.key", "rogue.pem", "rogue.key")}


def portico_bin() -> str:
    path = os.environ.get("PORTICO_BIN") or str(ROOT / "target" / "debug" / "portico")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no portico binary at {path} (cargo build -p portico-cli)")
    return path


class Server:
    """`portico serve --demo` over TLS as its own process; stop() and start() again keep its db, port and cert."""

    def __init__(self, workdir: Path, port: int, certs: dict[str, Path], name: str = SERVER_NAME):
        self.url = f"https://127.0.0.1:{port}"
        self.ca = str(certs["ca.pem"])
        self.args = [
            portico_bin(), "serve", "--demo",
            "--db", str(workdir / "clinic.db"),
            "--listen", f"127.0.0.1:{port}",
            "--public-url", self.url,
            "--tls-cert", str(certs["server.pem"]),
            "--tls-key", str(certs["server.key"]),
            "--name", name,
        ]
        self.log_path = workdir / "server.log"
        self.proc: subprocess.Popen | None = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def start(self, timeout: float = LONG) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, RUST_LOG="warn"))
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"portico serve exited with {self.proc.returncode}; its log ends with:\n{self.log_tail()}")
            try:
                # Over TLS, trusting only the throwaway CA: the certificate is served as the app will see it.
                r = requests.get(f"{self.url}/readyz", verify=self.ca, timeout=2, proxies={"https": None})
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.1)  # polling a server that is still starting
        raise RuntimeError(f"portico serve did not become ready at {self.url} ({last}); its log ends with:\n{self.log_tail()}")

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM (requests in flight finish), then wait; SIGKILL only if it hangs."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise RuntimeError(f"portico serve did not stop within {timeout} s of SIGTERM")


class RogueServer:
    """HTTPS on 127.0.0.1 with a self-signed certificate: the app must refuse it, naming the certificate."""

    def __init__(self, certs: dict[str, Path]):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                body = b'{"status":"ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["rogue.pem"], certs["rogue.key"])
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def system_browser(d: Path) -> tuple[dict[str, str], Path]:
    """The app's "system browser" for this test: records each URL it is asked to open, one per line.

    Tauri's opener runs xdg-open (then gio): without a desktop environment xdg-open asks xdg-mime for the
    x-scheme-handler/https application (Chromium's desktop entry on Debian, which would open a real window)
    before it tries $BROWSER. So the app gets XDG dirs of its own whose default handler is this script, and
    $BROWSER names the same script. Returns the app's extra environment and the file the URLs go to.
    """
    d.mkdir(parents=True, exist_ok=True)
    urls = d / "opened-urls.txt"
    script = d / "record-url.sh"
    script.write_text(f"#!/bin/sh\n# The test's system browser: it only records the URL.\nprintf '%s\\n' \"$1\" >> '{urls}'\n")
    script.chmod(0o755)
    config, data = d / "xdg-config", d / "xdg-data"
    (data / "applications").mkdir(parents=True, exist_ok=True)
    config.mkdir(parents=True, exist_ok=True)
    (data / "applications" / "portico-test-browser.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Portico test browser\nNoDisplay=true\n"
        f"Exec={script} %u\nMimeType=x-scheme-handler/http;x-scheme-handler/https;\n"
    )
    (config / "mimeapps.list").write_text(
        "[Default Applications]\n"
        "x-scheme-handler/https=portico-test-browser.desktop\n"
        "x-scheme-handler/http=portico-test-browser.desktop\n"
    )
    env = {
        "BROWSER": str(script),
        "XDG_CONFIG_HOME": str(config),
        "XDG_DATA_HOME": str(data),
        "XDG_CURRENT_DESKTOP": "",  # xdg-open's generic path, whatever the machine running the tests sets
    }
    return env, urls


def opened_urls(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def chromium() -> webdriver.Chrome:
    """Debian's Chromium through its chromedriver, headless, fresh profile; the throwaway CA's certificate is accepted."""
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    opts = ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900", "--lang=en-US"):
        opts.add_argument(arg)
    opts.set_capability("acceptInsecureCerts", True)
    return webdriver.Chrome(service=ChromeService(executable_path=driver_path), options=opts)


def browser_shot(browser, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def sign_in_in_browser(browser, url: str, username: str, password: str, shot: str | None = None) -> float:
    """Opens the server's sign-in page at `url`, signs in and waits until the browser is sent to the loopback
    redirect (http://127.0.0.1:PORT/...). Returns the seconds spent taking the screenshot (not sign-in time)."""
    b_wait = WebDriverWait(browser, TIMEOUT, poll_frequency=0.05)
    browser.get(url)
    user = b_wait.until(EC.visibility_of_element_located((By.ID, "username")))
    user.clear()
    user.send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    spent = 0.0
    if shot:
        t = time.monotonic()
        browser_shot(browser, shot)
        spent = time.monotonic() - t
    browser.find_element(By.CSS_SELECTOR, 'button[name="action"][value="sign_in"]').click()
    b_wait.until(lambda b: b.current_url.startswith("http://127.0.0.1:") or b.current_url.startswith("http://[::1]:"))
    return spent


# ---------------------------------------------------------------------------------------------------------
# The keychain (keyutils, this run's session keyring)


def keychain_description(account: str) -> str:
    # keyring 3.6.3's keyutils backend, without a target: "keyring-rs:{user}@{service}".
    return f"keyring-rs:{account}@{KEYCHAIN_SERVICE}"


def keyctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["keyctl", *args], capture_output=True, text=True, timeout=10)


def find_refresh_key(server_url: str, username: str) -> tuple[str, str] | None:
    """The keyutils key holding the app's refresh token for this server and user: (key id, description).

    First the exact description (account `refresh:{user}@{server}`), then any user key of the app's
    service whose description names the user and the server (the account format is the app's to choose).
    """
    exact = keychain_description(f"refresh:{username}@{server_url}")
    r = keyctl("search", "@s", "user", exact)
    if r.returncode == 0 and r.stdout.strip():
        return r.stdout.strip(), exact
    listed = keyctl("rlist", "@s")
    for key_id in listed.stdout.split():
        d = keyctl("rdescribe", key_id)
        if d.returncode != 0:
            continue
        kind, _uid, _gid, _perm, desc = d.stdout.strip().split(";", 4)
        if kind == "user" and desc.endswith(f"@{KEYCHAIN_SERVICE}") and server_url in desc and username in desc and "session" not in desc.split("@")[0]:
            return key_id, desc
    return None


def read_key(key_id: str) -> str:
    r = keyctl("pipe", key_id)
    assert r.returncode == 0, f"keyctl pipe {key_id}: {r.stderr}"
    return r.stdout.strip()


# ---------------------------------------------------------------------------------------------------------
# The app and the run


class Remote:
    """One run: the certificates, the clinic's server, and the app (relaunched with the same data and env).

    Looks like conftest's App to the helpers of test_e2e (`driver`, `screenshot`), always the current launch,
    and is the `app` fixture so conftest's hook saves the window when a step fails.
    """

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.data_dir = tmp / "app-data"
        self.data_dir.mkdir()
        self.certs = make_certs(tmp / "tls")
        self.server = Server(tmp, free_port(), self.certs)
        self.url = self.server.url
        browser_env, self.urls_file = system_browser(tmp / "browser")
        self.env = {
            # rustls-native-certs reads SSL_CERT_FILE: the app trusts the throwaway CA and nothing else.
            "SSL_CERT_FILE": str(self.certs["ca.pem"]),
            "PORTICO_KEYCHAIN": "keyutils",
            **browser_env,
        }
        # The outside client, trusting the throwaway CA only. trust_env off: REQUESTS_CA_BUNDLE in the
        # environment would otherwise replace `verify`, and a proxy setting must not see loopback traffic.
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.verify = str(self.certs["ca.pem"])
        self.current: App | None = None
        self.browser: webdriver.Chrome | None = None
        self.rogue: RogueServer | None = None
        self.broken: str | None = None
        self.shared: dict = {}

    @property
    def driver(self):
        return self.current.driver

    def screenshot(self, name: str) -> Path:
        return self.current.screenshot(name)

    def launch(self) -> None:
        self.current = App(self.data_dir, extra_env=self.env)

    def relaunch(self) -> None:
        self.current.close()
        self.current = None
        self.launch()

    def close(self) -> None:
        for part in (
            lambda: self.current and self.current.close(),
            lambda: self.browser and self.browser.quit(),
            lambda: self.server.stop(),
            lambda: self.rogue and self.rogue.stop(),
        ):
            try:
                part()
            except Exception as e:  # tear everything down even when one part fails
                print(f"teardown: {e!r}")


@pytest.fixture(scope="module")
def app():
    with tempfile.TemporaryDirectory(prefix="portico-remote-e2e-") as d:
        run = Remote(Path(d))
        try:
            run.server.start()
            run.launch()
            yield run
        finally:
            run.close()


def step(fn):
    """The steps build on each other: after a failure the rest are skipped, not failed for a second reason."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        app = kwargs["app"]
        if app.broken:
            pytest.skip(f"an earlier step failed ({app.broken})")
        try:
            return fn(*args, **kwargs)
        except BaseException:
            app.broken = fn.__name__
            raise

    return run


def card_locator(name: str) -> tuple[str, str]:
    return (By.CSS_SELECTOR, f'[data-testid="credential-card"][data-name="{name}"]')


def click_fresh(app, locator, tries: int = 3):
    """click() that finds the element again if the list re-rendered under it (a sync may redraw the area)."""
    for attempt in range(tries):
        try:
            return click(app, locator)
        except StaleElementReferenceException:
            if attempt == tries - 1:
                raise


def sync(app) -> str:
    """Makes the UI sync now, as a person would: "Try again" on the offline banner when it shows, else the
    window's focus event (the shell syncs on focus, every minute, and after a request the server missed)."""
    return app.driver.execute_script(
        "const b = document.querySelector('[data-testid=\"sync-now\"]');"
        "if (b && b.offsetParent !== null && !b.disabled) { b.click(); return 'try-again'; }"
        "window.dispatchEvent(new Event('focus')); return 'focus';"
    )


def until_synced(app, condition, timeout: float = LONG, every: float = 15):
    """Waits for `condition`, syncing again every `every` seconds (the first sync is the caller's)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            return WebDriverWait(app.driver, max(1.0, min(every, left)), poll_frequency=0.2,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            if time.monotonic() >= deadline:
                raise
            sync(app)


def toasts(app) -> list[str]:
    return app.driver.execute_script("return Array.from(document.querySelectorAll('[data-testid=toast]'), e => e.textContent);")


def token(app, details: dict) -> requests.Response:
    return app.http.post(details["token_url"], data={"grant_type": "client_credentials"},
                         auth=(details["client_id"], details["secret"]), timeout=30)


# ---------------------------------------------------------------------------------------------------------
# The steps


@step
def test_adds_the_clinic_server_and_refuses_untrusted_or_silent_ones(app):
    change = WebDriverWait(app.driver, LONG).until(EC.element_to_be_clickable(tid("change-server")))
    press(app, change)
    wait(app, tid("servers-dialog"))
    field = wait(app, tid("server-url"))

    # A certificate the app can't trust is refused, in words, and the server is not added.
    app.rogue = RogueServer(app.certs)
    field.send_keys(app.rogue.url)
    click(app, tid("add-server"))
    WebDriverWait(app.driver, TIMEOUT).until(EC.text_to_be_present_in_element(tid("add-server-error"), "certificate"))
    error = app.driver.find_element(*tid("add-server-error")).text
    assert "can't be trusted" in error, error
    app.screenshot("remote-00-untrusted-certificate")

    # Nothing listening: said so.
    field = wait(app, tid("server-url"))
    field.clear()
    field.send_keys(f"https://127.0.0.1:{free_port()}")
    click(app, tid("add-server"))
    WebDriverWait(app.driver, TIMEOUT).until(EC.text_to_be_present_in_element(tid("add-server-error"), "Nothing answered"))
    assert not app.driver.find_elements(By.XPATH, f'//*[@data-testid="server"][contains(., "{app.rogue.url}")]'), \
        "a refused server is not in the list"

    field = wait(app, tid("server-url"))
    field.clear()
    field.send_keys(app.url)
    click(app, tid("add-server"))
    WebDriverWait(app.driver, TIMEOUT).until(EC.text_to_be_present_in_element(tid("add-server-result"), SERVER_NAME))
    assert not app.driver.find_element(*tid("add-server-error")).text.strip()
    WebDriverWait(app.driver, TIMEOUT).until(
        lambda d: any(SERVER_NAME in row.text for row in d.find_elements(*tid("server")))
    )
    app.screenshot("remote-01-servers")
    assert_accessible(app.driver, "remote-01-servers")

    click(app, tid("switch-to-added"))
    wait(app, tid("sign-in-browser"), timeout=LONG)
    assert wait(app, tid("server-name")).text.strip() == SERVER_NAME
    assert wait(app, tid("server-url-shown")).text.strip().rstrip("/") == app.url
    label = app.driver.find_elements(*tid("keychain-label"))
    assert label and "Kernel keyring" in label[0].text, "PORTICO_KEYCHAIN=keyutils: the sign-in is kept in the kernel keyring"


@step
def test_signs_in_through_the_browser(app, capsys):
    app.browser = chromium()  # started before the clock: the figure is the sign-in, not Chromium's start-up
    before = len(opened_urls(app.urls_file))
    start = wait(app, tid("sign-in-browser"))
    assert_accessible(app.driver, "remote-sign-in")
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", start)
    t0 = time.monotonic()
    start.click()

    url = WebDriverWait(app.driver, TIMEOUT, poll_frequency=0.05).until(
        lambda d: (opened_urls(app.urls_file)[before:] or [None])[0]
    )
    assert url.startswith(f"{app.url}/oauth/authorize?"), url
    assert "client_id=portico-desktop" in url and "code_challenge_method=S256" in url, url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url, "the app's loopback listener gets the answer"
    shot_s = sign_in_in_browser(app.browser, url, PATIENT, PASSWORD, shot="remote-02-browser-sign-in")
    WebDriverWait(app.driver, LONG, poll_frequency=0.05).until(EC.visibility_of_element_located(tid("sign-out")))
    ms = round((time.monotonic() - t0 - shot_s) * 1000)

    landed = WebDriverWait(app.browser, TIMEOUT).until(lambda b: b.find_element(By.TAG_NAME, "body").text)
    assert "signed in" in landed.lower(), f"the app's listener answers the browser: {landed!r}"
    browser_shot(app.browser, "remote-02b-browser-back-to-app")
    assert wait(app, tid("server-name")).text.strip() == SERVER_NAME, "the header names the server"
    wait(app, tid("nav-apps"))
    assert not app.driver.find_elements(*tid("offline-banner")) or not app.driver.find_element(*tid("offline-banner")).is_displayed()
    app.screenshot("remote-03-signed-in")
    with capsys.disabled():
        print(f"\nPORTICO_FIGURE remote_sign_in_ms={ms}")
    app.browser.quit()
    app.browser = None


@step
def test_a_credential_made_in_the_app_works_from_an_outside_client(app):
    click(app, tid("nav-apps"))
    click(app, tid("new-credential"))
    wait(app, (By.ID, "credential-name")).send_keys(CREDENTIAL)
    click(app, tid("create-credential"))
    details = issued_details(app)
    assert details["client_id"].startswith("pci_app_"), details["client_id"]
    assert details["secret"].startswith("pcs_app_")
    assert details["token_url"] == f"{app.url}/oauth/token", details["token_url"]
    assert details["fhir_base_url"].startswith(app.url), details["fhir_base_url"]

    r = token(app, details)
    assert r.status_code == 200, r.text
    tok = r.json()
    auth = {"Authorization": f"Bearer {tok['access_token']}", "Accept": "application/fhir+json"}
    base = details["fhir_base_url"].rstrip("/")
    own = app.http.get(f"{base}/Patient/{tok['patient']}", headers=auth, timeout=30)
    assert own.status_code == 200, own.text
    assert app.http.get(f"{base}/Patient", params={"_count": "1"}, headers=auth, timeout=30).status_code == 200
    click(app, tid("done"))
    card = wait(app, card_locator(CREDENTIAL))
    app.shared.update(details=details, auth=auth, read_url=f"{base}/Patient/{tok['patient']}", credential_id=card.get_attribute("data-id"))


@step
def test_offline_shows_what_was_seen_and_queues_the_delete(app):
    app.server.stop()
    sync(app)
    banner = until_synced(app, EC.visibility_of_element_located(tid("offline-banner")))
    assert "Offline" in banner.text, banner.text
    # The cached list: the credential is still there, and what needs the server says so.
    wait(app, card_locator(CREDENTIAL))
    WebDriverWait(app.driver, TIMEOUT).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="new-credential"][data-needs-server="true"]'))
    )
    app.screenshot("remote-04-offline")
    assert_accessible(app.driver, "remote-04-offline")

    click_fresh(app, (By.CSS_SELECTOR, f'[data-testid="credential-card"][data-name="{CREDENTIAL}"] [data-testid="delete"]'))
    click(app, tid("confirm"))
    text = toast_text(app, "Waiting to send")
    assert CREDENTIAL in text or "server is back" in text, text
    entry = WebDriverWait(app.driver, TIMEOUT, ignored_exceptions=(StaleElementReferenceException,)).until(
        EC.visibility_of_element_located(tid("outbox-waiting"))
    )
    assert entry.get_attribute("data-target") == app.shared["credential_id"], entry.get_attribute("data-target")
    WebDriverWait(app.driver, TIMEOUT, ignored_exceptions=(StaleElementReferenceException,)).until(
        EC.visibility_of_element_located(
            (By.CSS_SELECTOR, f'[data-testid="credential-card"][data-name="{CREDENTIAL}"] [data-testid="waiting-tag"]')
        )
    )
    # Not done yet, and not said to be: the card stays and no toast claims the deletion.
    assert app.driver.find_elements(*card_locator(CREDENTIAL))
    assert not [t for t in toasts(app) if "was deleted" in t], toasts(app)
    assert not app.driver.find_elements(By.CSS_SELECTOR, '[data-testid="outbox-outcome"]')
    app.screenshot("remote-05-outbox")
    assert_accessible(app.driver, "remote-05-outbox")


@step
def test_back_online_the_delete_is_sent_and_the_token_stops_working(app):
    app.server.start()
    click(app, tid("sync-now"))
    outcome = until_synced(app, EC.visibility_of_element_located(tid("outbox-outcome")))
    assert outcome.get_attribute("data-state") == "done", outcome.get_attribute("data-state")
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: not d.find_elements(*card_locator(CREDENTIAL)))
    WebDriverWait(app.driver, TIMEOUT).until(EC.invisibility_of_element_located(tid("offline-banner")))
    assert not app.driver.find_elements(*tid("outbox-waiting"))
    app.screenshot("remote-06-back-online")

    r = app.http.get(app.shared["read_url"], headers=app.shared["auth"], timeout=30)
    assert r.status_code == 401, f"the deleted credential's token still reads: {r.status_code} {r.text[:200]}"
    r = token(app, app.shared["details"])
    assert r.status_code == 401 and r.json().get("error") == "invalid_client", r.text


@step
def test_a_relaunch_is_signed_in_from_the_keychain_without_the_browser(app):
    before = len(opened_urls(app.urls_file))
    app.relaunch()
    WebDriverWait(app.driver, LONG).until(EC.visibility_of_element_located(tid("sign-out")))
    assert wait(app, tid("server-name")).text.strip() == SERVER_NAME
    assert "Reyna" in wait(app, tid("user-name")).text, "the demo patient, Reyna Ziemann"
    assert len(opened_urls(app.urls_file)) == before, "no browser was opened"
    app.screenshot("remote-07-relaunched-signed-in")


@step
def test_sign_out_ends_the_refresh_token_at_the_server(app):
    # Read just before signing out (each refresh rotates it); never presented while it is the app's own.
    found = find_refresh_key(app.url, PATIENT)
    assert found, (
        f"no refresh token in the session keyring for {PATIENT} at {app.url} "
        f"(expected {keychain_description(f'refresh:{PATIENT}@{app.url}')!r}); keys: {keyctl('rlist', '@s').stdout!r}"
    )
    key_id, description = found
    refresh_token = read_key(key_id)
    assert refresh_token.startswith("pcr_"), "a refresh token, not something else"

    click(app, tid("sign-out"))
    wait(app, tid("sign-in-browser"))
    assert wait(app, tid("server-name")).text.strip() == SERVER_NAME, "signed out of this server, still on it"
    toast_text(app, "signed out")
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: find_refresh_key(app.url, PATIENT) is None)

    r = app.http.post(
        f"{app.url}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": DESKTOP_CLIENT_ID},
        timeout=30,
    )
    assert r.status_code == 400 and r.json().get("error") == "invalid_grant", f"{description}: {r.status_code} {r.text}"
    app.screenshot("remote-08-signed-out")
    assert_accessible(app.driver, "remote-08-signed-out")

    before = len(opened_urls(app.urls_file))
    app.relaunch()
    wait(app, tid("sign-in-browser"), timeout=LONG)
    assert not app.driver.find_elements(*tid("sign-out")), "signed out stays signed out"
    assert wait(app, tid("server-name")).text.strip() == SERVER_NAME
    assert len(opened_urls(app.urls_file)) == before
