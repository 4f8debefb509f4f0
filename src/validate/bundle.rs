//! Cross-file state: compact id sets (64-bit hashes), references, duplicates.

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

/// Hash of a record for the exact-duplicate-line count: its field bytes and where
/// each field ends (16 bytes and four field ends per multiplication).
#[inline]
pub fn hash_line(data: &[u8], ends: &[usize]) -> u64 {
    #[inline]
    fn rd(b: &[u8], i: usize) -> u64 {
        u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
    }
    let n = data.len();
    let mut h = SEED ^ P0 ^ (n as u64).wrapping_mul(P1) ^ (ends.len() as u64).rotate_left(40);
    if n >= 16 {
        let mut i = 0;
        while i + 16 < n {
            h = mum(rd(data, i) ^ P1, rd(data, i + 8) ^ h ^ P2);
            i += 16;
        }
        // The last 16 bytes (overlapping the previous block; the length is mixed in).
        h = mum(rd(data, n - 16) ^ P2, rd(data, n - 8) ^ h ^ P0);
    } else if n > 0 {
        let mut t = [0u8; 16];
        t[..n].copy_from_slice(data);
        h = mum(rd(&t, 0) ^ P2, rd(&t, 8) ^ h ^ P0);
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
    mum(h ^ P1, P2 ^ n as u64)
}

/// Hash of an ASCII-lower-cased string (login ids are case-insensitive).
pub fn hash_lower(seed: u64, s: &str) -> u64 {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        hash_bytes(seed, s.to_ascii_lowercase().as_bytes())
    } else {
        hash_bytes(seed, s.as_bytes())
    }
}

/// A flat open-addressing map from 64-bit hashes (already well mixed) to small values:
/// linear probing, the slot picked by the hash's top bits, load factor at most 7/8.
/// The key 0 marks an empty slot; a real key 0 is kept aside.
pub struct IdMap<V> {
    slots: Vec<(u64, V)>,
    /// `64 - log2(slots.len())`.
    shift: u32,
    len: usize,
    zero: Option<V>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            slots: Vec::new(),
            shift: 64,
            len: 0,
            zero: None,
        }
    }
}

impl<V: Copy + Default> IdMap<V> {
    const MIN_SLOTS: usize = 16;

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key >> self.shift) as usize
    }

    /// Number of keys.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len + usize::from(self.zero.is_some())
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hint that `key` is about to be looked up (pulls its slot into the cache).
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if self.slots.is_empty() {
            return;
        }
        let p: *const (u64, V) = &self.slots[self.home(key)];
        prefetch_ptr(p.cast());
    }

    #[inline]
    pub fn get(&self, key: u64) -> Option<&V> {
        if key == 0 {
            return self.zero.as_ref();
        }
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let s = &self.slots[i];
            if s.0 == key {
                return Some(&s.1);
            }
            if s.0 == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    #[cfg(test)]
    pub fn contains_key(&self, key: u64) -> bool {
        self.get(key).is_some()
    }

    /// The value for `key`, inserting `make()` first if absent; the flag says whether
    /// it was inserted.
    #[inline]
    pub fn get_or_insert_with(&mut self, key: u64, make: impl FnOnce() -> V) -> (&mut V, bool) {
        if key == 0 {
            let new = self.zero.is_none();
            return (self.zero.get_or_insert_with(make), new);
        }
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].0;
            if k == key {
                return (&mut self.slots[i].1, false);
            }
            if k == 0 {
                self.slots[i] = (key, make());
                self.len += 1;
                return (&mut self.slots[i].1, true);
            }
            i = (i + 1) & mask;
        }
    }

    #[cold]
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(Self::MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![(0, V::default()); n]);
        self.shift = 64 - n.trailing_zeros();
        let mask = n - 1;
        for (k, v) in old {
            if k == 0 {
                continue;
            }
            let mut i = self.home(k);
            while self.slots[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = (k, v);
        }
    }

    /// Every (key, value), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.zero
            .iter()
            .map(|v| (0, v))
            .chain(self.slots.iter().filter(|s| s.0 != 0).map(|(k, v)| (*k, v)))
    }
}

