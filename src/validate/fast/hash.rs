//! The hashes of the fast kernel: ids and line contents to 64 bits (wyhash-style).

/// The seed of every id hash.
pub const SEED: u64 = 0x5eed;

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;

#[inline]
fn mum(a: u64, b: u64) -> u64 {
    let r = (a as u128).wrapping_mul(b as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

/// A fast 64-bit hash (wyhash-style) of a byte string, with a seed.
pub fn hash_bytes(seed: u64, b: &[u8]) -> u64 {
    let n = b.len();
    let r8 = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let r4 = |i: usize| u64::from(u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes")));
    let mut h = seed ^ P0 ^ (n as u64).wrapping_mul(P1);
    // The tail is read as overlapping words (the length is mixed in), never copied.
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            h = mum(r8(i) ^ P1, h ^ P2);
            i += 8;
        }
        h = mum(r8(n - 8) ^ P2, h ^ P0);
    } else if n >= 4 {
        h = mum((r4(0) << 32 | r4(n - 4)) ^ P2, h ^ P0);
    } else if n > 0 {
        let w = u64::from(b[0]) << 16 | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]);
        h = mum(w ^ P2, h ^ P0);
    }
    mum(h ^ P1, P2 ^ n as u64)
}

/// Hash of a record for the exact-duplicate-line count: its field bytes (joined by
/// commas) and where each field ends. The scanner computes the same hash as it reads a
/// line, block by block ([`LINE_START`], [`line_block`], [`line_end`]); this is the
/// definition, for records read otherwise.
pub fn hash_line(data: &[u8], ends: &[usize]) -> u64 {
    let n = data.len();
    let mut h = LINE_START;
    let mut i = 0;
    while i + 16 <= n {
        h = line_block(h, rd(data, i), rd(data, i + 8));
        i += 16;
    }
    let tail = if n.is_multiple_of(16) {
        None
    } else if n >= 16 {
        Some((rd(data, n - 16), rd(data, n - 8)))
    } else {
        let mut t = [0u8; 16];
        t[..n].copy_from_slice(data);
        Some((rd(&t, 0), rd(&t, 8)))
    };
    line_end(h, tail, n, ends)
}

#[inline(always)]
fn rd(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// The line hash before any byte.
pub const LINE_START: u64 = SEED ^ P0;

/// The line hash after 16 more bytes (`lo`, `hi`: little-endian halves), for every
/// whole block of 16 from the line's start.
#[inline(always)]
pub fn line_block(h: u64, lo: u64, hi: u64) -> u64 {
    mum(lo ^ P1, hi ^ h ^ P2)
}

/// The line hash of `n` bytes whose whole blocks gave `h`: `tail` is the last 16 bytes
/// when `n` is not a multiple of 16 (the last block overlapped, or, for `n` < 16, the
/// bytes padded with zeros), and `ends` where each field ends.
#[inline]
pub fn line_end(mut h: u64, tail: Option<(u64, u64)>, n: usize, ends: &[usize]) -> u64 {
    if let Some((lo, hi)) = tail {
        h = mum(lo ^ P2, hi ^ h ^ P0);
    }
    // Field ends are below 2^32 (records are at most `MAX_RECORD` bytes).
    let mut e = ends.chunks_exact(4);
    for q in &mut e {
        let a = q[0] as u64 | (q[1] as u64) << 32;
        let b = q[2] as u64 | (q[3] as u64) << 32;
        h = mum(a ^ P0, b ^ h ^ P1);
    }
    let r = e.remainder();
    if !r.is_empty() {
        let g = |i: usize| r.get(i).map_or(0, |&x| x as u64);
        h = mum((g(0) | g(1) << 32) ^ P1, g(2) ^ h ^ P2);
    }
    mum(h ^ P1 ^ (ends.len() as u64).rotate_left(40), P2 ^ n as u64)
}

/// Hash of an ASCII-lower-cased string (login ids are case-insensitive).
pub fn hash_lower(seed: u64, s: &str) -> u64 {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        hash_bytes(seed, s.to_ascii_lowercase().as_bytes())
    } else {
        hash_bytes(seed, s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_differs() {
        let a = hash_bytes(SEED, b"user_1");
        assert_ne!(a, hash_bytes(SEED, b"user_2"));
        assert_ne!(hash_bytes(SEED, b""), hash_bytes(SEED, b"\0"));
        assert_eq!(hash_lower(SEED, "ABC"), hash_bytes(SEED, b"abc"));
        let mut s = std::collections::HashSet::new();
        for i in 0..100_000u32 {
            assert!(s.insert(hash_bytes(SEED, format!("u{i}").as_bytes())));
        }
    }
}
