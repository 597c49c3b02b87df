/** How the sample app introduces itself to Portico. The demo seed registers exactly this client (see
 * crates/portico-server/src/demo.rs): a public browser client, so no secret; PKCE protects the code. */

export const CLIENT_ID = "pci_smart_sample";

/** What the app asks for: the patient in context, who signed in (id_token with fhirUser), and read and
 * search on that patient's record. No offline_access: the app keeps its token only for this tab. */
export const SCOPE = "launch/patient openid fhirUser patient/*.rs";

/** The FHIR base to launch against: `?iss=` when a launcher gives one, else this service's own `/fhir`
 * (the app is served by the Portico it talks to). */
export function issuer(loc: Location): string {
  const given = new URLSearchParams(loc.search).get("iss");
  return given ?? `${loc.origin}/fhir`;
}

/** Where Portico sends the browser back: the app's page. Registered as http://127.0.0.1/sample-app/; a
 * loopback redirect URI matches on any port. */
export function redirectUri(loc: Location): string {
  return new URL("./", loc.href).href.split("?")[0];
}
