//! `GET /api/ws`: the WebSocket upgrade, with the cross-site check, handed to
//! `rpc::connection`.

use std::net::SocketAddr;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};

use super::HttpState;
use crate::rpc::connection::{self, Inbound};

/// Frames above this are refused by the WebSocket layer itself (the connection closes
/// with "message too big"); between `MAX_MESSAGE_BYTES` and this, the API answers with
/// an error and keeps the socket open.
const HARD_FRAME_LIMIT: usize = 16 * 1024 * 1024;

pub async fn upgrade(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(state): State<HttpState>,
) -> Response {
    if let Err(why) = check_origin(&headers) {
        tracing::warn!(%peer, why, "refused cross-origin WebSocket upgrade");
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    ws.max_message_size(HARD_FRAME_LIMIT).max_frame_size(HARD_FRAME_LIMIT).on_upgrade(move |socket| async move {
        let (sink, stream) = socket.split();
        let sink = sink.with(|text: String| async move { Ok::<_, axum::Error>(Message::Text(text.into())) });
        let stream = stream.map(|frame| match frame {
            Ok(Message::Text(t)) => Inbound::Text(t.as_str().to_owned()),
            Ok(Message::Binary(b)) => Inbound::Binary(b.len()),
            Ok(Message::Close(_)) | Err(_) => Inbound::Close,
            Ok(_) => Inbound::Other,
        });
        connection::serve(Box::pin(sink), Box::pin(stream), state.api, peer.ip(), state.shutdown).await;
    })
}

/// Browsers always send `Origin` on WebSocket upgrades; a page from another site must
/// not be able to drive the API with the user's network position (cross-site WebSocket
/// hijacking). Non-browser clients send no `Origin` and are allowed.
pub fn check_origin(headers: &HeaderMap) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = origin.to_str().map_err(|_| "Origin header is not valid text".to_string())?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| "Origin given without a Host header".to_string())?;
    let (scheme, authority) = origin.split_once("://").ok_or_else(|| format!("Origin {origin} is not a URL"))?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        _ => return Err(format!("Origin {origin} has an unsupported scheme")),
    };
    let authority = authority.trim_end_matches('/');
    if normalise(authority, default_port) == normalise(host, default_port) {
        Ok(())
    } else {
        Err(format!("cross-origin WebSocket refused: Origin {origin} does not match Host {host}"))
    }
}

/// `host[:port]` with the port made explicit and the host lower-cased.
fn normalise(authority: &str, default_port: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    // An IPv6 literal keeps its colons inside brackets.
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        authority
    } else {
        format!("{authority}:{default_port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        if let Some(x) = host {
            h.insert(header::HOST, x.parse().unwrap());
        }
        h
    }

    #[test]
    fn allows_same_origin_and_no_origin() {
        assert!(check_origin(&headers(None, Some("127.0.0.1:8080"))).is_ok());
        assert!(check_origin(&headers(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080"))).is_ok());
        assert!(check_origin(&headers(Some("https://NAS.example"), Some("nas.example:443"))).is_ok());
        assert!(check_origin(&headers(Some("http://[::1]:8080"), Some("[::1]:8080"))).is_ok());
    }

    #[test]
    fn refuses_another_host_or_port() {
        assert!(check_origin(&headers(Some("http://evil.example"), Some("127.0.0.1:8080"))).is_err());
        assert!(check_origin(&headers(Some("http://127.0.0.1:9999"), Some("127.0.0.1:8080"))).is_err());
        assert!(check_origin(&headers(Some("null"), Some("127.0.0.1:8080"))).is_err());
        assert!(check_origin(&headers(Some("http://127.0.0.1:8080"), None)).is_err());
    }
}
