//! How times are written on the wire and in records: RFC 3339 in UTC.

use time::OffsetDateTime;

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
