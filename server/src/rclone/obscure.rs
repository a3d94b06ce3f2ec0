//! rclone's "obscure" encoding for password options (`IsPassword`), done in-process so
//! a secret never has to pass through another command's argv. It is an encoding with a
//! published key, not encryption: it only keeps rclone's config format happy.

use aes::cipher::{KeyIvInit, StreamCipher};
use base64::Engine;
use rand::RngCore;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// rclone's fixed key (fs/config/obscure).
const KEY: [u8; 32] = [
    0x9c, 0x93, 0x5b, 0x48, 0x73, 0x0a, 0x55, 0x4d, 0x6b, 0xfd, 0x7c, 0x63, 0xc8, 0x86, 0xa9, 0x2b, 0xd3, 0x90, 0x19,
    0x8e, 0xb8, 0x12, 0x8a, 0xfb, 0xf4, 0xde, 0x16, 0x2b, 0x8b, 0x95, 0xf6, 0x38,
];

/// `rclone obscure` of `plain`: base64url(iv || AES-256-CTR(plain)).
pub fn obscure(plain: &str) -> String {
    let mut out = vec![0u8; 16 + plain.len()];
    rand::rngs::OsRng.fill_bytes(&mut out[..16]);
    let (iv, body) = out.split_at_mut(16);
    body.copy_from_slice(plain.as_bytes());
    Aes256Ctr::new(&KEY.into(), (&*iv).into()).apply_keystream(body);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
}

/// The inverse, for tests and for values that arrive already obscured.
pub fn reveal(obscured: &str) -> Option<String> {
    let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(obscured).ok()?;
    if raw.len() < 16 {
        return None;
    }
    let (iv, body) = raw.split_at_mut(16);
    Aes256Ctr::new(&KEY.into(), (&*iv).into()).apply_keystream(body);
    String::from_utf8(body.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reveals_what_it_obscured() {
        let o = obscure("p@ss wörd");
        assert_ne!(o, obscure("p@ss wörd"), "a random iv each time");
        assert_eq!(reveal(&o).as_deref(), Some("p@ss wörd"));
    }
}
