"""Portico's token and revocation endpoints, driven by Authlib's OAuth2Session.

The credential is a patient_app credential that the demo user `patient`
creates through the management API, exactly as the web UI does.
"""

from __future__ import annotations

import base64

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from conftest import FHIR_JSON, HTTP_TIMEOUT_S

METHODS = ["client_secret_basic", "client_secret_post"]


@pytest.fixture(scope="module")
def smart_config(portico) -> dict:
    res = requests.get(
        f"{portico.fhir_base}/.well-known/smart-configuration", timeout=HTTP_TIMEOUT_S
    )
    assert res.status_code == 200, f"smart-configuration -> {res.status_code}: {res.text}"
    conf = res.json()
    assert conf.get("token_endpoint") == portico.token_url, conf
    for method in METHODS:
        assert method in conf.get("token_endpoint_auth_methods_supported", []), (
            f"{method} not advertised: {conf.get('token_endpoint_auth_methods_supported')}"
        )
    assert conf.get("revocation_endpoint"), f"no revocation_endpoint advertised: {conf}"
    return conf


class TokenResponses:
    """Authlib compliance hook that keeps the raw token-endpoint responses."""

    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def __call__(self, resp: requests.Response) -> requests.Response:
        self.responses.append(resp)
        return resp


def session_for(issued: dict, method: str, secret: str | None = None):
    sess = OAuth2Session(
        client_id=issued["client_id"],
        client_secret=secret if secret is not None else issued["client_secret"],
        token_endpoint_auth_method=method,
    )
    hook = TokenResponses()
    sess.register_compliance_hook("access_token_response", hook)
    return sess, hook


def fhir_get(portico, path: str, token: str) -> requests.Response:
    return requests.get(
        f"{portico.fhir_base}/{path}",
        headers={"Authorization": f"Bearer {token}", "Accept": FHIR_JSON},
        timeout=HTTP_TIMEOUT_S,
    )


def assert_client_auth_sent_as(method: str, issued: dict, resp: requests.Response) -> None:
    """Check Authlib really authenticated the way we asked (so both paths are exercised)."""
    req = resp.request
    body = req.body.decode() if isinstance(req.body, bytes) else (req.body or "")
    auth_header = req.headers.get("Authorization", "")
    if method == "client_secret_basic":
        assert auth_header.startswith("Basic "), f"expected Basic auth, sent {auth_header!r}"
        decoded = base64.b64decode(auth_header[6:]).decode()
        assert decoded.split(":", 1)[0] == issued["client_id"], decoded
        assert "client_secret=" not in body, f"secret also sent in body: {body}"
    else:
        assert not auth_header, f"client_secret_post sent an Authorization header: {auth_header!r}"
        assert "client_secret=" in body and "client_id=" in body, f"body: {body}"


@pytest.mark.parametrize("method", METHODS)
def test_client_credentials_token_works_on_fhir(portico, patient_user, patient_app, method):
    patient_id = patient_user["user"]["patient_id"]
    sess, hook = session_for(patient_app, method)
    token = sess.fetch_token(portico.token_url, grant_type="client_credentials")
    portico.remember(token.get("access_token"))

    assert hook.responses, "Authlib made no token request"
    raw = hook.responses[-1]
    assert raw.status_code == 200, f"{method}: token endpoint -> {raw.status_code}: {raw.text}"
    assert_client_auth_sent_as(method, patient_app, raw)
    assert "no-store" in raw.headers.get("Cache-Control", ""), (
        f"{method}: token response lacks Cache-Control: no-store: {dict(raw.headers)}"
    )

    assert token.get("access_token"), f"{method}: no access_token in {token}"
    assert str(token.get("token_type", "")).lower() == "bearer", token
    assert int(token.get("expires_in", 0)) > 0, f"{method}: expires_in missing/0: {token}"
    assert token.get("scope") == "patient/*.rs", f"{method}: scope {token.get('scope')!r}"
    assert token.get("patient") == patient_id, (
        f"{method}: patient context {token.get('patient')!r}, expected {patient_id!r}"
    )

    # Authlib's session attaches the bearer token itself.
    res = sess.get(
        f"{portico.fhir_base}/Patient/{patient_id}",
        headers={"Accept": FHIR_JSON},
        timeout=HTTP_TIMEOUT_S,
    )
    assert res.status_code == 200, f"{method}: GET Patient/{patient_id} -> {res.status_code}: {res.text}"
    assert res.headers.get("Content-Type", "").startswith(FHIR_JSON), res.headers
    body = res.json()
    assert body.get("resourceType") == "Patient" and body.get("id") == patient_id, body


