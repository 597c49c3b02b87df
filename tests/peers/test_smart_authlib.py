"""SMART standalone launch and backend services, driven by Authlib, with a real
browser on Portico's sign-in and consent pages.

Apps are registered and approved with the `portico apps` CLI on the server's
database, as an administrator would.  Authlib builds the authorization URL
(PKCE S256), chromium signs in as the demo patient and presses Allow, and the
one-shot listener catches the redirect; Authlib then does every token-endpoint
call itself: code exchange, refresh, revocation (RFC 7009), introspection
(RFC 7662), and client_credentials with a private_key_jwt assertion (RFC 7523).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from fhir.resources.patient import Patient as PatientResource
from fhirclient import client as fhirclient_client
from fhirclient.models.patient import Patient as FhirclientPatient

from conftest import FHIR_JSON, HTTP_TIMEOUT_S, REDIRECT_URI, register_app

ASKED = "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs"
UNTICKED = "patient/Condition.rs"
NONCE_BYTES = 24
KINDS = ["confidential", "public"]


# ---- apps --------------------------------------------------------------------


@pytest.fixture(scope="module")
def apps(portico) -> dict:
    """One confidential (client_secret_basic) and one public patient app, approved by practice 1."""
    common = ("--type", "patient", "--redirect-uri", REDIRECT_URI, "--scope", ASKED)
    return {
        "confidential": register_app(portico, "Peer authlib confidential", "--client-auth", "client_secret_basic", *common),
        "public": register_app(portico, "Peer authlib public", "--client-auth", "none", *common),
    }


class TokenResponses:
    """Authlib compliance hook that keeps the raw token-endpoint responses."""

    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def __call__(self, resp: requests.Response) -> requests.Response:
        self.responses.append(resp)
        return resp


def session(app: dict, redirect_uri: str | None = None, scope: str = ASKED) -> OAuth2Session:
    """Authlib's session for an app: Basic auth with a secret, client_id in the body without."""
    secret = app.get("client_secret")
    sess = OAuth2Session(
        client_id=app["client_id"],
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge_method="S256",
    )
    # Kept on the session so a test can look at what Authlib really sent.
    sess.token_responses = TokenResponses()
    sess.register_compliance_hook("access_token_response", sess.token_responses)
    return sess


class Authorized:
    """What a standalone launch leaves the app with."""

    def __init__(self, sess, verifier, redirected, nonce, callback_uri):
        self.sess = sess
        self.verifier = verifier
        self.redirected = redirected
        self.nonce = nonce
        self.callback_uri = callback_uri

    @property
    def code(self) -> str:
        return parse_qs(urlsplit(self.redirected).query)["code"][0]


def launch(portico, browser, callback, smart_configuration, app, untick=(UNTICKED,)) -> Authorized:
    """Authlib builds the authorization URL; the browser signs in and allows."""
    sess = session(app, redirect_uri=callback.uri)
    verifier = generate_token(64)
    nonce = generate_token(NONCE_BYTES)
    url, state = sess.create_authorization_url(
        smart_configuration["authorization_endpoint"], code_verifier=verifier, aud=portico.fhir_base, nonce=nonce
    )
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"], url
    redirected = browser.authorize(url, callback, untick=untick)
    got = parse_qs(urlsplit(redirected).query)
    assert got.get("state") == [state], f"state not echoed: {got.get('state')} vs {state!r}"
    assert "code" in got and "error" not in got, f"redirect without a code: {sorted(got)}"
    portico.remember(got["code"][0])
    return Authorized(sess, verifier, redirected, nonce, callback.uri)


def exchange(portico, authorized: Authorized) -> dict:
    token = authorized.sess.fetch_token(
        portico.token_url, authorization_response=authorized.redirected, code_verifier=authorized.verifier
    )
    portico.remember(token.get("access_token"), token.get("refresh_token"))
    return token


@pytest.fixture(params=KINDS)
def launched(request, portico, browser, callback, smart_configuration, apps):
    """(kind, app, Authorized, token): a standalone launch as the demo patient, Condition unticked."""
    app = apps[request.param]
    authorized = launch(portico, browser, callback, smart_configuration, app)
    return request.param, app, authorized, exchange(portico, authorized)


def fhir_get(portico, path: str, token: str) -> requests.Response:
    return requests.get(
        f"{portico.fhir_base}/{path}",
        headers={"Authorization": f"Bearer {token}", "Accept": FHIR_JSON},
        timeout=HTTP_TIMEOUT_S,
    )


