//! The JSON-RPC API: the dispatcher that turns one text message into at most one
//! response, and one module per area of methods (`auth`, `credentials`, `tasks`, …).
//! `connection` runs a socket; `sockets` knows which sockets use which session;
//! `error` maps errors to codes.

pub mod auth;
pub mod config;
pub mod connection;
pub mod credentials;
pub mod error;
pub mod follow;
pub mod notify;
pub mod oauth;
pub mod runs;
pub mod schedule;
pub mod sockets;
pub mod system;
pub mod tasks;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use protocol::jsonrpc::{Request, Response, MAX_MESSAGE_BYTES};
use protocol::{ErrorCode, Method, RpcError};
use serde_json::Value;
use sqlx::PgPool;

use crate::auth::{AuthenticatedUser, LoginRateLimiter};
use crate::rclone::RcloneStatus;
pub use error::ApiError;

/// What every request handler may use. One per server.
pub struct ApiState {
    pub pool: PgPool,
    pub login_limiter: LoginRateLimiter,
    pub rclone: RcloneStatus,
    pub postgres_version: String,
    pub data_dir: PathBuf,
    /// The zone schedules run in (its rules from the tz database).
    pub zone: protocol::zone::Zone,
    /// Seals and opens credential attributes (derived from the secret seed).
    pub secrets: std::sync::Arc<crate::crypto::SecretBox>,
    pub providers: std::sync::Arc<crate::providers::ProviderCatalog>,
    /// For backups that include it.
    pub secret_seed: crate::secret_seed::SecretSeed,
    pub oauth_logins: crate::oauth::logins::OAuthLogins,
    /// One-time addresses of log downloads (`run.download`, served by `http`).
    pub downloads: crate::logstore::download::Tickets,
    /// For OAuth token exchanges.
    pub http: reqwest::Client,
    /// Notification targets' test sends.
    pub notifier: crate::notify::Notifier,
    /// Counted runs and failed deliveries, for `/metrics`.
    pub counters: crate::metrics::Counters,
    /// `/metrics` without a token (`--metrics-public`).
    pub metrics_public: bool,
    /// Where tasks' local paths may be.
    pub allowed_roots: crate::tasks::AllowedRoots,
    pub runner: crate::runner::Runner,
    pub scheduler: crate::scheduler::Scheduler,
    /// The sockets of each session, closed when it ends.
    pub sockets: sockets::SessionSockets,
    /// Every address the server is reached at (`--public-url`): the only origins OAuth
    /// logins may return to.
    pub public_urls: Arc<crate::public_urls::PublicUrls>,
    /// rclone options that run commands or touch local files are allowed
    /// (`--allow-local-options`).
    pub allow_local_options: bool,
}

/// A message on its way to a socket, with what it holds of the socket's
/// [`Caller::log_budget`] (released once the message is written).
pub struct Outgoing {
    pub text: String,
    pub held: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl From<String> for Outgoing {
    fn from(text: String) -> Self {
        Outgoing { text, held: None }
    }
}

/// Bytes of log notifications that may wait for one socket: a follower that sends more
/// waits until the socket has taken some (a slow socket then falls behind the hub and
/// catches up from the store). Replies and small notifications are bounded by count.
pub const LOG_BUDGET_BYTES: usize = 2 * 1024 * 1024;

/// One connected socket: where it comes from and who it is logged in as.
pub struct Caller {
    pub addr: IpAddr,
    user: Mutex<Option<AuthenticatedUser>>,
    /// The socket's outbound queue, for notifications.
    pub outbound: tokio::sync::mpsc::Sender<Outgoing>,
    /// Bytes of log notifications queued for the socket ([`LOG_BUDGET_BYTES`]).
    pub log_budget: Arc<tokio::sync::Semaphore>,
    /// Live streams feeding this socket (`run.follow` per run, `events.subscribe`),
    /// ended when the socket closes.
    streams: Mutex<std::collections::HashMap<String, tokio::task::AbortHandle>>,
    /// Woken when the session this socket uses ends elsewhere: the socket closes.
    session_ended: tokio::sync::Notify,
}

impl Caller {
    pub fn new(addr: IpAddr, outbound: tokio::sync::mpsc::Sender<Outgoing>) -> Self {
        Caller {
            addr,
            user: Mutex::new(None),
            outbound,
            log_budget: Arc::new(tokio::sync::Semaphore::new(LOG_BUDGET_BYTES)),
            streams: Mutex::new(Default::default()),
            session_ended: tokio::sync::Notify::new(),
        }
    }

    /// Logs the socket in and registers it with its session.
    pub fn log_in(self: &Arc<Self>, user: AuthenticatedUser, sockets: &sockets::SessionSockets) {
        sockets.register(user.session_id, self);
        self.set_user(Some(user));
    }

    /// The session ended (logout, revocation, password change): unauthenticated, streams
    /// ended, and the socket is told to close.
    pub fn end_session(&self) {
        self.set_user(None);
        self.end_streams();
        self.session_ended.notify_one();
    }

