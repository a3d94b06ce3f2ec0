//! The cloudsync web app: Leptos, rendered in the browser, compiled to wasm32 and
//! served by the server from `target/site` (see `scripts/build-app`).
//!
//! Every page talks to the server through the one typed client in `rpc`; shared state
//! (connection, logged-in user) is a small `Copy` struct of signals in context.

pub mod live;
pub mod pages;
pub mod rpc;
mod shell;
pub mod widgets;

use leptos::prelude::*;
use wasm_bindgen::prelude::wasm_bindgen;

pub use shell::App;

/// Shared client state, provided once through context.
#[derive(Clone, Copy)]
pub struct Session {
    /// The logged-in username; `None` shows the login page.
    pub user: RwSignal<Option<String>>,
    /// The socket's state, shown in the header.
    pub connection: RwSignal<rpc::ConnectionState>,
    /// True until a stored token has been tried, so a reload does not flash the login page.
    pub resuming: RwSignal<bool>,
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