def oauth_error(call) -> str:
    with pytest.raises(OAuthError) as excinfo:
        call()
    print(f"{excinfo.value.error}: {excinfo.value.description}")
    return excinfo.value.error


def basic(app: dict) -> tuple[str, str]:
    return (app["client_id"], app["client_secret"])


# ---- authorization code + PKCE ---------------------------------------------------


def test_code_exchange_gives_the_consented_access(portico, launched, smart_configuration, patient_user):
    kind, app, authorized, token = launched
    patient_id = patient_user["user"]["patient_id"]
    scope = set(token["scope"].split())
    assert UNTICKED not in scope, f"{kind}: the unticked scope was granted: {token['scope']}"
    assert {"patient/Patient.rs", "patient/Observation.rs", "openid", "fhirUser", "launch/patient"} <= scope, token
    assert token.get("patient") == patient_id, f"{kind}: patient {token.get('patient')!r}"
    assert str(token.get("token_type")).lower() == "bearer"
    assert 0 < int(token["expires_in"]) <= 3600
    assert token.get("refresh_token"), f"{kind}: offline_access granted but no refresh_token"

    # The token reads what was allowed, and only that.
    assert fhir_get(portico, f"Patient/{patient_id}", token["access_token"]).status_code == 200
    assert fhir_get(portico, f"Observation?patient={patient_id}", token["access_token"]).status_code == 200
    refused = fhir_get(portico, f"Condition?patient={patient_id}", token["access_token"])
    assert refused.status_code == 403, f"{kind}: unticked Condition -> {refused.status_code}"
    assert refused.json().get("resourceType") == "OperationOutcome", refused.text[:300]

    # The id_token, checked by Authlib's JOSE against the published JWKS.
    jwks = requests.get(smart_configuration["jwks_uri"], timeout=HTTP_TIMEOUT_S).json()
    claims = jwt.decode(
        token["id_token"],
        JsonWebKey.import_key_set(jwks),
        claims_options={
            "iss": {"essential": True, "value": portico.base_url},
            "aud": {"essential": True, "value": app["client_id"]},
            "nonce": {"essential": True, "value": authorized.nonce},
            "exp": {"essential": True},
        },
    )
    claims.validate(leeway=60)
    assert claims["fhirUser"] == f"{portico.fhir_base}/Patient/{patient_id}", claims


def test_client_authenticates_as_registered(launched):
    """Authlib sent Basic for the confidential app and only client_id in the body for the public one."""
    kind, app, authorized, _token = launched
    req = authorized.sess.token_responses.responses[-1].request
    body = parse_qs(req.body.decode() if isinstance(req.body, bytes) else req.body)
    header = req.headers.get("Authorization", "")
    if kind == "confidential":
        assert base64.b64decode(header.removeprefix("Basic ")).decode().split(":")[0] == app["client_id"], header
        assert "client_secret" not in body
    else:
        assert not header and body.get("client_id") == [app["client_id"]], (header, sorted(body))
    assert body["code_verifier"] == [authorized.verifier]


def test_fhirclient_reads_with_the_token(portico, launched):
    """Python fhirclient, restored from a state holding the token, reads the launch's patient;
    fhir.resources validates what came back."""
    _kind, app, _authorized, token = launched
    smart = fhirclient_client.FHIRClient(
        state={
            "app_id": app["client_id"],
            "scope": token["scope"],
            "patient_id": token["patient"],
            "server": {
                # fhirclient keeps its base with a trailing slash and joins paths onto it.
                "base_uri": f"{portico.fhir_base}/",
                "auth_type": "oauth2",
                "auth": {"app_id": app["client_id"], "access_token": token["access_token"], "token_uri": portico.token_url},
            },
        }
    )
    assert smart.ready, "fhirclient does not consider itself ready with an access token"
    patient = smart.patient
    assert isinstance(patient, FhirclientPatient) and patient.id == token["patient"], patient
    validated = PatientResource.parse_obj(patient.as_json())
    assert validated.id == token["patient"]
    assert validated.name and validated.name[0].family, validated.name


# ---- refresh, revocation, introspection ----------------------------------------------


