//! The built web app (`scripts/build-app` writes it to `target/site`): files with the
//! right MIME types, served precompressed (brotli or gzip, as the browser accepts), with
//! a year-long immutable cache for the content-hashed `/pkg/` folder and revalidation
//! for everything else. Unknown paths get `index.html`, so client-side routes survive a
//! reload; an unknown file under `/pkg/` is a 404 (an app of an older build asking for a
//! module that is gone must not get the page instead of its code). Every response of
//! the server carries the security headers (`security_headers`): the app may load code
//! only from its own origin.

use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};

pub fn router(site_dir: &Path) -> Router {
    let index = site_dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(dir = %site_dir.display(), "the web app is not built here; run scripts/build-app or pass --site-dir");
        let message =
            format!("the cloudsync web app is not built (looked in {}); run scripts/build-app", site_dir.display());
        return Router::new().fallback(move || async move { (StatusCode::SERVICE_UNAVAILABLE, message) });
    }
    let code = ServeDir::new(site_dir.join("pkg")).precompressed_br().precompressed_gzip();
    let files = ServeDir::new(site_dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(ServeFile::new(index).precompressed_br().precompressed_gzip());
    Router::new().nest_service("/pkg", code).fallback_service(files).layer(middleware::from_fn(cache_headers))
}

async fn cache_headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    let value =
        if immutable && response.status().is_success() { "public, max-age=31536000, immutable" } else { "no-cache" };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

/// The app's policy: code, styles and connections only from its own origin (`'self'`
/// covers the same-host `ws:`/`wss:` socket), WebAssembly compiled from fetched bytes
/// (`wasm-unsafe-eval`, which allows no JavaScript `eval`), no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers a response does not set itself (the OAuth callback page
/// sets a stricter policy of its own).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}
