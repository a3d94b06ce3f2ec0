//! Facts about the machine the server reports: its time zone and version.

use protocol::zone::{from_tzdb, Zone, ZoneRules};

/// The zone schedules are evaluated in, from the tz database: `--timezone` when given
/// (an unknown name is an error), else the system's, else UTC.
pub fn timezone(configured: Option<&str>) -> anyhow::Result<Zone> {
    if let Some(name) = configured {
        let rules = from_tzdb(name).map_err(|why| anyhow::anyhow!("--timezone: {why}"))?;
        return Ok(Zone::new(rules));
    }
    let system = iana_time_zone::get_timezone().unwrap_or_else(|_| "UTC".into());
    match from_tzdb(&system) {
        Ok(rules) => Ok(Zone::new(rules)),
        Err(why) => {
            tracing::warn!("the system's time zone: {why}; schedules use UTC (set --timezone)");
            Ok(Zone::new(ZoneRules::utc()))
        }
    }
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
