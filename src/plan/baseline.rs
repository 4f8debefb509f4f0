//! The baseline: what Canvas holds after the bundles it imported (contract, "Baseline").
//!
//! For plain and batch imports it is the merged state of every bundle Canvas imported for a
//! URL and account (a later row for a key replaces an earlier one, column by column; batch
//! mode's removals applied); for diffing it is the last imported bundle of that data set.
//! Each row keeps its key, term, status and one hash per column, never a value: a baseline
//! holds no SIS data and no password.
//!
//! A submit leaves a pending baseline named by the import id ([`Pending`]: where the bytes
//! sent can be read back, and their sha256, not the rows); whichever command sees that import
//! end (`submit --watch`, `watch`, `status`) streams those bytes' rows in when it ended
//! `imported` or `imported_with_messages`, and drops it otherwise. Files are written
//! atomically in the private state dir, and never pruned.
//!
//! In memory and on disk a baseline is column-wise ([`Entries`]; file format below
//! [`save_baseline`]), so that a plan of a 1 GB bundle fits in 2.5× the validator's memory;
//! `plan` maps the file and reads its arrays in place (`super::mapped`; issue 13,
//! bench/results-plan.md).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::mapped::{Mapping, Store};
use super::rows::{BundleRows, FileInfo, IdMap, RowView, Sink, TermMap, ignored_column};
use crate::exit::{Failure, Result};

/// One object as the baseline knows it: a view into its [`KindState`].
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    pub term: Option<&'a str>,
    pub status: &'a str,
    pub live: bool,
    /// One hash per column of [`KindState::cols`]; 0: never given.
    pub values: &'a [u32],
}

/// An entry's term, status and liveness in two u32 at the head of its record: the term and
/// status words are kept once per kind (`Entries::words`), an entry names them by index.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// Index in `words` + 1; 0: no term.
    term: u32,
    /// Index in `words` (below 2^31: the top bit of its u32 is `live`).
    status: u32,
    live: bool,
}

impl Slot {
    fn of(rec: &[u32]) -> Slot {
        Slot {
            term: rec[0],
            status: rec[1] & 0x7fff_ffff,
            live: rec[1] >> 31 != 0,
        }
    }

    /// Corrupt unless its term and status name words of a table of `words`.
    fn check(self, words: usize) -> std::io::Result<()> {
        if self.term as usize > words || self.status as usize >= words {
            return Err(bad("a word past the table"));
        }
        Ok(())
    }

    fn put(self, rec: &mut [u32]) {
        rec[0] = self.term;
        rec[1] = self.status | u32::from(self.live) << 31;
    }
}

/// Where the keys in words are: in memory while a baseline is built, else left in its file
/// and read only for the few a plan shows as examples.
#[derive(Clone, Debug)]
enum Texts {
    Mem {
        blob: String,
        ends: Vec<u64>,
    },
    Disk {
        path: PathBuf,
        ends_at: u64,
        blob_at: u64,
    },
}

impl Default for Texts {
    fn default() -> Texts {
        Texts::Mem {
            blob: String::new(),
            ends: Vec::new(),
        }
    }
}

/// The objects of one kind, column-wise: at 12 million enrollments a baseline is about 40
/// bytes an object in memory (key, slot, one u32 per column) and nothing else; a map of
/// structs with strings (the key in words, term, status) did not fit 12 million in memory
/// (bench/results-plan.md). Entries are sorted by
/// key; a lookup reads one bucket of `buckets` (keys are uniform hashes, about eight a
/// bucket: the bucket table stays small enough for the cache), so that loading needs no hash
/// table to be built. An entry's slot and values are one record, one cache miss.
#[derive(Clone, Debug, Default)]
pub struct Entries {
    keys: Store<u64>,
    /// Per entry `2 + width` u32: its [`Slot`], then its values.
    recs: Store<u32>,
    width: usize,
    words: Vec<String>,
    /// The two words last asked for (see [`Entries::word`]).
    recent: [usize; 2],
    texts: Texts,
    /// `buckets[k >> shift]..buckets[(k >> shift) + 1]`: where keys starting so lie.
    buckets: Vec<u32>,
    shift: u32,
    /// How many entries, from the first, the buckets cover: these are sorted by key.
    sorted: usize,
    /// While applying: the entries added past `sorted`, in arrival order, by key.
    index: Option<HashMap<u64, u32>>,
}

