"""Starts tauri-driver (which starts the real app through WebKitWebDriver) for the desktop E2E tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tauri-driver exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet; not a wait for the app
    raise RuntimeError("tauri-driver did not start listening")


class App:
    """One launch of the desktop app with its own data directory."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.port = free_port()
        # Copied secrets leave the clipboard after 5 s here instead of 60, so a test can watch it happen.
        env = dict(os.environ, PORTICO_DATA_DIR=str(data_dir), RUST_LOG="warn", PORTICO_CLIPBOARD_CLEAR_SECS="5", **(extra_env or {}))
        self.log = open(data_dir / "tauri-driver.log", "ab")
        self.driver_proc = subprocess.Popen(
            ["tauri-driver", "--port", str(self.port), "--native-port", str(free_port())],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": os.environ["PORTICO_DESKTOP_BIN"]})
        try:
            wait_for_port(self.port, self.driver_proc)
            try:
                self.driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{self.port}", options=opts)
            except Exception as first:
                # Seen once on a machine busy with a release build: WebKitWebDriver dropped the first
                # session request. One more try; an app that cannot start fails both.
                print(f"session creation failed once ({first!r}); retrying")
                self.driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{self.port}", options=opts)
        except Exception:
            self.stop_driver()
            self.log.close()
            log = (data_dir / "tauri-driver.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the app did not start under tauri-driver; its log ends with:\n{log}")
        self.driver.set_window_size(1200, 800)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            self.stop_driver()
            self.log.close()

    def stop_driver(self) -> None:
        # SIGTERM, never SIGKILL: tauri-driver must take WebKitWebDriver down with it.
        self.driver_proc.send_signal(signal.SIGTERM)
        try:
            self.driver_proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.driver_proc.terminate()


@pytest.fixture(scope="module")
def data_dir():
    with tempfile.TemporaryDirectory(prefix="portico-e2e-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def app(data_dir):
    a = App(data_dir)
    yield a
    a.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, save what the window showed, next to the other screenshots."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "app" in item.funcargs:
        try:
            item.funcargs["app"].screenshot(f"failure-{item.name}")
        except Exception:  # the screenshot is a diagnostic; the failure itself is already reported
            pass
