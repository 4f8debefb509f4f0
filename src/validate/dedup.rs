//! The exact-duplicate-line count (Canvas drops ≥ 100 exact duplicate lines of a file),
//! in memory bounded whatever the row count.
//!
//! Each row's 64-bit line hash goes into one of 256 partitions by a byte of the hash:
//! equal hashes share a partition, so each partition is counted on its own, with a small
//! table that stays in cache. Past a fixed budget the partitions are written to an
//! unnamed temporary file and read back partition by partition at the end; a partition
//! too big to count within the budget is split again by the hash's next byte. Memory is
//! therefore about `budget` hashes (8 MB by default) for any file; a file of more rows
//! than that costs 8 bytes a row of temporary disk instead.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Hashes held in memory before the partitions go to disk (8 bytes each).
pub const DEFAULT_BUDGET: usize = 1 << 20;

/// Hashes read back from the temporary file at a time.
const READ_CHUNK: usize = 8 * 1024;

pub struct LineHashes {
    /// Which byte of the hash picks the partition: 0 is the top byte, 7 the lowest. All
    /// hashes given to a level-`L` set already share their top `8 * L` bits.
    level: u32,
    parts: Vec<Vec<u64>>,
    held: usize,
    budget: usize,
    spill: Option<Spill>,
    /// The temporary file could not be made or written: keep everything in memory.
    no_spill: bool,
}

/// Where each partition's spilled runs are: `(offset, hashes)` in `file`.
struct Spill {
    file: File,
    end: u64,
    runs: Vec<Vec<(u64, usize)>>,
}

impl Default for LineHashes {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET)
    }
}

impl LineHashes {
    /// An empty set that holds at most `budget` hashes in memory.
    pub fn new(budget: usize) -> Self {
        Self::at_level(0, budget.max(256))
    }

    fn at_level(level: u32, budget: usize) -> Self {
        LineHashes {
            level,
            parts: (0..256).map(|_| Vec::new()).collect(),
            held: 0,
            budget,
            spill: None,
            no_spill: false,
        }
    }

    #[inline]
    fn part(&self, h: u64) -> usize {
        ((h >> (56 - 8 * self.level)) & 0xff) as usize
    }

    #[inline]
    pub fn push(&mut self, h: u64) {
        let p = self.part(h);
        self.parts[p].push(h);
        self.held += 1;
        if self.held >= self.budget && !self.no_spill {
            self.spill_out();
        }
    }

    /// Whether some hashes went to the temporary file.
    #[cfg(test)]
    fn spilled(&self) -> bool {
        self.spill.is_some()
    }

    /// Appends every partition to the temporary file and empties them. On an I/O error
    /// the hashes stay in memory (the count stays right; only the bound is lost).
    fn spill_out(&mut self) {
        if self.spill.is_none() {
            match tempfile::tempfile() {
                Ok(file) => {
                    self.spill = Some(Spill {
                        file,
                        end: 0,
                        runs: vec![Vec::new(); 256],
                    })
                }
                Err(_) => {
                    self.no_spill = true;
                    return;
                }
            }
        }
        let spill = self.spill.as_mut().expect("spill file");
        let mut bytes = Vec::with_capacity(READ_CHUNK * 8);
        let start = spill.end;
        let mut runs = Vec::new();
        for (p, hs) in self.parts.iter().enumerate() {
            if hs.is_empty() {
                continue;
            }
            for chunk in hs.chunks(READ_CHUNK) {
                bytes.clear();
                bytes.extend(chunk.iter().flat_map(|h| h.to_le_bytes()));
                if spill.file.write_all(&bytes).is_err() {
                    // Keep what is in memory; forget this flush's partial runs.
                    let _ = spill.file.set_len(start);
                    let _ = spill.file.seek(SeekFrom::Start(start));
                    spill.end = start;
                    self.no_spill = true;
                    return;
                }
            }
            runs.push((p, spill.end, hs.len()));
            spill.end += hs.len() as u64 * 8;
        }
        for (p, at, n) in runs {
            spill.runs[p].push((at, n));
        }
        for hs in &mut self.parts {
            hs.clear();
        }
        self.held = 0;
    }

