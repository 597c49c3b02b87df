"""The real Portico desktop app, end to end, as a patient and as staff.

Driven through tauri-driver + WebKitWebDriver; the clipboard is read back with xclip; an HTTP client
outside the app plays the third-party app. Each main screen is saved to tests/artifacts/.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import requests
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 30


def tid(name: str) -> tuple[str, str]:
    return (By.CSS_SELECTOR, f'[data-testid="{name}"]')


def wait(app, locator, timeout=TIMEOUT):
    return WebDriverWait(app.driver, timeout).until(EC.visibility_of_element_located(locator))


def press(app, el):
    """Clicks an element after scrolling it to the middle of the view, clear of toasts and headers."""
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
    el.click()
    return el


def click(app, locator):
    return press(app, WebDriverWait(app.driver, TIMEOUT).until(EC.element_to_be_clickable(locator)))


def clipboard() -> str:
    return subprocess.run(["xclip", "-o", "-selection", "clipboard"], capture_output=True, text=True, timeout=10).stdout


def sign_in_as(app, username: str) -> None:
    click(app, tid(f"demo-{username}"))
    wait(app, tid("sign-out"))


def sign_out(app) -> None:
    click(app, tid("sign-out"))
    wait(app, tid("demo-admin"))


def toast_text(app, contains: str) -> str:
    """The first toast whose text contains `contains` (read in one go: toasts come and go meanwhile)."""
    def find(d):
        texts = d.execute_script("return Array.from(document.querySelectorAll('[data-testid=toast]'), e => e.textContent);")
        return next((t for t in texts if contains in t), None)

    return WebDriverWait(app.driver, TIMEOUT).until(find)


def issued_details(app) -> dict:
    """Reads the show-once dialog; copies the secret through the app's Copy button and reads the clipboard."""
    dialog = wait(app, tid("show-once"))
    details = {
        "client_id": dialog.find_element(*tid("client-id")).text.strip(),
        "token_url": dialog.find_element(*tid("token-url")).text.strip(),
        "fhir_base_url": dialog.find_element(*tid("fhir-base-url")).text.strip(),
        "masked": dialog.find_element(*tid("client-secret")).text.strip(),
    }
    click(app, tid("copy-client-secret"))
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: clipboard().startswith("pcs_"))
    details["secret"] = clipboard().strip()
    return details


def token(details: dict) -> requests.Response:
    return requests.post(
        details["token_url"],
        data={"grant_type": "client_credentials"},
        auth=(details["client_id"], details["secret"]),
        timeout=30,
    )


def test_patient_creates_previews_and_deletes_an_app_credential(app):
    wait(app, tid("demo-patient"))
    app.screenshot("01-sign-in")
    sign_in_as(app, "patient")
    click(app, tid("nav-apps"))
    click(app, tid("new-credential"))
    name = wait(app, (By.ID, "credential-name"))
    # The name is validated as the service does, inline.
    click(app, tid("create-credential"))
    assert wait(app, tid("name-error")).text.strip(), "an empty name shows an inline error"
    name.send_keys("Phone health app")
    click(app, tid("create-credential"))

    details = issued_details(app)
    app.screenshot("02-show-once")
    click(app, tid("toggle-qr"))
    qr = wait(app, (By.CSS_SELECTOR, '[data-testid="show-once"] .qr svg, [data-testid="show-once"] .qr canvas, [data-testid="show-once"] .qr img'))
    assert qr.size["width"] >= 120, "a QR code large enough to scan"
    app.screenshot("02b-show-once-qr")
    assert details["client_id"].startswith("pci_app_")
    assert details["secret"].startswith("pcs_app_")
    assert details["secret"] not in details["masked"], "the secret is masked until shown"
    assert details["fhir_base_url"].startswith("http://127.0.0.1:")

    # An HTTP client outside the app uses the copied id and secret.
    r = token(details)
    assert r.status_code == 200, r.text
    tok = r.json()
    patient = tok["patient"]
    auth = {"Authorization": f"Bearer {tok['access_token']}"}
    base = details["fhir_base_url"]
    assert requests.get(f"{base}/Patient/{patient}", headers=auth, timeout=30).status_code == 200

    click(app, tid("done"))
    card = wait(app, (By.CSS_SELECTOR, '[data-testid="credential-card"][data-name="Phone health app"]'))
    assert details["secret"] not in app.driver.page_source, "after Done the secret is gone from the page"
    # The copied secret leaves the clipboard by itself (60 s in use; 5 s in this test run).
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: details["secret"] not in clipboard())
    app.screenshot("03-patient-apps")

    press(app, card.find_element(*tid("preview")))
    panel = wait(app, tid("preview-panel"))
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid^="count-"]'))
    rows = app.driver.find_elements(By.CSS_SELECTOR, '[data-testid^="count-"]')
    assert rows, "the preview shows counts"
    for row in rows:
        rtype = row.get_attribute("data-testid").removeprefix("count-")
        shown = int(re.findall(r"\d+", row.text.replace(",", ""))[-1])
        got = requests.get(f"{base}/{rtype}", params={"_summary": "count"}, headers=auth, timeout=30)
        assert got.status_code == 200, (rtype, got.text)
        assert got.json()["total"] == shown, f"{rtype}: preview shows {shown}, the app gets {got.json()['total']}"
    app.screenshot("04-preview")
    panel.send_keys(Keys.ESCAPE)

    card = wait(app, (By.CSS_SELECTOR, '[data-testid="credential-card"][data-name="Phone health app"]'))
    press(app, card.find_element(*tid("history")))
    wait(app, tid("history-panel"))
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: d.find_elements(*tid("history-entry")))
    entries = " ".join(e.text for e in app.driver.find_elements(*tid("history-entry")))
    assert "Patient" in entries or "Observation" in entries, entries
    app.screenshot("05-history")
    app.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)

    card = wait(app, (By.CSS_SELECTOR, '[data-testid="credential-card"][data-name="Phone health app"]'))
    press(app, card.find_element(*tid("delete")))
    app.screenshot("06-delete-confirm")
    click(app, tid("confirm"))
    text = toast_text(app, "was deleted")
    assert text.startswith("'Phone health app' was deleted and no longer has access"), text
    app.screenshot("07-deleted-toast")

    # The outside client's very next request is refused, and so is a new token.
    assert requests.get(f"{base}/Patient/{patient}", headers=auth, timeout=30).status_code == 401
    r = token(details)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # The revocation receipt: when, how many tokens died, and (after a reload) the refused attempt.
    click(app, tid("nav-apps"))
    receipt = wait(app, (By.CSS_SELECTOR, '[data-testid="receipt"][data-name="Phone health app"]'))
    assert "1 access token stopped working" in receipt.text, receipt.text
    assert "was refused" in receipt.text, receipt.text
    app.screenshot("07b-revocation-receipt")
    sign_out(app)


