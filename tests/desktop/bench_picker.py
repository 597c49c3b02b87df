"""Patient picker benchmark at clinic scale: a store with BENCH_PATIENTS (default 6,000) generated patients besides
the 18 samples, the demo provider a member of both practices (so all of them are theirs to pick from).

  * server: GET /api/patients latency over HTTP (`portico serve` on the prepared store), per kind of query
  * UI: the provider's picker, names typed letter by letter; for each keystroke the UI's own figure, input
    event → results painted (the `data-render-ms` it sets on the results list, also sent to `report_timing`)

Prints figures; asserts nothing. Run under Xvfb with release builds (scripts/bench-desktop); needs
PORTICO_DESKTOP_BIN and PORTICO_BIN (default target/release/portico). BENCH_DATA_DIR keeps the prepared store
between runs (it is made once)."""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import descendants, pss_kib  # noqa: E402
from conftest import App, free_port  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PORTICO = os.environ.get("PORTICO_BIN", str(ROOT / "target/release/portico"))
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "6000"))
RUNS = int(os.environ.get("BENCH_PICKER_RUNS", "3"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "8"))
SETTLE = float(os.environ.get("BENCH_PICKER_SETTLE", "0.35"))  # seconds between keystrokes
# Typed letter by letter: family names and "given family" of `portico generate`'s lists, an MRN-like and a date.
TYPED = ["zimmermann", "tomas castillo", "nakamura", "yara okafor", "1974-05-21"]
SERVER_QUERIES = ["", "z", "zi", "zim", "zimmermann", "a", "ava", "ava abara", "1974", "1974-05", "1974-05-21", "4", "42", "4242", "nomatch"]


def tid(name: str) -> tuple[str, str]:
    return (By.CSS_SELECTOR, f'[data-testid="{name}"]')


def prepare(data: Path) -> Path:
    db = data / "portico.db"
    stamp = data / f"prepared-{PATIENTS}"
    if stamp.exists():
        return db
    started = time.perf_counter()
    subprocess.run([PORTICO, "seed", "--db", str(db)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PORTICO, "generate", "--db", str(db), "--patients", str(PATIENTS)], check=True, stdout=subprocess.DEVNULL)
    # The demo provider works at both practices, so every generated patient is one they may pick.
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT OR IGNORE INTO memberships(user_id, practice_id) SELECT u.id, p.id FROM users u, practices p WHERE u.username = 'provider'")
    stamp.touch()
    print(f"prepared {PATIENTS} patients + 18 samples in {time.perf_counter() - started:.0f} s")
    return db


def summary(xs: list[float]) -> str:
    if not xs:
        return "none"
    s = sorted(xs)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return f"median {statistics.median(s):.1f}  p95 {p95:.1f}  max {s[-1]:.1f}  (n={len(s)})"


BENCH_USER, BENCH_PASSWORD = "bench-picker", "bench-picker-password"