#[inline]
fn prefetch_ptr(p: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

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

#[derive(Clone, Copy, Default)]
pub struct Def {
    pub loc: u64,
    /// Hash of the owning id (for unique columns such as `login_id`), or, for values
    /// defined with [`Bundle::define_owned`], where its text is (see [`OWNER_TEXT`]).
    pub owner: u64,
}

/// `Def::owner` of a value defined with [`Bundle::define_owned`]: this bit set, the
/// owner's text at `(owner & !OWNER_TEXT) >> 9` in `Bundle::owner_text`, `owner & 0x1ff`
/// bytes long. An owner too long to keep (over 256 bytes) is kept as its hash, with
/// this bit clear.
pub const OWNER_TEXT: u64 = 1 << 63;
const OWNER_TEXT_MAX: usize = 256;

/// Per referenced id: how many rows reference it, and where its first reference is
/// (an index into `Bundle::ref_info`).
#[derive(Clone, Copy, Default)]
pub struct RefCount {
    pub count: u32,
    pub info: u32,
}

/// The first reference to an id.
pub struct RefEntry {
    pub loc: u64,
    pub text_off: u32,
    pub text_len: u32,
    /// The line minus Canvas's row (blank lines, multi-line fields); fits the padding.
    pub back: u32,
    pub kind: u8,
    pub col: u8,
}

impl RefEntry {
    /// Canvas's row number of the reference.
    pub fn row(&self) -> u64 {
        loc_line(self.loc).saturating_sub(u64::from(self.back))
    }
}

/// A reference not yet counted (see `Bundle::reference`).
struct Pending {
    key: u64,
    loc: u64,
    text_off: u32,
    text_len: u32,
    back: u32,
    /// The id is short enough to keep (its text is in `pending_text`).
    keep: bool,
    ns: u8,
    kind: u8,
    col: u8,
}

/// References are counted in batches of this many: their slots are prefetched
/// together, so the cache misses overlap instead of stalling one by one.
const BATCH: usize = 64;

#[derive(Default)]
pub struct Bundle {
    /// Display names of files, indexed by `loc_file`.
    pub files: Vec<String>,
    pub defs: [IdMap<Def>; NS_COUNT],
    /// How many files define ids of each namespace.
    pub definers: [u32; NS_COUNT],
    pub refs: [IdMap<RefCount>; NS_COUNT],
    pub ref_info: Vec<RefEntry>,
    pub ref_text: String,
    pending: Vec<Pending>,
    pending_text: String,
    /// The owners' ids of values defined with [`Bundle::define_owned`], for messages.
    pub owner_text: String,
}

pub const SEED: u64 = 0x5eed;

impl Bundle {
    pub fn add_file(&mut self, name: &str) -> usize {
        self.files.push(name.to_string());
        self.files.len() - 1
    }

    /// Record a definition; returns the earlier one if this id was already defined.
    pub fn define(&mut self, ns: Ns, key: u64, at: u64, owner: u64) -> Option<Def> {
        let (d, new) = self.defs[ns as usize].get_or_insert_with(key, || Def { loc: at, owner });
        if new { None } else { Some(*d) }
    }

    /// Like [`Bundle::define`], but the owner is the id's text, kept (when it is new)
    /// so that a later message can name it ([`Bundle::owner_of`]).
    pub fn define_owned(&mut self, ns: Ns, key: u64, at: u64, owner: &str) -> Option<Def> {
        let text = &mut self.owner_text;
        let (d, new) = self.defs[ns as usize].get_or_insert_with(key, || Def {
            loc: at,
            owner: if owner.len() <= OWNER_TEXT_MAX && text.len() < 1 << 40 {
                let off = text.len() as u64;
                text.push_str(owner);
                OWNER_TEXT | off << 9 | owner.len() as u64
            } else {
                hash_bytes(SEED, owner.as_bytes()) & !OWNER_TEXT
            },
        });
        if new { None } else { Some(*d) }
    }

    /// The owner's id of a value defined with [`Bundle::define_owned`] (`None` when it
    /// was too long to keep).
    pub fn owner_of(&self, d: &Def) -> Option<&str> {
        (d.owner & OWNER_TEXT != 0).then(|| {
            let off = ((d.owner & !OWNER_TEXT) >> 9) as usize;
            &self.owner_text[off..off + (d.owner & 0x1ff) as usize]
        })
    }

    /// Whether `owner` owns a value defined with [`Bundle::define_owned`].
    pub fn owned_by(&self, d: &Def, owner: &str) -> bool {
        match self.owner_of(d) {
            Some(t) => t == owner,
            None => d.owner == hash_bytes(SEED, owner.as_bytes()) & !OWNER_TEXT,
        }
    }

    /// Count a reference to `id`. The first reference to each id keeps its location
    /// and text. Counting is deferred to batches (see [`BATCH`]), in order, so the
    /// result is as if each were counted at once; call [`Bundle::flush`] before
    /// reading `refs`.
    #[cfg(test)]
    pub fn reference(&mut self, ns: Ns, id: &str, at: u64, kind: u8, col: u8) {
        let key = hash_bytes(SEED, id.as_bytes());
        let text_off = self.pending_text.len() as u32;
        let keep = id.len() <= 256;
        if keep {
            self.pending_text.push_str(id);
        }
        self.pending.push(Pending {
            key,
            loc: at,
            text_off,
            text_len: if keep { id.len() as u32 } else { 0 },
            back: 0,
            keep,
            ns: ns as u8,
            kind,
            col,
        });
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }

    /// Like [`Bundle::reference`], but the text is not copied: `src` and `field` name
    /// it for the `text` given to [`Bundle::flush_with`], which the caller must call
    /// (when [`Bundle::pending_full`], and before `src` goes) instead of `flush`. Only
    /// a new id's text is then copied.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn reference_deferred(
        &mut self,
        ns: Ns,
        id: &str,
        src: u32,
        field: u32,
        at: u64,
        row: u64,
        kind: u8,
        col: u8,
    ) {
        self.pending.push(Pending {
            key: hash_bytes(SEED, id.as_bytes()),
            loc: at,
            text_off: src,
            text_len: field,
            back: loc_line(at).saturating_sub(row).min(u64::from(u32::MAX)) as u32,
            keep: id.len() <= 256,
            ns: ns as u8,
            kind,
            col,
        });
    }

    /// Enough deferred references to count them (see [`Bundle::reference_deferred`]).
    #[inline]
    pub fn pending_full(&self) -> bool {
        self.pending.len() >= BATCH
    }

    /// Count every deferred reference.
    pub fn flush(&mut self) {
        let t = std::mem::take(&mut self.pending_text);
        self.flush_with(|off, len| &t[off as usize..(off + len) as usize]);
        self.pending_text = t;
        self.pending_text.clear();
    }

    /// Count every deferred reference; `text(text_off, text_len)` is a pending id's text.
    pub fn flush_with<'t>(&mut self, text: impl Fn(u32, u32) -> &'t str) {
        for p in &self.pending {
            self.refs[p.ns as usize].prefetch(p.key);
        }
        for p in &self.pending {
            let info = &mut self.ref_info;
            let ref_text = &mut self.ref_text;
            let (e, _) = self.refs[p.ns as usize].get_or_insert_with(p.key, || {
                let id = text(p.text_off, p.text_len);
                let off = ref_text.len();
                let keep = off < u32::MAX as usize / 2 && p.keep;
                if keep {
                    ref_text.push_str(id);
                }
                info.push(RefEntry {
                    loc: p.loc,
                    text_off: off as u32,
                    text_len: if keep { id.len() as u32 } else { 0 },
                    back: p.back,
                    kind: p.kind,
                    col: p.col,
                });
                RefCount {
                    count: 0,
                    info: (info.len() - 1) as u32,
                }
            });
            e.count = e.count.saturating_add(1);
        }
        self.pending.clear();
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
    fn reference_records_stay_small() {
        assert_eq!(std::mem::size_of::<RefEntry>(), 24);
        assert_eq!(std::mem::size_of::<Pending>(), 32);
    }
    #[test]
    fn owners_are_named_or_hashed() {
        let mut b = Bundle::default();
        let long = "u".repeat(300);
        assert!(b.define_owned(Ns::Login, 1, loc(0, 2), "u1").is_none());
        assert!(b.define_owned(Ns::Login, 2, loc(0, 3), &long).is_none());
        let d = b.define_owned(Ns::Login, 1, loc(0, 4), "u2").unwrap();
        assert_eq!((b.owner_of(&d), loc_line(d.loc)), (Some("u1"), 2));
        assert!(b.owned_by(&d, "u1") && !b.owned_by(&d, "u2"));
        let d = b.define_owned(Ns::Login, 2, loc(0, 5), "u1").unwrap();
        assert_eq!(b.owner_of(&d), None);
        assert!(b.owned_by(&d, &long) && !b.owned_by(&d, "u1"));
        assert_eq!(b.owner_text, "u1");
    }

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

    #[test]
    fn id_map() {
        let mut m: IdMap<u32> = IdMap::default();
        assert!(m.get(7).is_none() && m.get(0).is_none() && m.is_empty());
        m.prefetch(7);
        let keys: Vec<u64> = (0..10_000u64)
            .map(|i| {
                if i == 0 {
                    0
                } else {
                    hash_bytes(SEED, &i.to_le_bytes())
                }
            })
            .chain([1, u64::MAX, 1 << 63])
            .collect();
        for (n, &k) in keys.iter().enumerate() {
            let (v, new) = m.get_or_insert_with(k, || n as u32);
            assert!(new);
            *v += 1;
        }
        for (n, &k) in keys.iter().enumerate() {
            let (v, new) = m.get_or_insert_with(k, || 0);
            assert!(!new);
            assert_eq!(*v, n as u32 + 1);
            assert_eq!(m.get(k), Some(&(n as u32 + 1)));
        }
        assert_eq!(m.len(), keys.len());
        let mut seen: Vec<u64> = m.iter().map(|(k, _)| k).collect();
        seen.sort_unstable();
        let mut want = keys.clone();
        want.sort_unstable();
        assert_eq!(seen, want);
        assert!(!m.contains_key(hash_bytes(SEED, b"absent")));
    }

    #[test]
    fn references_are_counted_in_order() {
        let mut b = Bundle::default();
        let long = "x".repeat(300);
        for i in 0..1000u64 {
            b.reference(Ns::User, &format!("u{}", i % 70), loc(0, i + 2), 1, 2);
            b.reference(Ns::Course, &long, loc(0, i + 2), 1, 3);
        }
        b.flush();
        assert_eq!(b.refs[Ns::User as usize].len(), 70);
        let key = hash_bytes(SEED, b"u5");
        let c = *b.refs[Ns::User as usize].get(key).unwrap();
        assert_eq!(c.count, 15);
        let e = &b.ref_info[c.info as usize];
        assert_eq!((e.loc, e.kind, e.col), (loc(0, 7), 1, 2));
        assert_eq!(
            &b.ref_text[e.text_off as usize..][..e.text_len as usize],
            "u5"
        );
        let c = *b.refs[Ns::Course as usize]
            .get(hash_bytes(SEED, long.as_bytes()))
            .unwrap();
        assert_eq!((c.count, b.ref_info[c.info as usize].text_len), (1000, 0));
    }
}
