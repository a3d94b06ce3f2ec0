//! Who may use the API: the admin account, login sessions and the brake on password
//! guessing. Passwords are hashed with argon2id; session tokens are random and only their
//! SHA-256 is stored, so a database dump lets nobody log in.

pub mod admin;
pub mod password;
pub mod rate_limit;
pub mod sessions;
pub mod tokens;

pub use rate_limit::LoginRateLimiter;
pub use sessions::{AuthenticatedUser, SESSION_LIFETIME};
