use crate::helpers::{header, http_get, spawn_app, spawn_app_with_site};

#[tokio::test]
async fn healthz_answers_ok_when_the_database_does() {
    let app = spawn_app().await;
    let (status, _, body) = http_get(app.addr, "/healthz", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"ok");
}

#[tokio::test]
async fn a_cross_origin_upgrade_is_refused_and_a_same_origin_one_accepted() {
    let app = spawn_app().await;
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let mut evil = upgrade.to_vec();
    evil.push(("Origin", "http://evil.example"));
    let (status, _, body) = http_get(app.addr, "/api/ws", &evil).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("cross-origin"));

    let origin = format!("http://{}", app.addr);
    let mut same = upgrade.to_vec();
    same.push(("Origin", &origin));
    let (status, _, _) = http_get(app.addr, "/api/ws", &same).await;
    assert_eq!(status, 101);
}

/// A site folder laid out as scripts/build-app lays it out.
fn fake_site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg/0123abcd");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(dir.path().join("index.html"), "<!doctype html><title>cloudsync</title>").unwrap();
    std::fs::write(pkg.join("cloudsync_app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("cloudsync_app_bg.wasm.gz"), b"gzipped-bytes").unwrap();
    std::fs::write(pkg.join("main.css"), "body{}").unwrap();
    dir
}

#[tokio::test]
async fn the_app_is_served_with_mime_types_compression_and_cache_lifetimes() {
    let site = fake_site();
    let app = spawn_app_with_site(site.path()).await;

    let (status, headers, body) = http_get(app.addr, "/pkg/0123abcd/cloudsync_app_bg.wasm", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/wasm"));
    assert_eq!(header(&headers, "cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(body, b"\0asm\x01\0\0\0");

    let (_, headers, body) =
        http_get(app.addr, "/pkg/0123abcd/cloudsync_app_bg.wasm", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(header(&headers, "content-type"), Some("application/wasm"));
    assert_eq!(body, b"gzipped-bytes");

    let (_, headers, _) = http_get(app.addr, "/pkg/0123abcd/main.css", &[]).await;
    assert!(header(&headers, "content-type").unwrap().starts_with("text/css"));

    let (status, headers, _) = http_get(app.addr, "/pkg/0123abcd/split___tasks_view_1.wasm", &[]).await;
    assert_eq!(status, 404, "a module that is not there is not answered with the page");
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    let (status, _, _) = http_get(app.addr, "/pkg/00000000/cloudsync_app_bg.wasm", &[]).await;
    assert_eq!(status, 404, "an older build's folder");

    let (status, headers, body) = http_get(app.addr, "/system", &[]).await;
    assert_eq!(status, 200, "client-side routes get the app");
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert!(String::from_utf8_lossy(&body).contains("<title>cloudsync</title>"));
}

#[tokio::test]
async fn a_missing_app_build_is_explained() {
    let app = spawn_app().await;
    let (status, _, body) = http_get(app.addr, "/", &[]).await;
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&body).contains("scripts/build-app"));
}
