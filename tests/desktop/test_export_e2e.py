"""The patient takes their access history with them (issue 8): CSV and FHIR AuditEvents saved from the real
app into a downloads folder of the test's own (PORTICO_DOWNLOAD_DIR), then read back as a person's
spreadsheet or another health system would."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import App
from test_e2e import TIMEOUT, click, issued_details, sign_in_as, tid, token, wait


@pytest.fixture(scope="module")
def app():
    with tempfile.TemporaryDirectory(prefix="portico-export-e2e-") as d:
        downloads = Path(d) / "downloads"
        a = App(Path(d), extra_env={"PORTICO_DOWNLOAD_DIR": str(downloads)})
        a.downloads = downloads
        try:
            yield a
        finally:
            a.close()


def export(app, testid: str) -> Path:
    section = wait(app, tid("export-history"))
    app.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", section)
    click(app, tid(testid))
    WebDriverWait(app.driver, TIMEOUT).until(EC.text_to_be_present_in_element(tid("export-status"), "Saved to"))
    path = Path(app.driver.find_element(*tid("export-status")).text.removeprefix("Saved to ").strip())
    assert path.parent == app.downloads, path
    return path


def test_the_patient_exports_the_access_history_as_csv_and_fhir(app):
    sign_in_as(app, "patient")
    # Something to be in the history: an app reads the record with a new credential.
    click(app, tid("new-credential"))
    wait(app, (By.ID, "credential-name")).send_keys("Export check app")
    click(app, tid("create-credential"))
    details = issued_details(app)
    click(app, tid("done"))
    tok = token(details).json()
    read = requests.get(
        f"{details['fhir_base_url'].rstrip('/')}/Patient/{tok['patient']}",
        headers={"Authorization": f"Bearer {tok['access_token']}"},
        timeout=30,
    )
    assert read.status_code == 200, read.text

    rows = list(csv.reader(io.StringIO(export(app, "export-csv").read_text(encoding="utf-8")), strict=True))
    assert rows[0][:2] == ["event_id", "recorded_utc"], rows[0]
    assert any("Export check app" in r for r in rows[1:]), f"the app's read is in the export: {rows[-3:]}"
    app.screenshot("export-01-saved")

    bundle = json.loads(export(app, "export-fhir").read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    events = [e["resource"] for e in bundle["entry"]]
    assert events and all(e["resourceType"] == "AuditEvent" for e in events)
    assert len(events) == len(rows) - 1, "one AuditEvent per CSV row"