impl Entries {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn entry(&self, i: usize) -> Entry<'_> {
        let rec = self.rec(i);
        let s = Slot::of(rec);
        Entry {
            term: (s.term > 0).then(|| self.words[s.term as usize - 1].as_str()),
            status: &self.words[s.status as usize],
            live: s.live,
            values: &rec[2..],
        }
    }

    /// Entry `i`'s term as an index (0: none, else 1 + its index in [`Entries::term_word`]'s
    /// words) and whether it is live: what counting entries by term needs, without a string.
    #[inline]
    pub fn term_and_live(&self, i: usize) -> (usize, bool) {
        let s = Slot::of(self.rec(i));
        (s.term as usize, s.live)
    }

    /// The term of index `t` (see [`Entries::term_and_live`]), and how many indexes there are.
    pub fn term_word(&self, t: usize) -> Option<&str> {
        t.checked_sub(1)
            .and_then(|w| self.words.get(w))
            .map(String::as_str)
    }

    pub fn term_indexes(&self) -> usize {
        self.words.len() + 1
    }

    fn rec(&self, i: usize) -> &[u32] {
        let n = self.width + 2;
        &self.recs[i * n..(i + 1) * n]
    }

    fn rec_mut(&mut self, i: usize) -> &mut [u32] {
        let n = self.width + 2;
        &mut self.recs.vec()[i * n..(i + 1) * n]
    }

    pub fn values(&self) -> impl Iterator<Item = Entry<'_>> {
        (0..self.len()).map(|i| self.entry(i))
    }

    /// The index of `key`'s entry.
    pub fn find(&self, key: u64) -> Option<usize> {
        self.find_in(key, self.bucket(key))
    }

    /// Where `key` would be: [`Entries::find_in`] looks there. Apart so that a caller can
    /// look up many keys a step at a time, the cache misses of each step overlapping.
    pub fn bucket(&self, key: u64) -> (usize, usize) {
        if self.buckets.is_empty() {
            return (0, 0);
        }
        let b = (key >> self.shift) as usize;
        (self.buckets[b] as usize, self.buckets[b + 1] as usize)
    }

    /// Hint that the keys of a [`Entries::bucket`] are about to be searched.
    #[inline]
    pub fn prefetch_keys(&self, (lo, hi): (usize, usize)) {
        crate::validate::prefetch(self.keys.as_ptr().wrapping_add(lo));
        crate::validate::prefetch(self.keys.as_ptr().wrapping_add(hi.saturating_sub(1)));
    }

    /// Hint that entry `i` is about to be read: both ends of its record, which may lie on
    /// two cache lines.
    #[inline]
    pub fn prefetch_entry(&self, i: usize) {
        let n = self.width + 2;
        crate::validate::prefetch(self.recs.as_ptr().wrapping_add(i * n));
        crate::validate::prefetch(self.recs.as_ptr().wrapping_add(i * n + n - 1));
    }

    pub fn find_in(&self, key: u64, (lo, hi): (usize, usize)) -> Option<usize> {
        let sorted = self.keys[lo..hi]
            .iter()
            .position(|k| *k == key)
            .map(|p| lo + p);
        match (&self.index, sorted) {
            (Some(added), None) => added.get(&key).map(|i| *i as usize),
            _ => sorted,
        }
    }

    /// The key in words (`u1/c1/student`), for a plan's examples.
    pub fn key_text(&self, i: usize) -> String {
        match &self.texts {
            Texts::Mem { blob, ends } => {
                let start = if i == 0 { 0 } else { ends[i - 1] as usize };
                blob[start..ends[i] as usize].to_string()
            }
            Texts::Disk {
                path,
                ends_at,
                blob_at,
            } => read_text(path, *ends_at, *blob_at, i).unwrap_or_default(),
        }
    }

    fn word(&mut self, w: &str) -> usize {
        // A row names a term and a status, mostly those of the row before: looked at first,
        // so that a kind with many terms is not searched through for every row.
        if let Some(i) = self
            .recent
            .iter()
            .copied()
            .find(|i| self.words.get(*i).is_some_and(|x| x == w))
        {
            return i;
        }
        let i = match self.words.iter().position(|x| x == w) {
            Some(i) => i,
            None => {
                self.words.push(w.to_string());
                self.words.len() - 1
            }
        };
        self.recent = [i, self.recent[0]];
        i
    }

    fn set_status(&mut self, i: usize, status: &str, live: bool) {
        let w = self.word(status) as u32;
        let rec = self.rec_mut(i);
        let mut s = Slot::of(rec);
        s.status = w;
        s.live = live;
        s.put(rec);
    }

    /// Ready for [`KindState::apply_one`]: the keys in words in memory, and an index of the
    /// entries added (those already there are found by their buckets, as a plan finds them:
    /// an index of 12 million keys took a quarter of a gigabyte).
    fn begin_apply(&mut self) {
        if self.index.is_some() {
            return;
        }
        if let Texts::Disk { .. } = self.texts {
            let mut blob = String::new();
            let mut ends = Vec::with_capacity(self.len());
            for i in 0..self.len() {
                blob.push_str(&self.key_text(i));
                ends.push(blob.len() as u64);
            }
            self.texts = Texts::Mem { blob, ends };
        }
        self.index = Some(HashMap::new());
    }

    /// Sorted by key again, with the buckets for lookups: the entries added are sorted and
    /// merged in, in place, from the end (a night adds a few per cent; sorting and copying
    /// the whole baseline again took half of the memory of folding an import in).
    fn finish_apply(&mut self) {
        if self.index.take().is_none() && !self.buckets.is_empty() {
            return;
        }
        let added = self.len() - self.sorted;
        // Many new entries (a first import, a diffing data set's, which replaces the
        // baseline): sort them all, into new arrays. A few: merge them in place.
        if added > self.sorted / 4 {
            self.sort_all();
        } else if added > 0 {
            self.merge_added();
        }
        self.build_buckets();
    }

    /// Sort every entry by key, into new arrays.
    fn sort_all(&mut self) {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by_key(|i| self.keys[*i as usize]);
        if order.iter().enumerate().all(|(i, o)| i as u32 == *o) {
            return;
        }
        let (keys, recs, blob, ends) = self.gather(order.iter().map(|i| *i as usize));
        (self.keys, self.recs) = (keys.into(), recs.into());
        self.texts = Texts::Mem { blob, ends };
    }

    /// The keys, records and keys in words (joined, and where each ends) of the entries
    /// `order` names, in that order.
    fn gather(
        &self,
        order: impl ExactSizeIterator<Item = usize> + Clone,
    ) -> (Vec<u64>, Vec<u32>, String, Vec<u64>) {
        let keys = order.clone().map(|i| self.keys[i]).collect();
        let mut recs = Vec::with_capacity(order.len() * (self.width + 2));
        for i in order.clone() {
            recs.extend_from_slice(self.rec(i));
        }
        let mut blob = String::new();
        let mut ends = Vec::with_capacity(order.len());
        for i in order {
            blob.push_str(&self.key_text(i));
            ends.push(blob.len() as u64);
        }
        (keys, recs, blob, ends)
    }

    /// Merge the entries past `sorted` (any order) into those before it (sorted).
    fn merge_added(&mut self) {
        let (p, n, w) = (self.sorted, self.len(), self.width + 2);
        let mut added: Vec<usize> = (p..n).collect();
        added.sort_unstable_by_key(|&i| self.keys[i]);
        let (a_keys, a_recs, a_blob, a_ends) = self.gather(added.iter().copied());
        let a_text = |j: usize| {
            let start = if j == 0 { 0 } else { a_ends[j - 1] as usize };
            &a_blob.as_bytes()[start..a_ends[j] as usize]
        };
        let Texts::Mem { blob, ends } = &mut self.texts else {
            unreachable!("begin_apply keeps the keys in words in memory");
        };
        let mut bytes = std::mem::take(blob).into_bytes();
        let keys = self.keys.vec();
        let recs = self.recs.vec();
        // From the last slot down: the larger of the last sorted entry not yet placed and the
        // last added one. An entry only ever moves towards the end, over slots already read.
        let (mut i, mut j) = (p, a_keys.len());
        let mut end = ends.last().copied().unwrap_or(0) as usize;
        while j > 0 {
            let k = i + j - 1;
            ends[k] = end as u64;
            if i > 0 && keys[i - 1] > a_keys[j - 1] {
                let stop = ends[i - 1] as usize;
                let start = if i > 1 { ends[i - 2] as usize } else { 0 };
                bytes.copy_within(start..stop, end - (stop - start));
                end -= stop - start;
                keys[k] = keys[i - 1];
                recs.copy_within((i - 1) * w..i * w, k * w);
                i -= 1;
            } else {
                let t = a_text(j - 1);
                bytes[end - t.len()..end].copy_from_slice(t);
                end -= t.len();
                keys[k] = a_keys[j - 1];
                recs[k * w..(k + 1) * w].copy_from_slice(&a_recs[(j - 1) * w..j * w]);
                j -= 1;
            }
        }
        // Whole key texts were moved, each UTF-8: the blob still is.
        *blob = String::from_utf8(bytes).expect("key texts moved whole");
    }

    fn build_buckets(&mut self) {
        let mut b = Buckets::new(self.len());
        for k in self.keys.iter() {
            let sorted = b.push(*k);
            debug_assert!(sorted, "keys are sorted before their buckets are built");
        }
        (self.buckets, self.shift) = b.finish();
        self.sorted = self.len();
    }

    fn widen(&mut self, width: usize) {
        if width == self.width {
            return;
        }
        let (old, was) = (std::mem::take(&mut self.recs), self.width + 2);
        let n = width + 2;
        let mut recs = vec![0; self.len() * n];
        for i in 0..self.len() {
            recs[i * n..i * n + was].copy_from_slice(&old[i * was..(i + 1) * was]);
        }
        self.recs = recs.into();
        self.width = width;
    }
}

/// The bucket table of sorted keys, built as they come: `buckets[b]` is the first key whose
/// top bits are `b` or more.
struct Buckets {
    buckets: Vec<u32>,
    shift: u32,
    /// Keys so far, and the last.
    n: u32,
    last: Option<u64>,
}

impl Buckets {
    fn new(len: usize) -> Buckets {
        // About eight keys a bucket (one or two cache lines): 2^bits ≥ n / 8.
        let bits = (usize::BITS - (len / 8).max(1).leading_zeros()).min(31);
        Buckets {
            buckets: Vec::with_capacity((1 << bits) + 1),
            shift: 64 - bits,
            n: 0,
            last: None,
        }
    }

