"""Third-party apps in the real desktop app (issue 10): a developer registers an app and asks a practice to
approve it → the practice's administrator approves it → the patient authorizes the sample app in a real
browser → the patient sees it under Connected apps, previews it and revokes it → the app's next request fails.

The sample app runs in Debian's Chromium (chromium-driver, headless), on the embedded service's own
address; it signs in with the per-launch demo password, which the test asks the app for as the UI does.
Skipped unless PORTICO_E2E_APPS=1 (scripts/test sets it, after building sample-app/).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options as ChromeOptions
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ARTIFACTS

from test_e2e import TIMEOUT, click, press, sign_in_as, sign_out, tid, toast_text, wait

pytestmark = pytest.mark.skipif(
    os.environ.get("PORTICO_E2E_APPS") != "1",
    reason="set PORTICO_E2E_APPS=1 (scripts/test does, after building sample-app/)",
)

APP_NAME = "E2E Sleep Coach"
PRACTICE = "Riverside Family Medicine"


def card(app, testid: str, name: str, attr: str = "data-name"):
    return wait(app, (By.CSS_SELECTOR, f'[data-testid="{testid}"][{attr}="{name}"]'))


def test_developer_registers_an_app_and_requests_approval(app):
    sign_in_as(app, "developer")
    click(app, tid("nav-developer"))
    click(app, tid("tab-apps"))
    click(app, tid("register-app"))
    wait(app, tid("app-form-dialog"))
    # Client-side rules first: an http redirect URI on a public host is refused before any round trip.
    app.driver.find_element(By.ID, "app-name").send_keys(APP_NAME)
    app.driver.find_element(By.ID, "app-homepage").send_keys("https://sleepcoach.example")
    app.driver.find_element(By.ID, "app-redirects").send_keys("http://sleepcoach.example/cb")
    app.driver.find_element(By.CSS_SELECTOR, '[data-scope="launch/patient"]').click()
    app.driver.find_element(By.CSS_SELECTOR, '[data-scope="patient/*.rs"]').click()
    click(app, tid("save-app"))
    assert "http is allowed only on" in wait(app, tid("app-redirects-error")).text
    redirects = app.driver.find_element(By.ID, "app-redirects")
    redirects.clear()
    redirects.send_keys("https://sleepcoach.example/cb")
    click(app, tid("save-app"))

    # A web app with client_secret_basic: the secret is shown once, with the authorize URL.
    dialog = wait(app, tid("show-once"))
    client_id = dialog.find_element(*tid("client-id")).text.strip()
    assert client_id.startswith("pci_smart_")
    assert "/oauth/authorize" in dialog.find_element(*tid("authorize-url")).text
    app.screenshot("apps-01-registered")
    click(app, tid("copy-client-secret"))
    click(app, tid("done"))

    c = card(app, "app-card", APP_NAME)
    press(app, c.find_element(*tid("request-approval")))
    wait(app, tid("request-approval-dialog"))
    app.driver.find_element(By.ID, "practice-search").send_keys("riverside")
    click(app, (By.CSS_SELECTOR, f'[data-testid="practice-option"][data-name="{PRACTICE}"]'))
    click(app, tid("send-request"))
    toast_text(app, f"requested from {PRACTICE}")
    chip = card(app, "app-card", APP_NAME).find_element(By.CSS_SELECTOR, '[data-testid="approval-chip"]')
    assert chip.get_attribute("data-status") == "pending"
    app.screenshot("apps-02-pending")
    sign_out(app)


def test_administrator_sees_the_badge_and_approves(app):
    sign_in_as(app, "admin")
    badge = wait(app, tid("approvals-badge"))
    assert int(badge.text) >= 1, "pending requests are counted in the navigation"
    click(app, tid("nav-approvals"))
    req = card(app, "approval-request", APP_NAME, "data-app")
    assert req.get_attribute("data-status") == "pending"
    assert "https://sleepcoach.example/cb" in req.text, "the request shows the app's redirect URIs"
    app.screenshot("apps-03-approval-request")
    # Denying needs a reason; approving does not.
    press(app, req.find_element(*tid("approve")))
    wait(app, tid("decide-dialog"))
    click(app, tid("confirm-decision"))
    toast_text(app, "is approved for")
    WebDriverWait(app.driver, TIMEOUT).until(
        lambda d: card(app, "approval-request", APP_NAME, "data-app").get_attribute("data-status") == "approved"
    )
    sign_out(app)


SAMPLE_APP_NAME = "Portico Sample Health App"  # as the demo seed registers it (portico_server::demo)


def invoke(app, command: str):
    """Calls one of the app's own Tauri commands from its window, as the UI does."""
    return app.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.__TAURI_INTERNALS__.invoke(arguments[0]).then(done, e => done({__error: String(e && e.message || e)}));",
        command,
    )


