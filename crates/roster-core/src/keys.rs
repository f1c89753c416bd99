//! API key secrets: generated from the OS random source, shown once, stored
//! only as a SHA-256 digest. A 256-bit random key needs no slow hash: there
//! is nothing to brute-force.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every Roster key starts with this, so leaked keys are easy to grep for.
pub const KEY_PREFIX: &str = "rst_";

/// A new secret: `rst_` followed by 43 URL-safe characters (256 bits).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The digest under which a secret is stored and looked up.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The part of a secret that may be shown again (in listings and logs).
pub fn visible_prefix(secret: &str) -> String {
    secret.chars().take(KEY_PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_digests_stable() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(digest(&a), digest(&a));
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(visible_prefix(&a).len(), 10);
    }
}
