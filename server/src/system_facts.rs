//! Facts about the machine the server reports: its time zone and version.

use protocol::schedule::{parse_zone, Tz};

/// The zone schedules are evaluated in, and its IANA name: `--timezone` when given (an
/// unknown name is an error), else the system's, else UTC.
pub fn timezone(configured: Option<&str>) -> anyhow::Result<(String, Tz)> {
    if let Some(name) = configured {
        let zone = parse_zone(name).map_err(|why| anyhow::anyhow!("--timezone: {why}"))?;
        return Ok((name.to_string(), zone));
    }
    let system = iana_time_zone::get_timezone().unwrap_or_else(|_| "UTC".into());
    match parse_zone(&system) {
        Ok(zone) => Ok((system, zone)),
        Err(why) => {
            tracing::warn!("the system's time zone: {why}; schedules use UTC (set --timezone)");
            Ok(("UTC".into(), Tz::UTC))
        }
    }
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
