//! Cross-file state: compact id sets (64-bit hashes), references, duplicates.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::kinds::{NS_COUNT, Ns};

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
    let mut h = seed ^ P0 ^ (b.len() as u64).wrapping_mul(P1);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = mum(w ^ P1, h ^ P2);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut t = [0u8; 8];
        t[..rest.len()].copy_from_slice(rest);
        h = mum(u64::from_le_bytes(t) ^ P2, h ^ P0);
    }
    mum(h ^ P1, P2 ^ b.len() as u64)
}

/// Hash of an ASCII-lower-cased string (login ids are case-insensitive).
pub fn hash_lower(seed: u64, s: &str) -> u64 {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        hash_bytes(seed, s.to_ascii_lowercase().as_bytes())
    } else {
        hash_bytes(seed, s.as_bytes())
    }
}

/// Pass-through hasher for keys that are already hashes.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(self.0, bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// A location packed in 64 bits: file index (24 bits) and line (40 bits).
pub fn loc(file: usize, line: u64) -> u64 {
    ((file as u64) << 40) | (line & 0xff_ffff_ffff)
}
pub fn loc_file(l: u64) -> usize {
    (l >> 40) as usize
}
pub fn loc_line(l: u64) -> u64 {
    l & 0xff_ffff_ffff
}

#[derive(Clone, Copy)]
pub struct Def {
    pub loc: u64,
    /// Hash of the owning id (for unique columns such as `login_id`).
    pub owner: u64,
}

pub struct RefEntry {
    pub loc: u64,
    pub count: u32,
    pub text_off: u32,
    pub text_len: u32,
    pub kind: u8,
    pub col: u8,
}

#[derive(Default)]
pub struct Bundle {
    /// Display names of files, indexed by `loc_file`.
    pub files: Vec<String>,
    pub defs: [IdMap<Def>; NS_COUNT],
    /// How many files define ids of each namespace.
    pub definers: [u32; NS_COUNT],
    pub refs: [IdMap<RefEntry>; NS_COUNT],
    pub ref_text: String,
}

pub const SEED: u64 = 0x5eed;

impl Bundle {
    pub fn add_file(&mut self, name: &str) -> usize {
        self.files.push(name.to_string());
        self.files.len() - 1
    }

    /// Record a definition; returns the earlier one if this id was already defined.
    pub fn define(&mut self, ns: Ns, key: u64, at: u64, owner: u64) -> Option<Def> {
        use std::collections::hash_map::Entry;
        match self.defs[ns as usize].entry(key) {
            Entry::Occupied(o) => Some(*o.get()),
            Entry::Vacant(v) => {
                v.insert(Def { loc: at, owner });
                None
            }
        }
    }

    pub fn reference(&mut self, ns: Ns, id: &str, at: u64, kind: u8, col: u8) {
        let key = hash_bytes(SEED, id.as_bytes());
        let e = self.refs[ns as usize].entry(key).or_insert_with(|| {
            let off = self.ref_text.len();
            let keep = off < u32::MAX as usize / 2 && id.len() <= 256;
            if keep {
                self.ref_text.push_str(id);
            }
            RefEntry {
                loc: at,
                count: 0,
                text_off: off as u32,
                text_len: if keep { id.len() as u32 } else { 0 },
                kind,
                col,
            }
        });
        e.count = e.count.saturating_add(1);
    }

    pub fn where_(&self, l: u64) -> String {
        format!(
            "{}:{}",
            self.files
                .get(loc_file(l))
                .map(String::as_str)
                .unwrap_or("?"),
            loc_line(l)
        )
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
