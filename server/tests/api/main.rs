//! Integration tests: the real server on port 0, a real PostgreSQL, a real WebSocket
//! client. One binary, so the cluster is started once (see `helpers`).

mod auth;
mod backup;
mod cli;
mod credentials;
mod docs;
mod embedded_cluster;
mod fixtures;
mod http;
mod jsonrpc;
mod kept;
mod layout;
mod logs;
mod metrics;
mod notify;
mod oauth;
mod robustness;
mod runs;
mod safety;
mod schedules;
mod security;
mod storage;
mod system;
mod tasks;
mod truenas;

pub mod helpers;
