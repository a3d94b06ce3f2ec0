//! Everything that knows rclone, and nothing else: starting it (`process`, the only
//! place that does; `compare` reads its content comparisons), a remote's configuration and the redaction of its secrets (`env`),
//! rclone's password obscuring (`obscure`), finding it and its version (`detect`), and
//! reading its backend schema (`schema`). A leaf: nothing here imports the rest of the
//! server, so providers, credentials and the runner all build on it, never the reverse.

pub mod compare;
pub mod detect;
pub mod env;
pub mod obscure;
pub mod process;
pub mod schema;

pub use detect::{detect, RcloneStatus};
pub use env::{RemoteEnv, REMOTE};
