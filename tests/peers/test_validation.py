"""Everything Portico serves for the sample patients validates with fhir.resources 6.4.0 (R4).

A developer key whose owner belongs to both demo practices reaches all 18
sample patients.  For each patient (one test each, so a failure names the
patient) we read the Patient, search every compartment resource type the
CapabilityStatement lists, run $everything, validate every resource and
every Bundle, and check that search and $everything agree.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import requests
from fhir.resources import construct_fhir_element

from conftest import FHIR_JSON, HTTP_TIMEOUT_S, sample_patients

PATIENTS = sample_patients()
COUNT = 1000
MAX_PAGES = 50


def validate(resource: dict, where: str):
    rtype = resource.get("resourceType")
    assert rtype, f"{where}: JSON without resourceType: {json.dumps(resource)[:300]}"
    try:
        return construct_fhir_element(rtype, resource)
    except Exception as exc:  # pydantic.ValidationError, KeyError for unknown types, ...
        raise AssertionError(
            f"{where}: {rtype}/{resource.get('id')} does not validate with fhir.resources:\n{exc}"
        ) from None


def assert_fhir_json(res: requests.Response, what: str) -> None:
    ctype = res.headers.get("Content-Type", "")
    assert ctype.startswith(FHIR_JSON), f"{what}: Content-Type {ctype!r}, expected {FHIR_JSON}"


class Fhir:
    def __init__(self, portico, token: str):
        self.portico = portico
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": FHIR_JSON})

    def url(self, path: str) -> str:
        return f"{self.portico.fhir_base}/{path}"

    def get(self, url: str, expect: int = 200) -> dict:
        res = self.session.get(url, timeout=HTTP_TIMEOUT_S)
        assert res.status_code == expect, f"GET {url} -> {res.status_code}: {res.text[:500]}"
        assert_fhir_json(res, f"GET {url}")
        return res.json()

    def bundle_pages(self, first_url: str, bundle_type: str = "searchset"):
        """Yield (url, bundle) for the first page and every `next` page."""
        url, seen = first_url, set()
        for _ in range(MAX_PAGES):
            assert url not in seen, f"`next` link loops back to {url}"
            seen.add(url)
            assert urlsplit(url).netloc == urlsplit(self.portico.base_url).netloc, (
                f"link points off the server: {url}"
            )
            bundle = self.get(url)
            assert bundle.get("resourceType") == "Bundle", f"GET {url}: {bundle.get('resourceType')}"
            assert bundle.get("type") == bundle_type, f"GET {url}: Bundle.type {bundle.get('type')!r}"
            validate(bundle, f"GET {url}")
            yield url, bundle
            nexts = [l["url"] for l in bundle.get("link", []) if l.get("relation") == "next"]
            if not nexts:
                return
            url = nexts[0]
        raise AssertionError(f"more than {MAX_PAGES} pages from {first_url}")

    def collect(self, first_url: str) -> tuple[list[dict], int | None]:
        """All entry resources over all pages (each validated), and the first page's total."""
        resources, total = [], None
        for i, (url, bundle) in enumerate(self.bundle_pages(first_url)):
            if i == 0:
                total = bundle.get("total")
            for n, entry in enumerate(bundle.get("entry", [])):
                res = entry.get("resource")
                assert isinstance(res, dict), f"GET {url}: entry[{n}] has no resource"
                rid = f"{res.get('resourceType')}/{res.get('id')}"
                assert res.get("id"), f"GET {url}: entry[{n}] resource without id"
                full = entry.get("fullUrl", "")
                assert full.endswith(f"/{rid}"), f"GET {url}: fullUrl {full!r} for {rid}"
                validate(res, f"GET {url} entry[{n}]")
                resources.append(res)
        return resources, total


@pytest.fixture(scope="module")
def dev_token(portico) -> str:
    portico.cli(
        "users", "create", "--db", str(portico.db_path),
        "--username", "devall", "--display-name", "Dev All",
        "--password", "long-password-1",
        "--role", "developer", "--practice", "1", "--practice", "2", "--json",
    )
    portico.remember("long-password-1")
    out = portico.cli(
        "credentials", "create", "--db", str(portico.db_path),
        "--owner", "devall", "--kind", "developer", "--name", "peer key", "--json",
    )
    issued = json.loads(out)
    assert issued.get("client_id") and issued.get("client_secret"), issued
    portico.remember(issued["client_secret"])
    token = portico.client_credentials_token(issued["client_id"], issued["client_secret"])
    assert token.get("scope", "").startswith("system/"), f"developer key scope: {token}"
    assert "patient" not in token, f"developer token carries a patient context: {token}"
    return token["access_token"]


@pytest.fixture(scope="module")
def fhir(portico, dev_token) -> Fhir:
    return Fhir(portico, dev_token)


