"""Portico's FHIR API, driven by the unmodified SMART Python client (fhirclient 4.4.0)."""

from __future__ import annotations

import warnings

import pytest
from fhirclient import client
from fhirclient.auth import FHIRAuth, FHIROAuth2Auth
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


@pytest.fixture()
def smart(portico, patient_app):
    smart = client.FHIRClient(
        settings={"app_id": patient_app["client_id"], "api_base": portico.fhir_base}
    )
    return smart


def give_token(smart, portico, patient_app) -> str:
    """Get a token for the patient credential and put it where fhirclient keeps it.

    A patient credential's app uses the client_credentials grant, which
    fhirclient has no flow for (its own standalone launch is in
    test_smart_fhirclient.py); so this app installs fhirclient's own OAuth2
    auth object, built from the same settings state fhirclient uses, with the
    token in `access_token`.
    """
    token = portico.client_credentials_token(
        patient_app["client_id"], patient_app["client_secret"]
    )
    auth = smart.server.auth
    if not isinstance(auth, FHIROAuth2Auth):
        auth = FHIRAuth.create(
            "oauth2", state={"app_id": smart.app_id, "token_uri": portico.token_url}
        )
        smart.server.auth = auth
    auth.access_token = token["access_token"]
    assert smart.ready, "fhirclient does not consider itself ready with an access token"
    return token["access_token"]


def test_prepare_reads_capability_statement(portico, smart, capability):
    smart.prepare()
    cs = smart.server.capabilityStatement
    assert isinstance(cs, CapabilityStatement), f"not parsed: {type(cs)}"
    assert cs.fhirVersion == "4.0.1", f"fhirVersion {cs.fhirVersion!r}"
    assert cs.kind == "instance" and "json" in (cs.format or []), (cs.kind, cs.format)
    types = {r.type for r in cs.rest[0].resource}
    assert {"Patient", "Observation", "Condition", "Encounter"} <= types, sorted(types)
    assert types == {r["type"] for r in capability["rest"][0]["resource"]}

    # fhirclient's own parsing of the SMART oauth-uris extension finds the token URL.
    security = cs.rest[0].security
    assert security is not None and security.extension, "no rest.security.extension"
    assert any(e.url == OAUTH_URIS for e in security.extension), [e.url for e in security.extension]
    state: dict = {"app_id": smart.app_id}
    FHIRAuth.from_capability_security(security, state)
    assert state.get("token_uri") == portico.token_url, (
        f"fhirclient picked token_uri {state.get('token_uri')!r}, expected {portico.token_url!r}"
    )
    # The auth object prepare() made exposes the token URL only when it is an
    # OAuth2 auth (fhirclient picks that only if there is an authorize URL).
    auth = smart.server.auth
    assert auth is not None, "prepare() created no auth object"
    if isinstance(auth, FHIROAuth2Auth):
        assert auth._token_uri == portico.token_url


def test_patient_read(portico, smart, patient_user, patient_app):
    patient_id = patient_user["user"]["patient_id"]
    smart.prepare()
    give_token(smart, portico, patient_app)
    patient = Patient.read(patient_id, smart.server)
    assert isinstance(patient, Patient)
    assert patient.id == patient_id, f"read returned Patient/{patient.id}"
    names = [" ".join((n.given or []) + [n.family or ""]) for n in (patient.name or [])]
    display = patient_user["user"]["display_name"]
    assert any(
        all(part in name for part in display.split()) for name in names
    ), f"Patient/{patient_id} names {names} do not match the user {display!r}"


def test_observation_search_only_own_patient(portico, smart, patient_user, patient_app):
    patient_id = patient_user["user"]["patient_id"]
    smart.prepare()
    give_token(smart, portico, patient_app)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        observations = Observation.where(struct={"patient": patient_id}).perform_resources(
            smart.server
        )
    assert observations, f"no Observations found for Patient/{patient_id}"
    assert all(isinstance(o, Observation) for o in observations), {type(o) for o in observations}
    wrong = [
        (o.id, o.subject.reference if o.subject else None)
        for o in observations
        if not o.subject or o.subject.reference not in (f"Patient/{patient_id}",)
    ]
    assert not wrong, f"Observations of other subjects returned: {wrong[:5]}"
    ids = [o.id for o in observations]
    assert len(ids) == len(set(ids)), "duplicate Observations across pages"