def test_basic_and_post_tokens_coexist(portico, patient_user, patient_app):
    """Two tokens of one credential, one per auth method, are both valid at once."""
    patient_id = patient_user["user"]["patient_id"]
    tokens = {}
    for method in METHODS:
        sess, _ = session_for(patient_app, method)
        tokens[method] = sess.fetch_token(portico.token_url, grant_type="client_credentials")[
            "access_token"
        ]
        portico.remember(tokens[method])
    assert tokens["client_secret_basic"] != tokens["client_secret_post"], "same token issued twice"
    for method, token in tokens.items():
        res = fhir_get(portico, f"Patient/{patient_id}", token)
        assert res.status_code == 200, f"token from {method}: {res.status_code}: {res.text}"
        assert res.json().get("id") == patient_id


def test_patient_token_cannot_read_another_patient(portico, patient_user, patient_app):
    from conftest import sample_patients

    own = patient_user["user"]["patient_id"]
    other = next(p["patient_id"] for p in sample_patients() if p["patient_id"] != own)
    sess, _ = session_for(patient_app, "client_secret_basic")
    token = sess.fetch_token(portico.token_url, grant_type="client_credentials")["access_token"]
    portico.remember(token)
    res = fhir_get(portico, f"Patient/{other}", token)
    assert res.status_code in (403, 404), (
        f"patient-scoped token read Patient/{other}: {res.status_code}: {res.text[:300]}"
    )


@pytest.mark.parametrize("method", METHODS)
def test_wrong_secret_is_invalid_client(portico, patient_app, method):
    wrong = patient_app["client_secret"][:-4] + ("aaaa" if not patient_app["client_secret"].endswith("aaaa") else "bbbb")
    sess, hook = session_for(patient_app, method, secret=wrong)
    with pytest.raises(OAuthError) as excinfo:
        sess.fetch_token(portico.token_url, grant_type="client_credentials")
    assert excinfo.value.error == "invalid_client", (
        f"{method}: expected invalid_client, got {excinfo.value.error!r} ({excinfo.value.description!r})"
    )
    raw = hook.responses[-1]
    assert raw.status_code in (400, 401), f"{method}: status {raw.status_code}"
    assert "no-store" in raw.headers.get("Cache-Control", ""), (
        f"{method}: error response lacks Cache-Control: no-store: {dict(raw.headers)}"
    )
    assert raw.headers.get("Content-Type", "").startswith("application/json"), raw.headers
    if method == "client_secret_basic":
        # RFC 6749 §5.2: a client that used the Authorization header gets 401
        # with a WWW-Authenticate header matching its scheme.
        assert raw.status_code == 401, f"basic auth failure must be 401, got {raw.status_code}"
        assert raw.headers.get("WWW-Authenticate", "").lower().startswith("basic"), (
            f"401 without WWW-Authenticate: Basic: {dict(raw.headers)}"
        )


def test_revoke_token_rfc7009(portico, patient_user, patient_app, smart_config):
    patient_id = patient_user["user"]["patient_id"]
    revoke_url = smart_config["revocation_endpoint"]
    sess, _ = session_for(patient_app, "client_secret_basic")
    token = sess.fetch_token(portico.token_url, grant_type="client_credentials")
    access_token = token["access_token"]
    portico.remember(access_token)

    before = fhir_get(portico, f"Patient/{patient_id}", access_token)
    assert before.status_code == 200, f"fresh token rejected: {before.status_code}: {before.text}"

    res = sess.revoke_token(revoke_url, token=access_token, token_type_hint="access_token")
    assert res.status_code == 200, f"revoke -> {res.status_code}: {res.text}"

    after = fhir_get(portico, f"Patient/{patient_id}", access_token)
    assert after.status_code == 401, (
        f"revoked token still accepted: GET Patient/{patient_id} -> {after.status_code}: {after.text[:300]}"
    )
    assert after.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), (
        f"401 without WWW-Authenticate: Bearer: {dict(after.headers)}"
    )

    # RFC 7009 §2.2: revoking an already revoked (or unknown) token is still 200.
    again = sess.revoke_token(revoke_url, token=access_token, token_type_hint="access_token")
    assert again.status_code == 200, f"second revoke -> {again.status_code}: {again.text}"

    # Revoking a token does not disable the credential: a new token works.
    fresh = sess.fetch_token(portico.token_url, grant_type="client_credentials")["access_token"]
    portico.remember(fresh)
    assert fresh != access_token
    res = fhir_get(portico, f"Patient/{patient_id}", fresh)
    assert res.status_code == 200, f"new token after revoke: {res.status_code}: {res.text}"


def test_revoke_with_client_secret_post(portico, patient_user, patient_app, smart_config):
    patient_id = patient_user["user"]["patient_id"]
    sess, _ = session_for(patient_app, "client_secret_post")
    access_token = sess.fetch_token(portico.token_url, grant_type="client_credentials")[
        "access_token"
    ]
    portico.remember(access_token)
    res = sess.revoke_token(smart_config["revocation_endpoint"], token=access_token)
    assert res.status_code == 200, f"revoke (post auth) -> {res.status_code}: {res.text}"
    after = fhir_get(portico, f"Patient/{patient_id}", access_token)
    assert after.status_code == 401, f"revoked token still works: {after.status_code}"
