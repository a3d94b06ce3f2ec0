//! Encryption at rest for credentials (and, later, task secrets): AES-256-GCM with a key
//! derived from the secret seed by HKDF-SHA256.
//!
//! A sealed value is `version (1 byte) || nonce (12 bytes) || ciphertext || tag`. The
//! nonce is fresh and random on every write. The caller binds a label that names the
//! row (e.g. `credential:42`) as associated data, so a ciphertext copied to another row
//! fails to open instead of decrypting as the wrong thing.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::secret_seed::SecretSeed;

const VERSION: u8 = 1;
const NONCE_BYTES: usize = 12;

/// A ciphertext that does not open: wrong seed, tampering, or moved to another row.
#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
#[error("cannot decrypt: the secret seed differs from the one this was saved with, or the stored data was altered")]
pub struct CannotDecrypt;

/// Seals and opens values for one purpose; the purpose is part of key derivation, so
/// keys for different purposes are independent.
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl SecretBox {
    pub fn new(seed: &SecretSeed, purpose: &str) -> Self {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"cloudsync secret seed v1"), seed.bytes());
        let mut key = [0u8; 32];
        hk.expand(purpose.as_bytes(), &mut key).expect("32 bytes is a valid HKDF-SHA256 length");
        SecretBox { cipher: Aes256Gcm::new_from_slice(&key).expect("32-byte key") }
    }

    pub fn seal(&self, label: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: label.as_bytes() })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, label: &str, sealed: &[u8]) -> Result<Vec<u8>, CannotDecrypt> {
        if sealed.len() < 1 + NONCE_BYTES + 16 || sealed[0] != VERSION {
            return Err(CannotDecrypt);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_BYTES);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: label.as_bytes() })
            .map_err(|_| CannotDecrypt)
    }
}

/// The purpose credentials are sealed under (see `SecretBox::new`).
pub const CREDENTIALS_PURPOSE: &str = "credentials";

/// Opens `sealed` (made for `from_label`) with the first of `from` that can, and seals
/// it again with `to` for `to_label`; `None` when none of them opens it. Restoring a
/// backup moves secrets to new rows (and maybe a new seed) this way.
pub fn reseal(from: &[&SecretBox], from_label: &str, sealed: &[u8], to: &SecretBox, to_label: &str) -> Option<Vec<u8>> {
    let plain = from.iter().find_map(|b| b.open(from_label, sealed).ok())?;
    Some(to.seal(to_label, &plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(byte: u8) -> SecretSeed {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed");
        std::fs::write(&path, [byte; 32]).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        crate::secret_seed::load_or_create(&path).unwrap()
    }

    #[test]
    fn opens_what_it_sealed_and_nonces_differ() {
        let b = SecretBox::new(&seed(1), "credentials");
        let a1 = b.seal("credential:1", b"hunter2");
        let a2 = b.seal("credential:1", b"hunter2");
        assert_ne!(a1, a2, "a fresh nonce per write");
        assert!(!a1.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(b.open("credential:1", &a1).unwrap(), b"hunter2");
    }

    #[test]
    fn refuses_another_row_another_seed_another_purpose_and_tampering() {
        let b = SecretBox::new(&seed(1), "credentials");
        let sealed = b.seal("credential:1", b"hunter2");
        assert_eq!(b.open("credential:2", &sealed), Err(CannotDecrypt));
        assert_eq!(SecretBox::new(&seed(2), "credentials").open("credential:1", &sealed), Err(CannotDecrypt));
        assert_eq!(SecretBox::new(&seed(1), "tasks").open("credential:1", &sealed), Err(CannotDecrypt));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(b.open("credential:1", &flipped), Err(CannotDecrypt));
        assert_eq!(b.open("credential:1", &sealed[..10]), Err(CannotDecrypt));
    }
}
