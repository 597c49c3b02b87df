//! What the server says about itself: the CapabilityStatement and the SMART configuration.
//!
//! Both are generated from the type table so that what is advertised is exactly what search
//! implements.

use crate::types::{supported_types, ParamDef, ParamKind, COMMON_PARAMS};
use serde_json::{json, Value};

/// The URLs the documents point at; the server knows its own addresses, this crate does not.
#[derive(Debug, Clone, Copy)]
pub struct Endpoints<'a> {
    pub fhir_base: &'a str,
    pub token: &'a str,
    pub revoke: &'a str,
    pub authorize: &'a str,
    pub introspect: &'a str,
    /// Where people manage what they granted (the desktop app's connected apps, here its service page).
    pub manage: &'a str,
    pub jwks: &'a str,
    /// The OpenID Connect issuer: the `iss` of every id_token.
    pub issuer: &'a str,
}

/// A valid R4 CapabilityStatement for the server (kind `instance`, so `implementation` is
/// present as constraint cpb-15 requires).
pub fn capability_statement(e: &Endpoints, date: &str) -> Value {
    let resources: Vec<Value> = supported_types()
        .iter()
        .map(|t| {
            let params: Vec<Value> = COMMON_PARAMS.iter().chain(t.params.iter()).map(search_param).collect();
            // Types outside the patient compartment are shared by every practice and read-only over the API.
            let shared = t.name != "Patient" && t.compartment.is_empty();
            let codes: &[&str] =
                if shared { &["read", "search-type"] } else { &["read", "search-type", "create", "update", "delete"] };
            let interactions: Vec<Value> = codes.iter().map(|code| json!({"code": code})).collect();
            // Every reference parameter can be followed by `_include`; `_revinclude` works for any source
            // type's reference parameter, of which US Core expects `Provenance:target` to be stated.
            let includes: Vec<String> =
                t.params.iter().filter(|p| p.kind == ParamKind::Reference).map(|p| format!("{}:{}", t.name, p.name)).collect();
            let mut resource = json!({
                "type": t.name,
                "interaction": interactions,
                "searchParam": params,
                "searchRevInclude": ["Provenance:target"],
            });
            if !includes.is_empty() {
                resource["searchInclude"] = json!(includes);
            }
            if t.name == "Patient" {
                resource["operation"] = json!([{
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }]);
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "Portico",
        "kind": "instance",
        "software": {"name": "Portico", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Portico FHIR R4 server", "url": e.fhir_base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [
                        {"url": "authorize", "valueUri": e.authorize},
                        {"url": "token", "valueUri": e.token},
                        {"url": "introspect", "valueUri": e.introspect},
                        {"url": "revoke", "valueUri": e.revoke},
                        {"url": "manage", "valueUri": e.manage},
                    ],
                }],
                "service": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }],
                    "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
                }],
            },
            "resource": resources,
        }],
    })
}

fn search_param(p: &ParamDef) -> Value {
    json!({"name": p.name, "type": p.kind.as_str(), "documentation": p.description})
}

