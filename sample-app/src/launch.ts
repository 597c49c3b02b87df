// The SMART launch page: starts the standalone launch (authorization code + PKCE S256) against Portico.
import FHIR from "fhirclient";
import "./style.css";
import { CLIENT_ID, SCOPE, issuer, redirectUri } from "./config";

FHIR.oauth2
  .authorize({
    clientId: CLIENT_ID,
    scope: SCOPE,
    redirectUri: redirectUri(window.location),
    iss: issuer(window.location),
    // Never fall back to a code without PKCE, whatever the server advertises.
    pkceMode: "required",
  })
  .catch((e: unknown) => {
    const main = document.getElementById("app");
    if (main) {
      main.replaceChildren();
      const p = document.createElement("p");
      p.className = "error";
      p.dataset.testid = "error";
      p.textContent = `Could not start signing in: ${e instanceof Error ? e.message : String(e)}`;
      main.append(p);
    }
  });