def rows_settle(app, table: str, expected: int, query: str) -> list:
    """The rows of a paged table once the answer to the search `query` is painted and holds `expected` rows."""
    def settled(d):
        t = d.find_element(*tid(table))
        if t.get_attribute("aria-busy") != "false" or t.get_attribute("data-render-query") != query:
            return False
        rows = t.find_elements(By.CSS_SELECTOR, "tbody tr:not(.state-row)")
        if len(rows) != expected:
            return False
        return rows or [t]  # a truthy answer for "no rows", which is what was expected
    return WebDriverWait(app.driver, TIMEOUT).until(settled)


def page_overflow(app) -> int:
    """How far the page, or a table in its own scroll box, scrolls sideways (0: everything fits), measured after
    the next frame is laid out."""
    return app.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const over = (e) => e.scrollWidth - e.clientWidth;"
        "requestAnimationFrame(() => requestAnimationFrame(() => done(Math.max(over(document.documentElement),"
        " ...Array.from(document.querySelectorAll('.table-scroll'), over)))));"
    )


def resize(app, width: int, height: int) -> None:
    """Resizes the window and waits until the page has the new width (the window manager takes its time)."""
    app.driver.set_window_size(width, height)
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: width - 60 < d.execute_script("return window.innerWidth;") <= width)


def fits_the_smallest_window(app, shot: str, table: str) -> None:
    """The smallest window, then its text at 200 %: the tables drop columns rather than scroll sideways."""
    show = f"document.querySelector('[data-testid=\"{table}\"]').scrollIntoView({{block: 'start'}});"
    resize(app, 900, 700)
    try:
        assert page_overflow(app) <= 0, "the page or one of its tables scrolls sideways at 900 px"
        app.driver.execute_script(show)
        app.screenshot(f"{shot}-900px")
        app.driver.execute_script("document.documentElement.style.fontSize = '200%'; document.body.style.fontSize = '28px';")
        assert page_overflow(app) <= 0, "the page or one of its tables scrolls sideways with 200 % text"
        app.driver.execute_script(show)
        app.screenshot(f"{shot}-900px-200pct-text")
    finally:
        app.driver.execute_script("document.documentElement.style.fontSize = ''; document.body.style.fontSize = '';")
        resize(app, 1200, 800)


