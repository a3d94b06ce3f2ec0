//! The secret seed: 32 random bytes in a 0600 file from which the keys that encrypt
//! credentials at rest are derived. Without it the database's ciphertexts are useless,
//! which is the point: a database dump alone reveals nothing.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

pub const SEED_BYTES: usize = 32;

/// The loaded seed. Deliberately has no `Debug` that would print it.
pub struct SecretSeed([u8; SEED_BYTES]);

impl SecretSeed {
    /// A seed from given bytes (a backup's, or a test's).
    pub fn from_bytes(bytes: [u8; SEED_BYTES]) -> Self {
        SecretSeed(bytes)
    }

    pub fn bytes(&self) -> &[u8; SEED_BYTES] {
        &self.0
    }
}

impl std::fmt::Debug for SecretSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSeed(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("secret seed file {path}: cannot be read: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("secret seed file {path}: has {found} bytes, expected exactly {SEED_BYTES}")]
    WrongSize { path: PathBuf, found: usize },
    #[error("secret seed file {path}: permissions {mode:04o} are wider than 0600; run `chmod 600 {path}`")]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("secret seed file {path}: cannot be created: {source}")]
    Uncreatable { path: PathBuf, source: std::io::Error },
}

/// Reads the seed at `path`, or creates it with fresh random bytes and mode 0600 when
/// the file does not exist. An existing file that is unreadable, of the wrong size or
/// readable by others is refused: the server must not start with a seed it cannot
/// trust.
pub fn load_or_create(path: &Path) -> Result<SecretSeed, SeedError> {
    match fs::metadata(path) {
        Ok(meta) => load(path, meta.permissions().mode()),
        Err(e) if e.kind() == ErrorKind::NotFound => create(path),
        Err(source) => Err(SeedError::Unreadable { path: path.into(), source }),
    }
}

fn load(path: &Path, mode: u32) -> Result<SecretSeed, SeedError> {
    let mode = mode & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SeedError::TooOpen { path: path.into(), mode });
    }
    let mut buf = Vec::with_capacity(SEED_BYTES + 1);
    fs::File::open(path)
        .and_then(|f| f.take(SEED_BYTES as u64 + 1).read_to_end(&mut buf))
        .map_err(|source| SeedError::Unreadable { path: path.into(), source })?;
    let found = if buf.len() > SEED_BYTES {
        fs::metadata(path).map(|m| m.len() as usize).unwrap_or(buf.len())
    } else {
        buf.len()
    };
    let bytes: [u8; SEED_BYTES] = buf.try_into().map_err(|_| SeedError::WrongSize { path: path.into(), found })?;
    Ok(SecretSeed(bytes))
}

fn create(path: &Path) -> Result<SecretSeed, SeedError> {
    let fail = |source| SeedError::Uncreatable { path: path.into(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut bytes = [0u8; SEED_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(fail)?;
    file.write_all(&bytes).and_then(|_| file.sync_all()).map_err(fail)?;
    Ok(SecretSeed(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_0600_seed_and_reads_the_same_bytes_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret-seed");
        let first = load_or_create(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read(&path).unwrap().len(), SEED_BYTES);
        let second = load_or_create(&path).unwrap();
        assert_eq!(first.bytes(), second.bytes());
    }

    #[test]
    fn refuses_a_seed_readable_by_others_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret-seed");
        load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("0644") && err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn refuses_a_seed_of_the_wrong_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret-seed");
        fs::write(&path, b"short").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("has 5 bytes, expected exactly 32"), "{err}");
        fs::write(&path, [0u8; 40]).unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("has 40 bytes"), "{err}");
    }

    #[test]
    fn refuses_a_seed_that_is_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret-seed");
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("cannot be read"), "{err}");
    }

    #[test]
    fn debug_output_never_shows_the_bytes() {
        assert_eq!(format!("{:?}", SecretSeed([7; SEED_BYTES])), "SecretSeed(..)");
    }
}