def test_refresh_keeps_then_narrows_the_scope(portico, launched):
    kind, _app, authorized, token = launched
    sess = authorized.sess
    # Authlib sends the session's scope on refresh unless told otherwise; the session asked for
    # Condition, which the patient unticked, so it must send the granted scope (RFC 6749 §6).
    assert oauth_error(lambda: sess.refresh_token(portico.token_url, refresh_token=token["refresh_token"])) == "invalid_scope"
    # Without a scope the refresh keeps the granted one.
    kept = session(_app, scope=None).refresh_token(portico.token_url, refresh_token=token["refresh_token"])
    portico.remember(kept.get("access_token"), kept.get("refresh_token"))
    assert set(kept["scope"].split()) == set(token["scope"].split()), f"{kind}: {kept['scope']} vs {token['scope']}"
    assert kept["refresh_token"] != token["refresh_token"], "refresh tokens rotate"
    assert fhir_get(portico, f"Patient/{kept['patient']}", kept["access_token"]).status_code == 200

    narrowed = sess.refresh_token(portico.token_url, refresh_token=kept["refresh_token"], scope="patient/Observation.rs")
    portico.remember(narrowed.get("access_token"), narrowed.get("refresh_token"))
    assert narrowed["scope"] == "patient/Observation.rs", narrowed["scope"]
    assert fhir_get(portico, f"Patient/{token['patient']}", narrowed["access_token"]).status_code == 403
    assert fhir_get(portico, f"Observation?patient={token['patient']}", narrowed["access_token"]).status_code == 200


def test_revoking_the_refresh_token_ends_the_grant(portico, launched, smart_configuration):
    kind, app, authorized, token = launched
    sess = authorized.sess
    access, refresh = token["access_token"], token["refresh_token"]
    introspect_url = smart_configuration["introspection_endpoint"]
    if kind == "confidential":
        before = sess.introspect_token(introspect_url, token=access)
        assert before.status_code == 200 and before.json()["active"] is True, before.text

    res = sess.revoke_token(smart_configuration["revocation_endpoint"], token=refresh, token_type_hint="refresh_token")
    assert res.status_code == 200, f"{kind}: revoke -> {res.status_code}: {res.text}"

    after = fhir_get(portico, f"Patient/{token['patient']}", access)
    assert after.status_code == 401, f"{kind}: access token after revoking the refresh token -> {after.status_code}"
    assert after.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), dict(after.headers)
    bare = session(app, scope=None)
    assert oauth_error(lambda: bare.refresh_token(portico.token_url, refresh_token=refresh)) == "invalid_grant"
    if kind == "confidential":
        gone = sess.introspect_token(introspect_url, token=access)
        assert gone.status_code == 200 and gone.json() == {"active": False}, gone.text


def test_introspection_of_an_active_token(portico, browser, callback, smart_configuration, apps):
    app = apps["confidential"]
    token = exchange(portico, launch(portico, browser, callback, smart_configuration, app))
    res = session(app).introspect_token(smart_configuration["introspection_endpoint"], token=token["access_token"])
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["active"] is True, body
    assert body["client_id"] == app["client_id"]
    assert set(body["scope"].split()) == set(token["scope"].split()), (body["scope"], token["scope"])
    assert body["patient"] == token["patient"]
    assert isinstance(body["exp"], int) and abs(body["exp"] - (time.time() + int(token["expires_in"]))) < 120, body
    assert body["fhirUser"].endswith(f"/Patient/{token['patient']}"), body

    # Another client's credentials learn nothing about this token.
    other = register_app(portico, "Peer authlib bystander", "--type", "patient", "--client-auth", "client_secret_basic",
                         "--redirect-uri", REDIRECT_URI, "--scope", ASKED)
    res = session(other).introspect_token(smart_configuration["introspection_endpoint"], token=token["access_token"])
    assert res.status_code == 200 and res.json() == {"active": False}, res.text


# ---- negatives through Authlib: each row a fresh code from the browser --------------------


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


# (row, how the exchange goes wrong, expected error, is the code burnt for the rightful retry)
CODE_NEGATIVES = [
    ("no code_verifier", "no_verifier", "invalid_grant", True),
    ("wrong code_verifier", "wrong_verifier", "invalid_grant", True),
    ("code_verifier = code_challenge", "challenge_as_verifier", "invalid_grant", True),
    ("redirect_uri differs", "other_redirect", "invalid_grant", None),
    ("code of another client", "other_client", "invalid_grant", None),
    ("code used twice", "reuse", "invalid_grant", True),
]


