//! Facts about the machine the server reports: its time zone and version.

/// The IANA name of the zone schedules are evaluated in: `--timezone` when given, else
/// the system's, else UTC.
pub fn timezone(configured: Option<&str>) -> String {
    configured.map(str::to_string).or_else(|| iana_time_zone::get_timezone().ok()).unwrap_or_else(|| "UTC".into())
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
