//! The database: either the embedded cluster (`embedded`) or an external PostgreSQL
//! given by `--database-url`. Migrations in `migrations/` apply at every start.

pub mod embedded;

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

pub use embedded::EmbeddedPostgres;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Embedded(#[from] embedded::EmbeddedError),
    #[error("database URL is not valid: {0}")]
    BadUrl(sqlx::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The connection pool and, when embedded, the cluster behind it.
pub struct Database {
    pub pool: PgPool,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `url`, or starts the embedded cluster under `data_dir/postgres` when
    /// there is none, then applies migrations.
    pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Self, DbError> {
        let (options, embedded) = match url {
            Some(url) => (url.parse::<PgConnectOptions>().map_err(DbError::BadUrl)?, None),
            None => {
                let pg = EmbeddedPostgres::start(&data_dir.join("postgres")).await?;
                (pg.connect_options(), Some(pg))
            }
        };
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        sqlx::migrate!("../migrations").run(&pool).await?;
        Ok(Database { pool, embedded })
    }

    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// Closes the pool, then stops the embedded cluster if there is one.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(pg) = self.embedded {
            pg.stop().await;
        }
    }
}

/// `SHOW server_version`, for `system.info`.
pub async fn postgres_version(pool: &PgPool) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SHOW server_version").fetch_one(pool).await
}