/// The SMART configuration (SMART App Launch 2.0 §2.3): exactly the capabilities that work. Standalone
/// launch with authorization code + PKCE S256 for public, symmetric and asymmetric clients, OpenID Connect
/// id_tokens, refresh tokens for `offline_access`/`online_access`, v1 and v2 scopes (granular `?category=`
/// included), and backend services (`client_credentials` with `private_key_jwt`, RS384/ES384). Patient
/// credentials and staff keys keep using `client_credentials` with a secret.
pub fn smart_configuration(e: &Endpoints) -> Value {
    let mut scopes: Vec<String> = ["openid", "fhirUser", "profile", "launch/patient", "offline_access", "online_access"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    scopes.extend(["patient/*.rs", "user/*.rs", "system/*.rs", "system/*.cruds"].iter().map(|s| (*s).to_owned()));
    for context in ["patient", "user", "system"] {
        scopes.extend(supported_types().iter().map(|t| format!("{context}/{}.rs", t.name)));
    }
    json!({
        "issuer": e.issuer,
        "jwks_uri": e.jwks,
        "authorization_endpoint": e.authorize,
        "token_endpoint": e.token,
        "introspection_endpoint": e.introspect,
        "revocation_endpoint": e.revoke,
        "management_endpoint": e.manage,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "scopes_supported": scopes,
        "capabilities": [
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "client-confidential-asymmetric",
            "sso-openid-connect",
            "context-standalone-patient",
            "context-banner",
            "permission-offline",
            "permission-online",
            "permission-patient",
            "permission-user",
            "permission-v1",
            "permission-v2",
            "authorize-post",
        ],
        "code_challenge_methods_supported": ["S256"],
    })
}

/// The OpenID Connect discovery document (OpenID Connect Discovery 1.0 §3), for the same issuer.
pub fn openid_configuration(e: &Endpoints) -> Value {
    json!({
        "issuer": e.issuer,
        "authorization_endpoint": e.authorize,
        "token_endpoint": e.token,
        "introspection_endpoint": e.introspect,
        "revocation_endpoint": e.revoke,
        "jwks_uri": e.jwks,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "fhirUser", "profile", "launch/patient", "offline_access", "online_access"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser", "name"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Endpoints = Endpoints {
        fhir_base: "http://h/fhir",
        token: "http://h/token",
        revoke: "http://h/revoke",
        authorize: "http://h/authorize",
        introspect: "http://h/introspect",
        manage: "http://h/manage",
        jwks: "http://h/jwks",
        issuer: "http://h",
    };

    #[test]
    fn capability_lists_every_type_and_param() {
        let cs = capability_statement(&E, "2024-01-01");
        assert_eq!(cs["resourceType"], "CapabilityStatement");
        assert_eq!(cs["status"], "active");
        assert_eq!(cs["kind"], "instance");
        assert_eq!(cs["fhirVersion"], "4.0.1");
        assert_eq!(cs["format"], json!(["json"]));
        assert_eq!(cs["date"], "2024-01-01");
        let rest = &cs["rest"][0];
        assert_eq!(rest["mode"], "server");
        assert_eq!(rest["security"]["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
        let uris = &rest["security"]["extension"][0];
        assert_eq!(uris["url"], "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris");
        assert_eq!(
            uris["extension"],
            json!([
                {"url": "authorize", "valueUri": "http://h/authorize"},
                {"url": "token", "valueUri": "http://h/token"},
                {"url": "introspect", "valueUri": "http://h/introspect"},
                {"url": "revoke", "valueUri": "http://h/revoke"},
                {"url": "manage", "valueUri": "http://h/manage"},
            ])
        );

        let resources = rest["resource"].as_array().cloned().unwrap_or_default();
        assert_eq!(resources.len(), supported_types().len());
        for t in supported_types() {
            let r = resources.iter().find(|r| r["type"] == t.name);
            let Some(r) = r else { panic!("{} missing from CapabilityStatement", t.name) };
            let codes: Vec<&str> = r["interaction"].as_array().into_iter().flatten().filter_map(|i| i["code"].as_str()).collect();
            assert!(codes.contains(&"read") && codes.contains(&"search-type"), "{}", t.name);
            let shared = t.name != "Patient" && t.compartment.is_empty();
            assert_eq!(codes.contains(&"update"), !shared, "{}: shared types are read-only", t.name);
            let names: Vec<&str> = r["searchParam"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
            for p in COMMON_PARAMS.iter().chain(t.params) {
                assert!(names.contains(&p.name), "{}.{}", t.name, p.name);
            }
            for p in r["searchParam"].as_array().into_iter().flatten() {
                assert!(["token", "date", "reference", "string"].contains(&p["type"].as_str().unwrap_or("")));
                assert!(p["documentation"].is_string());
            }
            assert_eq!(r.get("operation").is_some(), t.name == "Patient");
        }
        let patient = resources.iter().find(|r| r["type"] == "Patient");
        assert_eq!(patient.map(|p| p["operation"][0]["name"].clone()), Some(json!("everything")));
    }

    #[test]
    fn smart_configuration_shape() {
        let c = smart_configuration(&E);
        assert_eq!(c["token_endpoint"], "http://h/token");
        assert_eq!(c["authorization_endpoint"], "http://h/authorize");
        assert_eq!(c["revocation_endpoint"], "http://h/revoke");
        assert_eq!(c["introspection_endpoint"], "http://h/introspect");
        assert_eq!(c["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(c["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
        assert!(c["capabilities"].as_array().is_some_and(|s| s.contains(&json!("sso-openid-connect"))));
        assert!(c["scopes_supported"].as_array().is_some_and(|s| s.contains(&json!("system/*.rs"))));
        assert_eq!(openid_configuration(&E)["id_token_signing_alg_values_supported"], json!(["RS256"]));
    }
}
