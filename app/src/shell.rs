//! The frame around every page: login gate, header with navigation, connection state
//! and logout, and the routes.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

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
                    <Route path=path!("/") view=pages::dashboard::DashboardPage/>
                    <Route path=path!("/credentials") view=pages::credentials::CredentialsPage/>
                    <Route path=path!("/tasks") view=pages::tasks::TasksPage/>
                    <Route path=path!("/runs") view=pages::runs::RunsPage/>
                    <Route path=path!("/system") view=pages::system::SystemPage/>
                </Routes>
            </main>
        </Router>
    }
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