@pytest.mark.parametrize("row,how,error,burnt", CODE_NEGATIVES, ids=[r[0] for r in CODE_NEGATIVES])
def test_code_exchange_negatives(portico, browser, callback, smart_configuration, apps, row, how, error, burnt):
    app = apps["confidential"]
    authorized = launch(portico, browser, callback, smart_configuration, app, untick=())
    sess, code = authorized.sess, authorized.code
    first = None
    if how == "no_verifier":
        attempt = lambda: sess.fetch_token(portico.token_url, code=code)  # noqa: E731
    elif how == "wrong_verifier":
        attempt = lambda: sess.fetch_token(portico.token_url, code=code, code_verifier=generate_token(64))  # noqa: E731
    elif how == "challenge_as_verifier":
        challenge = _challenge(authorized.verifier)
        attempt = lambda: sess.fetch_token(portico.token_url, code=code, code_verifier=challenge)  # noqa: E731
    elif how == "other_redirect":
        other = session(app, redirect_uri=authorized.callback_uri.replace("/callback", "/elsewhere"))
        attempt = lambda: other.fetch_token(portico.token_url, code=code, code_verifier=authorized.verifier)  # noqa: E731
    elif how == "other_client":
        thief = session(apps["public"], redirect_uri=authorized.callback_uri)
        attempt = lambda: thief.fetch_token(portico.token_url, code=code, code_verifier=authorized.verifier)  # noqa: E731
    elif how == "reuse":
        first = exchange(portico, authorized)
        attempt = lambda: exchange(portico, authorized)  # noqa: E731
    else:
        raise AssertionError(how)

    assert oauth_error(attempt) == error, row
    if burnt:
        # The rightful exchange after the failure gets nothing: the code is spent.
        assert oauth_error(lambda: exchange(portico, authorized)) == "invalid_grant", f"{row}: code still usable"
    if first is not None:
        # RFC 6749 §10.5: what the code gave is revoked when it is replayed.
        assert fhir_get(portico, f"Patient/{first['patient']}", first["access_token"]).status_code == 401
        gone = sess.introspect_token(smart_configuration["introspection_endpoint"], token=first["access_token"])
        assert gone.json() == {"active": False}, gone.text


def test_bad_code_is_invalid_grant(portico, apps):
    sess = session(apps["confidential"], redirect_uri="http://127.0.0.1:9/callback")
    assert oauth_error(lambda: sess.fetch_token(portico.token_url, code="BAD_CODE", code_verifier=generate_token(64))) == "invalid_grant"


def test_refresh_negatives(portico, browser, callback, smart_configuration, apps):
    """Widening, another client's refresh token, and reuse of a rotated one (which revokes the family)."""
    app = apps["confidential"]
    token = exchange(portico, launch(portico, browser, callback, smart_configuration, app))
    sess = session(app, scope=None)
    rows = [
        ("scope beyond the grant", lambda: sess.refresh_token(portico.token_url, refresh_token=token["refresh_token"], scope="patient/Condition.rs"), "invalid_scope"),
        ("another client's refresh token", lambda: session(apps["public"], scope=None).refresh_token(portico.token_url, refresh_token=token["refresh_token"]), "invalid_grant"),
    ]
    for row, call, expected in rows:
        assert oauth_error(call) == expected, row

    newer = sess.refresh_token(portico.token_url, refresh_token=token["refresh_token"])
    portico.remember(newer.get("access_token"), newer.get("refresh_token"))
    assert oauth_error(lambda: sess.refresh_token(portico.token_url, refresh_token=token["refresh_token"])) == "invalid_grant"
    # Reuse detection: presenting the spent token revoked the newest one too.
    assert oauth_error(lambda: sess.refresh_token(portico.token_url, refresh_token=newer["refresh_token"])) == "invalid_grant"
    assert fhir_get(portico, f"Patient/{newer['patient']}", newer["access_token"]).status_code == 401


# ---- backend services: client_credentials with private_key_jwt ----------------------------

# alg -> (kty, size or curve) of the key that signs with it
KEYS = {"RS384": ("RSA", 2048), "ES384": ("EC", "P-384")}


@pytest.fixture(scope="module")
def backend(portico, tmp_path_factory) -> dict:
    """A system app whose inline JWKS holds one RS384 and one ES384 public key; approved by practice 1."""
    keys = {}
    for alg, (kty, size) in KEYS.items():
        key = JsonWebKey.generate_key(kty, size, is_private=True)
        kid = f"peer-{alg.lower()}-{key.thumbprint()[:8]}"
        keys[alg] = {"private": key, "kid": kid, "public": {**key.as_dict(is_private=False), "kid": kid, "alg": alg}}
    # A key of the right shape that the app never registered.
    stranger = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [k["public"] for k in keys.values()]}))
    return {"app": register_backend(portico, path), "jwks": path, "keys": keys, "stranger": stranger}


