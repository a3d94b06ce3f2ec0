//! The `cloudsync` client commands: the JSON-RPC API over WebSocket, as the web app
//! uses it, for terminals and scripts. `client.rs` is the connection, `profile.rs` the
//! stored login, `commands.rs` one function per command, `follow.rs` the live log,
//! `table.rs` the human-readable output (`--json` prints the raw results instead).
//!
//! Exit status: 0 success; 1 a followed run did not succeed; 2 usage error (bad flags or
//! input file); 3 cannot reach the server or lost it; 4 not logged in, token refused or
//! wrong password; 5 the server refused the request (its message and field errors are
//! printed); 130 interrupted (Ctrl-C while following; the run goes on).

pub mod client;
mod commands;
pub mod follow;
mod notify;
pub mod profile;
pub mod table;

use std::path::PathBuf;

use protocol::RpcError;

pub use commands::run;

pub mod exit {
    pub const RUN_FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CONNECTION: u8 = 3;
    pub const AUTH: u8 = 4;
    pub const SERVER: u8 = 5;
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Connection(String),
    Auth(String),
    Server(RpcError),
    RunFailed(String),
    Interrupted,
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Connection(_) => exit::CONNECTION,
            CliError::Auth(_) => exit::AUTH,
            CliError::Server(_) => exit::SERVER,
            CliError::RunFailed(_) => exit::RUN_FAILED,
            CliError::Interrupted => exit::INTERRUPTED,
        }
    }

    /// What to print on stderr: one line, then one line per field error.
    pub fn report(&self) -> String {
        match self {
            CliError::Usage(m) | CliError::Connection(m) | CliError::Auth(m) | CliError::RunFailed(m) => {
                format!("cloudsync: error: {m}")
            }
            CliError::Server(e) => {
                let mut out = format!("cloudsync: error: {}", e.message);
                for f in e.field_errors() {
                    out += &format!("\n  {}: {}", f.field, f.message);
                }
                out
            }
            CliError::Interrupted => "cloudsync: stopped following (the run goes on)".into(),
        }
    }
}

/// Options every client command takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Global {
    /// The server, e.g. http://nas:8080 [default: the one `cloudsync login` stored].
    #[arg(long, env = "CLOUDSYNC_URL", global = true, hide_env_values = true)]
    pub url: Option<String>,
    /// An API token (or session token) [default: the one `cloudsync login` stored].
    /// Prefer CLOUDSYNC_TOKEN: other users can read a process's arguments.
    #[arg(long, env = "CLOUDSYNC_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print the raw JSON result instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Where to connect and how to authenticate.
pub struct Session {
    pub url: String,
    token: Option<String>,
}

impl Session {
    pub fn resolve(global: &Global) -> Result<Session, CliError> {
        let stored = profile::load()?;
        let url = global.url.clone().or_else(|| stored.as_ref().map(|p| p.url.clone())).ok_or_else(|| {
            CliError::Usage("which server? run `cloudsync login --url http://host:8080` or pass --url".into())
        })?;
        // The stored token belongs to the stored server only.
        let token = global
            .token
            .clone()
            .or_else(|| stored.filter(|p| p.url.trim_end_matches('/') == url.trim_end_matches('/')).map(|p| p.token));
        Ok(Session { url, token })
    }

    /// A connection authenticated with the token.
    pub async fn connect(&self) -> Result<client::Client, CliError> {
        let token = self.token.clone().ok_or_else(|| {
            CliError::Auth(format!("not logged in to {}: run `cloudsync login` or pass --token", self.url))
        })?;
        let mut c = client::Client::connect(&self.url).await?;
        match c.call::<protocol::auth::Resume>(protocol::auth::ResumeParams { token }).await {
            Ok(_) => Ok(c),
            Err(CliError::Auth(_)) | Err(CliError::Server(_)) => Err(CliError::Auth(format!(
                "{} refused the token (expired, revoked or logged out): run `cloudsync login` again",
                self.url
            ))),
            Err(e) => Err(e),
        }
    }
}

