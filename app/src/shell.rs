//! The frame around every page: login gate, header with navigation, connection state
//! and logout, and the routes.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy, LazyRoute};

use crate::pages;
use crate::rpc::{self, ConnectionState};
use crate::Session;

#[component]
pub fn App() -> impl IntoView {
    let session = Session {
        user: RwSignal::new(None),
        connection: RwSignal::new(ConnectionState::Connecting),
        resuming: RwSignal::new(false),
    };
    provide_context(session);
    rpc::connect(session);
    preload_pages();

    view! {
        {move || {
            if session.user.get().is_some() {
                view! { <Shell/> }.into_any()
            } else if session.resuming.get() {
                view! { <p class="boot" data-testid="resuming">"Signing you back in…"</p> }.into_any()
            } else {
                view! { <pages::login::LoginPage/> }.into_any()
            }
        }}
    }
}

#[component]
fn Shell() -> impl IntoView {
    let session = crate::use_session();
    let logout = move |_| {
        leptos::task::spawn_local(async move {
            let _ = rpc::call::<protocol::auth::Logout>(protocol::Empty {}).await;
            rpc::store_token(None);
            session.user.set(None);
        });
    };
    view! {
        <Router>
            <header class="topbar">
                <span class="brand">"cloudsync"</span>
                <nav class="nav">
                    <A href="/" exact=true>"Dashboard"</A>
                    <A href="/credentials">"Credentials"</A>
                    <A href="/tasks">"Tasks"</A>
                    <A href="/runs">"Runs"</A>
                    <A href="/system">"System"</A>
                </nav>
                <ConnectionBadge/>
                <span class="who" data-testid="current-user">{move || session.user.get().unwrap_or_default()}</span>
                <button class="link" data-testid="logout" on:click=logout>"Log out"</button>
            </header>
            <main class="page">
                <Routes fallback=|| view! { <p>"There is no such page."</p> }>
                    <Route path=path!("/") view={Lazy::<pages::Dashboard>::new()}/>
                    <Route path=path!("/credentials") view={Lazy::<pages::Credentials>::new()}/>
                    <Route path=path!("/tasks") view={Lazy::<pages::Tasks>::new()}/>
                    <Route path=path!("/runs") view={Lazy::<pages::Runs>::new()}/>
                    <Route path=path!("/system") view={Lazy::<pages::System>::new()}/>
                </Routes>
            </main>
        </Router>
    }
}

/// Once the login form is up, the pages' code is fetched in the background, one module
/// at a time and the dashboard first: it is there by the time the password is typed,
/// moving between pages never waits for the network, and an open app keeps working when
/// the server is upgraded under it (the old files are gone then).
fn preload_pages() {
    leptos::task::spawn_local(async {
        pages::Dashboard::preload().await;
        pages::Tasks::preload().await;
        pages::task_form::__preload_task_editor().await;
        pages::Runs::preload().await;
        pages::Credentials::preload().await;
        pages::System::preload().await;
        // Tests (and the curious) can see when every page is in memory.
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-pages-loaded", "");
        }
    });
}

#[component]
fn ConnectionBadge() -> impl IntoView {
    let session = crate::use_session();
    let class = move || match session.connection.get() {
        ConnectionState::Open => "badge ok",
        ConnectionState::Connecting | ConnectionState::Idle => "badge wait",
        ConnectionState::Retrying { .. } => "badge bad",
    };
    view! {
        <span class=class data-testid="connection-state">{move || session.connection.get().label()}</span>
    }
}