    /// Resolves once [`Caller::end_session`] was called.
    pub async fn session_ended(&self) {
        self.session_ended.notified().await
    }

    /// Registers a stream under `key`, ending the one it replaces.
    pub fn add_stream(&self, key: String, handle: tokio::task::AbortHandle) {
        if let Some(old) = self.streams.lock().expect("caller lock").insert(key, handle) {
            old.abort();
        }
    }

    pub fn end_stream(&self, key: &str) -> bool {
        self.streams.lock().expect("caller lock").remove(key).map(|h| h.abort()).is_some()
    }

    pub fn end_streams(&self) {
        for (_, h) in self.streams.lock().expect("caller lock").drain() {
            h.abort();
        }
    }

    pub fn user(&self) -> Option<AuthenticatedUser> {
        self.user.lock().expect("caller lock").clone()
    }

    pub fn set_user(&self, user: Option<AuthenticatedUser>) {
        *self.user.lock().expect("caller lock") = user;
    }

    /// The logged-in user, checked against the database so that a session ended
    /// elsewhere (logout, password change) or expired stops working at once.
    pub async fn require_user(&self, pool: &PgPool) -> Result<AuthenticatedUser, ApiError> {
        let user = self.user().ok_or(ApiError::NotAuthenticated)?;
        if crate::auth::sessions::is_valid(pool, user.session_id).await? {
            Ok(user)
        } else {
            self.set_user(None);
            Err(ApiError::NotAuthenticated)
        }
    }
}

/// A checked request, or the response to send instead.
pub enum Parsed {
    Request(Request),
    Reply(String),
}

/// Steps one and two of handling a message: size, JSON, envelope.
pub fn parse(text: &str) -> Parsed {
    if text.len() > MAX_MESSAGE_BYTES {
        let e = RpcError::new(
            ErrorCode::INVALID_REQUEST,
            format!("message too large: {} bytes, the limit is {MAX_MESSAGE_BYTES}", text.len()),
        );
        return Parsed::Reply(Response::error(Value::Null, e).to_json());
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let e = RpcError::new(ErrorCode::PARSE_ERROR, format!("malformed JSON: {e}"));
            return Parsed::Reply(Response::error(Value::Null, e).to_json());
        }
    };
    match Request::from_value(value) {
        Ok(r) => Parsed::Request(r),
        Err((id, e)) => Parsed::Reply(Response::error(id, e).to_json()),
    }
}

/// Runs one request. Returns the response text, or `None` for a notification.
pub async fn dispatch(req: Request, state: &ApiState, caller: &Arc<Caller>) -> Option<String> {
    let method = req.method.clone();
    let outcome = route(req.method.as_str(), req.params, state, caller).await;
    let id = req.id?;
    Some(match outcome {
        Ok(result) => Response::result(id, result).to_json(),
        Err(e) => Response::error(id, e.into_rpc(&method)).to_json(),
    })
}