/// The client commands (`serve` is the server; see `main.rs`).
#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Log in to a server and remember it (the token is stored with mode 0600).
    Login {
        #[arg(long, default_value = "admin")]
        username: String,
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End the stored session and forget it.
    Logout,
    /// The cloud backends the server's rclone offers, and their options.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Cloud credentials.
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// Cloud sync tasks.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Runs of tasks and their logs.
    #[command(subcommand)]
    Run(RunCommand),
    /// Schedules.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Configuration backup.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The server.
    #[command(subcommand)]
    System(SystemCommand),
    /// API tokens for scripts.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Notification targets (webhook, ntfy, e-mail, healthchecks), their deliveries and the default.
    #[command(subcommand)]
    Notify(NotifyCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum NotifyCommand {
    /// Every target, secrets masked.
    List,
    /// Add a target from a JSON document: {"name", "kind", "settings": {…}}.
    Add {
        #[command(flatten)]
        from: FromFile,
    },
    /// Replace a target's settings from a JSON document (masks keep stored secrets).
    Update {
        id: i64,
        #[command(flatten)]
        from: FromFile,
    },
    /// Delete a target.
    Delete { id: i64 },
    /// Send a sample message now.
    Test { id: i64 },
    /// Delivery attempts, newest first.
    Deliveries {
        /// Only this target's.
        #[arg(long)]
        target: Option<i64>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Show the server-wide default for tasks that list no targets, or set it with
    /// `--targets` and/or `--on`.
    Default {
        /// Target ids, comma separated (an empty value clears them).
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        targets: Option<Vec<i64>>,
        /// When to tell them: failure, always or never.
        #[arg(long, value_parser = ["failure", "always", "never"])]
        on: Option<String>,
    },
}

/// A JSON object from a file, or from standard input with `-`.
#[derive(clap::Args, Debug, Default)]
pub struct FromFile {
    /// Read the settings (a JSON object) from FILE, or from standard input with `-`;
    /// flags override its members.
    #[arg(long = "from", value_name = "FILE|-")]
    pub from: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum ProviderCommand {
    /// Every backend.
    List,
    /// One backend's options (the `--attr` keys of `credential create`).
    Show {
        name: String,
        /// Include advanced options.
        #[arg(long)]
        all: bool,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum CredentialCommand {
    /// Every credential.
    List,
    /// One credential, secrets masked.
    Show { id: i64 },
    /// Create a credential (checked against the provider's schema).
    Create {
        #[command(flatten)]
        from: FromFile,
        /// A name to recognise it by.
        #[arg(long)]
        name: Option<String>,
        /// The rclone backend, e.g. s3, sftp, webdav.
        #[arg(long)]
        provider: Option<String>,
        /// An rclone option; repeat for more. A file's contents, such as an SFTP key, go
        /// as they are: --attr key_pem="$(cat ~/.ssh/id_ed25519)".
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attrs: Vec<String>,
    },
    /// Rename a credential or change its settings (secrets left out keep their value).
    Update {
        id: i64,
        #[command(flatten)]
        from: FromFile,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attrs: Vec<String>,
    },
    /// Delete a credential no task uses.
    Delete { id: i64 },
    /// Check the saved settings by listing the remote.
    Verify { id: i64 },
    /// List the folders (buckets at the root) under a path of the remote.
    Browse {
        id: i64,
        #[arg(default_value = "")]
        path: String,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum TaskCommand {
    /// Every task with its last and next run.
    List,
    /// One task.
    Show { id: i64 },
    /// Create a task.
    Create {
        #[command(flatten)]
        from: FromFile,
        #[command(flatten)]
        fields: TaskFields,
    },
    /// Change a task: its current settings, then --from, then the flags.
    Update {
        id: i64,
        #[command(flatten)]
        from: FromFile,
        #[command(flatten)]
        fields: TaskFields,
    },
    /// Delete a task (a running run is stopped first).
    Delete { id: i64 },
    /// Start a run now.
    Run {
        id: i64,
        /// Show what would be transferred and deleted, changing nothing.
        #[arg(long)]
        dry_run: bool,
        /// Go ahead this once even if the sync would delete more than the task's
        /// max_delete_percent of the destination's files.
        #[arg(long)]
        allow_deletes: bool,
        /// Print the log live until the run ends; the exit status is the run's.
        #[arg(long)]
        follow: bool,
    },
    /// Stop the task's running run or remove its queued one.
    Abort { id: i64 },
    /// What a run would do now (a dry run): files to copy, update and delete.
    Plan { id: i64 },
    /// Create the reverse task (disabled) that brings the remote files back.
    Restore {
        id: i64,
        /// The local folder to restore into.
        #[arg(long)]
        path: String,
        #[arg(long, default_value = "COPY", value_parser = ["COPY", "SYNC", "MOVE"])]
        mode: String,
    },
}

/// Task settings as flags.
#[derive(clap::Args, Debug, Default)]
pub struct TaskFields {
    /// What the task is, as the lists show it.
    #[arg(long)]
    pub description: Option<String>,
    /// The credential's id.
    #[arg(long)]
    pub credential: Option<i64>,
    /// PUSH: local to cloud; PULL: cloud to local.
    #[arg(long, value_parser = ["PUSH", "PULL"])]
    pub direction: Option<String>,
    /// SYNC mirrors (deletes extra files), COPY adds and updates, MOVE deletes the source.
    #[arg(long, value_parser = ["SYNC", "COPY", "MOVE"])]
    pub mode: Option<String>,
    /// The local folder.
    #[arg(long)]
    pub path: Option<String>,
    /// The bucket or container (S3, B2, Azure, GCS, Swift…).
    #[arg(long)]
    pub bucket: Option<String>,
    /// The folder on the remote (inside the bucket).
    #[arg(long)]
    pub folder: Option<String>,
    /// Five cron fields, e.g. "0 3 * * mon"; "none" for manual runs only.
    #[arg(long)]
    pub schedule: Option<String>,
    /// Let the scheduler start it.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Manual runs only until enabled again.
    #[arg(long)]
    pub disable: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum RunCommand {
    /// Runs, newest first.
    List {
        /// Only this task's runs.
        #[arg(long)]
        task: Option<i64>,
        /// Only runs in this state.
        #[arg(long, value_parser = ["QUEUED", "RUNNING", "SUCCESS", "FAILED", "ABORTED", "INTERRUPTED"], ignore_case = true)]
        state: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One run.
    Show { id: i64 },
    /// A run's log, printed page by page as it is read (a long log never fills memory).
    Logs {
        id: i64,
        /// Keep printing new lines until the run ends.
        #[arg(long, conflicts_with = "query")]
        follow: bool,
        /// Only the lines containing this text (ignoring case), searched on the server.
        #[arg(long)]
        query: Option<String>,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum ScheduleCommand {
    /// The next start times of a schedule, in the server's time zone.
    Preview {
        /// Five cron fields: minute hour day-of-month month day-of-week.
        cron: String,
        #[arg(long, default_value = "00:00")]
        begin: String,
        #[arg(long, default_value = "23:59")]
        end: String,
        #[arg(long)]
        count: Option<u32>,
        /// RFC 3339; the starts listed come after it [default: now].
        #[arg(long)]
        from: Option<String>,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Write a backup (JSON) to standard output or --output.
    Export {
        /// Include the secret seed: the file then opens every credential in it. Asks
        /// for your current password.
        #[arg(long)]
        include_secret_seed: bool,
        /// Write to this file (a new 0600 file, renamed into place).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Read the current password from standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Restore a backup; name clashes are reported, never overwritten.
    Import { file: PathBuf },
    /// Bring TrueNAS's cloud sync credentials and tasks over (tasks come in disabled).
    ImportTruenas {
        /// A TrueNAS configuration backup: the .tar of Save Config, or freenas-v1.db.
        #[arg(long, conflicts_with_all = ["credentials", "tasks"], required_unless_present_any = ["credentials", "tasks"])]
        config: Option<PathBuf>,
        /// What `midclt call cloudsync.credentials.query` printed, saved to a file.
        #[arg(long)]
        credentials: Option<PathBuf>,
        /// What `midclt call cloudsync.query` printed, saved to a file.
        #[arg(long)]
        tasks: Option<PathBuf>,
        /// TrueNAS path to this machine's, as FROM=TO (repeatable), e.g. /mnt/tank=/srv/tank.
        #[arg(long = "map", value_name = "FROM=TO")]
        path_map: Vec<String>,
        /// Report what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum SystemCommand {
    /// Versions, paths and the time zone of the server.
    Info,
}

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token; it is printed once.
    Create {
        name: String,
        /// RFC 3339 [default: never expires].
        #[arg(long)]
        expires_at: Option<String>,
        /// Read your current password (asked to confirm) from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Your API tokens (without secrets).
    List,
    /// Revoke an API token.
    Revoke { id: i64 },
}
