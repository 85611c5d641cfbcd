//! Keys as text: base64url without padding (RFC 4648 §5) for what programs carry, and
//! lower-case base32 (RFC 4648 §6, no padding) for what people may read aloud or type.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `bytes` as base64url, unpadded.
pub fn base64url(bytes: &[u8]) -> String {
    encode(bytes, B64, 6)
}

/// Bytes of base64url text (unpadded), or `None` if it is not.
pub fn from_base64url(text: &str) -> Option<Vec<u8>> {
    decode(text, B64, 6)
}

/// `bytes` as lower-case base32, unpadded.
pub fn base32(bytes: &[u8]) -> String {
    encode(bytes, B32, 5)
}

/// Bytes of base32 text, ignoring case, dashes and white space; `None` if it is not base32.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    decode(&clean, B32, 5)
}

fn encode(bytes: &[u8], alphabet: &[u8], bits: u32) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / bits as usize + 1);
    let (mut acc, mut n) = (0u32, 0u32);
    let mask = (1u32 << bits) - 1;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        n += 8;
        while n >= bits {
            n -= bits;
            out.push(char::from(alphabet[((acc >> n) & mask) as usize]));
        }
        acc &= (1 << n) - 1;
    }
    if n > 0 {
        out.push(char::from(alphabet[((acc << (bits - n)) & mask) as usize]));
    }
    out
}

fn decode(text: &str, alphabet: &[u8], bits: u32) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * bits as usize / 8);
    let (mut acc, mut n) = (0u32, 0u32);
    for c in text.bytes() {
        let v = alphabet.iter().position(|&a| a == c)? as u32;
        acc = (acc << bits) | v;
        n += bits;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
        }
        acc &= (1 << n) - 1;
    }
    // Leftover bits must be zero and fewer than a symbol: anything else is not canonical.
    (n < bits && acc == 0).then_some(out)
}
