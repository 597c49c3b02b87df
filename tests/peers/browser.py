"""A real browser on Portico's authorization pages, and the redirect it ends on.

Debian's chromium and its matching chromedriver, driven through WebDriver by
selenium (the driver path is given, so Selenium Manager never downloads one).
A test builds the authorization URL with its own OAuth library, hands it to
`Browser.authorize`, and gets back the URL the server redirected to, exactly
as the app's redirect endpoint would see it: a one-shot HTTP listener on
127.0.0.1:<free port> stands in for the app (Portico matches loopback redirect
URIs on any port, RFC 8252 §7.3, so apps register http://127.0.0.1/callback).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
REGISTERED_REDIRECT = "http://127.0.0.1/callback"
PAGE_TIMEOUT_S = 30.0

HEADLESS_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1100,1400",
]


class Callback:
    """A one-shot redirect endpoint: the first GET's full URL, then it closes.

    `uri` is the redirect URI to put in the authorization request (the
    registered http://127.0.0.1/callback with this listener's port).
    """

    def __init__(self) -> None:
        received: list[str] = []
        arrived = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if not received:
                    received.append(self.path)
                    arrived.set()
                body = b"<!doctype html><title>callback</title><p id=done>received</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                # The query carries the authorization code: never print it.
                pass

        self._received = received
        self._arrived = arrived
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.uri = f"http://127.0.0.1:{self.port}/callback"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait(self, timeout: float = PAGE_TIMEOUT_S) -> str | None:
        """The redirect's full URL, or None when none arrived within `timeout`."""
        if not self._arrived.wait(timeout):
            return None
        return f"http://127.0.0.1:{self.port}{self._received[0]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "Callback":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class Browser:
    """One headless chromium for a whole test session (fresh profile)."""

    def __init__(self) -> None:
        self._profile = Path(tempfile.mkdtemp(prefix="portico-peers-chromium-"))
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in HEADLESS_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self._profile}")
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        self.driver.set_page_load_timeout(PAGE_TIMEOUT_S)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def _wait(self, condition, what: str):
        try:
            return WebDriverWait(self.driver, PAGE_TIMEOUT_S).until(condition)
        except TimeoutException as err:
            raise AssertionError(
                f"browser: {what} did not happen within {PAGE_TIMEOUT_S}s; at {self.driver.current_url}:\n"
                f"{self.driver.page_source[:3000]}"
            ) from err

    def page_text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def authorize(
        self,
        url: str,
        callback: Callback,
        username: str = "patient",
        password: str = "portico-demo",
        untick: tuple[str, ...] = (),
        action: str = "allow",
    ) -> str:
        """Sign in (always: the previous session's cookie is dropped first),
        untick the given scopes on the consent page, press Allow (or Deny) and
        return the URL the server redirected to."""
        # WebDriver's delete-all-cookies only reaches cookies visible to the current page (the
        # callback, not /oauth), so the whole cookie jar is cleared through the DevTools protocol.
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.driver.get(url)
        self._wait(EC.presence_of_element_located((By.ID, "username")), "the sign-in page")
        self.driver.find_element(By.ID, "username").send_keys(username)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "button[name=action][value=sign_in]").click()
        self._wait(
            EC.presence_of_element_located((By.CSS_SELECTOR, "button[name=action][value=allow]")),
            "the consent page after sign-in",
        )
        for scope in untick:
            box = self.driver.find_element(By.CSS_SELECTOR, f"input[type=checkbox][name=scope][value='{scope}']")
            assert box.is_selected(), f"consent page: {scope} was not ticked to start with"
            box.click()
            assert not box.is_selected(), f"consent page: {scope} is still ticked after a click"
        self.driver.find_element(By.CSS_SELECTOR, f"button[name=action][value={action}]").click()
        redirected = callback.wait()
        assert redirected is not None, (
            f"browser: no redirect reached {callback.uri} after pressing {action}; at "
            f"{self.driver.current_url}:\n{self.page_text()[:2000]}"
        )
        return redirected