async fn route(method: &str, params: Value, state: &ApiState, caller: &Arc<Caller>) -> Result<Value, ApiError> {
    use protocol::{
        auth as a, config as cfg, credentials as c, notify as n, oauth as o, providers as p, runs as r, schedule as sc,
        system as s, tasks as t,
    };
    if !protocol::method::works_unauthenticated(method) {
        caller.require_user(&state.pool).await?;
    }
    match method {
        a::Login::NAME => call::<a::Login, _>(params, |p| auth::login(state, caller, p)).await,
        a::Resume::NAME => call::<a::Resume, _>(params, |p| auth::resume(state, caller, p)).await,
        a::Logout::NAME => call::<a::Logout, _>(params, |_| auth::logout(state, caller)).await,
        a::Me::NAME => call::<a::Me, _>(params, |_| auth::me(caller)).await,
        a::ChangePassword::NAME => {
            call::<a::ChangePassword, _>(params, |p| auth::change_password(state, caller, p)).await
        }
        a::TokenCreate::NAME => call::<a::TokenCreate, _>(params, |p| auth::token_create(state, caller, p)).await,
        a::TokenList::NAME => call::<a::TokenList, _>(params, |_| auth::token_list(state, caller)).await,
        a::TokenRevoke::NAME => call::<a::TokenRevoke, _>(params, |p| auth::token_revoke(state, caller, p)).await,
        s::Info::NAME => call::<s::Info, _>(params, |_| system::info(state)).await,
        p::List::NAME => call::<p::List, _>(params, |_| credentials::list_providers(state)).await,
        c::List::NAME => call::<c::List, _>(params, |_| credentials::list(state)).await,
        c::Get::NAME => call::<c::Get, _>(params, |p| credentials::get(state, p)).await,
        c::Create::NAME => call::<c::Create, _>(params, |p| credentials::create(state, p)).await,
        c::Update::NAME => call::<c::Update, _>(params, |p| credentials::update(state, p)).await,
        c::Delete::NAME => call::<c::Delete, _>(params, |p| credentials::delete(state, p)).await,
        c::Verify::NAME => call::<c::Verify, _>(params, |p| credentials::verify(state, p)).await,
        c::Browse::NAME => call::<c::Browse, _>(params, |p| credentials::browse(state, p)).await,
        cfg::Export::NAME => call::<cfg::Export, _>(params, |p| config::export(state, caller, p)).await,
        cfg::Import::NAME => call::<cfg::Import, _>(params, |p| config::import(state, p)).await,
        cfg::ImportTruenas::NAME => call::<cfg::ImportTruenas, _>(params, |p| config::import_truenas(state, p)).await,
        o::Start::NAME => call::<o::Start, _>(params, |p| oauth::start(state, caller, p)).await,
        o::Finish::NAME => call::<o::Finish, _>(params, |p| oauth::finish(state, caller, p)).await,
        o::ClientList::NAME => call::<o::ClientList, _>(params, |_| oauth::client_list(state)).await,
        o::ClientSet::NAME => call::<o::ClientSet, _>(params, |p| oauth::client_set(state, p)).await,
        t::List::NAME => call::<t::List, _>(params, |_| tasks::list(state)).await,
        t::Get::NAME => call::<t::Get, _>(params, |p| tasks::get(state, p)).await,
        t::Create::NAME => call::<t::Create, _>(params, |p| tasks::create(state, p)).await,
        t::Update::NAME => call::<t::Update, _>(params, |p| tasks::update(state, p)).await,
        t::Delete::NAME => call::<t::Delete, _>(params, |p| tasks::delete(state, p)).await,
        t::Restore::NAME => call::<t::Restore, _>(params, |p| tasks::restore(state, p)).await,
        t::Plan::NAME => call::<t::Plan, _>(params, |p| tasks::plan(state, p)).await,
        sc::Preview::NAME => call::<sc::Preview, _>(params, |p| schedule::preview(state, p)).await,
        protocol::zone::Get::NAME => call::<protocol::zone::Get, _>(params, |_| schedule::zone(state)).await,
        r::RunTask::NAME => call::<r::RunTask, _>(params, |p| runs::run(state, p)).await,
        r::Abort::NAME => call::<r::Abort, _>(params, |p| runs::abort(state, p)).await,
        r::List::NAME => call::<r::List, _>(params, |p| runs::list(state, p)).await,
        r::Daily::NAME => call::<r::Daily, _>(params, |p| runs::daily(state, p)).await,
        r::Recent::NAME => call::<r::Recent, _>(params, |p| runs::recent(state, p)).await,
        r::Get::NAME => call::<r::Get, _>(params, |p| runs::get(state, p)).await,
        r::Log::NAME => call::<r::Log, _>(params, |p| runs::log(state, p)).await,
        r::Download::NAME => call::<r::Download, _>(params, |p| runs::download(state, p)).await,
        r::Follow::NAME => call::<r::Follow, _>(params, |p| follow::follow(state, caller, p)).await,
        r::Unfollow::NAME => call::<r::Unfollow, _>(params, |p| follow::unfollow(caller, p)).await,
        r::Subscribe::NAME => call::<r::Subscribe, _>(params, |_| follow::subscribe(state, caller)).await,
        r::Unsubscribe::NAME => call::<r::Unsubscribe, _>(params, |_| follow::unsubscribe(caller)).await,
        n::TargetList::NAME => call::<n::TargetList, _>(params, |_| notify::list(state)).await,
        n::TargetCreate::NAME => call::<n::TargetCreate, _>(params, |p| notify::create(state, p)).await,
        n::TargetUpdate::NAME => call::<n::TargetUpdate, _>(params, |p| notify::update(state, p)).await,
        n::TargetDelete::NAME => call::<n::TargetDelete, _>(params, |p| notify::delete(state, p)).await,
        n::TargetTest::NAME => call::<n::TargetTest, _>(params, |p| notify::test(state, p)).await,
        n::Deliveries::NAME => call::<n::Deliveries, _>(params, |p| notify::deliveries(state, p)).await,
        n::DefaultGet::NAME => call::<n::DefaultGet, _>(params, |_| notify::default_get(state)).await,
        n::DefaultSet::NAME => call::<n::DefaultSet, _>(params, |p| notify::default_set(state, p)).await,
        other => Err(ApiError::MethodNotFound(other.to_string())),
    }
}

/// Decodes the params of `M`, runs the handler, encodes its result.
async fn call<M: Method, Fut>(params: Value, handler: impl FnOnce(M::Params) -> Fut) -> Result<Value, ApiError>
where
    Fut: std::future::Future<Output = Result<M::Output, ApiError>>,
{
    let params: M::Params = serde_path_to_error::deserialize(params).map_err(error::params_error)?;
    let output = handler(params).await?;
    serde_json::to_value(output).map_err(|e| ApiError::Unexpected(e.into()))
}
