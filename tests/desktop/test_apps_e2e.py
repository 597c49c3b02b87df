"""Third-party apps in the real desktop app (issue 10): a developer registers an app and asks a practice to
approve it → the practice's administrator approves it → the patient authorizes the sample app in a real
browser → the patient sees it under Connected apps, previews it and revokes it → the app's next request fails.

Needs the service side of the app contract (management API for apps, /oauth/authorize pages, the sample
app). Until those are merged this module is skipped; run it with PORTICO_E2E_APPS=1 (scripts/test can set
it once the server side is in), and drop the skip when it is green.
"""

from __future__ import annotations

import os

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_e2e import TIMEOUT, click, press, sign_in_as, sign_out, tid, toast_text, wait

pytestmark = pytest.mark.skipif(
    os.environ.get("PORTICO_E2E_APPS") != "1",
    reason="needs the server side of the apps contract; set PORTICO_E2E_APPS=1 once it is merged",
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


def connect_sample_app_as_patient(app) -> dict:
    """The patient authorizes the demo's sample app in a real browser (sign-in, consent) and it gets a token.

    Owned by the lead's flow (the sample app and the /oauth/authorize pages): open the sample app URL from
    /api/info in Chromium through chromium-driver, sign in as the demo patient, consent, and return
    {"access_token": ..., "fhir_base_url": ..., "name": <the sample app's registered name>}.
    """
    raise NotImplementedError("wire the sample-app browser flow here once the authorize pages are merged")


def test_patient_sees_previews_and_revokes_the_connected_app(app):
    grant = connect_sample_app_as_patient(app)
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
    sign_out(app)
