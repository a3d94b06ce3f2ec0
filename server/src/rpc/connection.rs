//! One WebSocket connection, independent of axum: a reader loop over a `Stream` of
//! inbound frames and a writer task draining a bounded channel into a `Sink`, so unit
//! tests can drive it with channels (axum's `testing-websockets` example).
//!
//! `auth.*` requests are handled in order, inline, so a request sent right after
//! `auth.resume` already sees the socket authenticated; everything else runs as its own
//! task, so a slow method does not hold up the socket, but at most
//! `MAX_IN_FLIGHT` at once: when that many are running (or waiting for a client that
//! does not read its replies), the socket stops reading, so memory per socket stays
//! bounded. A socket that has not logged in within `LOGIN_WITHIN` is closed, and so is
//! every socket of a session that ends (logout, revocation, password change). When
//! either side ends, or the server shuts down, the other is ended too.

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, watch};

use super::{dispatch, parse, ApiState, Caller, Parsed};

/// A frame from the client, reduced to what the API cares about.
#[derive(Debug)]
pub enum Inbound {
    Text(String),
    /// Binary frames are not part of the protocol; the length is reported back.
    Binary(usize),
    /// Ping/pong and the like.
    Other,
    Close,
}

/// How many outbound messages may wait for a slow client before senders wait.
const OUTBOUND_BUFFER: usize = 256;
/// Requests of one socket running at once; the socket is not read while this many are.
pub const MAX_IN_FLIGHT: usize = 16;
/// How long a socket may stay without a logged-in session.
pub const LOGIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn serve<S, R>(
    sink: S,
    mut stream: R,
    state: Arc<ApiState>,
    addr: IpAddr,
    mut shutdown: watch::Receiver<bool>,
) where
    S: Sink<String> + Unpin + Send + 'static,
    R: Stream<Item = Inbound> + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<super::Outgoing>(OUTBOUND_BUFFER);
    let caller = Arc::new(Caller::new(addr, tx.clone()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    // Set while the socket has no session: when it passes, the socket closes.
    let mut login_by = Some(tokio::time::Instant::now() + LOGIN_WITHIN);
    let mut writer = tokio::spawn(async move {
        let mut sink = sink;
        while let Some(out) = rx.recv().await {
            // What the message held of the log budget goes back once it is written.
            if sink.send(out.text).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let mut writer_done = false;
    loop {
        // A session may have started (login) or ended (logout, expiry) since last time.
        login_by = match (caller.user().is_some(), login_by) {
            (true, _) => None,
            (false, None) => Some(tokio::time::Instant::now() + LOGIN_WITHIN),
            (false, at) => at,
        };
        let frame = tokio::select! {
            frame = stream.next() => frame.unwrap_or(Inbound::Close),
            _ = shutdown.changed() => Inbound::Close,
            _ = &mut writer => {
                writer_done = true;
                Inbound::Close
            }
            () = caller.session_ended() => {
                tracing::debug!(%addr, "closing a socket whose session ended");
                Inbound::Close
            }
            () = sleep_until(login_by) => {
                tracing::debug!(%addr, "closing a socket that did not log in");
                Inbound::Close
            }
        };
        let text = match frame {
            Inbound::Text(t) => t,
            Inbound::Binary(n) => {
                let why = format!("binary frames are not supported ({n} bytes); send JSON text");
                let e = protocol::RpcError::new(protocol::ErrorCode::INVALID_REQUEST, why);
                let reply = protocol::jsonrpc::Response::error(serde_json::Value::Null, e).to_json();
                if tx.send(reply.into()).await.is_err() {
                    break;
                }
                continue;
            }
            Inbound::Other => continue,
            Inbound::Close => break,
        };
        let request = match parse(&text) {
            Parsed::Reply(reply) => {
                if tx.send(reply.into()).await.is_err() {
                    break;
                }
                continue;
            }
            Parsed::Request(r) => r,
        };
        if request.method.starts_with("auth.") {
            if let Some(reply) = dispatch(request, &state, &caller).await {
                if tx.send(reply.into()).await.is_err() {
                    break;
                }
            }
        } else {
            // Waits (without reading the socket) while the socket's requests are all busy.
            let permit = tokio::select! {
                permit = in_flight.clone().acquire_owned() => permit.ok(),
                _ = shutdown.changed() => None,
                () = caller.session_ended() => None,
            };
            let Some(permit) = permit else { break };
            let (state, caller, tx) = (state.clone(), caller.clone(), tx.clone());
            tokio::spawn(async move {
                if let Some(reply) = dispatch(request, &state, &caller).await {
                    let _ = tx.send(reply.into()).await;
                }
                drop(permit);
            });
        }
    }
    // Let the writer flush what is queued, briefly; then end it.
    caller.end_streams();
    drop(tx);
    if !writer_done {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), &mut writer).await;
        writer.abort();
    }
}

/// Resolves at `at`, or never.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::channel::mpsc as fmpsc;
    use serde_json::{json, Value};

    /// What the connection needs; the pool is never used by these requests, so it
    /// connects lazily to nothing.
    fn test_state() -> Arc<ApiState> {
        let pool = sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:9/none").unwrap();
        let secrets =
            Arc::new(crate::crypto::SecretBox::new(&crate::secret_seed::SecretSeed::from_bytes([0; 32]), "test"));
        let providers = Arc::new(crate::providers::ProviderCatalog::default());
        let runner = crate::runner::Runner::new(pool.clone(), secrets.clone(), providers.clone(), "rclone".into(), 1);
        Arc::new(ApiState {
            pool: pool.clone(),
            login_limiter: Default::default(),
            rclone: crate::rclone::RcloneStatus { path: "rclone".into(), version: None, problem: None },
            postgres_version: String::new(),
            data_dir: "/nonexistent".into(),
            zone: protocol::zone::Zone::new(protocol::zone::ZoneRules::utc()),
            secrets: secrets.clone(),
            providers: providers.clone(),
            runner: runner.clone(),
            scheduler: crate::scheduler::Scheduler::new(
                pool.clone(),
                runner,
                protocol::zone::Zone::new(protocol::zone::ZoneRules::utc()),
                Arc::new(crate::scheduler::SystemClock),
            ),
            secret_seed: crate::secret_seed::SecretSeed::from_bytes([0; 32]),
            oauth_logins: Default::default(),
            downloads: Default::default(),
            http: reqwest::Client::new(),
            notifier: crate::notify::Notifier::new(
                pool.clone(),
                secrets.clone(),
                reqwest::Client::new(),
                None,
                Default::default(),
            ),
            counters: Default::default(),
            metrics_public: false,
            allowed_roots: crate::tasks::AllowedRoots::new(vec![]),
            sockets: Default::default(),
            public_urls: Arc::new(crate::public_urls::PublicUrls::new(&[], "127.0.0.1:8080".parse().unwrap())),
            allow_local_options: false,
        })
    }

    /// A connection driven by channels instead of a socket.
    fn harness() -> (
        fmpsc::UnboundedSender<Inbound>,
        fmpsc::UnboundedReceiver<String>,
        watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ) {
        let (in_tx, in_rx) = fmpsc::unbounded::<Inbound>();
        let (out_tx, out_rx) = fmpsc::unbounded::<String>();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(out_tx, in_rx, test_state(), "127.0.0.1".parse().unwrap(), stop_rx));
        (in_tx, out_rx, stop_tx, task)
    }

    async fn next(rx: &mut fmpsc::UnboundedReceiver<String>) -> Value {
        let text = tokio::time::timeout(std::time::Duration::from_secs(5), rx.next()).await.unwrap().unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[tokio::test]
    async fn answers_each_message_in_turn_and_keeps_going_after_errors() {
        let (tx, mut rx, _stop, _task) = harness();
        tx.unbounded_send(Inbound::Text("not json".into())).unwrap();
        assert_eq!(next(&mut rx).await["error"]["code"], -32700);
        tx.unbounded_send(Inbound::Binary(3)).unwrap();
        assert_eq!(next(&mut rx).await["error"]["code"], -32600);
        tx.unbounded_send(Inbound::Text(json!({"jsonrpc": "2.0", "id": 5, "method": "system.info"}).to_string()))
            .unwrap();
        let reply = next(&mut rx).await;
        assert_eq!(reply["id"], 5);
        assert_eq!(reply["error"]["code"], -32001);
    }

    #[tokio::test]
    async fn a_client_that_never_reads_stops_being_read() {
        // The outbound side is a sink nobody drains: once the replies fill it and the
        // in-flight requests wait for room, the connection stops taking frames.
        let (in_tx, in_rx) = fmpsc::channel::<Inbound>(0);
        let (out_tx, _out_rx) = fmpsc::channel::<String>(0);
        let (_stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(serve(out_tx, in_rx, test_state(), "127.0.0.1".parse().unwrap(), stop_rx));
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "system.info"}).to_string();
        let mut sent = 0;
        let mut in_tx = in_tx;
        loop {
            match tokio::time::timeout(
                std::time::Duration::from_millis(500),
                in_tx.send(Inbound::Text(request.clone())),
            )
            .await
            {
                Ok(Ok(())) => sent += 1,
                _ => break,
            }
            assert!(sent < 10_000, "the connection kept reading");
        }
        assert!(sent <= OUTBOUND_BUFFER + MAX_IN_FLIGHT + 4, "read {sent} requests");
    }

    #[tokio::test]
    async fn ends_when_the_client_closes_or_the_server_stops() {
        let (tx, _rx, _stop, task) = harness();
        tx.unbounded_send(Inbound::Close).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), task).await.unwrap().unwrap();

        let (_tx, _rx, stop, task) = harness();
        stop.send(true).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), task).await.unwrap().unwrap();
    }
}
