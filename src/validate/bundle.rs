//! Cross-file state: compact id sets (64-bit hashes), references, duplicates.

use super::fast::{IdMap, SEED, hash_bytes};
use super::kinds::{NS_COUNT, Ns};

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

/// A reference to an id, as a row makes it (see [`Bundle::reference_deferred`]).
pub struct Reference<'a> {
    pub ns: Ns,
    pub id: &'a str,
    /// Where the id's text is: record `src` of the batch being checked, field `field`.
    pub src: u32,
    pub field: u32,
    /// Where the referencing field is.
    pub at: u64,
    /// Canvas's row number of the referencing row.
    pub row: u64,
    /// The referencing kind (index in `KINDS`) and column (index in its columns).
    pub kind: u8,
    pub col: u8,
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

/// An enrollment row's section and course, both given (the first row of each pair):
/// whether they are related is known only once the whole bundle is read (§6.4).
pub struct Listed {
    pub loc: u64,
    pub row: u64,
    pub section: u64,
    pub course: u64,
    /// How many enrollment rows list this pair.
    pub count: u32,
    /// Section, course and user ids, one after the other in `Bundle::listed_text`.
    pub text_off: u32,
    pub lens: [u16; 3],
}

/// The key of a (section, course) pair.
pub fn pair_key(section: u64, course: u64) -> u64 {
    hash_bytes(section ^ 0x9e37_79b9_7f4a_7c15, &course.to_le_bytes())
}

#[derive(Default)]
pub struct Bundle {
    /// Display names of files, indexed by `loc_file`.
    pub files: Vec<String>,
    /// Each file's kind (its index in `KINDS`), `u8::MAX` until recognised.
    pub file_kinds: Vec<u8>,
    /// Findings about a row of a file already reported, known only from a later file
    /// (a logins row Canvas skips for a users row processed before it): bundle-level.
    pub late: Vec<super::Diagnostic>,
    /// Each section's course (sections.csv, the last row wins, as Canvas applies them
    /// in order): its key and where its text is in `course_text` (offset << 16 | len).
    pub section_course: IdMap<(u64, u64)>,
    pub course_text: String,
    /// Active cross-listings, by `pair_key(section, xlist course)`.
    pub xlisted: IdMap<u8>,
    /// Enrollment rows that give both a section and a course, once per pair:
    /// `listed_idx` maps the pair's key to its index in `listed`, plus one.
    pub listed_idx: IdMap<u32>,
    pub listed: Vec<Listed>,
    pub listed_text: String,
    pub defs: [IdMap<Def>; NS_COUNT],
    /// How many files define ids of each namespace.
    pub definers: [u32; NS_COUNT],
    /// Referenced ids, but those defined before the reference (see
    /// [`Bundle::flush_with`]).
    pub refs: [IdMap<RefCount>; NS_COUNT],
    pub ref_info: Vec<RefEntry>,
    pub ref_text: String,
    pending: Vec<Pending>,
    pending_text: String,
    /// The owners' ids of values defined with [`Bundle::define_owned`], for messages.
    pub owner_text: String,
}

impl Bundle {
    pub fn add_file(&mut self, name: &str) -> usize {
        self.files.push(name.to_string());
        self.file_kinds.push(u8::MAX);
        self.files.len() - 1
    }

