//! The one JSON-RPC client every page uses.
//!
//! - Ids correlate requests and responses; `call::<M>()` is typed by the protocol
//!   crate's method definitions, so the app and the server cannot drift apart.
//! - Notifications (messages without an id) go to the subscribers of their method.
//! - The socket reconnects with exponential backoff (0.5 s doubling to 10 s) and, when a
//!   session token is stored in `sessionStorage`, re-authenticates with `auth.resume`
//!   before anything queued is sent.
//! - Requests made while the socket is down wait in an outbox; requests that were in
//!   flight when it dropped fail with a "connection lost" error, because the server may
//!   or may not have run them.
//! - The server closes a socket that has not logged in within 10 s. Without a session
//!   there is nothing to keep alive, so the client then idles and opens a new socket
//!   when the next request is made (the login), instead of reconnecting in a loop.
//!
//! The browser runs one thread, so the client lives in a thread-local.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use leptos::prelude::*;
use protocol::jsonrpc::{Request, ServerMessage};
use protocol::{ErrorCode, Method, RpcError};
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// Client-side code for a request lost with its connection (never sent by the server).
pub const CONNECTION_LOST: i64 = -32099;

const TOKEN_KEY: &str = "cloudsync.token";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConnectionState {
    Connecting,
    Open,
    /// Not logged in and no socket open: one opens with the next request.
    Idle,
    /// Waiting to retry; `attempt` counts from 1.
    Retrying {
        attempt: u32,
        in_ms: u32,
    },
}

impl ConnectionState {
    pub fn label(&self) -> String {
        match self {
            ConnectionState::Connecting => "Connecting…".into(),
            ConnectionState::Open => "Connected".into(),
            ConnectionState::Idle => "Ready".into(),
            ConnectionState::Retrying { in_ms, .. } => {
                format!("Disconnected, retrying in {:.1} s", *in_ms as f64 / 1000.0)
            }
        }
    }
}

/// A result as JSON text, parsed by the caller straight into its type.
type Reply = oneshot::Sender<Result<String, RpcError>>;
type Subscriber = Rc<dyn Fn(&str)>;

struct Client {
    url: String,
    socket: RefCell<Option<WebSocket>>,
    open: Cell<bool>,
    next_id: Cell<u64>,
    /// Sent and awaiting a response.
    in_flight: RefCell<HashMap<u64, Reply>>,
    /// Waiting for the socket to open: (id, text, reply).
    outbox: RefCell<Vec<(u64, String, Reply)>>,
    subscribers: RefCell<HashMap<String, Vec<(u64, Subscriber)>>>,
    attempt: Cell<u32>,
    session: crate::Session,
}

thread_local! {
    static CLIENT: RefCell<Option<Rc<Client>>> = const { RefCell::new(None) };
}

fn client() -> Rc<Client> {
    CLIENT.with(|c| c.borrow().clone()).expect("rpc::connect runs before any call")
}

/// Opens the socket to this page's server. Call once at start.
pub fn connect(session: crate::Session) {
    let location = web_sys::window().expect("a window").location();
    let scheme = if location.protocol().unwrap_or_default() == "https:" { "wss" } else { "ws" };
    let host = location.host().unwrap_or_default();
    let client = Rc::new(Client {
        url: format!("{scheme}://{host}/api/ws"),
        socket: RefCell::new(None),
        open: Cell::new(false),
        next_id: Cell::new(1),
        in_flight: RefCell::new(HashMap::new()),
        outbox: RefCell::new(Vec::new()),
        subscribers: RefCell::new(HashMap::new()),
        attempt: Cell::new(0),
        session,
    });
    session.resuming.set(stored_token().is_some());
    CLIENT.with(|c| *c.borrow_mut() = Some(client.clone()));
    open_socket(&client);
}

/// Calls `M` and waits for its result.
pub async fn call<M: Method>(params: M::Params) -> Result<M::Output, RpcError> {
    decode::<M>(&call_json::<M>(&params).await?)
}

/// `M`'s result from its JSON text.
pub fn decode<M: Method>(text: &str) -> Result<M::Output, RpcError> {
    serde_json::from_str(text)
        .map_err(|e| RpcError::new(ErrorCode::INTERNAL_ERROR, format!("unexpected result from {}: {e}", M::NAME)))
}

/// Calls `M` and answers with its result's JSON text, undecoded; the params may be any
/// JSON (they are encoded at once, so the future borrows nothing). For the
/// configuration backup, which the browser carries between a file and the server without
/// reading it (the server checks it, as it checks any input), and for resources, which
/// keep the text and decode it where it is awaited (`widgets::Answer`). Every other call
/// is [`call`].
pub fn call_json<M: Method>(params: &impl serde::Serialize) -> Pending {
    let client = client();
    let id = client.next_id.get();
    client.next_id.set(id + 1);
    pending(client, id, Request::to_json(id, M::NAME, params))
}

/// A result's JSON text to come: one future type for every method, so the code that
/// waits for answers is in the app once.
pub type Pending = std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, RpcError>>>>;

fn pending(client: Rc<Client>, id: u64, text: String) -> Pending {
    Box::pin(async move { call_raw(&client, id, text).await })
}

