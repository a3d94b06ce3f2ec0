//! The checks a SYNC or MOVE passes before rclone may delete anything: the source holds
//! a file the task selects (`check_source`: an unmounted disk's empty mount point must
//! not empty the backup), and the sync deletes at most `max_delete_percent` of the
//! destination (`check_deletions`). Both count only the files the task selects (its
//! include/exclude rules, never the kept-files folder), as the transfer does.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::runs::{LogLevel, LogSource};
use protocol::tasks::{Direction, SyncTask, TransferMode, KEPT_FOLDER};

use super::run::RunFailure;
use super::sync::SyncCommand;
use super::Runner;
use crate::logstore::LogWriter;

/// How long listing a source or destination (until its first file) may take.
pub(super) const LISTING_DEADLINE: Duration = Duration::from_secs(300);

impl Runner {
    /// A SYNC or MOVE from a source with no selected file to a destination with some
    /// stops here, before rclone deletes anything, unless the task allows an empty
    /// source. (A dry run deletes nothing and shows what would happen.)
    pub(super) async fn check_source(
        &self,
        task: &SyncTask,
        command: &SyncCommand,
        dry_run: bool,
        log: &mut LogWriter,
    ) -> Result<(), RunFailure> {
        if dry_run || task.allow_empty_source || task.transfer_mode == TransferMode::Copy {
            return Ok(());
        }
        log.push(
            LogLevel::Info,
            LogSource::Runner,
            "checking that the source holds files (an empty source is not allowed)",
        )
        .await;
        let filtered = !(task.include.is_empty() && task.exclude.is_empty());
        let source_holds = if task.direction == Direction::Push && !filtered {
            // A local folder with no rules to apply: read here, no rclone to start.
            let root = PathBuf::from(command.source());
            let follow = task.follow_symlinks;
            tokio::time::timeout(
                LISTING_DEADLINE,
                tokio::task::spawn_blocking(move || folder_holds_a_file(&root, follow)),
            )
            .await
            .map_err(|_| RunFailure::SourceCheck(format!("listing took longer than {} s", LISTING_DEADLINE.as_secs())))?
            .map_err(|e| RunFailure::SourceCheck(e.to_string()))?
        } else {
            self.holds(command, command.source()).await
        };
        if source_holds.map_err(RunFailure::SourceCheck)? {
            return Ok(());
        }
        if self.holds(command, command.destination()).await.map_err(RunFailure::SourceCheck)? {
            return Err(if filtered { RunFailure::NothingSelected } else { RunFailure::EmptySource });
        }
        Ok(())
    }

    async fn holds(&self, command: &SyncCommand, path: &OsStr) -> Result<bool, String> {
        let (rclone, remote) = (&self.inner.rclone, Some(&command.remote));
        crate::rclone::process::holds_a_file(rclone, path, &command.selection, remote, LISTING_DEADLINE).await
    }

    /// A SYNC that would delete more than `max_delete_percent` of the destination's files
    /// stops here, before anything is deleted: the deletions are counted by the same
    /// command with `--dry-run` (the plan of `task.plan`), the destination's files by
    /// `rclone size`. `allowed` (a dry run, or `allow_deletes`) skips the check.
    pub(super) async fn check_deletions(
        &self,
        task: &SyncTask,
        command: &SyncCommand,
        allowed: bool,
        log: &mut LogWriter,
    ) -> Result<(), RunFailure> {
        let Some(percent) = task.max_delete_percent.filter(|_| !allowed && task.transfer_mode == TransferMode::Sync)
        else {
            return Ok(());
        };
        log.push(
            LogLevel::Info,
            LogSource::Runner,
            &format!("counting what this sync would delete (at most {percent}% of the destination's files)"),
        )
        .await;
        let rclone = &self.inner.rclone;
        let remote = Some(&command.remote);
        let would = crate::rclone::compare::plan(rclone, &command.args, remote, LISTING_DEADLINE)
            .await
            .map_err(RunFailure::DeleteCheck)?
            .delete
            .count;
        if would == 0 {
            return Ok(());
        }
        let destination = command.destination();
        let of = crate::rclone::process::count_files(rclone, destination, &command.selection, remote, LISTING_DEADLINE)
            .await
            .map_err(RunFailure::DeleteCheck)?;
        if would * 100 > u64::from(percent) * of {
            return Err(RunFailure::TooManyDeletes { would, of, percent });
        }
        Ok(())
    }
}

