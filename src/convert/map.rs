//! The mapping of OneRoster to Canvas SIS CSV (§10.4 lists the expected one; the README's
//! "convert oneroster" table documents each choice made here).

use super::Options;

/// Canvas's headers, per file written (§6.4).
pub const ACCOUNTS: &[&str] = &["account_id", "parent_account_id", "name", "status"];
pub const TERMS: &[&str] = &["term_id", "name", "status", "start_date", "end_date"];
pub const COURSES: &[&str] = &[
    "course_id",
    "short_name",
    "long_name",
    "account_id",
    "term_id",
    "status",
];
pub const SECTIONS: &[&str] = &["section_id", "course_id", "name", "status"];
pub const USERS: &[&str] = &[
    "user_id",
    "login_id",
    "status",
    "first_name",
    "last_name",
    "email",
];
pub const ENROLLMENTS: &[&str] = &[
    "course_id",
    "section_id",
    "user_id",
    "role",
    "status",
    "start_date",
    "end_date",
];
pub const OBSERVERS: &[&str] = &["observer_id", "student_id", "status"];

/// `tobedeleted` → `deleted`, else `active` (accounts, terms, courses, sections,
/// enrollments, observers; §6.4 statuses).
pub fn status(tobedeleted: bool) -> &'static str {
    if tobedeleted { "deleted" } else { "active" }
}

/// A user's Canvas status: `tobedeleted` → `deleted`, `enabledUser=false` → `suspended`
/// (keeps the enrollments, blocks the login: §6.4 users.csv).
pub fn user_status(tobedeleted: bool, enabled: bool) -> &'static str {
    match (tobedeleted, enabled) {
        (true, _) => "deleted",
        (false, false) => "suspended",
        (false, true) => "active",
    }
}

/// The Canvas role of an enrollment role, or `None` (skipped, with a warning): `--role-map`
/// first, then student → student, teacher → teacher, aide → ta (§10.4).
pub fn role<'a>(opts: &'a Options, oneroster: &str) -> Option<&'a str> {
    if let Some(r) = opts.role_map.get(oneroster) {
        return Some(r.as_str());
    }
    match oneroster {
        "student" => Some("student"),
        "teacher" => Some("teacher"),
        "aide" => Some("ta"),
        _ => None,
    }
}

/// A OneRoster date (`YYYY-MM-DD`) as the start of that day in Canvas's documented
/// ISO-8601 form (§6.4: dates are read in UTC unless an offset is given).
pub fn start_date(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!("{d}T00:00:00Z")
    }
}

/// The end of the day: a session or enrollment that ends on a date includes that day.
pub fn end_date(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!("{d}T23:59:59Z")
    }
}

/// Orgs in an order where every parent comes before its children (Canvas processes
/// accounts in file order: §6.4 accounts.csv). `parents[i]` is the index of org i's
/// parent when that parent is in the file. Must be acyclic (checked before).
pub fn parents_first(parents: &[Option<u32>]) -> Vec<u32> {
    let n = parents.len();
    let mut children: Vec<Vec<u32>> = vec![vec![]; n];
    let mut roots = vec![];
    for (i, p) in parents.iter().enumerate() {
        match p {
            Some(p) => children[*p as usize].push(i as u32),
            None => roots.push(i as u32),
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<u32> = roots.into_iter().rev().collect();
    while let Some(i) = stack.pop() {
        order.push(i);
        stack.extend(children[i as usize].iter().rev());
    }
    order
}

/// For each org on a cycle of parents, one representative cycle (its members' indexes,
/// starting at the member that appears first in the file).
pub fn cycles(parents: &[Option<u32>]) -> Vec<Vec<u32>> {
    // 0 unvisited, 1 on the current path, 2 done.
    let mut state = vec![0u8; parents.len()];
    let mut out = vec![];
    for start in 0..parents.len() {
        if state[start] != 0 {
            continue;
        }
        let mut path = vec![];
        let mut i = start;
        loop {
            match state[i] {
                0 => {
                    state[i] = 1;
                    path.push(i as u32);
                    match parents[i] {
                        Some(p) => i = p as usize,
                        None => break,
                    }
                }
                1 => {
                    let from = path.iter().position(|&x| x as usize == i).unwrap_or(0);
                    let mut cyc = path[from..].to_vec();
                    let min = cyc
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, x)| **x)
                        .map(|(k, _)| k);
                    cyc.rotate_left(min.unwrap_or(0));
                    out.push(cyc);
                    break;
                }
                _ => break,
            }
        }
        for p in path {
            state[p as usize] = 2;
        }
    }
    out
}

/// academicSessions by sourcedId: (type, parent), for the class → term walk.
pub type SessionTree =
    std::collections::HashMap<Box<str>, (Box<str>, Option<Box<str>>), rustc_hash::FxBuildHasher>;

/// The Canvas term of a class: the first of its terms that is (or has, up its parents) a
/// session whose type is in `--term-types` (§10.4: "the first term of termSourcedIds").
pub fn class_term<'a>(
    terms: &[&str],
    sessions: &'a SessionTree,
    term_types: &[String],
) -> Option<&'a str> {
    for t in terms {
        let mut cur = *t;
        // Bounded: a cycle of sessions stops after as many steps as there are sessions.
        for _ in 0..=sessions.len() {
            let Some((key, (ty, parent))) = sessions.get_key_value(cur) else {
                break;
            };
            if term_types.iter().any(|x| x == &**ty) {
                return Some(key);
            }
            match parent {
                Some(p) => cur = p,
                None => break,
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_first_and_cycles_are_found() {
        // 0 ← 2 ← 1 ; 3 alone
        let p = [None, Some(2), Some(0), None];
        let o = parents_first(&p);
        let pos = |i: u32| o.iter().position(|&x| x == i).unwrap();
        assert!(pos(0) < pos(2) && pos(2) < pos(1));
        assert_eq!(o.len(), 4);
        assert!(cycles(&p).is_empty());
        let c = [Some(2), Some(0), Some(1), Some(3), None];
        assert_eq!(cycles(&c), vec![vec![0, 2, 1], vec![3]]);
    }
}
