//! Building and running the server: `Application::build` prepares everything that must
//! be ready before the first connection (data directory, secret seed, database and
//! migrations, admin account, rclone check) and binds the listener; `run_until_stopped`
//! serves until the shutdown future resolves, then closes sockets, the pool and the
//! embedded cluster, in that order.

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{admin, sessions, LoginRateLimiter};
use crate::db::{self, Database};
use crate::http::{self, HttpState};
use crate::rpc::ApiState;
use crate::secret_seed;
use crate::Settings;

pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    db: Database,
    api: Arc<ApiState>,
    settings: Settings,
    /// Set when this start created the admin with a generated password: print it once.
    pub generated_admin_password: Option<String>,
}

impl Application {
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        raise_open_files_limit();
        let data_dir = std::path::absolute(&settings.data_dir).context("resolving the data directory")?;
        prepare_data_dir(&data_dir, settings.database_url.is_none())?;
        // A relative site folder would follow the working directory, which may be a
        // checkout someone else can write to.
        settings.site_dir = std::path::absolute(&settings.site_dir).context("resolving the site directory")?;
        if let Some(dir) = &settings.runtime_dir {
            crate::rclone::env::use_runtime_dir(dir)
                .with_context(|| format!("cannot prepare the runtime directory {}", dir.display()))?;
        }
        let secret_seed = secret_seed::load_or_create(&settings.secret_seed_path())?;

        let db = Database::open(settings.database_url.as_deref(), &data_dir).await?;
        let generated_admin_password = admin::ensure_admin(&db.pool, settings.admin_password.as_deref()).await?;
        let purged = sessions::purge_expired(&db.pool).await?;
        if purged > 0 {
            tracing::info!(purged, "removed expired sessions");
        }
        let postgres_version = db::postgres_version(&db.pool).await?;

        let rclone = crate::rclone::detect(&settings.rclone).await;
        match (&rclone.version, &rclone.problem) {
            (_, Some(problem)) => tracing::warn!(path = %rclone.path.display(), "{problem}"),
            (Some(v), None) => tracing::info!(path = %rclone.path.display(), version = %v, "found rclone"),
            (None, None) => {}
        }

        // The data directory (seed, database) is never a task's folder, whatever the roots.
        let allowed_roots =
            crate::tasks::AllowedRoots::new(settings.allowed_roots.clone()).denying(vec![data_dir.clone()]);
        let interrupted = crate::runner::records::interrupt_leftovers(&db.pool).await?;
        if interrupted > 0 {
            tracing::warn!(interrupted, "runs left queued or running by the previous process are now INTERRUPTED");
        }
        let secrets = Arc::new(crate::crypto::SecretBox::new(&secret_seed, crate::crypto::CREDENTIALS_PURPOSE));
        let adopted = crate::tasks::store::adopt_untagged(&db.pool, &secrets, &data_dir).await?;
        if adopted > 0 {
            tracing::info!(adopted, "tagged the settings of tasks saved before settings were tagged");
        }
        let providers = Arc::new(crate::providers::ProviderCatalog::new(settings.allow_local_options));
        let http = reqwest::Client::builder().user_agent(concat!("cloudsync/", env!("CARGO_PKG_VERSION"))).build()?;
        let public_url = settings.public_urls.first().map(|u| u.origin());
        let counters = crate::metrics::Counters::default();
        let notifier =
            crate::notify::Notifier::new(db.pool.clone(), secrets.clone(), http.clone(), public_url, counters.clone());
        let runner = crate::runner::Runner::new(
            db.pool.clone(),
            secrets.clone(),
            providers.clone(),
            rclone.path.clone(),
            settings.max_concurrent_runs,
        )
        .keep_runs(settings.keep_runs)
        .max_log_lines(settings.max_log_lines)
        .allowed_roots(allowed_roots.clone())
        .notifier(notifier.clone())
        .counters(counters.clone());
        let zone = crate::system_facts::timezone(settings.timezone.as_deref())?;
        let clock = settings.clock.clone().unwrap_or_else(|| Arc::new(crate::scheduler::SystemClock));
        let scheduler = crate::scheduler::Scheduler::new(db.pool.clone(), runner.clone(), zone.clone(), clock);
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let local_addr = listener.local_addr()?;
        // Known once bound: the port (0 in tests) is part of every default public URL.
        let public_urls = crate::public_urls::PublicUrls::new(&settings.public_urls, local_addr);
        tracing::info!(urls = ?public_urls.origins(), "answering for these addresses (--public-url)");
        let api = Arc::new(ApiState {
            pool: db.pool.clone(),
            login_limiter: LoginRateLimiter::default(),
            rclone,
            postgres_version,
            data_dir,
            zone,
            scheduler,
            secrets,
            providers,
            runner,
            secret_seed,
            oauth_logins: Default::default(),
            downloads: Default::default(),
            allowed_roots,
            sockets: Default::default(),
            public_urls: Arc::new(public_urls),
            allow_local_options: settings.allow_local_options,
            http,
            notifier,
            counters,
            metrics_public: settings.metrics_public,
        });
        Ok(Application { listener, local_addr, db, api, settings, generated_admin_password })
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.db.pool
    }

    /// Serves until `shutdown` resolves. Open WebSockets are told to close, then the
    /// database pool and the embedded cluster stop.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let state = HttpState {
            api: self.api.clone(),
            shutdown: stop_rx,
            public_urls: self.api.public_urls.clone(),
            proxies: Arc::new(crate::http::client_addr::TrustedProxies::new(self.settings.trusted_proxies.clone())),
            slots: Default::default(),
        };
        let router = http::router(state, &self.settings.site_dir);
        let http = axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: closing connections");
                let _ = stop_tx.send(true);
            });
        // The API, the runner and the scheduler run side by side; the last two only end
        // with the process.
        let served = tokio::select! {
            served = http => served,
            () = self.api.runner.clone().run_forever() => {
                tracing::error!("the runner stopped unexpectedly");
                Ok(())
            }
            () = self.api.scheduler.clone().run_forever() => {
                tracing::error!("the scheduler stopped unexpectedly");
                Ok(())
            }
        };
        match &served {
            Ok(()) => tracing::info!("HTTP server stopped"),
            Err(e) => tracing::error!(error = %e, "HTTP server failed"),
        }
        drop(self.api);
        self.db.close().await;
        tracing::info!("database closed");
        served.context("serving HTTP")
    }
}

/// The data directory holds the secret seed: nobody but its owner may list it (0700).
/// When cloudsync runs as root with the embedded cluster, the unprivileged postgres user
/// must walk through it to its own folder, so it is opened to traversal (0711), never to
/// listing.
fn prepare_data_dir(dir: &std::path::Path, embedded_db: bool) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    anyhow::ensure!(dir.is_dir(), "data directory {} is not a directory", dir.display());
    // SAFETY: geteuid has no preconditions.
    if embedded_db && unsafe { libc::geteuid() } == 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
            .with_context(|| format!("cannot set the mode of data directory {}", dir.display()))?;
    }
    Ok(())
}

/// Each socket, database connection, rclone pipe and script pipe is a descriptor; the
/// soft limit (often 1024) is raised to the hard one so sockets cannot starve backups.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("cannot raise the open-files limit");
            }
        }
    }
}