def test_staff_roles_developer_keys_and_a_provider_window(app):
    wait(app, tid("demo-admin"))
    sign_in_as(app, "admin")
    click(app, tid("nav-users"))
    wait(app, (By.CSS_SELECTOR, '[data-testid="user-row"][data-username="nurse"]'))
    fits_the_smallest_window(app, "08a-admin-users", "users-table")
    # Search, then edit the one person found in the dialog.
    search = wait(app, tid("users-table-search"))
    search.send_keys("nina")
    (row,) = rows_settle(app, "users-table", 1, "nina")
    assert row.get_attribute("data-username") == "nurse"
    press(app, row.find_element(*tid("edit-user")))
    dialog = wait(app, tid("edit-user-dialog"))
    box = dialog.find_element(*tid("role-developer"))
    if not box.is_selected():
        press(app, box)
    app.screenshot("08b-edit-user-dialog")
    press(app, dialog.find_element(*tid("save-user")))
    toast_text(app, "Roles saved for Nina Nurse")
    WebDriverWait(app.driver, TIMEOUT).until(EC.invisibility_of_element_located(tid("edit-user-dialog")))
    row = wait(app, (By.CSS_SELECTOR, '[data-testid="user-row"][data-username="nurse"]'))
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: "Developer" in d.find_element(
        By.CSS_SELECTOR, '[data-testid="user-row"][data-username="nurse"]').text)
    app.screenshot("08-admin-users")
    sign_out(app)

    sign_in_as(app, "nurse")
    click(app, tid("nav-developer"))
    click(app, tid("tab-keys"))
    click(app, tid("new-key"))
    wait(app, (By.ID, "key-name")).send_keys("Nurse integration")
    click(app, tid("create-key"))
    details = issued_details(app)
    assert details["secret"].startswith("pcs_dev_")
    r = token(details)
    assert r.status_code == 200, r.text
    nurse_key = details
    click(app, tid("done"))
    app.screenshot("09-developer-keys")
    click(app, tid("tab-docs"))
    wait(app, (By.XPATH, "//*[contains(., 'Observation')]"))
    app.screenshot("10-api-docs")
    sign_out(app)

    # The administrator finds the nurse's new key among the practice's staff keys and revokes it.
    sign_in_as(app, "admin")
    click(app, tid("nav-users"))
    wait(app, tid("staff-keys-table-search")).send_keys("nurse integration")
    (key_row,) = rows_settle(app, "staff-keys-table", 1, "nurse integration")
    assert key_row.get_attribute("data-name") == "Nurse integration"
    assert "Nina Nurse" in key_row.text, key_row.text
    app.screenshot("10b-admin-staff-keys")
    fits_the_smallest_window(app, "10c-admin-staff-keys", "staff-keys-table")
    key_row = app.driver.find_element(By.CSS_SELECTOR, '[data-testid="staff-key-row"][data-name="Nurse integration"]')
    press(app, key_row.find_element(*tid("revoke")))
    click(app, tid("confirm"))
    toast_text(app, "no longer has access")
    rows_settle(app, "staff-keys-table", 0, "nurse integration")
    wait(app, tid("staff-keys-table-clear-search"))
    r = token(nurse_key)
    assert r.status_code == 401, r.text
    sign_out(app)

    sign_in_as(app, "provider")
    click(app, tid("nav-provider"))
    click(app, tid("new-provider-key"))
    wait(app, (By.ID, "provider-key-name")).send_keys("Last year's study")
    past_from = (dt.datetime.now() - dt.timedelta(days=400)).strftime("%Y-%m-%dT%H:%M")
    past_to = (dt.datetime.now() - dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    for field, value in (("valid-from", past_from), ("valid-to", past_to)):
        el = app.driver.find_element(By.ID, field)
        app.driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            el, value,
        )
    reyna_id = "76d2fa2d-66a6-4823-8dab-52cd70822844"
    search = wait(app, (By.ID, "patient-search"))
    search.send_keys("Reyna")
    # The result list re-renders as the search settles; pick Reyna once her option is there and stays put.
    reyna = f'[data-testid="patient-option"][data-patient-id="{reyna_id}"]'

    def pick_reyna(d):
        try:
            options = d.find_elements(By.CSS_SELECTOR, reyna)
            settled = d.find_element(By.ID, "patient-results").get_attribute("data-render-query") == "Reyna"
            if options and settled:
                # People pick by name, date of birth and MRN; the 36-character id is not shown.
                text = options[0].text
                assert "Reyna Ziemann" in text and "MRN" in text and "1974" in text and reyna_id not in text, text
                press(app, options[0])
                return True
        except StaleElementReferenceException:
            pass
        return False

    WebDriverWait(app.driver, TIMEOUT).until(pick_reyna)
    chip = wait(app, tid("patient-chip"))
    assert chip.text.startswith("Reyna Ziemann"), chip.text
    assert chip.find_element(By.TAG_NAME, "button").get_attribute("aria-label") == "Remove Reyna Ziemann"
    # The keystroke was measured, input event to results painted.
    assert float(app.driver.find_element(By.ID, "patient-results").get_attribute("data-render-ms")) >= 0
    # Backspace in the emptied box takes the last chip away; typing and Enter adds the top match again.
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACK_SPACE)
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: search.get_attribute("value") == "")
    search.send_keys(Keys.BACK_SPACE)
    WebDriverWait(app.driver, TIMEOUT).until(lambda d: not d.find_elements(*tid("patient-chip")))
    search.send_keys("ziem")
    wait(app, (By.CSS_SELECTOR, '#patient-results[data-render-query="ziem"]'))
    search.send_keys(Keys.ENTER)
    chip = wait(app, (By.CSS_SELECTOR, f'[data-testid="patient-chip"][data-patient-id="{reyna_id}"]'))
    assert len(app.driver.find_elements(*tid("patient-chip"))) == 1
    app.screenshot("11-provider-new-key")
    click(app, tid("create-provider-key"))
    details = issued_details(app)
    assert details["secret"].startswith("pcs_prv_")
    click(app, tid("done"))
    app.screenshot("12-provider-keys")
    # A key whose window is over is refused at the token endpoint.
    r = token(details)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
    sign_out(app)
