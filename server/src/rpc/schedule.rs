//! `schedule.preview`: the same computation the scheduler and the browser run, in the
//! server's zone.

use protocol::schedule::{PreviewParams, SchedulePreview};

use super::{ApiError, ApiState};

pub async fn preview(state: &ApiState, p: PreviewParams) -> Result<SchedulePreview, ApiError> {
    protocol::schedule::preview(&p, &state.timezone, chrono::Utc::now()).map_err(ApiError::InvalidParams)
}
