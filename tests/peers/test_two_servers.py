"""Two `portico serve` processes on one PostgreSQL database, as behind a load balancer: what one server
decides, the other enforces on the very next request. Revocation, sign-in throttling, `jti` replay
protection, sessions and the id_token signing keys are checked across the two.

Needs a PostgreSQL server whose user may create databases: PORTICO_TEST_PG (the README's test command
starts a throwaway cluster and sets it). Without it these tests are skipped, unless PORTICO_REQUIRE_PG is
set, where they fail instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from conftest import DEMO_PASSWORD, HTTP_TIMEOUT_S, register_app, running_portico

ADMIN_URL = os.environ.get("PORTICO_TEST_PG", "")

pytestmark = pytest.mark.skipif(
    not ADMIN_URL and not os.environ.get("PORTICO_REQUIRE_PG"),
    reason="PORTICO_TEST_PG names no PostgreSQL server",
)


def fresh_database() -> str:
    """A new, empty database on the PORTICO_TEST_PG server; its URL."""
    assert ADMIN_URL, "PORTICO_REQUIRE_PG is set but PORTICO_TEST_PG names no server"
    name = f"portico_two_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {name}"], check=True)
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Server A seeds the demo data; server B starts on the same database once A is up."""
    url = fresh_database()
    tmp = tmp_path_factory.mktemp("two-servers")
    with running_portico(url, tmp, demo=True) as a:
        with running_portico(url, tmp, demo=False) as b:
            yield a, b


def fhir_get(server, path: str, token: str) -> requests.Response:
    return requests.get(
        f"{server.fhir_base}/{path}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
        timeout=HTTP_TIMEOUT_S,
    )


def sign_in(server, username: str, password: str) -> requests.Response:
    return requests.post(
        f"{server.base_url}/api/session", json={"username": username, "password": password}, timeout=HTTP_TIMEOUT_S
    )


def test_both_servers_are_one_service(servers):
    a, b = servers
    # A session made through A is good at B, and both publish the same signing keys.
    session = a.login("patient")
    me = requests.get(f"{b.base_url}/api/me", headers={"Authorization": f"Bearer {session['token']}"},
                      timeout=HTTP_TIMEOUT_S)
    assert me.status_code == 200 and me.json()["username"] == "patient", me.text
    jwks = [requests.get(f"{s.base_url}/oauth/jwks", timeout=HTTP_TIMEOUT_S).json() for s in (a, b)]
    assert jwks[0]["keys"] and jwks[0] == jwks[1], jwks


def test_a_credential_revoked_through_one_server_is_refused_by_the_other_at_once(servers):
    a, b = servers
    session = a.login("patient")
    issued = a.create_credential(session["token"], {"kind": "patient_app", "name": "two servers"})
    token = b.client_credentials_token(issued["client_id"], issued["client_secret"])["access_token"]
    assert fhir_get(a, "Patient", token).status_code == 200
    assert fhir_get(b, "Patient", token).status_code == 200
    # Deleted through B; the very next request, at A, is refused.
    cid = issued["credential"]["id"]
    res = requests.delete(f"{b.base_url}/api/credentials/{cid}",
                          headers={"Authorization": f"Bearer {session['token']}"}, timeout=HTTP_TIMEOUT_S)
    assert res.status_code == 200, res.text
    assert fhir_get(a, "Patient", token).status_code == 401
    assert fhir_get(b, "Patient", token).status_code == 401
    # And its secret buys no new token at either.
    for s in (a, b):
        res = requests.post(s.token_url, data={"grant_type": "client_credentials"},
                            auth=(issued["client_id"], issued["client_secret"]), timeout=HTTP_TIMEOUT_S)
        assert res.status_code == 401 and res.json()["error"] == "invalid_client", res.text


def test_sign_in_failures_are_counted_across_both_servers(servers):
    a, b = servers
    # Five free failures, split between the servers; the sixth (at A) locks the account.
    for server in (a, b, a, b, a):
        res = sign_in(server, "nurse", "not the password")
        assert res.status_code == 401, res.text
    res = sign_in(a, "nurse", "not the password")
    assert res.status_code == 429, res.text
    # While it is locked, even the right password is refused at the other server, unchecked.
    res = sign_in(b, "nurse", DEMO_PASSWORD)
    assert res.status_code == 429 and int(res.headers["Retry-After"]) >= 1, res.text
    time.sleep(int(res.headers["Retry-After"]) + 0.2)
    assert sign_in(b, "nurse", DEMO_PASSWORD).status_code == 200


def test_a_client_assertion_used_at_one_server_is_refused_at_the_other(servers, tmp_path):
    a, b = servers
    key = JsonWebKey.generate_key("EC", "P-384", is_private=True)
    kid = "two-servers"
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**key.as_dict(is_private=False), "kid": kid, "alg": "ES384"}]}))
    app = register_app(a, "Two-server backend", "--type", "system", "--client-auth", "private_key_jwt",
                       "--jwks", str(jwks), "--scope", "system/Patient.rs")
    sent = {}

    def keep_form(resp):
        sent.update({k: v for k, v in (p.split("=", 1) for p in resp.request.body.split("&"))})
        return resp

    sess = OAuth2Session(
        client_id=app["client_id"],
        client_secret=key,
        token_endpoint_auth_method=PrivateKeyJWT(claims={"exp": int(time.time()) + 300}, headers={"kid": kid},
                                                 alg="ES384"),
        scope="system/Patient.rs",
    )
    sess.register_compliance_hook("access_token_response", keep_form)
    token = sess.fetch_token(a.token_url, grant_type="client_credentials")
    assert token.get("access_token"), token
    assert fhir_get(b, "Patient?_count=1", token["access_token"]).status_code == 200
    # The same assertion, byte for byte, at the other server: its jti was spent at A.
    form = {k: requests.utils.unquote(v) for k, v in sent.items()}
    replay = requests.post(b.token_url, data=form, timeout=HTTP_TIMEOUT_S)
    assert replay.status_code in (400, 401) and replay.json()["error"] == "invalid_client", replay.text
