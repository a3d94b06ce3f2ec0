//! Typed RPC methods: each method is a type that names its wire name, its params and
//! its result, so `client.call::<auth::Login>(..)` in the app and the server's handler
//! for `"auth.login"` are checked against the same definitions.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// One JSON-RPC method.
pub trait Method {
    /// The wire name, e.g. `"auth.login"`.
    const NAME: &'static str;
    type Params: Serialize + DeserializeOwned;
    type Output: Serialize + DeserializeOwned;
}

/// Params or result with no members: `{}` on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Every method the server answers, in the order docs/api.md lists them. Methods that
/// work before login are marked in [`works_unauthenticated`].
pub const METHODS: &[&str] = &[
    crate::auth::Login::NAME,
    crate::auth::Resume::NAME,
    crate::auth::Logout::NAME,
    crate::auth::Me::NAME,
    crate::auth::ChangePassword::NAME,
    crate::auth::TokenCreate::NAME,
    crate::auth::TokenList::NAME,
    crate::auth::TokenRevoke::NAME,
    crate::system::Info::NAME,
    crate::providers::List::NAME,
    crate::credentials::List::NAME,
    crate::credentials::Get::NAME,
    crate::credentials::Create::NAME,
    crate::credentials::Update::NAME,
    crate::credentials::Delete::NAME,
    crate::credentials::Verify::NAME,
    crate::credentials::Browse::NAME,
    crate::config::Export::NAME,
    crate::config::Import::NAME,
    crate::config::ImportTruenas::NAME,
    crate::oauth::Start::NAME,
    crate::oauth::Finish::NAME,
    crate::oauth::ClientList::NAME,
    crate::oauth::ClientSet::NAME,
    crate::tasks::List::NAME,
    crate::tasks::Get::NAME,
    crate::tasks::Create::NAME,
    crate::tasks::Update::NAME,
    crate::tasks::Delete::NAME,
    crate::tasks::Restore::NAME,
    crate::tasks::Plan::NAME,
    crate::schedule::Preview::NAME,
    crate::zone::Get::NAME,
    crate::runs::RunTask::NAME,
    crate::runs::Abort::NAME,
    crate::runs::List::NAME,
    crate::runs::Daily::NAME,
    crate::runs::Recent::NAME,
    crate::runs::Get::NAME,
    crate::runs::Log::NAME,
    crate::runs::Download::NAME,
    crate::runs::Follow::NAME,
    crate::runs::Unfollow::NAME,
    crate::runs::Subscribe::NAME,
    crate::runs::Unsubscribe::NAME,
    crate::notify::TargetList::NAME,
    crate::notify::TargetCreate::NAME,
    crate::notify::TargetUpdate::NAME,
    crate::notify::TargetDelete::NAME,
    crate::notify::TargetTest::NAME,
    crate::notify::Deliveries::NAME,
    crate::notify::DefaultGet::NAME,
    crate::notify::DefaultSet::NAME,
];

/// The methods a socket may call before it has authenticated.
pub fn works_unauthenticated(method: &str) -> bool {
    method == crate::auth::Login::NAME || method == crate::auth::Resume::NAME
}

/// Declares a method type with its wire name, params and result.
#[macro_export]
macro_rules! method {
    ($(#[$doc:meta])* $ty:ident = $name:literal, $params:ty => $output:ty) => {
        $(#[$doc])*
        pub enum $ty {}
        impl $crate::Method for $ty {
            const NAME: &'static str = $name;
            type Params = $params;
            type Output = $output;
        }
    };
}