    /// The next key; false when it is not above the last (the keys are then not sorted,
    /// and the table is no use).
    fn push(&mut self, k: u64) -> bool {
        let sorted = self.last.is_none_or(|l| l < k);
        self.last = Some(k);
        let b = (k >> self.shift) as usize;
        while self.buckets.len() <= b {
            self.buckets.push(self.n);
        }
        self.n += 1;
        sorted
    }

    fn finish(mut self) -> (Vec<u32>, u32) {
        let all = (64 - self.shift) as usize;
        while self.buckets.len() <= 1 << all {
            self.buckets.push(self.n);
        }
        (self.buckets, self.shift)
    }
}

/// Read `n` items of `size` bytes from `file` at `at`, a few thousand at a time, into `f`.
fn each_chunk(
    file: &std::fs::File,
    at: u64,
    n: usize,
    size: usize,
    mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let per = (1 << 20) / size.max(1);
    let mut buf = vec![0u8; per.max(1) * size];
    let (mut at, mut left) = (at, n);
    while left > 0 {
        let take = left.min(per.max(1));
        let chunk = &mut buf[..take * size];
        file.read_exact_at(chunk, at)?;
        f(chunk)?;
        at += chunk.len() as u64;
        left -= take;
    }
    Ok(())
}

/// The objects of one kind.
#[derive(Clone, Debug, Default)]
pub struct KindState {
    pub cols: Vec<String>,
    pub rows: Entries,
}

impl KindState {
    fn col(&mut self, name: &str) -> usize {
        match self.cols.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                self.cols.push(name.to_string());
                self.rows.widen(self.cols.len());
                self.cols.len() - 1
            }
        }
    }

    /// Lay a row over what is there, column by column (a column the row lacks keeps its
    /// value, as Canvas leaves a field alone when the file has no column for it). Returns
    /// the entry's index.
    fn apply_one(
        &mut self,
        kind: &str,
        key: u64,
        key_text: &dyn Fn() -> String,
        values: &[(usize, u32)],
        status: &str,
        term: Option<&str>,
    ) -> usize {
        self.rows.begin_apply();
        let status = if status.is_empty() { "active" } else { status };
        let e = &mut self.rows;
        let i = match e.find(key) {
            Some(i) => i,
            None => {
                let i = e.keys.len();
                e.keys.vec().push(key);
                let n = e.recs.len() + e.width + 2;
                e.recs.vec().resize(n, 0);
                if let Texts::Mem { blob, ends } = &mut e.texts {
                    blob.push_str(&key_text());
                    ends.push(blob.len() as u64);
                }
                if let Some(ix) = &mut e.index {
                    ix.insert(key, i as u32);
                }
                i
            }
        };
        for (c, v) in values {
            e.rec_mut(i)[2 + c] = *v;
        }
        if let Some(t) = term {
            let t = e.word(t) as u32 + 1;
            e.rec_mut(i)[0] = t;
        }
        e.set_status(i, status, !super::deletes(kind, status));
        i
    }
}

/// What the baseline is about.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Meta {
    pub base_url: String,
    pub account: String,
    pub data_set: Option<String>,
    /// The imports folded in, oldest first.
    pub imports: Vec<u64>,
    pub updated_at: String,
}

#[derive(Clone, Debug, Default)]
pub struct Baseline {
    pub meta: Meta,
    pub kinds: BTreeMap<String, KindState>,
    pub course_term: IdMap,
    pub section_course: IdMap,
    /// Made from Canvas's provisioning report ([`from_report`]), not from bundles: the
    /// columns it leaves out are unknown, not absent.
    pub from_report: bool,
}

/// How an import scopes its removals (the options that matter to the baseline and plan).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Scope {
    /// Batch mode's term (the SIS term id, as the bundle's term_id column names it).
    pub batch_terms: Vec<String>,
    pub diffing: Option<String>,
    pub skip_deletes: bool,
    pub enrollment_drop: Option<String>,
    pub diffing_drop: Option<String>,
    pub user_remove: Option<String>,
    /// `--diffing-remaster-data-set`: the import joins the data set but is applied in full,
    /// with no diffing (§2.1), so it removes nothing.
    #[serde(default)]
    pub remaster: bool,
    /// Batch mode's term as given, when only Canvas can tell which SIS term it is (a Canvas
    /// id, `default`, `current`, `sis_integration_id:`): its removals are not known here.
    #[serde(default)]
    pub unknown_term: Option<String>,
}

impl Scope {
    /// The status a removal gives an object of `kind`.
    pub fn drop_status(&self, kind: &str) -> String {
        let s = match kind {
            "enrollment" if self.diffing.is_some() => self.diffing_drop.clone(),
            "enrollment" => self.enrollment_drop.clone(),
            "user" if self.diffing.is_some() => self.user_remove.clone(),
            _ => None,
        };
        s.unwrap_or_else(|| "deleted".into())
    }

    /// Whether an object of the baseline that the bundle lacks is removed by this import.
    /// `skip_deletes` does not stop batch-mode cleanup (§2.1); it does skip the rows a diff
    /// makes with a status matching `deleted`, as it skips any such row.
    pub fn removes(&self, kind: &str, term: Option<&str>) -> bool {
        if self.diffing.is_some() {
            return !self.remaster
                && !super::skipped(kind, &self.drop_status(kind), self.skip_deletes);
        }
        // SisBatch#remove_previous_imports: courses, sections and enrollments of the batch
        // term that an SIS import made.
        matches!(kind, "course" | "section" | "enrollment")
            && term.is_some_and(|t| self.batch_terms.iter().any(|b| b == t))
    }
}

impl Baseline {
    /// The keys of the live objects, per kind.
    pub fn live_keys(&self) -> BTreeMap<String, Vec<u64>> {
        self.kinds
            .iter()
            .map(|(k, s)| {
                let e = &s.rows;
                let keys = (0..e.len())
                    .filter(|i| e.term_and_live(*i).1)
                    .map(|i| e.keys[i])
                    .collect();
                (k.clone(), keys)
            })
            .collect()
    }

    /// Give the live objects of `kind` with these keys the status `status` (a diff's removals,
    /// folded into the plain baseline).
    pub fn drop_keys(&mut self, kind: &str, keys: &[u64], status: &str) {
        let Some(state) = self.kinds.get_mut(kind) else {
            return;
        };
        let live = !super::deletes(kind, status);
        for k in keys {
            if let Some(i) = state.rows.find(*k)
                && state.rows.entry(i).live
            {
                state.rows.set_status(i, status, live);
            }
        }
    }

    pub fn term_map(&self) -> TermMap {
        TermMap {
            course_term: self.course_term.clone(),
            section_course: self.section_course.clone(),
        }
    }

    /// Fold in an imported bundle: its rows over the state (or, for diffing, in its place),
    /// then the removals its scope makes.
    pub fn apply(&mut self, rows: &BundleRows, scope: &Scope, import_id: u64) {
        let mut a = Applier::new(self, scope);
        a.terms.add(rows);
        for (kind, list) in &rows.kinds {
            a.seen_of(kind);
            for r in list {
                let term = a.terms.term_of(kind, r);
                if super::skipped(kind, &r.status, a.scope.skip_deletes) {
                    continue;
                }
                let state = a.base.kinds.entry(kind.to_string()).or_default();
                // An empty cell leaves Canvas's value alone, except where it clears it.
                let values: Vec<(usize, u32)> = r
                    .values
                    .iter()
                    .map(|(c, v)| (state.col(c), *v, super::empty_clears(kind, c)))
                    .filter(|(_, v, clears)| *clears || *v != super::rows::empty_value())
                    .map(|(c, v, _)| (c, v))
                    .collect();
                let i = state.apply_one(
                    kind,
                    r.key,
                    &|| r.key_text.clone(),
                    &values,
                    &r.status,
                    term.as_deref(),
                );
                a.mark(kind, i);
            }
        }
        a.finish(import_id);
    }
}

