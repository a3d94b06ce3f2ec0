//! The runner: the only part of cloudsync that starts rclone. Today it runs the short
//! commands credentials need (`version`, `config providers`, listing a remote); the sync
//! runs of the tasks issue will be queued and supervised here too.

pub mod obscure;
pub mod rclone;
