//! Everything that crosses the wire between the cloudsync server, its web app and its
//! command-line client, plus the arithmetic both sides must agree on.
//!
//! This crate is the only wire boundary: the server and the app both depend on it, never
//! on each other, so a request type cannot drift between them. It depends on serde and
//! the time crates (chrono, cron; chrono-tz only with the server's `tzdb` feature), so it
//! compiles unchanged to native code and to wasm32.

pub mod auth;
pub mod config;
pub mod credentials;
pub mod jsonrpc;
pub mod method;
pub mod notify;
pub mod oauth;
pub mod providers;
pub mod runs;
pub mod schedule;
pub mod system;
pub mod tasks;
pub mod units;
pub mod validation;
pub mod zone;

pub use jsonrpc::{ErrorCode, RpcError};
pub use method::{Empty, Method, METHODS};
pub use validation::FieldError;
