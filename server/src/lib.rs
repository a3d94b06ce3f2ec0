//! The cloudsync server as a library, so the integration tests can start it on port 0
//! exactly as `main` does. See ARCHITECTURE.md for the map.

pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod crypto;
pub mod db;
pub mod http;
pub mod logstore;
pub mod metrics;
pub mod notify;
pub mod oauth;
pub mod providers;
pub mod public_urls;
pub mod rclone;
pub mod rpc;
pub mod runner;
pub mod scheduler;
pub mod secret_seed;
pub mod startup;
pub mod system_facts;
pub mod tasks;
pub mod time_format;
pub mod truenas;

pub use config::Settings;
pub use startup::Application;
