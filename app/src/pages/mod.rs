//! One file per page. Each page behind the login is a lazy route: `scripts/build-app`
//! splits its code (and what only it uses) into a WebAssembly module of its own, so the
//! first screen loads only the login page, the frame and the client; the pages' modules
//! are fetched in the background after it (`shell::preload_pages`), or when a page is
//! opened before that is done. The task form is split off the Tasks page the same way
//! (`task_form::task_editor`, `#[lazy]`).

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

/// `$route` is a lazy route rendering `$module::$page`. A page's data is loaded by the
/// page itself (its resources start when it renders), so `data()` is empty and only
/// `view` is split off.
macro_rules! lazy_page {
    ($route:ident => $module:ident :: $page:ident) => {
        pub struct $route;
        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }
            fn view(_this: Self) -> AnyView {
                view! { <$module::$page/> }.into_any()
            }
        }
    };
}

lazy_page!(Dashboard => dashboard::DashboardPage);
lazy_page!(Credentials => credentials::CredentialsPage);
lazy_page!(Tasks => tasks::TasksPage);
lazy_page!(Runs => runs::RunsPage);
lazy_page!(System => system::SystemPage);
