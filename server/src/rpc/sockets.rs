//! Which sockets are logged in with which session, so that ending a session (logout,
//! token revocation, a password change) closes every socket using it and ends their
//! live streams at once, instead of at their next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::Caller;

#[derive(Default)]
pub struct SessionSockets {
    by_session: Mutex<HashMap<i64, Vec<Weak<Caller>>>>,
}

impl SessionSockets {
    /// Remembers that `caller` is logged in with `session_id`.
    pub fn register(&self, session_id: i64, caller: &Arc<Caller>) {
        let mut map = self.by_session.lock().expect("sockets lock");
        let list = map.entry(session_id).or_default();
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(caller));
        // Sockets that closed without logging out leave dead entries behind; sweep them
        // now and then so the map stays as large as the open sockets.
        if map.len() > 64 {
            map.retain(|_, l| {
                l.retain(|w| w.strong_count() > 0);
                !l.is_empty()
            });
        }
    }

    /// Closes every socket logged in with one of `session_ids`; returns how many.
    pub fn end_sessions(&self, session_ids: &[i64]) -> usize {
        let callers: Vec<Arc<Caller>> = {
            let mut map = self.by_session.lock().expect("sockets lock");
            session_ids.iter().filter_map(|id| map.remove(id)).flatten().filter_map(|w| w.upgrade()).collect()
        };
        for caller in &callers {
            caller.end_session();
        }
        callers.len()
    }
}
