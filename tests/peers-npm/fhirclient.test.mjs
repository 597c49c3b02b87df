// Portico's FHIR API, driven by the unmodified SMART JavaScript client
// (npm `fhirclient`, v2) in Node.
//
// Portico offers only the client_credentials grant (no authorize endpoint), so
// there is no SMART launch: a back end that holds a token uses fhirclient's
// Node entry, `require("fhirclient")(request, response)`, and its documented
// `.client(state)` with `serverUrl` and a `tokenResponse`.  The token is got
// with a plain client_secret_basic request (fetch); openid-client is tested
// separately.

import assert from "node:assert/strict";
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { after, before, test } from "node:test";
import { createRequire } from "node:module";
import smart from "fhirclient";

const { getSecurityExtensions } = createRequire(import.meta.url)("fhirclient/lib/smart.js");

import { DEMO_PATIENT_ID, createPatientCredential, fhirGet, startPortico } from "./server.mjs";

let server;
let issued;
let tokenResponse;

// In-memory storage for fhirclient's server-side state (instead of a session).
class MemoryStorage {
  #data = new Map();
  async get(key) {
    return this.#data.get(key);
  }
  async set(key, value) {
    this.#data.set(key, value);
    return value;
  }
  async unset(key) {
    return this.#data.delete(key);
  }
}

function fhirClient() {
  const request = new IncomingMessage(new Socket());
  request.headers.host = "app.example";
  request.url = "/";
  const response = new ServerResponse(request);
  return smart(request, response, new MemoryStorage()).client({
    serverUrl: server.fhirBase,
    tokenUri: server.tokenUrl,
    clientId: issued.client_id,
    scope: tokenResponse.scope,
    tokenResponse,
  });
}

before(async () => {
  server = await startPortico();
  issued = await createPatientCredential(server, "npm fhirclient");
  const res = await fetch(server.tokenUrl, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(
        `${encodeURIComponent(issued.client_id)}:${encodeURIComponent(issued.client_secret)}`,
      ).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "client_credentials" }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${server.tokenUrl} -> ${res.status}: ${text}`);
  tokenResponse = JSON.parse(text);
  assert.ok(tokenResponse.access_token, `token response without access_token: ${text}`);
  assert.equal(tokenResponse.patient, DEMO_PATIENT_ID, `token response patient: ${text}`);
  assert.equal(tokenResponse.token_type, "Bearer", `token response token_type: ${text}`);
});

after(async () => {
  await server?.stop();
});

test("request('metadata') returns an R4 CapabilityStatement", async () => {
  const client = fhirClient();
  const cs = await client.request("metadata");
  assert.equal(cs.resourceType, "CapabilityStatement");
  assert.equal(cs.fhirVersion, "4.0.1");
  const types = new Set(cs.rest?.[0]?.resource?.map((r) => r.type));
  assert.ok(types.has("Patient") && types.has("Observation"), `resource types: ${[...types]}`);

  // The endpoint discovery fhirclient's authorize() runs (lib/smart.js, typed
  // in lib/smart.d.ts) finds the token URL.  .well-known/smart-configuration
  // has no authorization_endpoint (client_credentials only), so fhirclient
  // falls back to the CapabilityStatement's oauth-uris extension.
  const ext = await getSecurityExtensions(server.fhirBase);
  assert.equal(ext.tokenUri, server.tokenUrl, `fhirclient found ${JSON.stringify(ext)}`);
});

test("patient.read() returns the patient of the token", async () => {
  const client = fhirClient();
  assert.equal(client.patient.id, DEMO_PATIENT_ID, "client.patient.id from tokenResponse.patient");
  const patient = await client.patient.read();
  assert.equal(patient.resourceType, "Patient");
  assert.equal(patient.id, DEMO_PATIENT_ID);

  const same = await client.request(`Patient/${DEMO_PATIENT_ID}`);
  assert.equal(same.id, DEMO_PATIENT_ID);
});

test("Observation search with pageLimit 0 returns every Observation of the patient", async () => {
  const client = fhirClient();
  const url = `Observation?patient=${DEMO_PATIENT_ID}`;

  // The first page as a Bundle: its total and paging links.
  const first = await client.request(url);
  assert.equal(first.resourceType, "Bundle");
  assert.equal(first.type, "searchset");
  assert.equal(typeof first.total, "number", `Bundle.total ${first.total}`);
  assert.ok(first.total > 0, "the demo patient has no Observations");
  const pageSize = first.entry?.length ?? 0;
  assert.ok(pageSize > 0, "first page is empty");
  // The demo patient has more Observations than fit on one page, so the
  // search below really follows next links.
  assert.ok(first.total > pageSize, `total ${first.total} fits on one page of ${pageSize}`);
  assert.ok(first.link?.some((l) => l.relation === "next"), "total exceeds the first page but no next link");

  // All pages, flattened, followed by fhirclient through the next links.
  const observations = await client.request(url, {
    pageLimit: 0,
    flat: true,
  });
  assert.ok(Array.isArray(observations), `flat result is ${typeof observations}`);
  assert.equal(observations.length, first.total, "number of Observations vs Bundle.total");
  for (const obs of observations) {
    assert.equal(obs.resourceType, "Observation", `got ${obs.resourceType}/${obs.id}`);
    assert.equal(
      obs.subject?.reference,
      `Patient/${DEMO_PATIENT_ID}`,
      `Observation/${obs.id} subject ${JSON.stringify(obs.subject)}`,
    );
  }
  const ids = observations.map((o) => o.id);
  assert.equal(new Set(ids).size, ids.length, "an Observation appears on two pages");

  // Cross-check against a token-authenticated plain fetch of the same search.
  const direct = await fhirGet(server, url, tokenResponse.access_token);
  assert.equal(direct.status, 200);
  assert.equal(direct.body.total, first.total, "Bundle.total differs between fhirclient and fetch");
});
