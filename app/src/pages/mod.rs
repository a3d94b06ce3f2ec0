//! One file per page. Each page behind the login is a lazy route: `scripts/build-app`
//! splits its code (and what only it uses) into a WebAssembly file of its own, fetched
//! the first time the page is opened, so the first screen loads only the login page,
//! the frame and the client.

pub mod credential_form;
pub mod credential_option;
pub mod credentials;
pub mod dashboard;
pub mod login;
pub mod runs;
pub mod system;
pub mod system_backup;
pub mod system_notify;
pub mod system_oauth;
pub mod system_tokens;
pub mod system_truenas;
pub mod task_fields;
pub mod task_form;
pub mod task_plan;
pub mod task_schedule;
pub mod tasks;

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

// A page's data is loaded by the page itself (its resources start when it renders),
// so `data()` is empty and only `view` is split off.

pub struct Dashboard;
#[lazy_route]
impl LazyRoute for Dashboard {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <dashboard::DashboardPage/> }.into_any()
    }
}

pub struct Credentials;
#[lazy_route]
impl LazyRoute for Credentials {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <credentials::CredentialsPage/> }.into_any()
    }
}

pub struct Tasks;
#[lazy_route]
impl LazyRoute for Tasks {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <tasks::TasksPage/> }.into_any()
    }
}

pub struct Runs;
#[lazy_route]
impl LazyRoute for Runs {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <runs::RunsPage/> }.into_any()
    }
}

pub struct System;
#[lazy_route]
impl LazyRoute for System {
    fn data() -> Self {
        Self
    }
    fn view(_this: Self) -> AnyView {
        view! { <system::SystemPage/> }.into_any()
    }
}
