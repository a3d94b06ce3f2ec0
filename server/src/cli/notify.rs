//! `cloudsync notify …`: notification targets and their deliveries.

use protocol::credentials::IdParams;
use protocol::notify as n;
use protocol::Empty;

use super::commands::{read_from, show};
use super::{table, CliError, Global, NotifyCommand, Session};

pub async fn run(global: &Global, command: NotifyCommand) -> Result<(), CliError> {
    let mut c = Session::resolve(global)?.connect().await?;
    match command {
        NotifyCommand::List => {
            let list = c.call::<n::TargetList>(Empty {}).await?;
            show(global, &list, |list| {
                let rows: Vec<Vec<String>> =
                    list.iter().map(|t| vec![t.id.to_string(), t.name.clone(), t.target.kind().to_string()]).collect();
                table::print(&["ID", "NAME", "KIND"], &rows);
            });
        }
        NotifyCommand::Add { from } => {
            let made = c.call_document::<n::TargetCreate>(read_from(&from)?).await?;
            show(global, &made, |t| println!("Created target {} ({}).", t.id, t.name));
        }
        NotifyCommand::Update { id, from } => {
            let mut doc = read_from(&from)?;
            doc.insert("id".into(), id.into());
            let saved = c.call_document::<n::TargetUpdate>(doc).await?;
            show(global, &saved, |t| println!("Updated target {} ({}).", t.id, t.name));
        }
        NotifyCommand::Delete { id } => {
            let done = c.call::<n::TargetDelete>(IdParams { id }).await?;
            show(global, &done, |_| println!("Deleted target {id}."));
        }
        NotifyCommand::Test { id } => {
            let result = c.call::<n::TargetTest>(IdParams { id }).await?;
            show(global, &result, |r| println!("{}: {}", if r.ok { "ok" } else { "failed" }, r.message));
            if !result.ok {
                return Err(CliError::RunFailed(format!("target {id}: {}", result.message)));
            }
        }
        NotifyCommand::Deliveries { target, limit } => {
            let params = n::DeliveriesParams { target_id: target, limit: Some(limit) };
            let list = c.call::<n::Deliveries>(params).await?;
            show(global, &list, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|d| {
                        vec![
                            d.at.chars().take(19).collect::<String>().replace('T', " "),
                            d.target_id.to_string(),
                            d.run_id.map_or("test".into(), |r| r.to_string()),
                            if d.ok { "ok".into() } else { "failed".into() },
                            d.status.map_or("-".into(), |s| s.to_string()),
                            d.error.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                table::print(&["AT", "TARGET", "RUN", "RESULT", "STATUS", "ERROR"], &rows);
            });
        }
        NotifyCommand::Default { targets, on } => {
            let mut current = c.call::<n::DefaultGet>(Empty {}).await?;
            if targets.is_some() || on.is_some() {
                if let Some(t) = targets {
                    current.targets = t;
                }
                if let Some(on) = on {
                    current.on =
                        serde_json::from_value(on.into()).map_err(|e| CliError::Usage(format!("--on: {e}")))?;
                }
                current = c.call::<n::DefaultSet>(current).await?;
            }
            show(global, &current, |d| {
                let on = serde_json::to_value(d.on).unwrap_or_default();
                let ids: Vec<String> = d.targets.iter().map(i64::to_string).collect();
                let ids = if ids.is_empty() { "none".to_string() } else { ids.join(", ") };
                println!("Tasks without targets of their own notify: {ids} (on {})", on.as_str().unwrap_or("?"));
            });
        }
    }
    Ok(())
}
