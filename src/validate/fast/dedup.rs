//! The exact-duplicate-line count (Canvas drops ≥ 100 exact duplicate lines of a file),
//! in memory bounded whatever the row count, and where the first duplicate line is.
//!
//! Each row's 64-bit line hash goes into one of 256 partitions by a byte of the hash:
//! equal hashes share a partition, so each partition is counted on its own, with a small
//! table that stays in cache. Past a fixed budget the partitions are written to an
//! unnamed temporary file and read back partition by partition at the end; a partition
//! too big to count within the budget is split again by the hash's next byte. Memory is
//! therefore about `budget` hashes (8 MB by default) for any file; a file of more rows
//! than that costs 8 bytes a row of temporary disk instead.
//!
//! Where the repeats are costs the rows nothing more than 2 bytes in one sequential
//! stream (each row's partition and how many lines it starts after the row before): the
//! count finds each partition's first repeat as positions in the partition, and one pass
//! over that stream at the end, only when asked, turns them into line numbers.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Hashes held in memory before the partitions go to disk (8 bytes each, plus 2 for the
/// row stream).
pub const DEFAULT_BUDGET: usize = 1 << 20;

/// Hashes read back from the temporary file at a time.
const READ_CHUNK: usize = 8 * 1024;

/// In the row stream, a row that starts this many lines or more after the row before;
/// its line is in `LineHashes::far`.
const FAR: u16 = 0xff;

pub struct LineHashes {
    /// Which byte of the hash picks the partition: 0 is the top byte, 7 the lowest. All
    /// hashes given to a level-`L` set already share their top `8 * L` bits.
    level: u32,
    parts: Vec<Vec<u64>>,
    /// Below level 0: each hash's position in the partition it was split from.
    positions: Vec<Vec<u64>>,
    held: usize,
    budget: usize,
    spill: Option<Spill>,
    /// The temporary file could not be made or written: keep everything in memory.
    no_spill: bool,
    /// Level 0: one entry per row, in row order: its partition (high byte) and how many
    /// lines after the row before it starts (low byte; [`FAR`] from 255 on).
    rows: Vec<u16>,
    /// Level 0: the line of each row marked [`FAR`], in row order.
    far: Vec<u64>,
    last_line: u64,
}

/// The temporary file: each partition's spilled runs, `(offset, hashes)` (then as many
/// positions, below level 0), and the row stream's spilled pieces, `(offset, rows)`.
struct Spill {
    file: File,
    end: u64,
    runs: Vec<Vec<(u64, usize)>>,
    rows: Vec<(u64, usize)>,
}

