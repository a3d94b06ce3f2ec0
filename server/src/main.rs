//! The `cloudsync` binary: parses the command line and hands over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use cloudsync::cli::{ClientCommand, Global};
use cloudsync::{Application, Settings};

#[derive(Parser)]
#[command(
    name = "cloudsync",
    version,
    about = "Encrypted cloud credentials and scheduled rclone sync tasks",
    after_help = "Exit status: 0 success; 1 a followed run did not succeed; 2 usage error; \
                  3 cannot reach the server; 4 not logged in, token refused or wrong password; \
                  5 the server refused the request; 130 interrupted."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: web app, JSON-RPC API, runner and scheduler.
    Serve(ServeArgs),
    #[command(flatten)]
    Client(ClientCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CLOUDSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Folder for the secret seed and the embedded database
    /// [default: /var/lib/cloudsync as root, else ~/.local/share/cloudsync].
    #[arg(long, env = "CLOUDSYNC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL; without it cloudsync runs its own cluster in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The rclone binary.
    #[arg(long, env = "CLOUDSYNC_RCLONE", default_value = "rclone")]
    rclone: PathBuf,
    /// The secret seed file [default: <data-dir>/secret-seed].
    #[arg(long, env = "CLOUDSYNC_SECRET_SEED_FILE")]
    secret_seed_file: Option<PathBuf>,
    /// The built web app.
    #[arg(long, env = "CLOUDSYNC_SITE_DIR", default_value = "target/site")]
    site_dir: PathBuf,
    /// IANA time zone for schedules [default: the system's].
    #[arg(long, env = "CLOUDSYNC_TIMEZONE")]
    timezone: Option<String>,
    /// A folder tasks' local paths must lie under; repeat for more
    /// [default: anything but / itself].
    #[arg(long = "allowed-root", env = "CLOUDSYNC_ALLOWED_ROOTS", value_delimiter = ':')]
    allowed_roots: Vec<PathBuf>,
    /// How many sync runs may run at the same time; others wait in order.
    #[arg(long, env = "CLOUDSYNC_MAX_CONCURRENT_RUNS", default_value_t = 1)]
    max_concurrent_runs: usize,
    /// How many finished runs, with their logs, to keep per task.
    #[arg(long, env = "CLOUDSYNC_KEEP_RUNS", default_value_t = 50)]
    keep_runs: usize,
    /// An address browsers reach the server at, e.g. https://nas.example; repeat for
    /// more. Requests for any other host name get 421
    /// [default: the listen address, localhost, 127.0.0.1 and [::1] with its port].
    #[arg(long = "public-url", env = "CLOUDSYNC_PUBLIC_URLS", value_delimiter = ',', value_parser = parse_public_url)]
    public_urls: Vec<cloudsync::public_urls::PublicUrl>,
    /// A reverse proxy (address or CIDR range) whose X-Forwarded-For / Forwarded header
    /// names the client; repeat for more.
    #[arg(long = "trusted-proxy", env = "CLOUDSYNC_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_cidr)]
    trusted_proxies: Vec<cloudsync::http::client_addr::Cidr>,
    /// Allow rclone options that run local commands, dial local sockets or read local
    /// files (sftp ssh and key_file, *_command, service_account_file, …). They run as
    /// the server's user.
    #[arg(long, env = "CLOUDSYNC_ALLOW_LOCAL_OPTIONS")]
    allow_local_options: bool,
    /// Serve GET /metrics (Prometheus) without a token; by default it needs
    /// `Authorization: Bearer <API token>`.
    #[arg(long, env = "CLOUDSYNC_METRICS_PUBLIC")]
    metrics_public: bool,
    /// The most lines one run's log keeps; further lines are dropped after a note.
    #[arg(long, env = "CLOUDSYNC_MAX_LOG_LINES", default_value_t = cloudsync::config::DEFAULT_MAX_LOG_LINES)]
    max_log_lines: u64,
    /// A private folder for rclone config files while commands run
    /// [default: /run/cloudsync as root, else $XDG_RUNTIME_DIR/cloudsync or <data-dir>/run].
    #[arg(long, env = "CLOUDSYNC_RUNTIME_DIR")]
    runtime_dir: Option<PathBuf>,
}

fn parse_public_url(s: &str) -> Result<cloudsync::public_urls::PublicUrl, String> {
    cloudsync::public_urls::PublicUrl::parse(s)
}

fn parse_cidr(s: &str) -> Result<cloudsync::http::client_addr::Cidr, String> {
    cloudsync::http::client_addr::Cidr::parse(s)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("starting the tokio runtime");
    match cli.command {
        Command::Serve(args) => match runtime.block_on(serve(args)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                // One readable line with its causes, not a backtrace.
                eprintln!("cloudsync: error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        },
        Command::Client(command) => match runtime.block_on(cloudsync::cli::run(command, cli.global)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}", e.report());
                std::process::ExitCode::from(e.exit_code())
            }
        },
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "cloudsync", &mut std::io::stdout());
            std::process::ExitCode::SUCCESS
        }
    }
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLOUDSYNC_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let data_dir = args.data_dir.unwrap_or_else(cloudsync::config::default_data_dir);
    let admin_password = std::env::var("CLOUDSYNC_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    // Read once; no child (PostgreSQL, rclone, scripts) inherits it.
    std::env::remove_var("CLOUDSYNC_ADMIN_PASSWORD");
    let settings = Settings {
        listen: args.listen,
        runtime_dir: Some(args.runtime_dir.unwrap_or_else(|| cloudsync::config::default_runtime_dir(&data_dir))),
        data_dir,
        database_url: args.database_url.filter(|u| !u.is_empty()),
        rclone: args.rclone,
        secret_seed_file: args.secret_seed_file,
        site_dir: args.site_dir,
        admin_password,
        timezone: args.timezone,
        allowed_roots: args.allowed_roots,
        max_concurrent_runs: args.max_concurrent_runs,
        keep_runs: args.keep_runs,
        clock: None,
        public_urls: args.public_urls,
        trusted_proxies: args.trusted_proxies,
        allow_local_options: args.allow_local_options,
        metrics_public: args.metrics_public,
        max_log_lines: args.max_log_lines,
    };
    let app = Application::build(settings).await?;
    // Caught from before the address is printed: whoever starts the server (a service
    // manager, a test) may stop it as soon as it has read that line.
    let stop = shutdown_signal()?;
    println!("cloudsync listening on http://{}", app.local_addr());
    if let Some(password) = &app.generated_admin_password {
        println!("first start: log in as `admin` with password: {password}");
        println!("(shown only this once; change it on the System page)");
    }
    app.run_until_stopped(stop).await
}

/// SIGINT or SIGTERM, caught from the moment this returns.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("received SIGINT"),
            _ = term.recv() => tracing::info!("received SIGTERM"),
        }
    })
}