/// Whether the local folder `root` holds a file rclone would copy: a regular file
/// anywhere below it (with `follow`, also a link to one, and folders through links),
/// leaving out the kept-files folder at its top as the transfer's filter does. Stops at
/// the first. A folder that cannot be read makes the answer an error unless a file was
/// found elsewhere; a missing `root` holds none.
fn folder_holds_a_file(root: &Path, follow: bool) -> Result<bool, String> {
    use std::os::unix::fs::MetadataExt;
    let mut folders = vec![root.to_path_buf()];
    let mut seen = std::collections::HashSet::new();
    let mut unreadable: Option<String> = None;
    while let Some(folder) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(e) => e,
            Err(e) if folder == root && e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                unreadable.get_or_insert(format!("{}: {e}", folder.display()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    unreadable.get_or_insert(format!("{}: {e}", folder.display()));
                    continue;
                }
            };
            let path = entry.path();
            let meta = match entry.file_type() {
                Ok(t) if t.is_symlink() && follow => std::fs::metadata(&path),
                Ok(t) if t.is_symlink() => continue,
                _ => entry.metadata(),
            };
            let meta = match meta {
                Ok(m) => m,
                Err(e) => {
                    unreadable.get_or_insert(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            if meta.is_file() {
                return Ok(true);
            }
            let kept = folder == root && entry.file_name() == OsStr::new(KEPT_FOLDER);
            if meta.is_dir() && !kept && seen.insert((meta.dev(), meta.ino())) {
                folders.push(path);
            }
        }
    }
    match unreadable {
        Some(why) => Err(why),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_anywhere_below_counts_and_the_kept_folder_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(folder_holds_a_file(&root.join("not-mounted"), false), Ok(false));
        assert_eq!(folder_holds_a_file(root, false), Ok(false));
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::create_dir_all(root.join(KEPT_FOLDER).join("2026-12-01T000000Z")).unwrap();
        std::fs::write(root.join(KEPT_FOLDER).join("2026-12-01T000000Z/old.txt"), "kept").unwrap();
        assert_eq!(folder_holds_a_file(root, false), Ok(false), "folders and kept files only");
        std::fs::write(root.join("a/b/c/photo.jpg"), "bytes").unwrap();
        assert_eq!(folder_holds_a_file(root, false), Ok(true));
        // Below the top, a folder of that name is an ordinary folder.
        std::fs::remove_file(root.join("a/b/c/photo.jpg")).unwrap();
        std::fs::create_dir(root.join("a").join(KEPT_FOLDER)).unwrap();
        std::fs::write(root.join("a").join(KEPT_FOLDER).join("x"), "x").unwrap();
        assert_eq!(folder_holds_a_file(root, false), Ok(true));
    }

    #[test]
    fn links_count_only_when_the_task_follows_them_and_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let (root, elsewhere) = (dir.path().join("src"), dir.path().join("elsewhere"));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("file"), "bytes").unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("sub/link-to-folder")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("sub/loop")).unwrap();
        assert_eq!(folder_holds_a_file(&root, false), Ok(false), "rclone skips links unless told to follow");
        assert_eq!(folder_holds_a_file(&root, true), Ok(true));
        std::fs::remove_file(elsewhere.join("file")).unwrap();
        assert_eq!(folder_holds_a_file(&root, true), Ok(false), "the loop is walked once");
        std::os::unix::fs::symlink(dir.path().join("gone"), root.join("dangling")).unwrap();
        let err = folder_holds_a_file(&root, true).unwrap_err();
        assert!(err.contains("dangling"), "{err}");
    }
}
