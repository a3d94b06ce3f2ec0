//! `config.export` and `config.import`.

use protocol::config::{ConfigBackup, ExportParams, ImportParams, ImportReport};

use super::{ApiError, ApiState};
use crate::backup;

pub async fn export(state: &ApiState, p: ExportParams) -> Result<ConfigBackup, ApiError> {
    let backup = backup::export(&state.pool, &state.secret_seed, p.include_secret_seed).await?;
    tracing::info!(
        credentials = backup.credentials.len(),
        tasks = backup.tasks.len(),
        with_seed = p.include_secret_seed,
        "configuration exported"
    );
    Ok(backup)
}

pub async fn import(state: &ApiState, p: ImportParams) -> Result<ImportReport, ApiError> {
    let checked = backup::check(p.backup).map_err(ApiError::InvalidParams)?;
    let report = backup::import(&state.pool, &state.secrets, checked).await.map_err(|e| match e {
        crate::credentials::store::StoreError::Sql(e) => ApiError::from(e),
        other => ApiError::Unexpected(other.into()),
    })?;
    tracing::info!(
        imported = report.imported.len(),
        cannot_decrypt = report.cannot_decrypt.len(),
        skipped = report.skipped.len(),
        tasks = report.tasks_imported.len(),
        tasks_skipped = report.tasks_skipped.len(),
        "configuration imported"
    );
    if let Err(e) = state.scheduler.reload().await {
        tracing::error!(error = %e, "cannot recompute the schedule after an import");
    }
    Ok(report)
}
