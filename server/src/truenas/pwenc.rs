//! TrueNAS's `pwenc`: secrets in its database are base64 of an 8-byte nonce and the
//! AES-256-CTR ciphertext of the UTF-8 text padded with `{` to a multiple of 32 bytes,
//! under the 32-byte `pwenc_secret`; the counter block is the nonce followed by a
//! 64-bit big-endian counter starting at 1 (PyCryptodome's `Counter.new(64,
//! prefix=nonce)`). `system_settings.stg_pwenc_check` decrypts to `Donuts!` under the
//! right secret.

use aes::cipher::{KeyIvInit, StreamCipher};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// What `stg_pwenc_check` holds under the right secret.
pub const CHECK: &str = "Donuts!";
pub const SECRET_BYTES: usize = 32;

type Ctr = ctr::Ctr64BE<aes::Aes256>;

pub struct PwencSecret([u8; SECRET_BYTES]);

impl PwencSecret {
    pub fn from_bytes(bytes: &[u8]) -> Result<PwencSecret, String> {
        <[u8; SECRET_BYTES]>::try_from(bytes)
            .map(PwencSecret)
            .map_err(|_| format!("pwenc_secret has {} bytes; TrueNAS writes {SECRET_BYTES}", bytes.len()))
    }

    /// The text `encrypted` holds; `None` when it is not such a value or not under this
    /// secret. An empty value is the empty text, as in TrueNAS.
    pub fn decrypt(&self, encrypted: &str) -> Option<String> {
        if encrypted.is_empty() {
            return Some(String::new());
        }
        let raw = B64.decode(encrypted.trim()).ok()?;
        if raw.len() < 8 {
            return None;
        }
        let (nonce, body) = raw.split_at(8);
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(nonce);
        iv[15] = 1;
        let mut plain = body.to_vec();
        Ctr::new(&self.0.into(), &iv.into()).apply_keystream(&mut plain);
        while plain.last() == Some(&b'{') {
            plain.pop();
        }
        String::from_utf8(plain).ok()
    }

    /// Whether this secret opens the database's check value.
    pub fn opens(&self, check: &str) -> bool {
        self.decrypt(check).as_deref() == Some(CHECK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counter block and padding, against a value computed independently with
    /// PyCryptodome exactly as TrueNAS's `pwenc.encrypt` does (secret 0x00..0x1f,
    /// nonce "noncenon"): `AES.new(secret, AES.MODE_CTR, counter=Counter.new(64,
    /// prefix=nonce))` over "Donuts!" padded with `{` to 32 bytes.
    #[test]
    fn decrypts_what_pwenc_encrypts() {
        let secret = PwencSecret::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap();
        let check = "bm9uY2Vub250NQivMlLuZS3Qy8aMWa9pcZ2f3t6FMXfNNak0xtZ2EA==";
        assert_eq!(secret.decrypt(check).as_deref(), Some("Donuts!"));
        assert!(secret.opens(check));
        let other = PwencSecret::from_bytes(&[7u8; 32]).unwrap();
        assert!(!other.opens(check));
        assert_eq!(secret.decrypt(""), Some(String::new()));
        assert_eq!(secret.decrypt("not base64!"), None);
        assert!(PwencSecret::from_bytes(&[0u8; 16]).is_err());
    }
}
