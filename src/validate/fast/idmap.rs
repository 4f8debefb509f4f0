//! A flat open-addressing map keyed by 64-bit hashes, with a prefetch hint.

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

    pub fn is_empty(&self) -> bool {
        self.len == 0 && self.zero.is_none()
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

/// Hint that the memory at `p` is about to be read (pulls its cache line in). Any address
/// will do: a prefetch never faults.
#[inline]
pub fn prefetch<T>(p: *const T) {
    prefetch_ptr(p.cast());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::fast::hash::{SEED, hash_bytes};

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
}
