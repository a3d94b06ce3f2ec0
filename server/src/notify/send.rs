//! One delivery attempt to one target, by kind. The answer is the HTTP status (for the
//! delivery log) or why it failed; a secret never appears in an error (URLs are not
//! quoted back).

use std::time::Duration;

use hmac::Mac;
use protocol::notify::{Email, Healthchecks, Ntfy, RunMessage, SmtpSecurity, TargetSettings, Webhook};

/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

pub type Sent = Result<Option<u16>, (Option<u16>, String)>;

/// What a message is about, as the kinds without a JSON body word it.
pub enum Ping {
    Start,
    Message(Box<RunMessage>),
}

pub async fn send(http: &reqwest::Client, settings: &TargetSettings<String>, ping: &Ping) -> Sent {
    match (settings, ping) {
        (TargetSettings::Webhook(w), Ping::Message(m)) => webhook(http, w, m).await,
        (TargetSettings::Ntfy(n), Ping::Message(m)) => ntfy(http, n, m).await,
        (TargetSettings::Healthchecks(h), ping) => healthchecks(http, h, ping).await,
        (TargetSettings::Email(e), Ping::Message(m)) => email(e, m).await,
        // Only healthchecks hears of starts.
        (_, Ping::Start) => Ok(None),
    }
}

/// The hex HMAC-SHA256 of `body` under `secret`: the `X-Cloudsync-Signature` value
/// after `sha256=`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

async fn answer(request: reqwest::RequestBuilder) -> Sent {
    match request.timeout(ATTEMPT_TIMEOUT).send().await {
        Ok(r) if r.status().is_success() => Ok(Some(r.status().as_u16())),
        Ok(r) => Err((Some(r.status().as_u16()), format!("the target answered {}", r.status()))),
        Err(e) if e.is_timeout() => Err((None, format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()))),
        Err(e) if e.is_connect() => Err((None, "cannot connect to the target".to_string())),
        Err(_) => Err((None, "the request failed".to_string())),
    }
}

async fn webhook(http: &reqwest::Client, w: &Webhook<String>, m: &RunMessage) -> Sent {
    let body = serde_json::to_vec(m).expect("a message serialises");
    let mut request = http.post(&w.url).header("Content-Type", "application/json");
    for (k, v) in &w.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    if let Some(secret) = &w.secret {
        request = request.header("X-Cloudsync-Signature", format!("sha256={}", signature(secret, &body)));
    }
    answer(request.body(body)).await
}

/// One line per fact, then the last log lines of a failure.
pub fn text(m: &RunMessage) -> String {
    let r = &m.run;
    let mut lines = vec![format!("Run {} of “{}”: {}", r.id, m.task.description, r.state.as_str())];
    if let Some(e) = &r.error {
        lines.push(e.clone());
    }
    if let (Some(start), Some(end)) = (&r.started_at, &r.finished_at) {
        let took = m.duration_seconds.map(|d| format!(" ({d:.0} s)")).unwrap_or_default();
        lines.push(format!("{start} to {end}{took}"));
    }
    if let Some(s) = &r.stats {
        let bytes = protocol::units::human_bytes(s.bytes as f64);
        lines.push(format!(
            "{bytes}, {} file(s) transferred, {} deleted, {} error(s)",
            s.transfers, s.deletes, s.errors
        ));
    }
    if let Some(url) = &m.url {
        lines.push(url.clone());
    }
    if !m.last_lines.is_empty() {
        lines.push(String::new());
        lines.extend(m.last_lines.iter().cloned());
    }
    lines.join("\n")
}

fn title(m: &RunMessage) -> String {
    format!("cloudsync: {} {}", m.task.description, m.run.state.as_str().to_lowercase())
}

async fn ntfy(http: &reqwest::Client, n: &Ntfy<String>, m: &RunMessage) -> Sent {
    let failed = m.event == "run.failed" || m.event == "run.skipped";
    let url = format!("{}/{}", n.server.trim_end_matches('/'), n.topic.trim());
    let mut request = http
        .post(url)
        .header("Title", title(m))
        .header("Priority", if failed { "high" } else { "default" })
        .header("Tags", if failed { "warning,cloudsync" } else { "white_check_mark,cloudsync" });
    if let Some(url) = &m.url {
        request = request.header("Click", url.as_str());
    }
    if let Some(token) = &n.token {
        request = request.bearer_auth(token);
    } else if let (Some(user), Some(password)) = (&n.user, &n.password) {
        request = request.basic_auth(user, Some(password));
    }
    answer(request.body(text(m))).await
}

async fn healthchecks(http: &reqwest::Client, h: &Healthchecks<String>, ping: &Ping) -> Sent {
    let base = h.url.trim_end_matches('/');
    let request = match ping {
        Ping::Start => http.post(format!("{base}/start")),
        // A stopped run did not back anything up either.
        Ping::Message(m) if m.event == "run.failed" || m.event == "run.aborted" => {
            http.post(format!("{base}/fail")).body(text(m))
        }
        Ping::Message(m) => http.post(base.to_string()).body(text(m)),
    };
    answer(request).await
}

async fn email(e: &Email<String>, m: &RunMessage) -> Sent {
    use lettre::message::{header::ContentType, Mailbox};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let refused = |what: &str, e: &dyn std::fmt::Display| Err((None, format!("{what}: {e}")));
    let from: Mailbox = match e.from.trim().parse() {
        Ok(a) => a,
        Err(err) => return refused("the sender address", &err),
    };
    let mut message = Message::builder().from(from).subject(title(m));
    for to in &e.to {
        match to.trim().parse::<Mailbox>() {
            Ok(a) => message = message.to(a),
            Err(err) => return refused("a recipient address", &err),
        }
    }
    let message = match message.header(ContentType::TEXT_PLAIN).body(text(m)) {
        Ok(msg) => msg,
        Err(err) => return refused("cannot write the message", &err),
    };
    let tls = |host: &str| TlsParameters::new(host.to_string());
    let tls = match e.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::Starttls => match tls(&e.host) {
            Ok(p) => Tls::Required(p),
            Err(err) => return refused("TLS", &err),
        },
        SmtpSecurity::Tls => match tls(&e.host) {
            Ok(p) => Tls::Wrapper(p),
            Err(err) => return refused("TLS", &err),
        },
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(e.host.trim())
        .port(e.port)
        .tls(tls)
        .timeout(Some(ATTEMPT_TIMEOUT));
    if let (Some(user), Some(password)) = (&e.user, &e.password) {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    match tokio::time::timeout(ATTEMPT_TIMEOUT, transport.build().send(message)).await {
        Ok(Ok(response)) => Ok(response.code().to_string().parse().ok()),
        Ok(Err(err)) if err.is_permanent() || err.is_transient() => {
            Err((err.status().and_then(|c| c.to_string().parse().ok()), format!("the mail server refused: {err}")))
        }
        Ok(Err(err)) => refused("cannot send through the mail server", &err),
        Err(_) => Err((None, format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs()))),
    }
}
