//! Stand-ins for the methods not yet ported to PostgreSQL, grouped by the SQLite module that holds each
//! one's SQL. Each answers an error that says so; porting a method means deleting its stand-in here and
//! writing it in the area's module. This file goes when it is empty.

#![allow(unused_variables, clippy::too_many_arguments)]

use portico_store::signature_types::*;

fn not_yet(method: &str) -> StoreError {
    StoreError::Corrupt(format!("{method} is not yet available on PostgreSQL"))
}
