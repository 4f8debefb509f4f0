//! Pagination, in one place (reference §7.4): follow `Link: rel="next"` until it is absent.
//! Page numbers are never computed, and a `last` link is never relied on (the import list
//! does not send one).

/// The URL of `rel="next"` in a Link header, if any.
pub fn next_link(header: &str) -> Option<String> {
    // Entries are `<URL>; rel="x"` joined by commas (Canvas puts no space after the comma).
    // URLs may contain commas only percent-encoded, so splitting on '<' is safe.
    for entry in header.split('<').skip(1) {
        let (url, params) = entry.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        if is_next {
            return Some(url.trim().to_string());
        }
    }
    None
}

/// Most pages a listing follows before it stops with an error (100 per page: 100,000 items).
pub const PAGE_CAP: usize = 1000;

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn canvas_link_header() {
        let h = r#"<https://x/api/v1/accounts/1/sis_imports?page=1&per_page=10>; rel="current",<https://x/api/v1/accounts/1/sis_imports?page=2&per_page=10>; rel="next",<https://x/api/v1/accounts/1/sis_imports?page=1&per_page=10>; rel="first""#;
        assert_eq!(
            next_link(h).unwrap(),
            "https://x/api/v1/accounts/1/sis_imports?page=2&per_page=10"
        );
        let last = r#"<https://x/a?page=3&per_page=10>; rel="current",<https://x/a?page=2&per_page=10>; rel="prev",<https://x/a?page=1&per_page=10>; rel="first""#;
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
    }
}
