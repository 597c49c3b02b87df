// SMART standalone launch driven by the unmodified openid-client (v6), with a
// real browser on Portico's sign-in and consent pages, then npm fhirclient
// reading with the token.
//
// The app is registered and approved with the `portico apps` CLI. openid-client
// discovers the server at its issuer (the service's base URL), builds the
// authorization URL (PKCE S256, state, nonce, aud), chromium signs in as the
// demo patient and presses Allow, and openid-client exchanges the code,
// validating the id_token (iss, aud, nonce, exp, and its RS256 signature
// against the published JWKS through enableNonRepudiationChecks), refreshes,
// introspects and revokes.

import assert from "node:assert/strict";
import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { after, before, test } from "node:test";
import smart from "fhirclient";
import * as client from "openid-client";

import { REGISTERED_REDIRECT, callback, startBrowser } from "./browser.mjs";
import { DEMO_PATIENT_ID, fhirGet, registerApp, startPortico } from "./server.mjs";

const ASKED = "launch/patient openid fhirUser offline_access patient/Patient.rs patient/Observation.rs patient/Condition.rs";
const UNTICKED = "patient/Condition.rs";

let server;
let browser;
let app;

before(async () => {
  [server, browser] = await Promise.all([startPortico(), startBrowser()]);
  app = await registerApp(server, "npm openid-client confidential", [
    "--type", "patient", "--client-auth", "client_secret_basic",
    "--redirect-uri", REGISTERED_REDIRECT, "--scope", ASKED,
  ]);
  assert.ok(app.client_secret, `a confidential app gets a secret: ${JSON.stringify(app)}`);
});

after(async () => {
  await browser?.quit();
  await server?.stop();
});

/** Discovery at the issuer, client_secret_basic, id_token signatures checked against the JWKS. */
async function configuration() {
  const config = await client.discovery(
    new URL(server.base),
    app.client_id,
    undefined,
    client.ClientSecretBasic(app.client_secret),
    { execute: [client.allowInsecureRequests] },
  );
  client.enableNonRepudiationChecks(config);
  return config;
}

/** openid-client builds the URL, the browser allows (Condition unticked); returns what the launch needs. */
async function launch(config) {
  const cb = await callback();
  try {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: cb.uri,
      scope: ASKED,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
      aud: server.fhirBase,
    });
    const redirected = await browser.authorize(url.href, cb, { untick: [UNTICKED] });
    return { redirected: new URL(redirected), verifier, nonce, state };
  } finally {
    await cb.close();
  }
}

async function codeGrant(config, launched) {
  return client.authorizationCodeGrant(config, launched.redirected, {
    pkceCodeVerifier: launched.verifier,
    expectedNonce: launched.nonce,
    expectedState: launched.state,
    idTokenExpected: true,
  });
}

test("discovery at the issuer finds the SMART endpoints", async () => {
  const meta = (await configuration()).serverMetadata();
  assert.equal(meta.issuer, server.base);
  assert.equal(meta.authorization_endpoint, `${server.base}/oauth/authorize`);
  assert.equal(meta.token_endpoint, server.tokenUrl);
  assert.ok(meta.jwks_uri && meta.introspection_endpoint && meta.revocation_endpoint, JSON.stringify(meta));
  assert.ok(meta.code_challenge_methods_supported.includes("S256"));
  assert.ok(!meta.code_challenge_methods_supported.includes("plain"));
});

test("authorization code + PKCE: the id_token validates and the token reads what was allowed", async () => {
  const config = await configuration();
  const tokens = await codeGrant(config, await launch(config));

  const scope = new Set(tokens.scope.split(" "));
  assert.ok(!scope.has(UNTICKED), `the unticked scope was granted: ${tokens.scope}`);
  assert.ok(scope.has("patient/Patient.rs") && scope.has("patient/Observation.rs"), tokens.scope);
  assert.equal(tokens.patient, DEMO_PATIENT_ID);
  assert.ok(tokens.refresh_token, "offline_access granted but no refresh_token");

  const claims = tokens.claims();
  assert.equal(claims.iss, server.base);
  assert.equal(claims.aud, app.client_id);
  assert.equal(claims.fhirUser, `${server.fhirBase}/Patient/${DEMO_PATIENT_ID}`);

  assert.equal((await fhirGet(server, `Patient/${DEMO_PATIENT_ID}`, tokens.access_token)).status, 200);
  const refused = await fhirGet(server, `Condition?patient=${DEMO_PATIENT_ID}`, tokens.access_token);
  assert.equal(refused.status, 403, "the unticked type is refused");
  assert.equal(refused.body.resourceType, "OperationOutcome");
});

