"""A patient's access-history export, read by independent parsers.

The demo patient's app reads some of the record, then the patient downloads
the history: every AuditEvent of the FHIR export validates with
fhir.resources 6.4.0 (R4), and the CSV export parses with Python's csv
module into the same number of rows, with the same event ids.
"""

from __future__ import annotations

import csv
import io
import json

import requests
from fhir.resources.auditevent import AuditEvent
from fhir.resources.bundle import Bundle

from conftest import FHIR_JSON, HTTP_TIMEOUT_S

HOSTILE = '=HYPERLINK("http://evil.example","x"), peer'


def download(portico, session_token: str, fmt: str) -> requests.Response:
    res = requests.get(
        f"{portico.base_url}/api/audit/export",
        params={"format": fmt},
        headers={"Authorization": f"Bearer {session_token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert res.status_code == 200, f"export {fmt} -> {res.status_code}: {res.text[:500]}"
    assert res.headers.get("Content-Disposition", "").startswith("attachment;"), res.headers
    return res


def test_access_history_export_validates(portico, patient_user):
    issued = portico.create_credential(patient_user["token"], {"kind": "patient_app", "name": HOSTILE})
    token = portico.client_credentials_token(issued["client_id"], issued["client_secret"])["access_token"]
    patient_id = patient_user["user"]["patient_id"]
    for path in (f"Patient/{patient_id}", "Observation?_count=10", "Condition"):
        res = requests.get(
            f"{portico.fhir_base}/{path}",
            headers={"Authorization": f"Bearer {token}", "Accept": FHIR_JSON},
            timeout=HTTP_TIMEOUT_S,
        )
        assert res.status_code == 200, f"GET {path} -> {res.status_code}"

    fhir = download(portico, patient_user["token"], "fhir")
    assert fhir.headers["Content-Type"].startswith(FHIR_JSON)
    bundle = fhir.json()
    assert bundle["type"] == "collection"
    Bundle.parse_obj(bundle)
    events = [entry["resource"] for entry in bundle["entry"]]
    assert len(events) >= 4, f"creation, token and three reads at least: {len(events)}"
    for raw in events:
        event = AuditEvent.parse_obj(raw)
        assert event.entity[0].what.reference == f"Patient/{patient_id}", raw
        assert event.agent[0].requestor is False
        assert event.source.observer.display
    reads = [e for e in events if e["type"]["code"] == "rest" and e["outcome"] == "0"]
    assert any(e["agent"][0]["who"]["display"] == HOSTILE for e in reads), json.dumps(events)[:2000]

    text = download(portico, patient_user["token"], "csv").content.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["event_id", "recorded_utc", "event"], header
    assert all(len(r) == len(header) for r in body)
    assert len(body) == len(events)
    assert [r[0] for r in body] == [e["id"].removeprefix("portico-audit-") for e in events]
    apps = {r[header.index("app")] for r in body}
    assert "'" + HOSTILE in apps, apps
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in body for cell in r)
