//! Portico end to end: real servers on 127.0.0.1:0, real SQLite files, real HTTP. One test binary.

mod access_matrix;
mod harness;
mod oauth;