test("an id_token whose signature was altered is refused by openid-client", async () => {
  // Proves the signature really is checked against the JWKS: the same exchange, with one
  // byte of the id_token's signature flipped on its way back from the token endpoint.
  const config = await configuration();
  config[client.customFetch] = async (url, options) => {
    const res = await fetch(url, options);
    if (url !== server.tokenUrl) return res;
    const body = await res.json();
    const [h, p, s] = body.id_token.split(".");
    body.id_token = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
    return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
  };
  const launched = await launch(config);
  await assert.rejects(codeGrant(config, launched), (err) => {
    // openid-client wraps oauth4webapi's "JWT signature verification failed".
    assert.equal(err.code, "OAUTH_INVALID_RESPONSE", `${err.code}: ${err.message}`);
    assert.match(err.cause?.message ?? "", /signature verification failed/i, `cause: ${err.cause}`);
    return true;
  });
});

test("refresh keeps the scope, then narrows it; introspection; revocation ends the grant", async () => {
  const config = await configuration();
  const tokens = await codeGrant(config, await launch(config));

  const kept = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.deepEqual(new Set(kept.scope.split(" ")), new Set(tokens.scope.split(" ")), "refresh without scope");
  assert.notEqual(kept.refresh_token, tokens.refresh_token, "refresh tokens rotate");
  const narrowed = await client.refreshTokenGrant(config, kept.refresh_token, { scope: "patient/Observation.rs" });
  assert.equal(narrowed.scope, "patient/Observation.rs");
  assert.equal((await fhirGet(server, `Patient/${DEMO_PATIENT_ID}`, narrowed.access_token)).status, 403);

  const active = await client.tokenIntrospection(config, narrowed.access_token);
  assert.equal(active.active, true);
  assert.equal(active.client_id, app.client_id);
  assert.equal(active.scope, "patient/Observation.rs");
  assert.equal(active.patient, DEMO_PATIENT_ID);
  assert.equal(typeof active.exp, "number");
  assert.ok(Math.abs(active.exp - (Date.now() / 1000 + narrowed.expires_in)) < 120, `exp ${active.exp}`);

  await client.tokenRevocation(config, narrowed.refresh_token, { token_type_hint: "refresh_token" });
  assert.deepEqual(await client.tokenIntrospection(config, narrowed.access_token), { active: false });
  assert.equal((await fhirGet(server, `Observation?patient=${DEMO_PATIENT_ID}`, narrowed.access_token)).status, 401);
  await assert.rejects(client.refreshTokenGrant(config, narrowed.refresh_token), (err) => {
    assert.ok(err instanceof client.ResponseBodyError, `${err.name}: ${err.message}`);
    assert.equal(err.error, "invalid_grant");
    return true;
  });
});

test("npm fhirclient refreshes the token itself, then reads the launch's patient", async () => {
  const config = await configuration();
  const tokens = await codeGrant(config, await launch(config));
  const request = new IncomingMessage(new Socket());
  request.headers.host = "app.example";
  request.url = "/";
  const storage = new Map();
  const fhir = smart(request, new ServerResponse(request), {
    get: async (k) => storage.get(k),
    set: async (k, v) => (storage.set(k, v), v),
    unset: async (k) => storage.delete(k),
  }).client({
    serverUrl: server.fhirBase,
    tokenUri: server.tokenUrl,
    clientId: app.client_id,
    clientSecret: app.client_secret,
    scope: tokens.scope,
    tokenResponse: { ...tokens },
    // The access token looks expired, so fhirclient refreshes it first (Basic auth with the
    // secret, no scope: the grant's scope is kept).
    expiresAt: 0,
  });
  assert.equal(fhir.patient.id, DEMO_PATIENT_ID, "client.patient.id from the token response");
  const patient = await fhir.patient.read();
  assert.notEqual(fhir.state.tokenResponse.access_token, tokens.access_token, "fhirclient did not refresh");
  assert.notEqual(fhir.state.tokenResponse.refresh_token, tokens.refresh_token, "the rotated refresh token is kept");
  assert.ok(fhir.state.expiresAt > Date.now() / 1000, `expiresAt ${fhir.state.expiresAt}`);
  assert.equal(patient.resourceType, "Patient");
  assert.equal(patient.id, DEMO_PATIENT_ID);
  const observations = await fhir.request(`Observation?patient=${DEMO_PATIENT_ID}&_count=5`);
  assert.equal(observations.resourceType, "Bundle");
  assert.ok(observations.entry?.length > 0, "no Observations");
});