/// Folds a bundle's rows into a baseline as they stream by ([`Sink`]), so that a baseline is
/// made without holding the bundle; [`Baseline::apply`] feeds it a bundle read whole.
pub struct Applier<'b> {
    base: &'b mut Baseline,
    scope: Scope,
    terms: TermMap,
    /// Per kind of the bundle, which entries it had.
    seen: BTreeMap<&'static str, Vec<bool>>,
    /// The current file's column → the kind's column (None: never compared).
    cols: Vec<Option<usize>>,
    /// The current file's column: an empty cell clears the value.
    clears: Vec<bool>,
    values: Vec<(usize, u32)>,
    /// Multi-term batch mode: the terms file's term ids, which are its scope's terms.
    bundle_terms: Option<Vec<String>>,
}

impl<'b> Applier<'b> {
    pub fn new(base: &'b mut Baseline, scope: &Scope) -> Applier<'b> {
        if scope.diffing.is_some() {
            // The data set's baseline is its last bundle, alone.
            base.kinds.clear();
            base.course_term.clear();
            base.section_course.clear();
            base.meta.imports.clear();
        }
        let terms = base.term_map();
        Applier {
            base,
            scope: scope.clone(),
            terms,
            seen: BTreeMap::new(),
            cols: Vec::new(),
            clears: Vec::new(),
            values: Vec::new(),
            bundle_terms: None,
        }
    }

    /// Take the scope's batch terms from the bundle's terms file as it streams by
    /// (multi-term batch mode).
    pub fn with_bundle_terms(mut self) -> Self {
        self.bundle_terms = Some(Vec::new());
        self
    }

    fn seen_of(&mut self, kind: &str) -> &mut Vec<bool> {
        let kind = crate::validate::kinds::kind_by_name(kind).map_or("", |k| k.name);
        self.seen.entry(kind).or_default()
    }

    fn mark(&mut self, kind: &str, i: usize) {
        let seen = self.seen_of(kind);
        if seen.len() <= i {
            seen.resize(i + 1, false);
        }
        seen[i] = true;
    }

    /// The removals the scope makes, and the baseline ready to be saved or compared with.
    pub fn finish(mut self, import_id: u64) {
        if let Some(terms) = self.bundle_terms.take() {
            self.scope.batch_terms = terms;
        }
        let scope = &self.scope;
        if scope.diffing.is_none() {
            for (kind, seen) in &self.seen {
                let Some(state) = self.base.kinds.get_mut(*kind) else {
                    continue;
                };
                let drop = scope.drop_status(kind);
                let e = &mut state.rows;
                let removed: Vec<usize> = (0..e.len())
                    .filter(|i| {
                        let x = e.entry(*i);
                        x.live
                            && !seen.get(*i).copied().unwrap_or(false)
                            && scope.removes(kind, x.term)
                    })
                    .collect();
                for i in removed {
                    e.set_status(i, &drop, !super::deletes(kind, &drop));
                }
            }
        }
        for state in self.base.kinds.values_mut() {
            state.rows.finish_apply();
        }
        self.base.course_term = std::mem::take(&mut self.terms.course_term);
        self.base.section_course = std::mem::take(&mut self.terms.section_course);
        self.base.meta.imports.push(import_id);
        self.base.meta.updated_at = jiff::Timestamp::now().to_string();
    }
}

impl Sink for Applier<'_> {
    fn file(&mut self, f: &FileInfo) {
        self.seen_of(f.kind);
        let state = self.base.kinds.entry(f.kind.to_string()).or_default();
        self.cols = f
            .headers
            .iter()
            .map(|h| (!ignored_column(h)).then(|| state.col(h)))
            .collect();
        self.clears = f
            .headers
            .iter()
            .map(|h| super::empty_clears(f.kind, h))
            .collect();
    }

    fn row(&mut self, f: &FileInfo, r: &RowView) {
        if f.kind == "term"
            && let (Some(terms), Some(t)) = (&mut self.bundle_terms, r.term)
        {
            terms.push(t.to_string());
        }
        if super::skipped(f.kind, r.status, self.scope.skip_deletes) {
            // Canvas never reads it: no change, and batch mode may remove its object.
            return;
        }
        self.terms
            .add_row(f.kind, r.course_id, r.section_id, r.term);
        let term = self
            .terms
            .term_of_ref(f.kind, r.term, r.course_id, r.section_id)
            .map(str::to_string);
        self.values.clear();
        let empty = super::rows::empty_value();
        let clears = &self.clears;
        // An empty cell leaves Canvas's value alone, except where it clears it.
        self.values
            .extend(self.cols.iter().enumerate().filter_map(|(i, c)| {
                let v = r.value(i);
                c.filter(|_| v != empty || clears[i]).map(|c| (c, v))
            }));
        let Some(state) = self.base.kinds.get_mut(f.kind) else {
            return;
        };
        let i = state.apply_one(
            f.kind,
            r.key,
            &|| r.key_text(),
            &self.values,
            r.status,
            term.as_deref(),
        );
        self.mark(f.kind, i);
    }
}

/// A baseline of what Canvas holds now, from its provisioning report's rows (§10.3). The
/// report speaks Canvas's words: a concluded course or enrollment is `completed` to an
/// import, an unpublished course or an invited enrollment is live. Its dates are written
/// differently from a bundle's, and its Canvas ids are not in a bundle: those columns are
/// left out, so that they never read as updates. So is an account's `parent_account_id`: the
/// report names the root account by its SIS id where a bundle leaves it empty.
pub fn from_report(mut rows: BundleRows, base_url: &str, account: &str) -> Baseline {
    for (kind, list) in rows.kinds.iter_mut() {
        for r in list.iter_mut() {
            r.status = match r.status.as_str() {
                "concluded" => "completed".into(),
                "unpublished" | "invited" | "creation_pending" | "available" | "claimed" => {
                    "active".into()
                }
                s => s.to_string(),
            };
            r.values.retain(|(c, _)| {
                !(c.ends_with("_date")
                    || c.starts_with("canvas_")
                    || c == "created_by_sis"
                    || c == "authentication_provider_id"
                    || (*kind == "account" && c == "parent_account_id"))
            });
        }
    }
    let mut b = Baseline {
        meta: Meta {
            base_url: base_url.to_string(),
            account: account.to_string(),
            data_set: None,
            imports: vec![],
            updated_at: jiff::Timestamp::now().to_string(),
        },
        ..Default::default()
    };
    b.apply(&rows, &Scope::default(), 0);
    b.meta.imports.clear();
    b.from_report = true;
    b
}

/// Where the baseline of a Canvas URL, account and data set lives.
pub fn baseline_path(
    state_dir: &Path,
    base_url: &str,
    account: &str,
    data_set: Option<&str>,
) -> PathBuf {
    let id = super::rows::hash64(&[base_url, account, data_set.unwrap_or("")]);
    state_dir
        .join("baselines")
        .join(format!("{id:016x}.baseline"))
}

