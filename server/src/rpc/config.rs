//! `config.export` and `config.import`.

use protocol::config::{
    ConfigBackup, ExportParams, ImportParams, ImportReport, TruenasImportParams, TruenasImportReport,
};

use super::{ApiError, ApiState, Caller};
use crate::backup;

/// With the secret seed, the backup opens every credential: the current password is
/// asked again.
pub async fn export(state: &ApiState, caller: &Caller, p: ExportParams) -> Result<ConfigBackup, ApiError> {
    if p.include_secret_seed {
        let user = caller.user().ok_or(ApiError::NotAuthenticated)?;
        super::auth::confirm_password(state, caller, &user, p.password).await?;
    }
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
    let providers = state
        .providers
        .get(&state.rclone.path)
        .await
        .map_err(|e| ApiError::RcloneFailed(format!("cannot read rclone's providers to check the backup: {e}")))?;
    let refusal = |backend: &str, option: &str, value: &str| state.providers.refusal(backend, option, value);
    let vetted = backup::vet(checked, &state.secrets, &providers, &refusal).map_err(ApiError::InvalidParams)?;
    let report = backup::import(&state.pool, &state.secrets, vetted).await?;
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

pub async fn import_truenas(state: &ApiState, p: TruenasImportParams) -> Result<TruenasImportReport, ApiError> {
    let providers = state
        .providers
        .get(&state.rclone.path)
        .await
        .map_err(|e| ApiError::RcloneFailed(format!("cannot read rclone's providers to check the import: {e}")))?;
    let refusal = |backend: &str, option: &str, value: &str| state.providers.refusal(backend, option, value);
    let ctx = crate::truenas::Context {
        pool: &state.pool,
        secrets: &state.secrets,
        providers: &providers,
        refusal: &refusal,
    };
    let dry_run = p.dry_run;
    let report = crate::truenas::import(&ctx, p).await.map_err(|e| match e {
        crate::truenas::ImportError::Invalid(errors) => ApiError::InvalidParams(errors),
        crate::truenas::ImportError::Database(e) => ApiError::from(e),
    })?;
    tracing::info!(
        dry_run,
        credentials = report.credentials_imported.len(),
        cannot_decrypt = report.cannot_decrypt.len(),
        tasks = report.tasks_imported.len(),
        skipped = report.skipped.len(),
        "TrueNAS configuration imported"
    );
    if !dry_run {
        if let Err(e) = state.scheduler.reload().await {
            tracing::error!(error = %e, "cannot recompute the schedule after an import");
        }
    }
    Ok(report)
}
