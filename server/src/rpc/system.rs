//! `system.info`.

use protocol::system::SystemInfo;

use super::{ApiError, ApiState};

pub async fn info(state: &ApiState) -> Result<SystemInfo, ApiError> {
    Ok(SystemInfo {
        version: crate::system_facts::VERSION.to_string(),
        rclone_version: state.rclone.version.clone(),
        rclone_path: state.rclone.path.display().to_string(),
        rclone_problem: state.rclone.problem.clone(),
        postgres_version: state.postgres_version.clone(),
        data_dir: state.data_dir.display().to_string(),
        timezone: state.zone.name().to_string(),
    })
}
