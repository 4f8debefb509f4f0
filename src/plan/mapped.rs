//! A baseline file mapped into memory, its key and record arrays read in place: loading a
//! 1 GB baseline was a third of a plan's time beyond validation (copying 550 MB out of the
//! page cache into fresh memory, then parsing it); mapped, the pages are the page cache's
//! own (issue 13, bench/results-plan.md).
//!
//! Every `unsafe` block of the plan is here. The file is never written in place: a baseline
//! is replaced by renaming a new file over it (`save_baseline`), so the mapped inode keeps its
//! bytes for as long as it is mapped.

use std::ops::Deref;
use std::sync::Arc;

/// A whole file, mapped read-only.
pub struct Mapping {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and private to this process; shared `&[u8]` views of it
// are as safe to send and share as any other.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Map `file` (its length `len`), read-only.
    pub fn of(file: &std::fs::File, len: u64) -> std::io::Result<Mapping> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(len).map_err(std::io::Error::other)?;
        if len == 0 {
            return Ok(Mapping {
                ptr: std::ptr::NonNull::<u64>::dangling().as_ptr().cast(),
                len: 0,
            });
        }
        // SAFETY: a fresh private read-only mapping of an open file; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes (or is a dangling, aligned pointer for 0),
        // alive until `self` is dropped, and never written (see the module's note).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: the mapping made in `of`, unmapped once, when no view of it is left
            // (views borrow `self` or hold its `Arc`).
            unsafe {
                libc::munmap(self.ptr.cast_mut().cast(), self.len);
            }
        }
    }
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mapping({} bytes)", self.len)
    }
}

/// The integers a [`Store`] may view in a mapped file: any bit pattern is a value.
pub trait Plain: Copy + Default + 'static {}
impl Plain for u32 {}
impl Plain for u64 {}

/// An array of integers: owned, or read in place from a mapped file. Changing it
/// ([`Store::vec`]) makes it owned first.
#[derive(Clone, Debug)]
pub enum Store<T: Plain> {
    Owned(Vec<T>),
    Mapped {
        map: Arc<Mapping>,
        /// Byte offset of the first item (a multiple of its alignment), and item count.
        at: usize,
        len: usize,
    },
}

impl<T: Plain> Store<T> {
    /// `len` items at byte offset `at` of `map`: None when they do not fit or are not
    /// aligned, or on a big-endian machine (the file is little-endian).
    pub fn mapped(map: &Arc<Mapping>, at: usize, len: usize) -> Option<Store<T>> {
        let size = std::mem::size_of::<T>();
        let end = len.checked_mul(size)?.checked_add(at)?;
        let aligned =
            (map.bytes().as_ptr() as usize + at).is_multiple_of(std::mem::align_of::<T>());
        (cfg!(target_endian = "little") && end <= map.bytes().len() && aligned).then(|| {
            Store::Mapped {
                map: map.clone(),
                at,
                len,
            }
        })
    }

    /// The items, to change: copied out of the file first if they are mapped.
    pub fn vec(&mut self) -> &mut Vec<T> {
        if let Store::Mapped { .. } = self {
            *self = Store::Owned(self.to_vec());
        }
        match self {
            Store::Owned(v) => v,
            Store::Mapped { .. } => unreachable!("made owned above"),
        }
    }
}

impl<T: Plain> Default for Store<T> {
    fn default() -> Self {
        Store::Owned(Vec::new())
    }
}

impl<T: Plain> From<Vec<T>> for Store<T> {
    fn from(v: Vec<T>) -> Self {
        Store::Owned(v)
    }
}

impl<T: Plain> Deref for Store<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Store::Owned(v) => v,
            Store::Mapped { map, at, len } => {
                let bytes = &map.bytes()[*at..*at + len * std::mem::size_of::<T>()];
                // SAFETY: `Store::mapped` checked that the bytes are in the mapping and
                // aligned for `T`; `T` is a plain integer (`Plain`: any bit pattern is a
                // value), read in the file's byte order, which `mapped` checked is this
                // machine's.
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), *len) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_reads_a_mapped_file_in_place_and_copies_it_to_change_it() {
        let mut f = tempfile::tempfile().unwrap();
        let mut bytes = vec![0u8; 8];
        for k in [1u64, 2, u64::MAX] {
            bytes.extend_from_slice(&k.to_le_bytes());
        }
        bytes.extend_from_slice(&7u32.to_le_bytes());
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        let map = Arc::new(Mapping::of(&f, bytes.len() as u64).unwrap());
        let mut keys = Store::<u64>::mapped(&map, 8, 3).unwrap();
        assert_eq!(&keys[..], &[1, 2, u64::MAX]);
        assert!(Store::<u64>::mapped(&map, 8, 4).is_none(), "past the end");
        assert!(Store::<u64>::mapped(&map, 4, 1).is_none(), "misaligned");
        let last = Store::<u32>::mapped(&map, 32, 1).unwrap();
        assert_eq!(&last[..], &[7]);
        keys.vec().push(9);
        assert!(matches!(keys, Store::Owned(_)));
        assert_eq!(&keys[..], &[1, 2, u64::MAX, 9]);
        drop(map);
        assert_eq!(&last[..], &[7], "a view keeps its mapping");
    }
}