@pytest.fixture(scope="module")
def compartment_types(capability) -> list[str]:
    types = [
        r["type"]
        for r in capability["rest"][0]["resource"]
        if any(p.get("name") == "patient" for p in r.get("searchParam", []))
    ]
    assert len(types) >= 10, f"few compartment types in the CapabilityStatement: {types}"
    return types


def test_capability_statement_validates(portico):
    res = requests.get(f"{portico.fhir_base}/metadata", timeout=HTTP_TIMEOUT_S)
    assert res.status_code == 200, res.text
    assert_fhir_json(res, "GET /fhir/metadata")
    cs = validate(res.json(), "GET /fhir/metadata")
    assert cs.resource_type == "CapabilityStatement"
    assert cs.fhirVersion == "4.0.1", cs.fhirVersion


def test_not_found_is_operation_outcome(fhir):
    body = fhir.get(fhir.url("Patient/no-such-patient-0000"), expect=404)
    oo = validate(body, "GET Patient/no-such-patient-0000 (404)")
    assert oo.resource_type == "OperationOutcome", body
    assert oo.issue and oo.issue[0].severity in ("error", "fatal"), body
    assert oo.issue[0].code == "not-found", f"issue code {oo.issue[0].code!r}"


def test_post_search_matches_get(fhir):
    pid = PATIENTS[0]["patient_id"]
    get_ids = {r["id"] for r in fhir.collect(fhir.url(f"Observation?patient={pid}&_count={COUNT}"))[0]}
    res = fhir.session.post(
        fhir.url("Observation/_search"),
        data={"patient": pid, "_count": str(COUNT)},
        timeout=HTTP_TIMEOUT_S,
    )
    assert res.status_code == 200, f"POST Observation/_search -> {res.status_code}: {res.text[:300]}"
    assert_fhir_json(res, "POST Observation/_search")
    bundle = res.json()
    validate(bundle, "POST Observation/_search")
    post_ids = {e["resource"]["id"] for e in bundle.get("entry", [])}
    assert not any(l.get("relation") == "next" for l in bundle.get("link", [])), "unexpected paging"
    assert post_ids == get_ids, (
        f"POST _search and GET search differ: only GET {sorted(get_ids - post_ids)[:5]}, "
        f"only POST {sorted(post_ids - get_ids)[:5]}"
    )


@pytest.mark.parametrize("row", PATIENTS, ids=[p["patient_id"] for p in PATIENTS])
def test_patient_record_validates(fhir, compartment_types, row):
    pid = row["patient_id"]
    who = f"Patient/{pid} ({row.get('name')})"

    patient = fhir.get(fhir.url(f"Patient/{pid}"))
    assert patient.get("resourceType") == "Patient" and patient.get("id") == pid, (
        f"{who}: read returned {patient.get('resourceType')}/{patient.get('id')}"
    )
    validate(patient, f"{who}: read")

    searched: set[tuple[str, str]] = {("Patient", pid)}
    per_type: dict[str, int] = {}
    for rtype in compartment_types:
        first = fhir.url(f"{rtype}?patient={pid}&_count={COUNT}")
        resources, total = fhir.collect(first)
        wrong = [r.get("resourceType") for r in resources if r.get("resourceType") != rtype]
        assert not wrong, f"{who}: search {rtype} returned other types {sorted(set(wrong))}"
        keys = [(rtype, r["id"]) for r in resources]
        assert len(keys) == len(set(keys)), f"{who}: duplicate {rtype} entries across pages"
        if total is not None:
            assert total == len(keys), f"{who}: {rtype} Bundle.total {total} but {len(keys)} entries"
        per_type[rtype] = len(keys)
        searched.update(keys)

    # The manifest counts what each sample bundle holds for the main types.
    for rtype, count in per_type.items():
        if rtype in row and row[rtype] != "":
            assert count == int(row[rtype]), (
                f"{who}: search {rtype} found {count}, the sample bundle has {row[rtype]}"
            )

    everything, _ = fhir.collect(fhir.url(f"Patient/{pid}/$everything"))
    ev_keys = [(r["resourceType"], r["id"]) for r in everything]
    dupes = {k for k in ev_keys if ev_keys.count(k) > 1}
    assert not dupes, f"{who}: $everything has duplicates {sorted(dupes)[:5]}"
    ev = set(ev_keys)
    assert ("Patient", pid) in ev, f"{who}: $everything lacks the Patient itself"
    others = {k for k in ev if k[0] == "Patient" and k[1] != pid}
    assert not others, f"{who}: $everything includes other patients {sorted(others)}"

    in_compartment = {k for k in ev if k[0] in compartment_types or k[0] == "Patient"}
    only_search = searched - in_compartment
    only_everything = in_compartment - searched
    assert not only_search and not only_everything, (
        f"{who}: search and $everything disagree: "
        f"only in search {sorted(only_search)[:10]} ({len(only_search)}), "
        f"only in $everything {sorted(only_everything)[:10]} ({len(only_everything)})"
    )
