//! A JSON-RPC client over one WebSocket (tokio-tungstenite), as the web app speaks it:
//! requests answered in turn, notifications kept until asked for.

use std::collections::VecDeque;

use futures_util::{SinkExt, StreamExt};
use protocol::jsonrpc::{Outcome, Response};
use protocol::{ErrorCode, Method, RpcError};
use serde_json::{json, Map, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::CliError;

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    notifications: VecDeque<(String, Value)>,
}

/// `http://host:8080` (or `ws://…`) → `ws://host:8080/api/ws`.
pub fn socket_url(url: &str) -> Result<String, CliError> {
    let url = url.trim().trim_end_matches('/');
    let rest = if let Some(r) = url.strip_prefix("http://").or_else(|| url.strip_prefix("ws://")) {
        format!("ws://{r}")
    } else if let Some(r) = url.strip_prefix("https://").or_else(|| url.strip_prefix("wss://")) {
        format!("wss://{r}")
    } else {
        return Err(CliError::Usage(format!("--url: `{url}` must start with http:// or https://")));
    };
    Ok(if rest.ends_with("/api/ws") { rest } else { format!("{rest}/api/ws") })
}

impl Client {
    pub async fn connect(url: &str) -> Result<Client, CliError> {
        let target = socket_url(url)?;
        let (ws, _) = tokio_tungstenite::connect_async(target.as_str())
            .await
            .map_err(|e| CliError::Connection(format!("cannot connect to {url}: {e}")))?;
        Ok(Client { ws, next_id: 1, notifications: VecDeque::new() })
    }

    /// Calls a method by name with raw params; the server's error comes back as is.
    pub async fn call_raw(&mut self, method: &str, params: Value) -> Result<Result<Value, RpcError>, CliError> {
        let id = self.next_id;
        self.next_id += 1;
        let text = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        self.ws.send(Message::text(text)).await.map_err(lost)?;
        loop {
            let msg = self.read().await?;
            if msg.get("id").is_some_and(|v| v == &json!(id)) {
                let response: Response = serde_json::from_value(msg)
                    .map_err(|e| CliError::Connection(format!("the server sent a malformed response: {e}")))?;
                return Ok(match response.outcome {
                    Outcome::Result(r) => Ok(r),
                    Outcome::Error(e) => Err(e),
                });
            }
            self.keep_notification(msg);
        }
    }

    /// Calls a method by name; a server error becomes a [`CliError`].
    pub async fn call_value(&mut self, method: &str, params: Value) -> Result<Value, CliError> {
        self.call_raw(method, params).await?.map_err(CliError::from)
    }

    /// Calls a typed method.
    pub async fn call<M: Method>(&mut self, params: M::Params) -> Result<M::Output, CliError> {
        let params = serde_json::to_value(params).expect("params serialise");
        self.call_answer::<M>(params).await
    }

    /// Calls a typed method with params the user wrote (`--from`, a backup file), sent
    /// as written: the server, not this client, judges them and names the field at fault.
    pub async fn call_document<M: Method>(&mut self, params: Map<String, Value>) -> Result<M::Output, CliError> {
        self.call_answer::<M>(Value::Object(params)).await
    }

    async fn call_answer<M: Method>(&mut self, params: Value) -> Result<M::Output, CliError> {
        let value = self.call_value(M::NAME, params).await?;
        serde_json::from_value(value)
            .map_err(|e| CliError::Connection(format!("unexpected answer to {}: {e}", M::NAME)))
    }

    /// The next notification (method, params), waiting for one if none is kept.
    pub async fn notification(&mut self) -> Result<(String, Value), CliError> {
        loop {
            if let Some(n) = self.notifications.pop_front() {
                return Ok(n);
            }
            let msg = self.read().await?;
            self.keep_notification(msg);
        }
    }

    fn keep_notification(&mut self, msg: Value) {
        if let (Some(method), None) = (msg.get("method").and_then(Value::as_str), msg.get("id")) {
            let params = msg.get("params").cloned().unwrap_or(Value::Null);
            self.notifications.push_back((method.to_string(), params));
        }
    }

    async fn read(&mut self) -> Result<Value, CliError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str())
                        .map_err(|e| CliError::Connection(format!("the server sent malformed JSON: {e}")))
                }
                Some(Ok(Message::Close(_))) | None => {
                    return Err(CliError::Connection("the server closed the connection".into()))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(lost(e)),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

fn lost(e: tokio_tungstenite::tungstenite::Error) -> CliError {
    CliError::Connection(format!("connection lost: {e}"))
}

impl From<RpcError> for CliError {
    fn from(e: RpcError) -> Self {
        let auth = [ErrorCode::NOT_AUTHENTICATED, ErrorCode::LOGIN_FAILED, ErrorCode::RATE_LIMITED];
        if auth.contains(&e.code) {
            CliError::Auth(e.to_string())
        } else {
            CliError::Server(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_become_socket_urls() {
        assert_eq!(socket_url("http://nas:8080").unwrap(), "ws://nas:8080/api/ws");
        assert_eq!(socket_url("https://nas.example/").unwrap(), "wss://nas.example/api/ws");
        assert_eq!(socket_url("ws://127.0.0.1:1/api/ws").unwrap(), "ws://127.0.0.1:1/api/ws");
        assert!(matches!(socket_url("nas:8080"), Err(CliError::Usage(_))));
    }
}