    /// The kind name of the file a location is in ("" when none was recognised).
    pub fn kind_at(&self, l: u64) -> &'static str {
        match self.file_kinds.get(loc_file(l)) {
            Some(&k) if k != u8::MAX => super::kinds::KINDS[k as usize].name,
            _ => "",
        }
    }

    /// A section's course, as sections.csv gives it (the last row wins).
    pub fn set_section_course(&mut self, section: &str, course: &str) {
        let off = self.course_text.len() as u64;
        let text = if course.len() < 1 << 16 && off < 1 << 40 {
            self.course_text.push_str(course);
            off << 16 | course.len() as u64
        } else {
            0
        };
        let key = hash_bytes(SEED, section.as_bytes());
        let (v, _) = self
            .section_course
            .get_or_insert_with(key, Default::default);
        *v = (hash_bytes(SEED, course.as_bytes()), text);
    }

    /// The text of a section's course kept by [`Bundle::set_section_course`].
    pub fn section_course_text(&self, text: u64) -> &str {
        let off = (text >> 16) as usize;
        &self.course_text[off..off + (text & 0xffff) as usize]
    }

    /// An enrollment row listing both `section` and `course`, for `user`.
    pub fn list_pair(&mut self, section: &str, course: &str, user: &str, loc: u64, row: u64) {
        let (s, c) = (
            hash_bytes(SEED, section.as_bytes()),
            hash_bytes(SEED, course.as_bytes()),
        );
        let (idx, new) = self.listed_idx.get_or_insert_with(pair_key(s, c), || 0);
        if !new {
            let l = &mut self.listed[*idx as usize - 1];
            l.count = l.count.saturating_add(1);
            return;
        }
        let text_off = self.listed_text.len();
        let ids = [section, course, user];
        // Ids too long to keep (or past 4 GiB of them) are named by nothing.
        let keep = text_off < u32::MAX as usize / 2 && ids.iter().all(|t| t.len() <= 256);
        if keep {
            ids.iter().for_each(|t| self.listed_text.push_str(t));
        }
        *idx = self.listed.len() as u32 + 1;
        self.listed.push(Listed {
            loc,
            row,
            section: s,
            course: c,
            count: 1,
            text_off: text_off as u32,
            lens: ids.map(|t| if keep { t.len() as u16 } else { 0 }),
        });
    }

    /// The section, course and user ids of a pair kept by [`Bundle::list_pair`].
    pub fn listed_ids(&self, l: &Listed) -> [&str; 3] {
        let mut off = l.text_off as usize;
        l.lens.map(|n| {
            let t = &self.listed_text[off..off + n as usize];
            off += n as usize;
            t
        })
    }

    /// Makes `key` owned by `owner` at `at` from now on (see [`Bundle::define_owned`]).
    pub fn redefine_owned(&mut self, ns: Ns, key: u64, at: u64, owner: &str) {
        let off = self.owner_text.len() as u64;
        let owned = if owner.len() <= OWNER_TEXT_MAX && off < 1 << 40 {
            self.owner_text.push_str(owner);
            OWNER_TEXT | off << 9 | owner.len() as u64
        } else {
            hash_bytes(SEED, owner.as_bytes()) & !OWNER_TEXT
        };
        let (d, _) = self.defs[ns as usize].get_or_insert_with(key, Default::default);
        *d = Def {
            loc: at,
            owner: owned,
        };
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

    /// Like [`Bundle::reference`], but the text is not copied: `r.src` and `r.field`
    /// name it for the `text` given to [`Bundle::flush_with`], which the caller must call
    /// (when [`Bundle::pending_full`], and before `src` goes) instead of `flush`. Only a
    /// new id's text is then copied.
    #[inline]
    pub fn reference_deferred(&mut self, r: Reference) {
        self.pending.push(Pending {
            key: hash_bytes(SEED, r.id.as_bytes()),
            loc: r.at,
            text_off: r.src,
            text_len: r.field,
            back: loc_line(r.at)
                .saturating_sub(r.row)
                .min(u64::from(u32::MAX)) as u32,
            keep: r.id.len() <= 256,
            ns: r.ns as u8,
            kind: r.kind,
            col: r.col,
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
    ///
    /// A reference to an id defined before it is not counted: it can be neither missing
    /// nor a parent defined too late, and only those are reported. So in a bundle in
    /// Canvas's order `refs` holds only the ids not (yet) defined where referenced.
    pub fn flush_with<'t>(&mut self, text: impl Fn(u32, u32) -> &'t str) {
        for p in &self.pending {
            let defs = &self.defs[p.ns as usize];
            if defs.is_empty() {
                self.refs[p.ns as usize].prefetch(p.key);
            } else {
                defs.prefetch(p.key);
            }
        }
        for p in &self.pending {
            if self.defs[p.ns as usize]
                .get(p.key)
                .is_some_and(|d| d.loc <= p.loc)
            {
                continue;
            }
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
