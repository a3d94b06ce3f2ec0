//! `schedule.preview`: the same computation the scheduler and the browser run, in the
//! server's zone; `schedule.zone`: that zone's rules, for the browser.

use protocol::schedule::{PreviewParams, SchedulePreview};
use protocol::zone::ZoneRules;

use super::{ApiError, ApiState};

pub async fn preview(state: &ApiState, p: PreviewParams) -> Result<SchedulePreview, ApiError> {
    protocol::schedule::preview(&p, &state.zone, chrono::Utc::now()).map_err(ApiError::InvalidParams)
}

pub async fn zone(state: &ApiState) -> Result<ZoneRules, ApiError> {
    Ok(state.zone.rules().clone())
}