/// A pending baseline: what an import sent, until it ends. Not its rows (a 1 GB bundle is
/// 13 million of them): where the bytes sent can be read back (the run archive's copy, the
/// file as given) and their sha256, so that the import's rows are folded into the baseline
/// from those bytes, and only those, once it has ended well ([`super::on_end`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// `rows::HASHES` when it was written; absent (0) before issue 13.
    #[serde(default)]
    pub hashes: u32,
    pub meta: Meta,
    /// The removals the import makes. For multi-term batch mode its terms are the bundle's
    /// terms file's, read with the rows (`multi_term`).
    pub scope: Scope,
    #[serde(default)]
    pub multi_term: bool,
    /// Files that may still hold the bytes sent, the first with `sha256` read. Empty in a
    /// pending baseline of an older canvas-sis, which held the rows themselves.
    #[serde(default)]
    pub sources: Vec<PathBuf>,
    #[serde(default)]
    pub sha256: String,
}

/// Where the pending baseline of import `import_id` of a Canvas URL and account lives: import
/// ids repeat from one Canvas to another (production and its test copy).
pub fn pending_path(state_dir: &Path, base_url: &str, account: &str, import_id: u64) -> PathBuf {
    let id = super::rows::hash64(&[base_url, account, &import_id.to_string()]);
    state_dir.join("pending").join(format!("{id:016x}.json"))
}

/// Where an older canvas-sis wrote it (by import id alone).
pub fn old_pending_path(state_dir: &Path, import_id: u64) -> PathBuf {
    state_dir.join("pending").join(format!("{import_id}.json"))
}

/// Read a pending file; `Ok(None)` when there is none.
pub fn load<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match crate::paths::read_no_follow(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(corrupt(path, &e));
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| corrupt(path, &e))
}

fn corrupt(path: &Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::new(
        crate::exit::Exit::NoInput,
        format!("the baseline {} cannot be read: {e}", path.display()),
    )
    .kind("baseline_unreadable")
    .hint("compare with Canvas's own state instead (`plan --against canvas`, or `[guard] against = \"canvas\"` for submit), or move the file aside: the next import that ends well makes a new one")
}

/// Write atomically (a new file renamed over the old) in a private dir.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| save_failure(path, &e))?;
    save_bytes(path, &bytes)
}

fn save_failure(path: &Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::config(format!("cannot write {}: {e}", path.display())).kind("state_dir")
}

fn save_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::paths::ensure_private_dir(dir).map_err(|e| save_failure(path, &e))?;
    crate::paths::write_atomic(path, bytes).map_err(|e| save_failure(path, &e))
}

// The baseline on disk. JSON of every entry (version 1, before issue 13) took 390 MB and
// 18 s to read for 2 million enrollments; this is the in-memory layout written out, read
// back in bulk. Little-endian throughout; a string is a u32 length and its UTF-8 bytes.
//
//   MAGIC, u32 VERSION, string meta (JSON of `Meta`),
//   u32 n + n × (string course, string term), u32 n + n × (string section, string course),
//   u32 kinds, per kind: string name, u32 n + n × string column, u32 n + n × string word,
//     u64 entries, zero bytes to a multiple of 8 from the file's start, the keys (entries ×
//     u64, sorted), the records (entries × (2 + columns) u32: the term index + 1, the status
//     index with `live` as its top bit, one value hash per column), zero bytes to a multiple
//     of 8; then the keys in words: entries × u64 end, u64 len, len bytes.
//
// The keys and records are the arrays `plan` looks up, as they lie in memory: it maps the
// file and reads them in place (`super::mapped`). The keys in words come last in each kind so
// that `plan` can leave them in the file (`Texts::Disk`) and read only its examples'.
//
// Version 2 (read, never written) had per entry u64 key, u32 term, u32 status, u8 live and
// the values, packed; it is read into memory.

const MAGIC: &[u8; 20] = b"canvas-sis baseline\n";
/// The version written; version 2 is read too, any other reads as no baseline (see
/// [`load_baseline`]).
pub const VERSION: u32 = 3;
const READ_TOO: u32 = 2;

/// Write a baseline atomically in a private dir.
pub fn save_baseline(path: &Path, b: &Baseline) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::paths::ensure_private_dir(dir).map_err(|e| save_failure(path, &e))?;
    // Streamed into a new file renamed over the old: a reader sees the old baseline or the
    // new one.
    crate::paths::replace(path, crate::paths::Durable::Yes, |f| {
        encode(&mut BufWriter::with_capacity(1 << 20, f), b)
    })
    .map_err(|e| save_failure(path, &e))
}

/// A writer that knows how many bytes it has written (for the arrays' alignment).
struct Counting<W> {
    w: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let k = self.w.write(b)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

impl<W: Write> Counting<W> {
    /// Zero bytes up to a multiple of 8 from the start.
    fn pad8(&mut self) -> std::io::Result<()> {
        let pad = (8 - self.n % 8) % 8;
        self.write_all(&[0u8; 8][..pad as usize])
    }
}

fn encode(w: &mut impl Write, b: &Baseline) -> std::io::Result<()> {
    let w = &mut Counting { w, n: 0 };
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    put_str(w, &serde_json::to_string(&b.meta)?)?;
    for map in [&b.course_term, &b.section_course] {
        put_u32(w, map.len())?;
        for (k, v) in map {
            put_str(w, k)?;
            put_str(w, v)?;
        }
    }
    put_u32(w, b.kinds.len())?;
    for (name, state) in &b.kinds {
        let e = &state.rows;
        debug_assert!(e.index.is_none(), "an applied baseline is finished");
        put_str(w, name)?;
        for list in [&state.cols, &e.words] {
            put_u32(w, list.len())?;
            for s in list {
                put_str(w, s)?;
            }
        }
        w.write_all(&(e.len() as u64).to_le_bytes())?;
        w.pad8()?;
        for k in e.keys.iter() {
            w.write_all(&k.to_le_bytes())?;
        }
        for i in 0..e.len() {
            let rec = e.rec(i);
            w.write_all(&rec[0].to_le_bytes())?;
            w.write_all(&rec[1].to_le_bytes())?;
            // Entries written before a column was added are short of it: 0, never given.
            for c in 0..state.cols.len() {
                let v = if c < e.width { rec[2 + c] } else { 0 };
                w.write_all(&v.to_le_bytes())?;
            }
        }
        w.pad8()?;
        let mut len = 0u64;
        for i in 0..e.len() {
            len += e.key_text(i).len() as u64;
            w.write_all(&len.to_le_bytes())?;
        }
        w.write_all(&len.to_le_bytes())?;
        for i in 0..e.len() {
            w.write_all(e.key_text(i).as_bytes())?;
        }
    }
    w.flush()
}

fn put_u32(w: &mut impl Write, n: usize) -> std::io::Result<()> {
    let n = u32::try_from(n).map_err(|_| std::io::Error::other("too many items"))?;
    w.write_all(&n.to_le_bytes())
}

fn put_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    put_u32(w, s.len())?;
    w.write_all(s.as_bytes())
}