    /// How many hashes equal an earlier one. An error only if spilled hashes could not
    /// be read back.
    pub fn duplicates(mut self) -> io::Result<u64> {
        let mut table: Vec<u64> = Vec::new();
        let mut dups = 0;
        let mut buf = vec![0u8; READ_CHUNK * 8];
        for p in 0..256 {
            let mem = std::mem::take(&mut self.parts[p]);
            let runs = match &mut self.spill {
                Some(s) => std::mem::take(&mut s.runs[p]),
                None => Vec::new(),
            };
            let total = mem.len() + runs.iter().map(|r| r.1).sum::<usize>();
            if total < 2 {
                continue;
            }
            if self.level == 7 {
                // After eight splits every hash in a partition is the same.
                dups += total as u64 - 1;
                continue;
            }
            let mut each = |f: &mut dyn FnMut(&[u64])| -> io::Result<()> {
                if let Some(s) = &mut self.spill {
                    let mut hs = Vec::with_capacity(READ_CHUNK);
                    for &(at, n) in &runs {
                        s.file.seek(SeekFrom::Start(at))?;
                        let mut left = n;
                        while left > 0 {
                            let k = left.min(READ_CHUNK);
                            s.file.read_exact(&mut buf[..k * 8])?;
                            hs.clear();
                            hs.extend(
                                buf[..k * 8]
                                    .chunks_exact(8)
                                    .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
                            );
                            f(&hs);
                            left -= k;
                        }
                    }
                }
                f(&mem);
                Ok(())
            };
            // The table holds the distinct hashes, at most `budget` slots: a big partition
            // of few distinct lines (copies of one line) is counted at once.
            let mut counter = Counter::new(&mut table, total.min(self.budget / 2), self.level);
            each(&mut |hs| counter.add(hs))?;
            if !counter.full {
                dups += counter.dups;
                continue;
            }
            // Too many distinct hashes for the budget: split the partition by the next byte.
            let mut sub = LineHashes::at_level(self.level + 1, self.budget);
            each(&mut |hs| hs.iter().for_each(|&h| sub.push(h)))?;
            dups += sub.duplicates()?;
        }
        Ok(dups)
    }
}

/// Counts repeats among the hashes of one partition: open addressing on the bits the
/// partition's hashes do not share; 0 marks an empty slot (a real 0 is kept aside).
struct Counter<'a> {
    table: &'a mut Vec<u64>,
    bits: u32,
    rot: u32,
    zero: bool,
    dups: u64,
    /// Distinct hashes in the table (it takes 7/8 of its slots).
    distinct: usize,
    /// More distinct hashes came than the table takes: `dups` is not the count.
    full: bool,
}

impl<'a> Counter<'a> {
    fn new(table: &'a mut Vec<u64>, n: usize, level: u32) -> Self {
        let slots = (n * 2).next_power_of_two();
        table.clear();
        table.resize(slots, 0);
        Counter {
            table,
            bits: slots.trailing_zeros(),
            rot: 8 * (level + 1),
            zero: false,
            dups: 0,
            distinct: 0,
            full: false,
        }
    }

    #[inline]
    fn add(&mut self, hs: &[u64]) {
        let mask = self.table.len() - 1;
        // Always leaves an empty slot, so probing ends.
        let most = self.table.len() - self.table.len() / 8 - 1;
        if self.full {
            return;
        }
        for &h in hs {
            if h == 0 {
                self.dups += u64::from(self.zero);
                self.zero = true;
                continue;
            }
            let mut i = (h.rotate_left(self.rot) >> (64 - self.bits)) as usize;
            loop {
                let t = self.table[i];
                if t == h {
                    self.dups += 1;
                    break;
                }
                if t == 0 {
                    if self.distinct == most {
                        self.full = true;
                        return;
                    }
                    self.table[i] = h;
                    self.distinct += 1;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(v: &[u64]) -> u64 {
        let mut s = v.to_vec();
        s.sort_unstable();
        s.windows(2).filter(|w| w[0] == w[1]).count() as u64
    }

    fn mix(i: u64) -> u64 {
        let r = (i ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9) as u128
            * 0x94d0_49bb_1331_11eb_u128;
        (r as u64) ^ ((r >> 64) as u64)
    }

    fn count(v: &[u64], budget: usize) -> (u64, bool) {
        let mut l = LineHashes::new(budget);
        for &h in v {
            l.push(h);
        }
        let spilled = l.spilled();
        (l.duplicates().expect("read back"), spilled)
    }

    #[test]
    fn counts_repeats_in_memory() {
        for n in [0u64, 1, 5, 1000, 70_000] {
            let v: Vec<u64> = (0..n)
                .map(|i| match i % 7 {
                    0 => 0,
                    1 => mix(i + 1_000_000),
                    _ => mix(i % 5000),
                })
                .collect();
            let (got, spilled) = count(&v, DEFAULT_BUDGET);
            assert!(!spilled);
            assert_eq!(got, naive(&v), "{n}");
        }
    }

    #[test]
    fn counts_repeats_past_the_budget() {
        // 50,000 hashes with a 1,024-hash budget: dozens of spills.
        let v: Vec<u64> = (0..50_000u64)
            .map(|i| if i % 3 == 0 { mix(i % 700) } else { mix(i) })
            .collect();
        let (got, spilled) = count(&v, 1024);
        assert!(spilled);
        assert_eq!(got, naive(&v));
    }

    #[test]
    fn splits_a_partition_too_big_for_the_budget() {
        // All in one top-byte partition (and many equal): the partition is split by
        // the next bytes, down to runs of one value.
        let v: Vec<u64> = (0..20_000u64)
            .map(|i| match i % 4 {
                0 => 0x4200_0000_0000_0000,
                1 => 0x4200_0000_0000_0000 | (i % 300),
                2 => 0x42ff_0000_0000_0000 | mix(i) >> 8,
                _ => 0,
            })
            .collect();
        let (got, spilled) = count(&v, 512);
        assert!(spilled);
        assert_eq!(got, naive(&v));
        let same = vec![7u64; 5000];
        assert_eq!(count(&same, 256).0, 4999);
    }
}
