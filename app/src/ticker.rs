//! A signal that counts up while the component that made it is mounted: resources that
//! track it refresh on every tick (live views until the socket pushes run events).

use std::time::Duration;

use leptos::prelude::*;

pub fn ticker(every: Duration) -> ReadSignal<u64> {
    let (tick, set_tick) = signal(0u64);
    if let Ok(handle) = set_interval_with_handle(move || set_tick.update(|n| *n += 1), every) {
        on_cleanup(move || handle.clear());
    }
    tick
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
    if i == 0 { format!("{v:.0} {}", units[i]) } else { format!("{v:.1} {}", units[i]) }
}
