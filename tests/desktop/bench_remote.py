"""Remote-mode desktop benchmark (issue 7's figures): prints figures, asserts nothing.

  * sign-in: click "Sign in with your browser" → signed-in home, the browser step automated (Chromium through
    chromedriver signs in on the server's page), median of several sign-ins
  * offline start-up: process start → the cached credential list painted, with the server stopped
  * idle PSS in remote mode: the app and its WebKit children, no embedded service, signed in, online

Run under Xvfb in a keyutils session (scripts/bench-desktop does it) with release binaries:
PORTICO_DESKTOP_BIN and PORTICO_BIN.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from bench import pss_kib, stop  # noqa: E402
from conftest import App, free_port  # noqa: E402
from test_e2e import click, tid, wait  # noqa: E402
from test_remote_e2e import (  # noqa: E402
    PASSWORD,
    PATIENT,
    Server,
    chromium,
    make_certs,
    opened_urls,
    sign_in_in_browser,
    system_browser,
)

SIGN_INS = int(os.environ.get("BENCH_SIGN_INS", "5"))
LAUNCHES = int(os.environ.get("BENCH_LAUNCHES", "5"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "8"))
BIN = os.environ["PORTICO_DESKTOP_BIN"]


class Run:
    """What test_e2e's helpers expect of an app: `driver`."""

    def __init__(self, app: App):
        self.driver = app.driver


def sign_in_once(run: Run, browser, urls_file: Path) -> float:
    before = len(opened_urls(urls_file))
    start = wait(run, tid("sign-in-browser"))
    t0 = time.monotonic()
    start.click()
    url = WebDriverWait(run.driver, 30, poll_frequency=0.02).until(lambda d: (opened_urls(urls_file)[before:] or [None])[0])
    sign_in_in_browser(browser, url, PATIENT, PASSWORD)
    WebDriverWait(run.driver, 60, poll_frequency=0.02).until(EC.visibility_of_element_located(tid("sign-out")))
    return (time.monotonic() - t0) * 1000


def launch_direct(data: Path, env: dict[str, str], until: str = "credential_list") -> tuple[subprocess.Popen, float | None]:
    """The app started as a person starts it; returns it and process start → first credential list painted
    (or, with until="ui_ready", → the first screen interactive)."""
    err = open(data / "bench-stderr.log", "ab")
    rust_log = os.environ.get("BENCH_RUST_LOG", "warn")
    proc = subprocess.Popen([BIN], env=dict(os.environ, PORTICO_DATA_DIR=str(data), RUST_LOG=rust_log, **env),
                            stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if line.startswith("PORTICO_UI_READY") and os.environ.get("BENCH_VERBOSE"):
            print("  ", line.strip())
        ready = re.match(r"PORTICO_UI_READY ms=(\d+)", line)
        if ready and until == "ui_ready":
            return proc, float(ready.group(1))
        m = re.match(r"PORTICO_TIMING name=credential_list .* since_start_ms=(\d+)", line)
        if m:
            return proc, float(m.group(1))
        if time.monotonic() > deadline:
            break
    return proc, None


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="portico-bench-remote-") as d:
        tmp = Path(d)
        data = tmp / "app-data"
        data.mkdir()
        certs = make_certs(tmp / "tls")
        server = Server(tmp, free_port(), certs)
        browser_env, urls_file = system_browser(tmp / "browser")
        env = {"SSL_CERT_FILE": str(certs["ca.pem"]), "PORTICO_KEYCHAIN": "keyutils", **browser_env}
        server.start()
        app = App(data, extra_env=env)
        browser = chromium()
        try:
            run = Run(app)
            click(run, tid("change-server"))
            wait(run, tid("server-url")).send_keys(server.url)
            click(run, tid("add-server"))
            click(run, tid("switch-to-added"))
            times = []
            for i in range(SIGN_INS):
                times.append(sign_in_once(run, browser, urls_file))
                if i < SIGN_INS - 1:
                    click(run, tid("sign-out"))
            # Something to show offline: one credential.
            click(run, tid("nav-apps"))
            click(run, tid("new-credential"))
            wait(run, (By.ID, "credential-name")).send_keys("Bench phone app")
            click(run, tid("create-credential"))
            click(run, tid("done"))
            wait(run, (By.CSS_SELECTOR, '[data-testid="credential-card"][data-name="Bench phone app"]'))
        finally:
            browser.quit()
            app.close()
        print(f"remote_sign_in_ms over {SIGN_INS}: min {min(times):.0f}  median {statistics.median(times):.0f}  max {max(times):.0f}"
              "   (click → signed-in home, browser step automated)")

        # Online: idle memory in remote mode (no embedded service).
        proc, online_ms = launch_direct(data, env)
        time.sleep(IDLE_SECONDS)  # let the page settle before measuring idle memory
        total, parts = pss_kib(proc.pid)
        stop(proc)
        print(f"remote_startup_online_list_ms {online_ms}   (process start → credential list, server up)")
        print(f"remote_idle_pss_mb {total/1024:.1f}   (embedded mode measured 296-302; should be lower)  "
              + ", ".join(f"{n}={k/1024:.0f}" for n, k in sorted(parts, key=lambda x: -x[1])))

        # The remote server's sign-in screen (nobody signed in there), for the same screen as bench.py's figure.
        signed_out = tmp / "signed-out"
        signed_out.mkdir()
        servers = json.loads((data / "servers.json").read_text())
        for s in servers["servers"]:
            s["signed_in_as"] = None
        (signed_out / "servers.json").write_text(json.dumps(servers))
        proc, ready_ms = launch_direct(signed_out, env, until="ui_ready")
        time.sleep(IDLE_SECONDS)
        total, parts = pss_kib(proc.pid)
        stop(proc)
        print(f"remote_sign_in_screen_ms {ready_ms}   remote_sign_in_screen_idle_pss_mb {total/1024:.1f}   (the screen bench.py measures in"
              " embedded mode)  " + ", ".join(f"{n}={k/1024:.0f}" for n, k in sorted(parts, key=lambda x: -x[1])))

        # Offline: the server stopped, the cached list at start-up.
        server.stop()
        offline = []
        for _ in range(LAUNCHES):
            proc, ms = launch_direct(data, env)
            stop(proc)
            if ms is not None:
                offline.append(ms)
        if offline:
            if os.environ.get("BENCH_VERBOSE"):
                print((data / "bench-stderr.log").read_text(errors="replace")[-1500:])
            print(f"remote_offline_startup_list_ms over {len(offline)}: min {min(offline):.0f}  median {statistics.median(offline):.0f}"
                  f"  max {max(offline):.0f}   (target <= 300; process start → cached credential list painted)")
        else:
            print("remote_offline_startup_list_ms n/a: the cached list was never painted (see bench-stderr.log)")


if __name__ == "__main__":
    sys.exit(main())
