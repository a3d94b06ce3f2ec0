//! One WebSocket connection, independent of axum: a reader loop over a `Stream` of
//! inbound frames and a writer task draining a bounded channel into a `Sink`, so unit
//! tests can drive it with channels (axum's `testing-websockets` example).
//!
//! `auth.*` requests are handled in order, inline, so a request sent right after
//! `auth.resume` already sees the socket authenticated; everything else runs as its own
//! task, so a slow method does not hold up the socket. When either side ends, or the
//! server shuts down, the other is ended too.

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

pub async fn serve<S, R>(sink: S, mut stream: R, state: Arc<ApiState>, addr: IpAddr, mut shutdown: watch::Receiver<bool>)
where
    S: Sink<String> + Unpin + Send + 'static,
    R: Stream<Item = Inbound> + Unpin,
{
    let caller = Arc::new(Caller::new(addr));
    let (tx, mut rx) = mpsc::channel::<String>(OUTBOUND_BUFFER);
    let mut writer = tokio::spawn(async move {
        let mut sink = sink;
        while let Some(text) = rx.recv().await {
            if sink.send(text).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let mut writer_done = false;
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame.unwrap_or(Inbound::Close),
            _ = shutdown.changed() => Inbound::Close,
            _ = &mut writer => {
                writer_done = true;
                Inbound::Close
            }
        };
        let text = match frame {
            Inbound::Text(t) => t,
            Inbound::Binary(n) => {
                let why = format!("binary frames are not supported ({n} bytes); send JSON text");
                let e = protocol::RpcError::new(protocol::ErrorCode::INVALID_REQUEST, why);
                let reply = protocol::jsonrpc::Response::error(serde_json::Value::Null, e).to_json();
                if tx.send(reply).await.is_err() {
                    break;
                }
                continue;
            }
            Inbound::Other => continue,
            Inbound::Close => break,
        };
        let request = match parse(&text) {
            Parsed::Reply(reply) => {
                if tx.send(reply).await.is_err() {
                    break;
                }
                continue;
            }
            Parsed::Request(r) => r,
        };
        if request.method.starts_with("auth.") {
            if let Some(reply) = dispatch(request, &state, &caller).await {
                if tx.send(reply).await.is_err() {
                    break;
                }
            }
        } else {
            let (state, caller, tx) = (state.clone(), caller.clone(), tx.clone());
            tokio::spawn(async move {
                if let Some(reply) = dispatch(request, &state, &caller).await {
                    let _ = tx.send(reply).await;
                }
            });
        }
    }
    // Let the writer flush what is queued, briefly; then end it.
    drop(tx);
    if !writer_done {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), &mut writer).await;
        writer.abort();
    }
}
