"""The SMART Python client (fhirclient 4.4.0) doing its own standalone launch:
it reads the CapabilityStatement, builds the authorization URL (PKCE S256, aud),
chromium signs in and allows, and fhirclient handles the callback, exchanges
the code and reads the patient of the launch, which fhir.resources validates."""

from __future__ import annotations

from itertools import islice
from urllib.parse import parse_qs, urlsplit

from fhir.resources.patient import Patient as PatientResource
from fhirclient import client
from fhirclient.auth import FHIROAuth2Auth
from fhirclient.models.observation import Observation

from conftest import REDIRECT_URI, register_app

SCOPE = "openid fhirUser offline_access patient/Patient.rs patient/Observation.rs"


def test_standalone_launch_then_read(portico, browser, callback, patient_user):
    app = register_app(
        portico, "Peer fhirclient public", "--type", "patient", "--client-auth", "none",
        "--redirect-uri", REDIRECT_URI, "--scope", f"launch/patient {SCOPE}",
    )
    smart = client.FHIRClient(
        settings={"app_id": app["client_id"], "api_base": portico.fhir_base, "redirect_uri": callback.uri, "scope": SCOPE}
    )
    smart.prepare()
    assert isinstance(smart.server.auth, FHIROAuth2Auth), (
        f"fhirclient found no authorize endpoint in the CapabilityStatement: {type(smart.server.auth)}"
    )
    url = smart.authorize_url
    query = parse_qs(urlsplit(url).query)
    assert query["aud"] == [portico.fhir_base] and query["code_challenge_method"] == ["S256"], query
    assert "launch/patient" in query["scope"][0], query["scope"]

    smart.handle_callback(browser.authorize(url, callback))
    auth = smart.server.auth
    portico.remember(auth.access_token, auth.refresh_token)
    patient_id = patient_user["user"]["patient_id"]
    assert smart.patient_id == patient_id, f"launch context patient {smart.patient_id!r}"

    patient = smart.patient
    assert patient is not None and patient.id == patient_id, patient
    validated = PatientResource.parse_obj(patient.as_json())
    assert validated.id == patient_id and validated.birthDate, validated
    # The first page only: the iterator follows next links lazily.
    observations = list(islice(Observation.where({"patient": patient_id, "_count": "5"}).perform_resources_iter(smart.server), 5))
    assert observations and all(o.subject.reference == f"Patient/{patient_id}" for o in observations)