/// Read the baseline at `path`: `Ok(None)` when there is none, or when it is of another
/// version (logged: the next import that ends well writes one of this version); a file that
/// is neither is corrupt (exit 66, `baseline_unreadable`). With `texts` the keys in words are
/// read too (to fold an import in and write it back); without, they stay in the file.
pub fn load_baseline(path: &Path, texts: bool) -> Result<Option<Baseline>> {
    let file = match crate::paths::no_follow().read(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Version 1 was JSON, named `….json`.
            let old = path.with_extension("json");
            if old.exists() {
                tracing::warn!(target: "canvas_sis", "the baseline {} is of format version 1, and this canvas-sis reads version {VERSION}: no baseline until the next import that ends well writes one", old.display());
            }
            return Ok(None);
        }
        Err(e) => return Err(corrupt(path, &e)),
    };
    let size = file.metadata().map_err(|e| corrupt(path, &e))?.len();
    let mut r = Reader {
        r: BufReader::with_capacity(1 << 20, file),
        pos: 0,
        size,
    };
    let mut head = [0u8; 24];
    let n = crate::bundle::read_up_to(&mut r.r, &mut head).map_err(|e| corrupt(path, &e))?;
    let other_version = if head[..n].starts_with(b"{\"meta\":") {
        Some(1)
    } else if n == 24 && head[..20] == MAGIC[..] {
        let v = u32::from_le_bytes(head[20..24].try_into().unwrap_or_default());
        (v != VERSION && v != READ_TOO).then_some(v)
    } else {
        return Err(corrupt(path, &"not a baseline of canvas-sis"));
    };
    if let Some(v) = other_version {
        tracing::warn!(target: "canvas_sis", "the baseline {} is of format version {v}, and this canvas-sis reads version {VERSION}: no baseline until the next import that ends well writes one", path.display());
        return Ok(None);
    }
    r.pos = 24;
    let map = if head[20..24] == VERSION.to_le_bytes() {
        let m = Mapping::of(r.r.get_ref(), size).map_err(|e| corrupt(path, &e))?;
        Some(std::sync::Arc::new(m))
    } else {
        None
    };
    decode(&mut r, path, texts, map.as_ref())
        .map(Some)
        .map_err(|e| corrupt(path, &e))
}

/// A bounded reader: every length is checked against what is left of the file, so that a
/// corrupt file is an error, never a huge allocation.
struct Reader {
    r: BufReader<std::fs::File>,
    pos: u64,
    size: u64,
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("corrupt ({what})"))
}

impl Reader {
    /// Step over `n` bytes, which the file must hold.
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        self.count(n, 1)?;
        self.r
            .seek_relative(i64::try_from(n).map_err(|_| bad("a length"))?)?;
        self.pos += n;
        Ok(())
    }

    fn bytes<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u32(&mut self) -> std::io::Result<u32> {
        self.bytes::<4>().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> std::io::Result<u64> {
        self.bytes::<8>().map(u64::from_le_bytes)
    }

    /// A count of items of at least `each` bytes that the rest of the file can hold.
    fn count(&mut self, n: u64, each: u64) -> std::io::Result<usize> {
        if n.saturating_mul(each.max(1)) > self.size.saturating_sub(self.pos) {
            return Err(bad("a count past the end"));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> std::io::Result<String> {
        let n = self.u32()?;
        let n = self.count(u64::from(n), 1)?;
        let mut b = vec![0u8; n];
        self.r.read_exact(&mut b)?;
        self.pos += n as u64;
        String::from_utf8(b).map_err(|_| bad("a string not UTF-8"))
    }

    fn strings(&mut self) -> std::io::Result<Vec<String>> {
        let n = self.u32()?;
        let n = self.count(u64::from(n), 4)?;
        (0..n).map(|_| self.string()).collect()
    }
}

/// Read a baseline: its arrays in place from `map` (version 3), else out of the file
/// (version 2).
fn decode(
    r: &mut Reader,
    path: &Path,
    texts: bool,
    map: Option<&std::sync::Arc<Mapping>>,
) -> std::io::Result<Baseline> {
    let meta: Meta = serde_json::from_str(&r.string()?)?;
    let mut maps = [IdMap::default(), IdMap::default()];
    for map in &mut maps {
        let n = r.u32()?;
        let n = r.count(u64::from(n), 8)?;
        for _ in 0..n {
            map.insert(r.string()?, r.string()?);
        }
    }
    let [course_term, section_course] = maps;
    let mut kinds = BTreeMap::new();
    let n = r.u32()?;
    for _ in 0..r.count(u64::from(n), 4)? {
        let name = r.string()?;
        let cols = r.strings()?;
        let words = r.strings()?;
        let width = cols.len();
        let n = r.u64()?;
        let mut e = Entries {
            width,
            words,
            ..Default::default()
        };
        let n = match map {
            Some(map) => {
                let n = r.count(n, 8 + 4 * (width as u64 + 2) + 8)?;
                r.skip(r.pos.next_multiple_of(8) - r.pos)?;
                let at = |pos: u64| usize::try_from(pos).map_err(|_| bad("an offset"));
                let (keys_at, recs_at) = (r.pos, r.pos + 8 * n as u64);
                e.keys = Store::mapped(map, at(keys_at)?, n).ok_or_else(|| bad("the keys"))?;
                r.skip(8 * n as u64)?;
                e.recs = Store::mapped(map, at(recs_at)?, n * (width + 2))
                    .ok_or_else(|| bad("the records"))?;
                r.skip(4 * (n * (width + 2)) as u64)?;
                r.skip(r.pos.next_multiple_of(8) - r.pos)?;
                // Checked, and the buckets built, with reads of the file rather than through
                // the mapping: its pages are then mapped only as the plan looks them up,
                // and a plan can load its baseline while the validator runs without the
                // two memories adding up (issue 13).
                // A baseline read to be changed (`texts`: an import is folded in) is read
                // into memory in the same pass instead: through the mapping, its pages would
                // count twice, mapped and copied.
                let file = r.r.get_ref();
                let mut buckets = Buckets::new(n);
                let mut keys = Vec::with_capacity(if texts { n } else { 0 });
                each_chunk(file, keys_at, n, 8, |chunk| {
                    for k in chunk.chunks_exact(8) {
                        let k = u64::from_le_bytes(k.try_into().unwrap_or_default());
                        if !buckets.push(k) {
                            return Err(bad("keys out of order"));
                        }
                        if texts {
                            keys.push(k);
                        }
                    }
                    Ok(())
                })?;
                (e.buckets, e.shift) = buckets.finish();
                e.sorted = n;
                let words = e.words.len();
                let mut recs = Vec::with_capacity(if texts { n * (width + 2) } else { 0 });
                each_chunk(file, recs_at, n, 4 * (width + 2), |chunk| {
                    for rec in chunk.chunks_exact(4 * (width + 2)) {
                        let word = |i: usize| {
                            u32::from_le_bytes(rec[4 * i..4 * i + 4].try_into().unwrap_or_default())
                        };
                        Slot::of(&[word(0), word(1)]).check(words)?;
                        if texts {
                            recs.extend((0..width + 2).map(word));
                        }
                    }
                    Ok(())
                })?;
                if texts {
                    (e.keys, e.recs) = (keys.into(), recs.into());
                }
                n
            }
            None => {
                let n = r.count(n, 17 + 4 * width as u64 + 8)?;
                let size = 17 + 4 * width;
                let mut buckets = Buckets::new(n);
                let mut keys = Vec::with_capacity(n);
                let mut recs = Vec::with_capacity(n * (width + 2));
                let words = e.words.len();
                each_chunk(r.r.get_ref(), r.pos, n, size, |chunk| {
                    for rec in chunk.chunks_exact(size) {
                        let key = u64::from_le_bytes(rec[0..8].try_into().unwrap_or_default());
                        if !buckets.push(key) {
                            return Err(bad("keys out of order"));
                        }
                        let slot = Slot {
                            term: u32::from_le_bytes(rec[8..12].try_into().unwrap_or_default()),
                            status: u32::from_le_bytes(rec[12..16].try_into().unwrap_or_default()),
                            live: rec[16] != 0,
                        };
                        slot.check(words)?;
                        keys.push(key);
                        recs.extend_from_slice(&[0, 0]);
                        let at = recs.len() - 2;
                        slot.put(&mut recs[at..]);
                        recs.extend(
                            rec[17..]
                                .chunks_exact(4)
                                .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default())),
                        );
                    }
                    Ok(())
                })?;
                r.skip((n * size) as u64)?;
                (e.buckets, e.shift) = buckets.finish();
                e.sorted = n;
                (e.keys, e.recs) = (keys.into(), recs.into());
                n
            }
        };
        let ends_at = r.pos;
        r.count(8 * n as u64, 1)?;
        let ends: Vec<u64> = if texts {
            let v = (0..n)
                .map(|_| r.u64())
                .collect::<std::io::Result<Vec<u64>>>()?;
            if v.windows(2).any(|w| w[0] > w[1]) {
                return Err(bad("key texts out of order"));
            }
            v
        } else {
            r.skip(8 * n as u64)?;
            Vec::new()
        };
        let len = r.u64()?;
        let blob_at = r.pos;
        r.count(len, 1)?;
        if texts {
            if ends.last().copied().unwrap_or(0) != len {
                return Err(bad("key texts of the wrong length"));
            }
            let mut b = vec![0u8; len as usize];
            r.r.read_exact(&mut b)?;
            r.pos += len;
            let blob = String::from_utf8(b).map_err(|_| bad("key texts not UTF-8"))?;
            if ends.iter().any(|e| !blob.is_char_boundary(*e as usize)) {
                return Err(bad("key texts split inside a character"));
            }
            e.texts = Texts::Mem { blob, ends };
        } else {
            r.skip(len)?;
            e.texts = Texts::Disk {
                path: path.to_path_buf(),
                ends_at,
                blob_at,
            };
        }
        kinds.insert(name, KindState { cols, rows: e });
    }
    if r.pos != r.size {
        return Err(bad("bytes after the end"));
    }
    Ok(Baseline {
        meta,
        kinds,
        course_term,
        section_course,
        from_report: false,
    })
}