/// Sends request `id` (already JSON text) and waits for its result's JSON text.
async fn call_raw(client: &Rc<Client>, id: u64, text: String) -> Result<String, RpcError> {
    let (tx, rx) = oneshot::channel();
    if client.open.get() {
        client.in_flight.borrow_mut().insert(id, tx);
        send(client, &text);
    } else {
        client.outbox.borrow_mut().push((id, text, tx));
        if client.session.connection.get_untracked() == ConnectionState::Idle {
            open_socket(client);
        }
    }
    rx.await.unwrap_or_else(|_| Err(lost()))
}

/// Calls `f` with the params (JSON text, for `f` to parse into the notification's type)
/// of every notification named `method`. Returns a handle to pass to [`unsubscribe`].
pub fn subscribe(method: &str, f: impl Fn(&str) + 'static) -> u64 {
    let client = client();
    let id = client.next_id.get();
    client.next_id.set(id + 1);
    client.subscribers.borrow_mut().entry(method.to_string()).or_default().push((id, Rc::new(f)));
    id
}

pub fn unsubscribe(handle: u64) {
    let client = client();
    for list in client.subscribers.borrow_mut().values_mut() {
        list.retain(|(id, _)| *id != handle);
    }
}

pub fn stored_token() -> Option<String> {
    storage().and_then(|s| s.get_item(TOKEN_KEY).ok().flatten())
}

pub fn store_token(token: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match token {
            Some(t) => s.set_item(TOKEN_KEY, t),
            None => s.remove_item(TOKEN_KEY),
        };
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn lost() -> RpcError {
    RpcError::new(CONNECTION_LOST, "the connection to the server was lost; try again")
}

fn send(client: &Client, text: &str) {
    if let Some(ws) = client.socket.borrow().as_ref() {
        let _ = ws.send_with_str(text);
    }
}

fn open_socket(client: &Rc<Client>) {
    client.session.connection.set(ConnectionState::Connecting);
    let ws = match WebSocket::new(&client.url) {
        Ok(ws) => ws,
        Err(_) => {
            schedule_reconnect(client);
            return;
        }
    };
    let weak = Rc::downgrade(client);
    let on_open = Closure::<dyn FnMut()>::new(move || {
        if let Some(c) = weak.upgrade() {
            on_open(&c);
        }
    });
    let weak = Rc::downgrade(client);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let (Some(c), Some(text)) = (weak.upgrade(), e.data().as_string()) {
            on_message(&c, &text);
        }
    });
    let weak = Rc::downgrade(client);
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
        if let Some(c) = weak.upgrade() {
            on_close(&c);
        }
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    // The socket keeps its handlers for its lifetime; a reconnect makes a new socket.
    on_open.forget();
    on_message.forget();
    on_close.forget();
    *client.socket.borrow_mut() = Some(ws);
}

fn on_open(client: &Rc<Client>) {
    client.open.set(true);
    client.attempt.set(0);
    client.session.connection.set(ConnectionState::Open);
    // Re-authenticate first: the server handles auth.* in order, so everything sent
    // after this already runs as the logged-in user.
    if let Some(token) = stored_token() {
        let session = client.session;
        leptos::task::spawn_local(async move {
            let resumed = call::<protocol::auth::Resume>(protocol::auth::ResumeParams { token }).await;
            match resumed {
                Ok(me) => session.user.set(Some(me.username)),
                Err(e) if e.code == CONNECTION_LOST => {}
                Err(_) => {
                    store_token(None);
                    session.user.set(None);
                }
            }
            session.resuming.set(false);
        });
    }
    let queued: Vec<_> = client.outbox.borrow_mut().drain(..).collect();
    for (id, text, reply) in queued {
        client.in_flight.borrow_mut().insert(id, reply);
        send(client, &text);
    }
}

fn on_message(client: &Rc<Client>, text: &str) {
    match ServerMessage::parse(text) {
        Ok(ServerMessage::Response { id, outcome }) => {
            let Some(id) = id else { return };
            if let Some(reply) = client.in_flight.borrow_mut().remove(&id) {
                let _ = reply.send(outcome.map(str::to_string));
            }
        }
        Ok(ServerMessage::Notification { method, params }) => {
            let subs: Vec<Subscriber> = client
                .subscribers
                .borrow()
                .get(&method)
                .map(|l| l.iter().map(|(_, f)| f.clone()).collect())
                .unwrap_or_default();
            for f in subs {
                f(params);
            }
        }
        Err(e) => leptos::logging::warn!("{e}"),
    }
}

fn on_close(client: &Rc<Client>) {
    client.open.set(false);
    *client.socket.borrow_mut() = None;
    for (_, reply) in client.in_flight.borrow_mut().drain() {
        let _ = reply.send(Err(lost()));
    }
    let session = client.session;
    let logged_out = session.user.get_untracked().is_none() && stored_token().is_none();
    if logged_out && client.outbox.borrow().is_empty() {
        client.attempt.set(0);
        session.connection.set(ConnectionState::Idle);
        return;
    }
    schedule_reconnect(client);
}

fn schedule_reconnect(client: &Rc<Client>) {
    let attempt = client.attempt.get() + 1;
    client.attempt.set(attempt);
    let in_ms = (500u32 << (attempt - 1).min(5)).min(10_000);
    client.session.connection.set(ConnectionState::Retrying { attempt, in_ms });
    let weak = Rc::downgrade(client);
    set_timeout(
        move || {
            if let Some(c) = weak.upgrade() {
                open_socket(&c);
            }
        },
        Duration::from_millis(in_ms as u64),
    );
}