/// What [`LineHashes::duplicates`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dups {
    /// Rows equal to an earlier row.
    pub count: u64,
    /// The first such row's line and the line of the row it copies.
    pub first: Option<(u64, u64)>,
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
            positions: (0..256).map(|_| Vec::new()).collect(),
            held: 0,
            budget,
            spill: None,
            no_spill: false,
            rows: Vec::new(),
            far: Vec::new(),
            last_line: 0,
        }
    }

    #[inline]
    fn part(&self, h: u64) -> usize {
        ((h >> (56 - 8 * self.level)) & 0xff) as usize
    }

    /// Adds a row: its line hash and the line it starts on (rows in order).
    #[inline(always)]
    pub fn push(&mut self, h: u64, line: u64) {
        let p = self.part(h);
        self.parts[p].push(h);
        let step = line.wrapping_sub(self.last_line);
        self.last_line = line;
        let step = if step < u64::from(FAR) {
            step as u16
        } else {
            self.far_line(line)
        };
        self.rows.push((p as u16) << 8 | step);
        self.held += 1;
        if self.held >= self.budget && !self.no_spill {
            self.spill_out();
        }
    }

    #[cold]
    fn far_line(&mut self, line: u64) -> u16 {
        self.far.push(line);
        FAR
    }

    /// Below level 0: adds a hash and its position in the partition it was split from.
    fn push_at(&mut self, h: u64, pos: u64) {
        let p = self.part(h);
        self.parts[p].push(h);
        self.positions[p].push(pos);
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

    /// Appends every partition (and the row stream) to the temporary file and empties
    /// them. On an I/O error they stay in memory (the count stays right; only the bound
    /// is lost).
    fn spill_out(&mut self) {
        if self.spill.is_none() {
            match tempfile::tempfile() {
                Ok(file) => {
                    self.spill = Some(Spill {
                        file,
                        end: 0,
                        runs: vec![Vec::new(); 256],
                        rows: Vec::new(),
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
        let mut end = start;
        let mut runs = Vec::new();
        let mut ok = true;
        for (p, (hs, ps)) in self.parts.iter().zip(&self.positions).enumerate() {
            if hs.is_empty() {
                continue;
            }
            let words = hs.iter().chain(ps).map(|x| x.to_le_bytes());
            if write_words(&mut spill.file, &mut bytes, words).is_err() {
                ok = false;
                break;
            }
            runs.push((p, end, hs.len()));
            end += (hs.len() + ps.len()) as u64 * 8;
        }
        let rows_at = end;
        if ok && !self.rows.is_empty() {
            let words = self.rows.iter().map(|r| r.to_le_bytes());
            ok = write_words(&mut spill.file, &mut bytes, words).is_ok();
            end += self.rows.len() as u64 * 2;
        }
        if !ok {
            // Keep what is in memory; forget this flush's partial runs.
            let _ = spill.file.set_len(start);
            let _ = spill.file.seek(SeekFrom::Start(start));
            self.no_spill = true;
            return;
        }
        spill.end = end;
        for (p, at, n) in runs {
            spill.runs[p].push((at, n));
        }
        if !self.rows.is_empty() {
            spill.rows.push((rows_at, self.rows.len()));
            self.rows.clear();
        }
        for (hs, ps) in self.parts.iter_mut().zip(&mut self.positions) {
            hs.clear();
            ps.clear();
        }
        self.held = 0;
    }

    /// How many rows equal an earlier one; when there are at least `locate`, also the
    /// first of them and the line it copies. An error only if spilled hashes could not
    /// be read back.
    pub fn duplicates(mut self, locate: u64) -> io::Result<Dups> {
        let mut buf = vec![0u8; READ_CHUNK * 8];
        let (count, firsts) = self.first_repeats(&mut buf)?;
        let mut first = None;
        if count >= locate && count > 0 {
            let mut pairs = vec![None; 256];
            for (p, f) in firsts.iter().enumerate() {
                if let &Some((pos, h)) = f {
                    pairs[p] = Some((pos, self.first_copy(p, h, &mut buf)?));
                }
            }
            first = self.locate(&pairs)?;
        }
        Ok(Dups { count, first })
    }

    /// Calls `f(hashes, positions, position of the first)` on partition `p`'s hashes, in
    /// push order, a chunk at a time, while it returns true. `positions` is `None` at
    /// level 0, where a hash's position is its index in the partition.
    fn each(&mut self, p: usize, buf: &mut [u8], f: &mut Visit<'_>) -> io::Result<()> {
        let level0 = self.level == 0;
        let mut next = 0u64;
        if let Some(s) = &mut self.spill {
            let (mut hs, mut ps) = (Vec::with_capacity(READ_CHUNK), Vec::new());
            let mut read = |at: u64, k: usize, out: &mut Vec<u64>| {
                s.file.seek(SeekFrom::Start(at))?;
                s.file.read_exact(&mut buf[..k * 8])?;
                out.clear();
                out.extend(
                    buf[..k * 8]
                        .chunks_exact(8)
                        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
                );
                io::Result::Ok(())
            };
            for &(at, n) in &s.runs[p].clone() {
                let mut done = 0;
                while done < n {
                    let k = (n - done).min(READ_CHUNK);
                    read(at + done as u64 * 8, k, &mut hs)?;
                    if !level0 {
                        read(at + (n + done) as u64 * 8, k, &mut ps)?;
                    }
                    if !f(&hs, (!level0).then_some(&ps[..]), next) {
                        return Ok(());
                    }
                    next += k as u64;
                    done += k;
                }
            }
        }
        for (i, chunk) in self.parts[p].chunks(READ_CHUNK).enumerate() {
            let ps = (!level0).then(|| &self.positions[p][i * READ_CHUNK..][..chunk.len()]);
            if !f(chunk, ps, next) {
                break;
            }
            next += chunk.len() as u64;
        }
        Ok(())
    }

    /// The number of repeats, and each partition's first repeat: its position (below
    /// level 0: the position it was pushed with) and its hash.
    fn first_repeats(&mut self, buf: &mut [u8]) -> io::Result<(u64, Firsts)> {
        let mut table: Vec<u64> = Vec::new();
        let mut dups = 0;
        let mut firsts: Firsts = vec![None; 256];
        for (p, first) in firsts.iter_mut().enumerate() {
            let spilled = self
                .spill
                .as_ref()
                .map_or(0, |s| s.runs[p].iter().map(|r| r.1).sum::<usize>());
            let total = self.parts[p].len() + spilled;
            if total < 2 {
                continue;
            }
            if self.level == 7 {
                // After eight splits every hash in a partition is the same: the second
                // repeats the first.
                let (mut seen, mut second) = (0, None);
                self.each(p, buf, &mut |hs, ps, base| {
                    for (j, &h) in hs.iter().enumerate() {
                        seen += 1;
                        if seen == 2 {
                            second = Some((ps.map_or(base + j as u64, |ps| ps[j]), h));
                            return false;
                        }
                    }
                    true
                })?;
                dups += total as u64 - 1;
                *first = second;
                continue;
            }
            // The table holds the distinct hashes, at most `budget` slots: a big partition
            // of few distinct lines (copies of one line) is counted at once.
            let mut counter = Counter::new(&mut table, total.min(self.budget / 2), self.level);
            self.each(p, buf, &mut |hs, ps, base| {
                counter.add(hs, ps, base);
                !counter.full
            })?;
            if !counter.full {
                dups += counter.dups;
                *first = counter.first;
                continue;
            }
            // Too many distinct hashes for the budget: split the partition by the next byte.
            let mut sub = LineHashes::at_level(self.level + 1, self.budget);
            self.each(p, buf, &mut |hs, ps, base| {
                for (j, &h) in hs.iter().enumerate() {
                    sub.push_at(h, ps.map_or(base + j as u64, |ps| ps[j]));
                }
                true
            })?;
            let (n, sub_firsts) = sub.first_repeats(buf)?;
            dups += n;
            // Positions in this partition: the smallest is the first.
            *first = sub_firsts.into_iter().flatten().min();
        }
        Ok((dups, firsts))
    }

    /// The position of the first hash `h` in partition `p`.
    fn first_copy(&mut self, p: usize, h: u64, buf: &mut [u8]) -> io::Result<u64> {
        let mut at = 0;
        self.each(
            p,
            buf,
            &mut |hs, ps, base| match hs.iter().position(|&x| x == h) {
                Some(j) => {
                    at = ps.map_or(base + j as u64, |ps| ps[j]);
                    false
                }
                None => true,
            },
        )?;
        Ok(at)
    }

    /// Level 0: the line of the first repeat of the file and of its first copy, from
    /// each partition's first repeat and first copy (positions in the partition), in
    /// one pass over the row stream.
    fn locate(&mut self, firsts: &[Option<(u64, u64)>]) -> io::Result<Option<(u64, u64)>> {
        let mut left = firsts.iter().flatten().count();
        let mut more = left > 0;
        let mut seen = [0u64; 256];
        let mut found: Vec<Option<(u64, u64)>> = vec![None; 256];
        let mut orig = [0u64; 256];
        let (mut line, mut far) = (0u64, self.far.iter());
        let mut visit = |rows: &[u16]| -> bool {
            for &r in rows {
                let p = (r >> 8) as usize;
                line = match r & 0xff {
                    FAR => *far.next().expect("a far line"),
                    step => line + u64::from(step),
                };
                if let Some((dup, first)) = firsts[p] {
                    if seen[p] == first {
                        orig[p] = line;
                    } else if seen[p] == dup {
                        found[p] = Some((line, orig[p]));
                        left -= 1;
                        if left == 0 {
                            return false;
                        }
                    }
                }
                seen[p] += 1;
            }
            true
        };
        if let Some(s) = &mut self.spill
            && more
        {
            let mut buf = vec![0u8; READ_CHUNK * 2];
            let mut rows = Vec::with_capacity(READ_CHUNK);
            'pieces: for &(at, n) in &s.rows {
                s.file.seek(SeekFrom::Start(at))?;
                let mut done = 0;
                while done < n {
                    let k = (n - done).min(READ_CHUNK);
                    s.file.read_exact(&mut buf[..k * 2])?;
                    rows.clear();
                    rows.extend(
                        buf[..k * 2]
                            .chunks_exact(2)
                            .map(|b| u16::from_le_bytes([b[0], b[1]])),
                    );
                    if !visit(&rows) {
                        more = false;
                        break 'pieces;
                    }
                    done += k;
                }
            }
        }
        if more {
            visit(&self.rows);
        }
        Ok(found.into_iter().flatten().min())
    }
}

/// A visitor of a partition's hashes: `(hashes, positions, position of the first)`;
/// false stops the visit.
type Visit<'a> = dyn FnMut(&[u64], Option<&[u64]>, u64) -> bool + 'a;

/// Each partition's first repeat: `(position, hash)`, or the line pair once located.
type Firsts = Vec<Option<(u64, u64)>>;

/// Writes `words` to `file` through `buf`.
fn write_words<const N: usize>(
    file: &mut File,
    buf: &mut Vec<u8>,
    words: impl Iterator<Item = [u8; N]>,
) -> io::Result<()> {
    for w in words {
        buf.extend_from_slice(&w);
        if buf.len() >= READ_CHUNK * 8 {
            file.write_all(buf)?;
            buf.clear();
        }
    }
    file.write_all(buf)?;
    buf.clear();
    Ok(())
}

/// Counts repeats among the hashes of one partition: open addressing on the bits the
/// partition's hashes do not share; 0 marks an empty slot (a real 0 is kept aside).
/// The hashes come in push order, so the first repeat found is the partition's first.
struct Counter<'a> {
    table: &'a mut Vec<u64>,
    bits: u32,
    rot: u32,
    zero: bool,
    dups: u64,
    /// The first repeat's position and hash.
    first: Option<(u64, u64)>,
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
            first: None,
            distinct: 0,
            full: false,
        }
    }

    /// Counts `hs`, whose positions are `ps`, or (`None`) `base`, `base + 1`, ….
    #[inline]
    fn add(&mut self, hs: &[u64], ps: Option<&[u64]>, base: u64) {
        let mask = self.table.len() - 1;
        // Always leaves an empty slot, so probing ends.
        let most = self.table.len() - self.table.len() / 8 - 1;
        if self.full {
            return;
        }
        for (j, &h) in hs.iter().enumerate() {
            if h == 0 {
                if self.zero {
                    self.repeat(ps.map_or(base + j as u64, |ps| ps[j]), h);
                }
                self.zero = true;
                continue;
            }
            let mut i = (h.rotate_left(self.rot) >> (64 - self.bits)) as usize;
            loop {
                let t = self.table[i];
                if t == h {
                    self.repeat(ps.map_or(base + j as u64, |ps| ps[j]), h);
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

    #[inline]
    fn repeat(&mut self, pos: u64, h: u64) {
        self.dups += 1;
        if self.first.is_none() {
            self.first = Some((pos, h));
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

    /// The first repeat's line and its first copy's, for rows on lines `line(i)`.
    fn naive_first(v: &[u64], line: impl Fn(usize) -> u64) -> Option<(u64, u64)> {
        let mut seen = std::collections::HashMap::new();
        for (i, &h) in v.iter().enumerate() {
            if let Some(&orig) = seen.get(&h) {
                return Some((line(i), orig));
            }
            seen.insert(h, line(i));
        }
        None
    }

    /// Counts `v` (row `i` on line `i + 2`) and checks the first repeat found.
    fn count(v: &[u64], budget: usize) -> (u64, bool) {
        let (d, spilled) = count_lines(v, budget, |i| i as u64 + 2);
        (d.count, spilled)
    }

    fn count_lines(v: &[u64], budget: usize, line: impl Fn(usize) -> u64) -> (Dups, bool) {
        let mut l = LineHashes::new(budget);
        for (i, &h) in v.iter().enumerate() {
            l.push(h, line(i));
        }
        let spilled = l.spilled();
        let d = l.duplicates(0).expect("read back");
        assert_eq!(d.first, naive_first(v, line), "first repeat");
        (d, spilled)
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

    #[test]
    fn names_the_first_repeat_and_its_copy() {
        // The first repeat is late in the file, and in a partition counted late.
        let mut v: Vec<u64> = (0..30_000u64).map(|i| mix(i) | 1).collect();
        v[20_000] = v[17];
        v[25_000] = 0;
        v[26_000] = 0;
        v[29_000] = 0xff00_0000_0000_0001;
        v[29_500] = 0xff00_0000_0000_0001;
        // Rows 300 lines apart now and then (blank lines, long multi-line fields).
        let line = |i: usize| i as u64 * 2 + 2 + (i as u64 / 1000) * 300;
        for budget in [DEFAULT_BUDGET, 1024, 256] {
            let (d, _) = count_lines(&v, budget, line);
            assert_eq!(d.count, 3, "{budget}");
            assert_eq!(d.first, Some((line(20_000), line(17))), "{budget}");
        }
        // Copies of one line past the budget: split down to one value a partition.
        let mut same = vec![9u64 << 56; 3000];
        same[0] = 1;
        assert_eq!(
            count_lines(&same, 256, line).0.first,
            Some((line(2), line(1)))
        );
        // Located only when asked for.
        let mut l = LineHashes::new(256);
        for (i, &h) in v.iter().enumerate() {
            l.push(h, i as u64 + 2);
        }
        assert_eq!(
            l.duplicates(4).unwrap(),
            Dups {
                count: 3,
                first: None
            }
        );
        assert_eq!(count(&[5, 6, 7], 256), (0, false));
    }
}