/// The `i`th key in words of a kind whose texts were left in the file.
fn read_text(path: &Path, ends_at: u64, blob_at: u64, i: usize) -> std::io::Result<String> {
    let mut f = crate::paths::no_follow().read(true).open(path)?;
    let (start, end) = if i == 0 {
        f.seek(std::io::SeekFrom::Start(ends_at))?;
        let mut b = [0u8; 8];
        f.read_exact(&mut b)?;
        (0, u64::from_le_bytes(b))
    } else {
        f.seek(std::io::SeekFrom::Start(ends_at + 8 * (i as u64 - 1)))?;
        let mut b = [0u8; 16];
        f.read_exact(&mut b)?;
        (
            u64::from_le_bytes(b[..8].try_into().unwrap_or_default()),
            u64::from_le_bytes(b[8..].try_into().unwrap_or_default()),
        )
    };
    if end < start || end - start > 1 << 20 {
        return Err(bad("a key text"));
    }
    f.seek(std::io::SeekFrom::Start(blob_at + start))?;
    let mut b = vec![0u8; (end - start) as usize];
    f.read_exact(&mut b)?;
    String::from_utf8(b).map_err(|_| bad("a key text not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::read::{read_bundle, visit};

    const COURSES: &str = "course_id,short_name,long_name,status,term_id\nc1,C1,Course 1,active,T1\nc2,C2,Course 2,deleted,T2\n";
    const SECTIONS: &str = "section_id,course_id,name,status\ns1,c1,S1,active\n";
    const ENROLL: &str = "course_id,section_id,user_id,role,status\nc1,s1,u1,student,active\nc1,s1,ü2,teacher,active\n";
    const USERS: &str = "user_id,login_id,last_name,password,status\nu1,a,One,secret,active\nü2,b,Two,x,suspended\n";

    fn dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (n, t) in [
            ("courses.csv", COURSES),
            ("enrollments.csv", ENROLL),
            ("sections.csv", SECTIONS),
            ("users.csv", USERS),
        ] {
            std::fs::write(d.path().join(n), t).unwrap();
        }
        d
    }

    /// Everything a baseline says, in a form to compare.
    fn dump(b: &Baseline) -> Vec<String> {
        let mut out = vec![
            serde_json::to_string(&b.meta).unwrap(),
            format!("{:?}", b.course_term.iter().collect::<BTreeMap<_, _>>()),
            format!("{:?}", b.section_course.iter().collect::<BTreeMap<_, _>>()),
        ];
        for (k, s) in &b.kinds {
            out.push(format!("{k} {:?}", s.cols));
            for i in 0..s.rows.len() {
                let e = s.rows.entry(i);
                let values: Vec<u32> = (0..s.cols.len())
                    .map(|c| e.values.get(c).copied().unwrap_or(0))
                    .collect();
                out.push(format!(
                    "{k} {} {:?} {} {} {values:?} {}",
                    s.rows.keys[i],
                    e.term,
                    e.status,
                    e.live,
                    s.rows.key_text(i)
                ));
                assert_eq!(s.rows.find(s.rows.keys[i]), Some(i));
            }
        }
        out
    }

    fn built() -> Baseline {
        let d = dir();
        let mut b = Baseline::default();
        b.meta.base_url = "https://canvas.example.edu/".into();
        b.apply(&read_bundle(d.path()).unwrap(), &Scope::default(), 7);
        b
    }

    #[test]
    fn a_baseline_round_trips_with_or_without_its_keys_in_words() {
        let b = built();
        assert_eq!(b.kinds["user"].rows.values().filter(|e| e.live).count(), 1);
        assert!(!b.kinds["user"].cols.iter().any(|c| c == "password"));
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("baselines/x.baseline");
        save_baseline(&path, &b).unwrap();
        for texts in [true, false] {
            let back = load_baseline(&path, texts).unwrap().unwrap();
            assert_eq!(dump(&back), dump(&b), "texts in memory: {texts}");
            assert_eq!(back.kinds["enrollment"].rows.find(12345), None);
        }
        // Folding another import into a loaded baseline writes what folding in memory does.
        let d2 = tempfile::tempdir().unwrap();
        std::fs::write(
            d2.path().join("users.csv"),
            "user_id,login_id,email,status\nu3,c,c@x.edu,active\nu1,a,a@x.edu,deleted\n",
        )
        .unwrap();
        let next = read_bundle(d2.path()).unwrap();
        let mut mem = b.clone();
        mem.apply(&next, &Scope::default(), 8);
        let mut disk = load_baseline(&path, true).unwrap().unwrap();
        disk.apply(&next, &Scope::default(), 8);
        mem.meta.updated_at.clear();
        disk.meta.updated_at.clear();
        assert_eq!(dump(&disk), dump(&mem));
        save_baseline(&path, &disk).unwrap();
        let again = load_baseline(&path, false).unwrap().unwrap();
        let mut again_dump = dump(&again);
        again_dump[0] = dump(&disk)[0].clone();
        assert_eq!(again_dump, dump(&disk));
    }

    /// Folding nights into a baseline merges the new objects in among the old, in place:
    /// afterwards every key is in order, has its own record and its own key in words, and is
    /// found; and it says what one fold of all the rows says.
    #[test]
    fn folded_objects_are_merged_in_among_the_old_in_key_order() {
        let users = |ids: std::ops::Range<u32>, status: &str| {
            let mut t = String::from("user_id,login_id,email,status\n");
            for i in ids {
                t.push_str(&format!("u{i},l{i},u{i}@x.edu,{status}\n"));
            }
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join("users.csv"), t).unwrap();
            (read_bundle(d.path()).unwrap(), d)
        };
        let mut nightly = Baseline::default();
        // Many new users (sorted anew), a few (merged in place), none.
        let nights = [
            (0..40, "active"),
            (30..90, "active"),
            (10..20, "deleted"),
            (85..95, "active"),
            (95..140, "active"),
        ];
        let check = |e: &Entries, when: &str| {
            assert!(e.keys.windows(2).all(|k| k[0] < k[1]), "{when}");
            for i in 0..e.len() {
                let text = e.key_text(i);
                assert_eq!(super::super::rows::row_hash(&[&text]), e.keys[i], "{text}");
                assert_eq!(e.find(e.keys[i]), Some(i), "{when}");
            }
        };
        for (night, (ids, status)) in nights.iter().enumerate() {
            let (rows, _d) = users(ids.clone(), status);
            nightly.apply(&rows, &Scope::default(), night as u64);
            check(&nightly.kinds["user"].rows, &format!("night {night}"));
        }
        let e = &nightly.kinds["user"].rows;
        assert_eq!(e.len(), 140);
        let live = e.values().filter(|x| x.live).count();
        assert_eq!(live, 130, "u10..u19 deleted");
        // Saved and read back, folded again: the same.
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("x.baseline");
        save_baseline(&path, &nightly).unwrap();
        let mut back = load_baseline(&path, true).unwrap().unwrap();
        let (rows, _d) = users(135..150, "active");
        back.apply(&rows, &Scope::default(), 9);
        nightly.apply(&rows, &Scope::default(), 9);
        back.meta.updated_at.clear();
        nightly.meta.updated_at.clear();
        assert_eq!(dump(&back), dump(&nightly));
        assert_eq!(back.kinds["user"].rows.len(), 150);
        check(&back.kinds["user"].rows, "read back and folded");
    }

    #[test]
    fn a_slot_keeps_any_status_index_apart_from_live() {
        let mut rec = [0u32; 3];
        for (status, live) in [(0, true), (70_000, false), (0x7fff_ffff, true)] {
            let s = Slot {
                term: 9,
                status,
                live,
            };
            s.put(&mut rec);
            let back = Slot::of(&rec);
            assert_eq!((back.term, back.status, back.live), (9, status, live));
        }
    }

    #[test]
    fn streaming_the_bundle_in_makes_the_same_baseline_as_reading_it_whole() {
        let d = dir();
        let mut streamed = Baseline::default();
        streamed.meta.base_url = "https://canvas.example.edu/".into();
        let mut a = Applier::new(&mut streamed, &Scope::default());
        visit(d.path(), &mut a).unwrap();
        a.finish(7);
        let mut whole = built();
        whole.meta.updated_at = streamed.meta.updated_at.clone();
        assert_eq!(dump(&streamed), dump(&whole));
    }

    #[test]
    fn another_version_reads_as_no_baseline_and_a_corrupt_file_as_unreadable() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("x.baseline");
        let mut newer = MAGIC.to_vec();
        newer.extend_from_slice(&(VERSION + 1).to_le_bytes());
        newer.extend_from_slice(b"whatever comes next");
        std::fs::write(&path, &newer).unwrap();
        assert!(load_baseline(&path, false).unwrap().is_none());
        // Version 1: JSON, at the old name or at this one.
        std::fs::write(&path, br#"{"meta":{"base_url":"x"},"kinds":{}}"#).unwrap();
        assert!(load_baseline(&path, false).unwrap().is_none());
        std::fs::remove_file(&path).unwrap();
        std::fs::write(path.with_extension("json"), b"{\"meta\":{}}").unwrap();
        assert!(load_baseline(&path, false).unwrap().is_none());

        save_baseline(&path, &built()).unwrap();
        let good = std::fs::read(&path).unwrap();
        let unreadable = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            let f = load_baseline(&path, false).unwrap_err();
            assert_eq!(f.kind, "baseline_unreadable", "{}", f.message);
            assert_eq!(f.exit, crate::exit::Exit::NoInput);
        };
        unreadable(b"{not json");
        unreadable(&good[..10]);
        unreadable(&good[..good.len() - 1]);
        let mut longer = good.clone();
        longer.push(0);
        unreadable(&longer);
        // A count that claims more than the file holds.
        let mut huge = good.clone();
        huge[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        unreadable(&huge);
        // Every cut of the file is an error, never a panic or a baseline.
        for n in (24..good.len()).step_by(7) {
            unreadable(&good[..n]);
        }
        // Arrays read in place are checked as the packed ones were: a status past the
        // kind's words, keys out of order.
        let mut b = built();
        b.kinds.get_mut("enrollment").unwrap().rows.recs.vec()[1] = 0x7fff_fff0;
        save_baseline(&path, &b).unwrap();
        unreadable(&std::fs::read(&path).unwrap());
        let mut b = built();
        let keys = b.kinds.get_mut("enrollment").unwrap().rows.keys.vec();
        assert!(keys.len() >= 2);
        keys.swap(0, 1);
        save_baseline(&path, &b).unwrap();
        unreadable(&std::fs::read(&path).unwrap());
    }

    /// What version 2 wrote: the records packed, one after another.
    fn encode_v2(b: &Baseline) -> Vec<u8> {
        let mut w = MAGIC.to_vec();
        w.extend_from_slice(&READ_TOO.to_le_bytes());
        put_str(&mut w, &serde_json::to_string(&b.meta).unwrap()).unwrap();
        for map in [&b.course_term, &b.section_course] {
            put_u32(&mut w, map.len()).unwrap();
            for (k, v) in map {
                put_str(&mut w, k).unwrap();
                put_str(&mut w, v).unwrap();
            }
        }
        put_u32(&mut w, b.kinds.len()).unwrap();
        for (name, state) in &b.kinds {
            let e = &state.rows;
            put_str(&mut w, name).unwrap();
            for list in [&state.cols, &e.words] {
                put_u32(&mut w, list.len()).unwrap();
                for s in list {
                    put_str(&mut w, s).unwrap();
                }
            }
            w.extend_from_slice(&(e.len() as u64).to_le_bytes());
            for (i, k) in e.keys.iter().enumerate() {
                let s = Slot::of(e.rec(i));
                w.extend_from_slice(&k.to_le_bytes());
                w.extend_from_slice(&s.term.to_le_bytes());
                w.extend_from_slice(&s.status.to_le_bytes());
                w.push(u8::from(s.live));
                for v in &e.rec(i)[2..] {
                    w.extend_from_slice(&v.to_le_bytes());
                }
            }
            let mut len = 0u64;
            for i in 0..e.len() {
                len += e.key_text(i).len() as u64;
                w.extend_from_slice(&len.to_le_bytes());
            }
            w.extend_from_slice(&len.to_le_bytes());
            for i in 0..e.len() {
                w.extend_from_slice(e.key_text(i).as_bytes());
            }
        }
        w
    }

    /// A baseline an older canvas-sis wrote (version 2) is read as it was, and folding an
    /// import into it writes this version.
    #[test]
    fn a_version_2_baseline_is_still_read() {
        let b = built();
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("x.baseline");
        std::fs::write(&path, encode_v2(&b)).unwrap();
        for texts in [true, false] {
            let back = load_baseline(&path, texts).unwrap().unwrap();
            assert_eq!(dump(&back), dump(&b), "texts in memory: {texts}");
        }
        let mut back = load_baseline(&path, true).unwrap().unwrap();
        back.apply(&BundleRows::default(), &Scope::default(), 9);
        save_baseline(&path, &back).unwrap();
        let head = std::fs::read(&path).unwrap();
        assert_eq!(head[20..24], VERSION.to_le_bytes());
        assert_eq!(
            dump(&load_baseline(&path, false).unwrap().unwrap())[1..],
            dump(&back)[1..]
        );
    }
}