def register_backend(portico, jwks_path) -> dict:
    return register_app(portico, "Peer authlib backend", "--type", "system", "--client-auth", "private_key_jwt",
                        "--jwks", str(jwks_path), "--scope", "system/Patient.rs system/Observation.rs")


def backend_session(backend: dict, alg: str, claims: dict | None = None, headers: dict | None = None, key=None, app=None):
    """Authlib's PrivateKeyJWT, one per request: it keeps its claims dict (jti included) between calls.
    SMART wants exp at most 5 minutes ahead; Authlib's default is an hour, so exp is given
    (a claim given as None is left out, so Authlib's own default applies)."""
    k = backend["keys"][alg]
    merged = {"exp": int(time.time()) + 300, **(claims or {})}
    auth = PrivateKeyJWT(
        claims={name: value for name, value in merged.items() if value is not None},
        headers={"kid": k["kid"], **(headers or {})},
        alg=alg,
    )
    sess = OAuth2Session(
        client_id=(app or backend["app"])["client_id"],
        client_secret=key if key is not None else k["private"],
        token_endpoint_auth_method=auth,
        scope="system/Patient.rs",
    )
    sess.token_responses = TokenResponses()
    sess.register_compliance_hook("access_token_response", sess.token_responses)
    return sess


def sent_form(sess) -> dict:
    req = sess.token_responses.responses[-1].request
    return {k: v[0] for k, v in parse_qs(req.body.decode() if isinstance(req.body, bytes) else req.body).items()}


@pytest.mark.parametrize("alg", list(KEYS))
def test_backend_services_token_and_replay(portico, backend, alg):
    sess = backend_session(backend, alg)
    token = sess.fetch_token(portico.token_url, grant_type="client_credentials")
    portico.remember(token.get("access_token"))
    assert token["scope"] == "system/Patient.rs", token["scope"]
    assert "refresh_token" not in token, "backend services never get a refresh token"
    assert 0 < int(token["expires_in"]) <= 300, token["expires_in"]
    header = json.loads(base64.urlsafe_b64decode(sent_form(sess)["client_assertion"].split(".")[0] + "=="))
    assert header["alg"] == alg and header["kid"] == backend["keys"][alg]["kid"] and header["typ"] == "JWT", header

    res = fhir_get(portico, "Patient?_count=5", token["access_token"])
    assert res.status_code == 200, f"{alg}: Patient search -> {res.status_code}: {res.text[:300]}"
    assert res.json()["total"] > 1, "a system token sees the practice's patients"
    assert fhir_get(portico, "Observation?_count=1", token["access_token"]).status_code == 403

    # The same assertion again, byte for byte (RFC 7523 §3: jti is single use).
    replay = requests.post(portico.token_url, data=sent_form(sess), timeout=HTTP_TIMEOUT_S)
    assert replay.status_code in (400, 401) and replay.json()["error"] == "invalid_client", replay.text


# (row, changes to the assertion Authlib makes, expected error)
ASSERTION_NEGATIVES = [
    ("Authlib's default exp, one hour ahead", {"claims": {"exp": None}}, "invalid_client"),
    ("exp in the past", {"claims": {"exp": -120}}, "invalid_client"),
    ("an unknown kid", {"headers": {"kid": "not-registered"}}, "invalid_client"),
    ("signed by an unregistered key", {"stranger": True}, "invalid_client"),
    ("aud is the FHIR base", {"claims": {"aud": "FHIR"}}, "invalid_client"),
    ("iss is another client", {"claims": {"iss": "pci_someone_else"}}, "invalid_client"),
]


@pytest.mark.parametrize("row,change,error", ASSERTION_NEGATIVES, ids=[r[0] for r in ASSERTION_NEGATIVES])
def test_backend_assertion_negatives(portico, backend, row, change, error):
    # A fresh app per row: the server throttles a client after a few failed authentications
    # (invalid_request, "too many failed attempts"), which would mask the row's own error.
    app = register_backend(portico, backend["jwks"])
    claims = {}
    for name, value in change.get("claims", {}).items():
        if name == "exp":
            claims["exp"] = None if value is None else int(time.time()) + value
        elif value == "FHIR":
            claims[name] = portico.fhir_base
        else:
            claims[name] = value
    sess = backend_session(backend, "RS384", claims=claims, headers=change.get("headers"),
                           key=backend["stranger"] if change.get("stranger") else None, app=app)
    assert oauth_error(lambda: sess.fetch_token(portico.token_url, grant_type="client_credentials")) == error, row
