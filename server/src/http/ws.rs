//! `GET /api/ws`: the WebSocket upgrade, with the cross-site check and the socket caps,
//! handed to `rpc::connection`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};

use protocol::jsonrpc::MAX_MESSAGE_BYTES;

use super::HttpState;
use crate::auth::rate_limit::ClientKey;
use crate::rpc::connection::{self, Inbound};

/// Sockets open at once, in all and per client address (an IPv6 /64 counts as one).
pub const MAX_SOCKETS: usize = 512;
pub const MAX_SOCKETS_PER_CLIENT: usize = 32;

/// Counts open sockets; a slot is given back when its guard drops.
#[derive(Default)]
pub struct SocketSlots {
    open: Mutex<(usize, HashMap<ClientKey, usize>)>,
}

pub struct SocketSlot {
    slots: Arc<SocketSlots>,
    client: ClientKey,
}

impl SocketSlots {
    pub fn take(self: &Arc<Self>, client: IpAddr) -> Result<SocketSlot, (StatusCode, &'static str)> {
        let client = ClientKey::of(client);
        let mut open = self.open.lock().expect("slots lock");
        if open.0 >= MAX_SOCKETS {
            return Err((StatusCode::SERVICE_UNAVAILABLE, "too many open connections; try again later"));
        }
        let mine = open.1.entry(client).or_default();
        if *mine >= MAX_SOCKETS_PER_CLIENT {
            return Err((StatusCode::TOO_MANY_REQUESTS, "too many open connections from your address"));
        }
        *mine += 1;
        open.0 += 1;
        Ok(SocketSlot { slots: self.clone(), client })
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("slots lock");
        open.0 -= 1;
        if let Some(n) = open.1.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.client);
            }
        }
    }
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(state): State<HttpState>,
) -> Response {
    if let Err(why) = state.public_urls.check_origin(&headers) {
        tracing::warn!(%peer, why, "refused cross-origin WebSocket upgrade");
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let client = state.proxies.client(peer.ip(), &headers);
    let slot = match state.slots.take(client) {
        Ok(slot) => slot,
        Err((status, why)) => {
            tracing::debug!(%client, why, "refused a WebSocket");
            return (status, why).into_response();
        }
    };
    // The WebSocket layer refuses frames and messages above the API's limit from their
    // header, before reading them: nothing larger is ever assembled in memory.
    ws.max_message_size(MAX_MESSAGE_BYTES).max_frame_size(MAX_MESSAGE_BYTES).on_upgrade(move |socket| async move {
        let _slot = slot;
        let (sink, stream) = socket.split();
        let sink = sink.with(|text: String| async move { Ok::<_, axum::Error>(Message::Text(text.into())) });
        let stream = stream.map(|frame| match frame {
            Ok(Message::Text(t)) => Inbound::Text(t.as_str().to_owned()),
            Ok(Message::Binary(b)) => Inbound::Binary(b.len()),
            Ok(Message::Close(_)) | Err(_) => Inbound::Close,
            Ok(_) => Inbound::Other,
        });
        connection::serve(Box::pin(sink), Box::pin(stream), state.api, client, state.shutdown).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_capped_per_client_and_given_back() {
        let slots = Arc::new(SocketSlots::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<SocketSlot> = (0..MAX_SOCKETS_PER_CLIENT).map(|_| slots.take(a).ok().unwrap()).collect();
        assert_eq!(slots.take(a).err().unwrap().0, StatusCode::TOO_MANY_REQUESTS);
        assert!(slots.take("10.0.0.2".parse().unwrap()).is_ok());
        drop(held);
        assert!(slots.take(a).is_ok());
    }
}
