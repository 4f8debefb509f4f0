//! Message text: typo hints, articles, and the kinds table's message templates.

use super::kinds::Kind;

/// Nearest candidate for a typo hint.
pub(crate) fn nearest<'a>(s: &str, cands: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let s_norm = s.to_ascii_lowercase().replace([' ', '-', '.'], "_");
    let s_chars = s_norm.chars().count();
    let mut best: Option<(usize, &str)> = None;
    for c in cands {
        // The distance is at least the difference in length, and only 2 is a hint:
        // skip the (allocating) distance for the rest (a header of 100,000 columns).
        if c == s || s_chars.abs_diff(c.chars().count()) > 2 {
            continue;
        }
        let d = if c == s_norm {
            0
        } else {
            strsim::damerau_levenshtein(&s_norm, c)
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.filter(|&(d, c)| d <= 2 && d * 3 <= s.len().max(c.len()))
        .map(|(_, c)| c)
}

/// "a" or "an" before a kind's name.
pub(crate) fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o']) {
        "an"
    } else {
        "a"
    }
}

/// Expand a message template.
pub(crate) fn render(
    tpl: &str,
    value: &str,
    col: &str,
    kind: &Kind,
    get: &dyn Fn(&str) -> String,
) -> String {
    let mut out = String::with_capacity(tpl.len() + 16);
    render_into(&mut out, tpl, value, col, kind, get);
    out
}

fn render_into(
    out: &mut String,
    tpl: &str,
    value: &str,
    col: &str,
    kind: &Kind,
    get: &dyn Fn(&str) -> String,
) {
    let mut rest = tpl;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        // The matching `}` (conditionals nest placeholders).
        let mut depth = 0;
        let Some(j) = rest[i..].char_indices().find_map(|(j, c)| {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j);
                    }
                }
                _ => {}
            }
            None
        }) else {
            out.push_str(&rest[i..]);
            return;
        };
        let name = &rest[i + 1..i + j];
        if let Some((cond, alts)) = name.split_once('?') {
            // `{c?then|else}`: `then` when column `c` has a value, else `else`.
            let (then, other) = alts.split_once('|').unwrap_or((alts, ""));
            let pick = if get(cond).is_empty() { other } else { then };
            render_into(out, pick, value, col, kind, get);
        } else {
            match name {
                "value" => out.push_str(value),
                "col" => out.push_str(col),
                "kind" => out.push_str(kind.name),
                "id" => {
                    if let Some((_, c)) = kind.defines {
                        out.push_str(&get(c));
                    }
                }
                _ => out.push_str(&get(name)),
            }
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
}
