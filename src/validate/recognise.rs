//! Which kind a header makes its file (reference §6.3), and what to say when Canvas's
//! first match is not what the file looks like, or when nothing matches.

use super::fast::strip;
use super::kinds::{self, KINDS, Kind};
use super::messages::{article, nearest};
use super::sink::Sink;

/// The kind Canvas recognises from the header `names` (lower-cased, trimmed), as its
/// index in [`KINDS`]. Reports a kind a later one would fit better, or, when none
/// matches, what the header looks like.
pub(super) fn recognise(names: &[String], line: u64, sink: &mut Sink) -> Option<usize> {
    let has = |c: &str| names.iter().any(|n| n == c);
    let Some(i) = kinds::recognise(&has) else {
        unrecognised(names, line, sink);
        return None;
    };
    let k = &KINDS[i];
    sink.rep.kind = Some(k.name.to_string());
    if let Some(other) = better_fit(names, i) {
        let culprits: Vec<String> = k
            .recognition_columns()
            .chain(k.any.iter().flat_map(|g| g.iter().copied()))
            .filter(|c| has(c) && other.col(c).is_none())
            .map(|c| format!("\"{c}\""))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        sink.at(line)
            .hint(format!(
                "the column(s) {} make it a {} file; remove or rename them",
                culprits.join(", "),
                k.name
            ))
            .err(
                "kind_shadowed",
                format!(
                    "Canvas will read this file as {} (the first kind whose headers match), but it looks like {} {} file",
                    k.name,
                    article(other.name),
                    other.name
                ),
            );
    }
    Some(i)
}

/// A later kind whose headers match too and that knows more of the columns: Canvas's
/// first match misreads the file.
fn better_fit(names: &[String], i: usize) -> Option<&'static Kind> {
    let has = |c: &str| names.iter().any(|n| n == c);
    let k = &KINDS[i];
    let known = |k: &Kind| names.iter().filter(|n| k.col(n).is_some()).count();
    KINDS[i + 1..]
        .iter()
        .filter(|o| o.matches(&has))
        .find(|o| known(o) > known(k))
}

/// No kind matches: a header separated by something else than commas, or a guess.
fn unrecognised(names: &[String], line: u64, sink: &mut Sink) {
    if let Some((sep, k)) = other_separator(names) {
        sink.at(line)
            .hint(format!(
                "it looks like {} {} file; re-save it with commas, e.g. as \"CSV UTF-8 (Comma delimited)\" in Excel",
                article(k.name),
                k.name
            ))
            .err(
                "wrong_separator",
                format!(
                    "Couldn't find Canvas CSV import headers: the header is separated by {sep}, and Canvas reads only commas"
                ),
            );
    } else {
        sink.at(line).hint_opt(guess_kind(names)).err(
            "unrecognized_header",
            "Couldn't find Canvas CSV import headers",
        );
    }
}

/// What a header that matches no kind probably meant: the kind with the most of its
/// recognition columns present or misspelt, and the renames or columns it needs.
fn guess_kind(names: &[String]) -> Option<String> {
    let has = |c: &str| names.iter().any(|n| n == c);
    type Guess<'a> = (usize, usize, &'a Kind, Vec<(String, &'a str)>, Vec<&'a str>);
    let mut best: Option<Guess> = None;
    for k in KINDS {
        let mut renames = vec![];
        let mut missing = vec![];
        let mut hit = 0;
        let groups: Vec<Vec<&str>> = k
            .all
            .iter()
            .map(|c| vec![*c])
            .chain(k.any.iter().map(|g| g.to_vec()))
            .collect();
        for g in &groups {
            if g.iter().any(|c| has(c)) {
                hit += 1;
                continue;
            }
            let near = names.iter().find_map(|n| {
                let cand = nearest(n, g.iter().copied())?;
                Some((n.clone(), cand))
            });
            match near {
                Some(r) => {
                    hit += 1;
                    renames.push(r);
                }
                None => missing.push(g[0]),
            }
        }
        let known = names.iter().filter(|n| k.col(n).is_some()).count();
        let score = hit * 10 + known;
        if hit > 0
            && (hit == groups.len() || known >= 2)
            && best.as_ref().is_none_or(|b| score > b.0)
        {
            best = Some((score, hit, k, renames, missing));
        }
    }
    let (_, _, k, renames, missing) = best?;
    let mut h = format!("it looks like {} {} file", article(k.name), k.name);
    if !renames.is_empty() {
        let r: Vec<String> = renames
            .iter()
            .map(|(a, b)| format!("\"{a}\" to \"{b}\""))
            .collect();
        h.push_str(&format!(": rename {}", r.join(", ")));
    }
    if !missing.is_empty() {
        h.push_str(&format!(
            "{} it needs the column(s) {}",
            if renames.is_empty() { ";" } else { ", and" },
            missing
                .iter()
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Some(h)
}

/// A header Canvas cannot read because its columns are separated by semicolons or tabs
/// (Excel in many European locales saves "CSV" with `;`): the separator, and the kind
/// whose columns the header then holds (the one Canvas would recognise, else the one
/// with the most known columns, at least two).
fn other_separator(names: &[String]) -> Option<(&'static str, &'static Kind)> {
    for (sep, said) in [(';', "semicolons (\";\")"), ('\t', "tabs")] {
        if !names.iter().any(|n| n.contains(sep)) {
            continue;
        }
        let split: Vec<&str> = names.iter().flat_map(|n| n.split(sep)).map(strip).collect();
        let has = |c: &str| split.contains(&c);
        if let Some(i) = kinds::recognise(&has) {
            return Some((said, &KINDS[i]));
        }
        let mut best: Option<(usize, &'static Kind)> = None;
        for k in KINDS {
            let known = split.iter().filter(|n| k.col(n).is_some()).count();
            if known >= 2 && best.is_none_or(|(b, _)| known > b) {
                best = Some((known, k));
            }
        }
        if let Some((_, k)) = best {
            return Some((said, k));
        }
    }
    None
}