def server_latency(db: Path) -> None:
    """`portico serve` on the prepared store, asked by a provider of both practices (made here once: the demo
    accounts' password changes at every launch of the desktop app)."""
    subprocess.run([PORTICO, "users", "create", "--db", str(db), "--username", BENCH_USER, "--display-name", "Bench Picker",
                    "--password", BENCH_PASSWORD, "--role", "provider", "--practice", "1", "--practice", "2"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fails harmlessly once it exists
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(db.parent / "serve.log", "ab")
    proc = subprocess.Popen([PORTICO, "serve", "--db", str(db), "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, RUST_LOG="warn"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                print("server_latency: portico serve did not start; see", db.parent / "serve.log")
                return
            time.sleep(0.1)  # polling a server that is still starting
        s = requests.Session()
        r = s.post(f"{base}/api/session", json={"username": BENCH_USER, "password": BENCH_PASSWORD}, timeout=30)
        if r.status_code != 200:
            print(f"server_latency: sign-in failed ({r.status_code} {r.text[:200]})")
            return
        s.headers["Authorization"] = f"Bearer {r.json()['token']}"
        for _ in range(3):  # warm the page cache and the statement cache
            for q in SERVER_QUERIES:
                s.get(f"{base}/api/patients", params={"q": q}, timeout=30)
        every: list[float] = []
        print(f"server /api/patients at {PATIENTS + 18} patients (HTTP round trip on loopback, ms):")
        for q in SERVER_QUERIES:
            times, found = [], 0
            for _ in range(30):
                t = time.perf_counter()
                r = s.get(f"{base}/api/patients", params={"q": q}, timeout=30)
                times.append((time.perf_counter() - t) * 1000)
                found = len(r.json())
            every.extend(times)
            print(f"  q={q!r:16} {found:2} answers   {summary(times)}")
        print(f"server_patients_ms all queries: {summary(every)}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def ui_keystrokes(data: Path) -> None:
    app = App(data)
    figures: list[float] = []
    phases: dict[str, list[float]] = {}
    slowest: list[tuple[float, str, str]] = []
    try:
        w = WebDriverWait(app.driver, 60)
        # The sign-in screen, or the provider still signed in from an earlier run on the same data (BENCH_DATA_DIR).
        first = WebDriverWait(app.driver, 120).until(
            lambda d: d.find_elements(*tid("demo-provider")) or d.find_elements(*tid("nav-provider")))[0]
        if first.get_attribute("data-testid") == "demo-provider":
            w.until(EC.element_to_be_clickable(tid("demo-provider"))).click()
        w.until(EC.element_to_be_clickable(tid("nav-provider"))).click()
        w.until(EC.element_to_be_clickable(tid("new-provider-key"))).click()
        search = w.until(EC.visibility_of_element_located((By.ID, "patient-search")))
        w.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="patient-option"]'))
        fast = WebDriverWait(app.driver, 30, poll_frequency=0.05)
        for run in range(RUNS):
            for text in TYPED:
                search.send_keys(Keys.CONTROL, "a")
                search.send_keys(Keys.BACK_SPACE)
                fast.until(lambda d: search.get_attribute("value") == "")
                typed = ""
                for ch in text:
                    typed += ch
                    search.send_keys(ch)
                    want = typed.strip()
                    # Left alone while it answers and paints (WebDriver's polling runs scripts on the page's main
                    # thread, which would slow what is measured), then read the figure the UI set for this keystroke.
                    time.sleep(SETTLE)
                    fast.until(lambda d: d.find_element(By.ID, "patient-results").get_attribute("data-render-query") == want)
                    results = app.driver.find_element(By.ID, "patient-results")
                    ms = results.get_attribute("data-render-ms")
                    if run > 0 or text != TYPED[0]:  # the very first word warms caches: not counted
                        figures.append(float(ms))
                        slowest.append((float(ms), want, results.get_attribute("data-render-phases") or ""))
                        for part in (results.get_attribute("data-render-phases") or "").split():
                            name, _, value = part.partition("=")
                            phases.setdefault(name, []).append(float(value))
        print(f"patient_picker_ms (UI, keystroke → results painted) over {len(TYPED)} words x {RUNS} runs: {summary(figures)}   (target <= 100)")
        for name, xs in phases.items():
            print(f"  {name:7} {summary(xs)}")
        print("  (wait: keystroke → asked, incl. the debounce; answer: command + HTTP + SQL; render: the list built; paint: two frames)")
        print("  slowest keystrokes: " + "; ".join(f"{q!r} {ms:.0f} ({ph})" for ms, q, ph in sorted(slowest, reverse=True)[:5]))
        idle_pss(app)
    finally:
        app.close()


def idle_pss(app: App) -> None:
    """Idle memory at clinic scale: the app's process tree (the app, its embedded service, WebKit's processes),
    signed in with the picker open over the big store, after the page has settled."""
    time.sleep(IDLE_SECONDS)
    apps = [p for p in descendants(app.driver_proc.pid) if Path(f"/proc/{p}/comm").read_text().strip() == "portico-desktop"]
    if not apps:
        print("idle_pss_mb_clinic_scale n/a (the app's process was not found)")
        return
    total, parts = pss_kib(apps[0])
    print(f"idle_pss_mb_clinic_scale {total / 1024:.1f}   (target <= 320)  "
          + ", ".join(f"{n}={k / 1024:.0f}" for n, k in sorted(parts, key=lambda x: -x[1])))


def main() -> None:
    keep = os.environ.get("BENCH_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="portico-bench-picker-") as d:
        data = Path(keep) if keep else Path(d)
        data.mkdir(parents=True, exist_ok=True)
        db = prepare(data)
        server_latency(db)
        ui_keystrokes(data)


if __name__ == "__main__":
    main()
