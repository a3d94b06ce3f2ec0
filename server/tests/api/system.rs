use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn system_info_reports_the_real_rclone_and_postgres() {
    let app = spawn_app().await;
    let mut c = app.logged_in_client().await;
    let info = c.call("system.info", json!({})).await.unwrap();
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));

    let rclone = crate::helpers::rclone_path();
    let out = std::process::Command::new(&rclone).arg("version").output().expect("the test rclone runs");
    let first_line = String::from_utf8_lossy(&out.stdout).lines().next().unwrap().to_string();
    assert_eq!(format!("rclone v{}", info["rclone_version"].as_str().unwrap()), first_line);
    assert_eq!(info["rclone_problem"], serde_json::Value::Null);

    let pg: String = sqlx::query_scalar("SHOW server_version").fetch_one(&app.pool).await.unwrap();
    assert_eq!(info["postgres_version"], pg);
    assert!(info["data_dir"].as_str().unwrap().starts_with(app.data_dir.path().to_str().unwrap()));
    assert!(!info["timezone"].as_str().unwrap().is_empty());
}
