//! Portico end to end: real servers on 127.0.0.1:0, real SQLite files, real HTTP. One test binary.
// Test code: a failed expectation is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod abuse;
mod access_changes;
mod access_matrix;
mod apps;
mod audit_export;
mod audit_retention;
mod backend_services;
mod bad_input;
mod conformance;
mod desktop_signin;
mod fhir_api;
mod fuzz_token;
mod granular_scopes;
mod harness;
mod loopback_guard;
mod management;
mod nudges;
mod oauth;
mod patient_picker;
mod sample_app;
mod search_extras;
mod secrets_at_rest;
mod shared_resources;
mod smart_flow;
mod tidy;
mod users_table;