def chromium() -> webdriver.Chrome:
    """Debian's Chromium through its chromedriver (no download), headless, with a fresh profile."""
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    opts = ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900", "--lang=en-US"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=ChromeService(executable_path=driver_path), options=opts)


def browser_shot(browser, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def connect_sample_app_as_patient(app) -> dict:
    """The patient authorizes the demo's sample app in a real browser (sign-in, consent) and it gets a token.

    Opens the sample app URL from /api/info in Chromium, signs in as the demo patient with this launch's
    password, allows, and waits for the app to show the patient's name. Returns {"access_token",
    "fhir_base_url", "name", "browser"} (the browser stays open, to reload after the revocation).
    """
    # demo_accounts waits for the embedded service to be up; service_status then has its address.
    password = next(a["password"] for a in invoke(app, "demo_accounts") if a["username"] == "patient")
    status = invoke(app, "service_status")
    info = requests.get(f"{status['base_url']}/api/info", timeout=30).json()
    assert info["sample_app_url"], "the desktop's embedded service serves the sample app"

    browser = chromium()
    try:
        b_wait = WebDriverWait(browser, TIMEOUT)
        browser.get(info["sample_app_url"])
        b_wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, '[data-testid="connect"]'))).click()
        # Portico's own sign-in page, reached through the SMART launch (fhirclient, PKCE S256).
        b_wait.until(EC.visibility_of_element_located((By.ID, "username"))).send_keys("patient")
        browser.find_element(By.ID, "password").send_keys(password)
        browser_shot(browser, "apps-05-browser-sign-in")
        browser.find_element(By.CSS_SELECTOR, 'button[value="sign_in"]').click()
        allow = b_wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, 'button[value="allow"]')))
        assert SAMPLE_APP_NAME in browser.page_source, "the consent page names the app"
        browser_shot(browser, "apps-06-browser-consent")
        allow.click()
        name = b_wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="patient-name"]')))
        assert "Reyna" in name.text, name.text
        b_wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="vitals"]')))
        browser_shot(browser, "apps-07-sample-app")
        # fhirclient keeps its state in the tab's sessionStorage: SMART_KEY names the entry.
        state = browser.execute_script(
            "const k = JSON.parse(sessionStorage.getItem('SMART_KEY')); return sessionStorage.getItem(k);"
        )
        state = json.loads(state)
    except Exception:
        browser_shot(browser, "failure-sample-app-browser")
        browser.quit()
        raise
    return {
        "access_token": state["tokenResponse"]["access_token"],
        "fhir_base_url": state["serverUrl"].rstrip("/"),
        "name": SAMPLE_APP_NAME,
        "browser": browser,
    }


def test_patient_sees_previews_and_revokes_the_connected_app(app):
    grant = connect_sample_app_as_patient(app)
    try:
        revoke_and_check(app, grant)
    finally:
        grant["browser"].quit()


def revoke_and_check(app, grant: dict) -> None:
    auth = {"Authorization": f"Bearer {grant['access_token']}", "Accept": "application/fhir+json"}
    assert requests.get(f"{grant['fhir_base_url']}/Patient", headers=auth, timeout=30).status_code == 200

    sign_in_as(app, "patient")
    click(app, tid("nav-apps"))
    c = card(app, "connected-app", grant["name"])
    assert c.find_element(*tid("scope-descriptions")).text.strip(), "scopes are listed in plain words"
    app.screenshot("apps-04-connected")

    press(app, c.find_element(*tid("preview")))
    wait(app, tid("preview-panel"))
    click(app, tid("dialog-close"))

    press(app, card(app, "connected-app", grant["name"]).find_element(*tid("revoke")))
    wait(app, tid("confirm-dialog"))
    click(app, tid("confirm"))
    toast_text(app, "was revoked")
    WebDriverWait(app.driver, TIMEOUT).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, f'[data-testid="connected-app"][data-name="{grant["name"]}"]')
    )
    # The cut-off is real: the app's next request is refused.
    assert requests.get(f"{grant['fhir_base_url']}/Patient", headers=auth, timeout=30).status_code == 401
    # And the app itself says so on its next load.
    browser = grant["browser"]
    browser.refresh()
    error = WebDriverWait(browser, TIMEOUT).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="error"]'))
    )
    assert error.get_attribute("data-status") == "401", error.text
    browser_shot(browser, "apps-08-sample-app-revoked")
    sign_out(app)
