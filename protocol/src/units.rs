//! Numbers as people read them, the same in the web app and the command line.

/// `1 h 02 min`, `3 min 05 s`, `4.2 s`.
pub fn human_duration(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    match whole {
        _ if seconds < 10.0 => format!("{seconds:.1} s"),
        0..=59 => format!("{whole} s"),
        60..=3599 => format!("{} min {:02} s", whole / 60, whole % 60),
        _ => format!("{} h {:02} min", whole / 3600, whole % 3600 / 60),
    }
}

/// `1.5 MiB`, `320 KiB`, `12 B`.
pub fn human_bytes(n: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", units[i])
    } else {
        format!("{v:.1} {}", units[i])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_at_their_scale() {
        assert_eq!(super::human_duration(4.24), "4.2 s");
        assert_eq!(super::human_duration(42.0), "42 s");
        assert_eq!(super::human_duration(185.0), "3 min 05 s");
        assert_eq!(super::human_duration(3720.0), "1 h 02 min");
    }
}
