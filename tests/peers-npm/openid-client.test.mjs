// Portico's token endpoint, driven by the unmodified openid-client (v6).
//
// Portico offers only the client_credentials grant and publishes no OpenID
// discovery document, so the Configuration is built from the server metadata
// that its SMART configuration lists (token_endpoint, revocation_endpoint).
// The server listens on http://127.0.0.1, which openid-client refuses unless
// allowInsecureRequests() is applied to the Configuration.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as client from "openid-client";

import { DEMO_PATIENT_ID, createPatientCredential, fhirGet, startPortico } from "./server.mjs";

let server;
let smartConfig;

before(async () => {
  server = await startPortico();
  const res = await fetch(`${server.fhirBase}/.well-known/smart-configuration`, {
    headers: { accept: "application/json" },
  });
  assert.equal(res.status, 200, "GET /fhir/.well-known/smart-configuration");
  smartConfig = await res.json();
  assert.equal(smartConfig.token_endpoint, server.tokenUrl, "smart-configuration token_endpoint");
  assert.ok(smartConfig.revocation_endpoint, "smart-configuration lacks revocation_endpoint");
});

after(async () => {
  await server?.stop();
});

function configuration(issued, clientAuth) {
  const config = new client.Configuration(
    {
      issuer: server.base,
      token_endpoint: smartConfig.token_endpoint,
      revocation_endpoint: smartConfig.revocation_endpoint,
    },
    issued.client_id,
    undefined,
    clientAuth,
  );
  client.allowInsecureRequests(config);
  return config;
}

async function assertGoodToken(tokens, issued) {
  assert.ok(tokens.access_token, "no access_token");
  // oauth4webapi normalises token_type to lower case; the raw value must be Bearer.
  assert.equal(tokens.token_type.toLowerCase(), "bearer", `token_type ${tokens.token_type}`);
  assert.equal(typeof tokens.expires_in, "number", `expires_in ${tokens.expires_in}`);
  assert.ok(tokens.expires_in > 0, `expires_in ${tokens.expires_in}`);
  assert.ok(tokens.expiresIn() > 0, "openid-client's expiresIn() helper");
  assert.equal(tokens.scope, "patient/*.rs");
  assert.equal(tokens.patient, DEMO_PATIENT_ID, "`patient` claim of the token response");
  assert.equal(tokens.patient, issued.session.user?.patient_id, "patient claim vs the patient user");

  const res = await fhirGet(server, `Patient/${tokens.patient}`, tokens.access_token);
  assert.equal(res.status, 200, `GET Patient/${tokens.patient} -> ${res.status}: ${JSON.stringify(res.body)}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/fhir\+json/);
  assert.equal(res.body.resourceType, "Patient");
  assert.equal(res.body.id, tokens.patient);
}

test("client_credentials with ClientSecretBasic", async () => {
  const issued = await createPatientCredential(server, "npm openid-client basic");
  const config = configuration(issued, client.ClientSecretBasic(issued.client_secret));
  const tokens = await client.clientCredentialsGrant(config);
  await assertGoodToken(tokens, issued);
});

test("client_credentials with ClientSecretPost", async () => {
  const issued = await createPatientCredential(server, "npm openid-client post");
  const config = configuration(issued, client.ClientSecretPost(issued.client_secret));
  const tokens = await client.clientCredentialsGrant(config);
  await assertGoodToken(tokens, issued);
});

// RFC 6749 section 5.2: a failed client_secret_basic authentication gets 401
// with a WWW-Authenticate challenge for the scheme the client used, and the
// JSON error body.  openid-client (oauth4webapi) reports a response carrying a
// challenge as WWWAuthenticateChallengeError, leaving the body unread on
// err.response; a failed client_secret_post gets a ResponseBodyError.
async function oauthErrorOf(err) {
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const schemes = err.cause.map((c) => c.scheme);
    const body = await err.response.json();
    return { kind: "challenge", status: err.status, schemes, error: err.cause.find((c) => c.parameters.error)?.parameters.error ?? body.error, body };
  }
  if (err instanceof client.ResponseBodyError) {
    return { kind: "body", status: err.status, schemes: [], error: err.error, body: err.cause };
  }
  throw err;
}

test("a wrong client secret is rejected with invalid_client", async () => {
  const issued = await createPatientCredential(server, "npm openid-client wrong secret");

  const basic = configuration(issued, client.ClientSecretBasic(`${issued.client_secret}-wrong`));
  let err = await client.clientCredentialsGrant(basic).then(
    (t) => assert.fail(`ClientSecretBasic with a wrong secret got a token: ${JSON.stringify(t)}`),
    (e) => e,
  );
  let got = await oauthErrorOf(err);
  assert.equal(got.status, 401, `basic: ${JSON.stringify(got)}`);
  assert.equal(got.error, "invalid_client", `basic: ${JSON.stringify(got)}`);
  assert.equal(got.body.error, "invalid_client", `basic: ${JSON.stringify(got)}`);
  assert.deepEqual(got.schemes, ["basic"], `basic: WWW-Authenticate ${JSON.stringify(got)}`);

  const post = configuration(issued, client.ClientSecretPost(`${issued.client_secret}-wrong`));
  err = await client.clientCredentialsGrant(post).then(
    (t) => assert.fail(`ClientSecretPost with a wrong secret got a token: ${JSON.stringify(t)}`),
    (e) => e,
  );
  assert.ok(err instanceof client.ResponseBodyError, `post: ${err?.name}: ${err?.message}`);
  got = await oauthErrorOf(err);
  assert.equal(got.status, 401, `post: ${JSON.stringify(got)}`);
  assert.equal(got.error, "invalid_client", `post: ${JSON.stringify(got)}`);

  // The right secret still works after the failures.
  const tokens = await client.clientCredentialsGrant(configuration(issued, client.ClientSecretBasic(issued.client_secret)));
  assert.ok(tokens.access_token);
});

test("tokenRevocation makes the FHIR API answer 401", async () => {
  const issued = await createPatientCredential(server, "npm openid-client revoke");
  const config = configuration(issued, client.ClientSecretBasic(issued.client_secret));
  const tokens = await client.clientCredentialsGrant(config);
  const url = `Patient/${tokens.patient}`;

  const before = await fhirGet(server, url, tokens.access_token);
  assert.equal(before.status, 200, `before revocation: ${before.status} ${JSON.stringify(before.body)}`);

  await client.tokenRevocation(config, tokens.access_token, { token_type_hint: "access_token" });

  const afterRevoke = await fhirGet(server, url, tokens.access_token);
  assert.equal(
    afterRevoke.status,
    401,
    `after revocation: ${afterRevoke.status} ${JSON.stringify(afterRevoke.body)}`,
  );
  assert.match(afterRevoke.headers.get("www-authenticate") ?? "", /^Bearer\b/i, "WWW-Authenticate");
});
