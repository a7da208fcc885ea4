//! Short digests in lowercase hex: the leading bytes of a SHA-256, for zone and rule set versions,
//! strong entity tags, proposal ids and audit lines that must not hold what they identify.

use sha2::{Digest, Sha256};

/// `bytes` in lowercase hex, two digits a byte.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The first `n` bytes (at most 32) of the SHA-256 of `data`, in hex.
#[must_use]
pub fn sha256_hex(data: &[u8], n: usize) -> String {
    let digest = Sha256::digest(data);
    hex(&digest[..n.min(digest.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn sha256_hex_is_the_digest_prefix() {
        // SHA-256("abc") = ba7816bf 8f01cfea ... (FIPS 180-2, appendix B.1).
        assert_eq!(sha256_hex(b"abc", 8), "ba7816bf8f01cfea");
        assert_eq!(sha256_hex(b"abc", 99).len(), 64);
    }
}
