//! "Login to Provider": the OAuth app settings per provider (`clients`), the logins in
//! progress and the code-for-token exchange (`logins`). The browser-facing end is
//! `http::oauth_callback`; the socket-facing end is `rpc::oauth`.

pub mod clients;
pub mod logins;

/// Where a provider's OAuth endpoints are when the administrator has not set them.
pub struct KnownEndpoints {
    pub auth_url: &'static str,
    pub token_url: &'static str,
    pub scopes: &'static str,
    /// Extra query parameters some providers need for a refresh token.
    pub extra: &'static [(&'static str, &'static str)],
}

const GOOGLE_AUTH: &str = "https://accounts.google.com/o/oauth2/auth";
const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_OFFLINE: &[(&str, &str)] = &[("access_type", "offline"), ("prompt", "consent")];

/// The endpoints rclone itself uses for the common OAuth backends.
pub fn known_endpoints(provider: &str) -> Option<KnownEndpoints> {
    let e = |auth_url, token_url, scopes, extra| Some(KnownEndpoints { auth_url, token_url, scopes, extra });
    match provider {
        "drive" => e(GOOGLE_AUTH, GOOGLE_TOKEN, "https://www.googleapis.com/auth/drive", GOOGLE_OFFLINE),
        "google cloud storage" => {
            e(GOOGLE_AUTH, GOOGLE_TOKEN, "https://www.googleapis.com/auth/devstorage.read_write", GOOGLE_OFFLINE)
        }
        "google photos" => {
            e(GOOGLE_AUTH, GOOGLE_TOKEN, "https://www.googleapis.com/auth/photoslibrary", GOOGLE_OFFLINE)
        }
        "dropbox" => e(
            "https://www.dropbox.com/oauth2/authorize",
            "https://api.dropboxapi.com/oauth2/token",
            "files.metadata.write files.content.write files.content.read sharing.write account_info.read",
            &[("token_access_type", "offline")],
        ),
        "box" => e("https://app.box.com/api/oauth2/authorize", "https://app.box.com/api/oauth2/token", "", &[]),
        "onedrive" => e(
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            "Files.Read Files.ReadWrite Files.Read.All Files.ReadWrite.All Sites.Read.All offline_access",
            &[],
        ),
        "pcloud" => e("https://my.pcloud.com/oauth2/authorize", "https://api.pcloud.com/oauth2_token", "", &[]),
        "yandex" => e("https://oauth.yandex.com/authorize", "https://oauth.yandex.com/token", "", &[]),
        _ => None,
    }
}
