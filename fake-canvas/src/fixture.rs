//! Bundles built in memory, for the tests of this crate and of canvas-sis.

use std::io::Write;

/// A zip of `(name, bytes)` entries in order, deflated; a name ending in `/` is a directory
/// entry (its bytes are not used).
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (n, d) in entries {
            if n.ends_with('/') {
                z.add_directory(*n, o).expect("zip directory entry");
            } else {
                z.start_file(*n, o).expect("zip entry");
                z.write_all(d).expect("zip entry data");
            }
        }
        z.finish().expect("zip central directory");
    }
    buf.into_inner()
}
