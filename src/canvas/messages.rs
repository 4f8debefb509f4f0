//! Canvas's SIS import messages, grouped by template: the ids, names and numbers in a message
//! stripped, so that 4,000 "User U1234 didn't exist for user enrollment" rows read as one line
//! with a count. For the messages Canvas is known to send (its importers under `lib/sis/` and
//! `lib/sis/csv/`), the group also says the likely cause and the fix.

/// A message Canvas sends, with `{}` where it puts an id or a value, and what it means.
pub struct Known {
    pub template: &'static str,
    pub cause: &'static str,
    pub fix: &'static str,
}

/// From canvas-lms `lib/sis/*_importer.rb` and `lib/sis/csv/*_importer.rb`. The first match
/// wins: put the longer of two overlapping templates first.
pub static KNOWN: &[Known] = &[
    Known {
        template: "User not found for enrollment (User ID: {}, Course ID: {}, Section ID: {}, Role: {})",
        cause: "the enrollment's user_id is not a user in Canvas (not in this bundle's users.csv, nor imported before)",
        fix: "add the user to users.csv, or fix the enrollment's user_id",
    },
    Known {
        template: "User {} didn't exist for user enrollment",
        cause: "the enrollment's user_id is not a user in Canvas",
        fix: "add the user to users.csv, or fix the enrollment's user_id",
    },
    Known {
        template: "Neither course {} nor section {} existed for user enrollment",
        cause: "the enrollment names a course and section that Canvas does not have",
        fix: "add them to courses.csv/sections.csv in the same bundle, or fix the ids",
    },
    Known {
        template: "An enrollment referenced a non-existent section {}",
        cause: "the enrollment's section_id is not a section in Canvas",
        fix: "add the section to sections.csv, or fix the enrollment's section_id",
    },
    Known {
        template: "An enrollment referenced a non-existent course {}",
        cause: "the enrollment's course_id is not a course in Canvas",
        fix: "add the course to courses.csv, or fix the enrollment's course_id",
    },
    Known {
        template: "An enrollment listed a section and a course that are unrelated",
        cause: "the section named belongs to another course than the one named",
        fix: "give only the section_id, or the course the section belongs to",
    },
    Known {
        template: "Attempted enrolling of deleted user {} in course {}",
        cause: "the user is deleted in Canvas, so the enrollment was created deleted",
        fix: "reactivate the user (status active in users.csv) if the enrollment is wanted",
    },
    Known {
        template: "Improper role \"{}\" for an enrollment",
        cause: "the role is neither a base role (student, teacher, ta, observer, designer) nor a custom role of the course's account",
        fix: "use a base role or the exact name of a custom role",
    },
    Known {
        template: "Improper status \"{}\" for an enrollment",
        cause: "the status is not one Canvas takes for an enrollment",
        fix: "use active, deleted, completed or inactive",
    },
    Known {
        template: "Improper status for user {}",
        cause: "the status is not one Canvas takes for a user",
        fix: "use active, suspended or deleted",
    },
    Known {
        template: "An existing Canvas user with the SIS ID {} has already claimed {}'s user_id requested login information, skipping",
        cause: "the login_id is held by another user (often the same person under an old SIS id)",
        fix: "change the old SIS id with change_sis_id.csv (`canvas-sis errors ID --fix change-sis-id` drafts it), or give this user another login_id",
    },
    Known {
        template: "An existing Canvas user with the Canvas ID {} has already claimed {}'s user_id requested login information, skipping",
        cause: "the login_id is held by a user that has no SIS id",
        fix: "give that user the SIS id (change_sis_id.csv or the UI), or this one another login_id",
    },
    Known {
        template: "Parent account didn't exist for {}",
        cause: "the account's parent_account_id is not an account in Canvas",
        fix: "list the parent in accounts.csv before the child, or fix parent_account_id",
    },
    Known {
        template: "Section {} references course {} which doesn't exist",
        cause: "the section's course_id is not a course in Canvas",
        fix: "add the course to courses.csv, or fix the section's course_id",
    },
    Known {
        template: "An xlist referenced a non-existent section {}",
        cause: "the cross-listed section is not in Canvas",
        fix: "add it to sections.csv, or fix section_id",
    },
];

/// The template of a message: a known one, or the message with quoted values and tokens
/// that hold a digit replaced by `…`.
pub fn template(message: &str) -> (String, Option<&'static Known>) {
    if let Some(k) = KNOWN.iter().find(|k| matches(k.template, message)) {
        return (k.template.replace("{}", "…"), Some(k));
    }
    (strip(message), None)
}

/// Whether `message` is `template` with each `{}` filled in.
fn matches(template: &str, message: &str) -> bool {
    // Most templates differ from a message in its first words: say no before splitting (the
    // report groups every row of every run it shows).
    let head = template.split("{}").next().unwrap_or_default();
    if !message.starts_with(head) {
        return false;
    }
    let parts: Vec<&str> = template.split("{}").collect();
    let mut rest = message;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p) && (p.is_empty() || rest.len() >= p.len());
        } else {
            match rest.find(p) {
                Some(at) => rest = &rest[at + p.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

fn strip(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' && out.ends_with(' ') {
            // A quoted value: up to the closing quote.
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
            }
            out.push(c);
            out.push('…');
            out.push(c);
            continue;
        }
        out.push(c);
    }
    out.split(' ')
        .map(|w| {
            if w.chars().any(|c| c.is_ascii_digit()) {
                let tail: String = w
                    .chars()
                    .rev()
                    .take_while(|c| matches!(c, ',' | '.' | ')' | ':' | ';'))
                    .collect();
                format!("…{}", tail.chars().rev().collect::<String>())
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One group of error and warning rows: their template, the known cause and fix, how many
/// rows (and how many of them failures), and the first row as the example. `errors --group`,
/// the notifications' `top_errors` and `report` all group through [`group`].
pub struct Group {
    pub template: String,
    pub known: Option<&'static Known>,
    pub count: u64,
    pub failures: u64,
    pub example: serde_json::Value,
}

/// The rows (Canvas's error objects, §2.8, or `errors.csv` read back) by message template,
/// the biggest group first, ties by template.
pub fn group(rows: &[serde_json::Value]) -> Vec<Group> {
    let mut by: Vec<Group> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for r in rows {
        let msg = field_str(r, "message").unwrap_or_default();
        let (template, known) = template(&msg);
        let failure = r
            .get("failure")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let i = *index.entry(template.clone()).or_insert_with(|| {
            by.push(Group {
                template,
                known,
                count: 0,
                failures: 0,
                example: r.clone(),
            });
            by.len() - 1
        });
        by[i].count += 1;
        by[i].failures += u64::from(failure);
    }
    by.sort_by(|a, b| b.count.cmp(&a.count).then(a.template.cmp(&b.template)));
    by
}

/// The `n` biggest groups as `(template, count)`: the notifications' `top_errors`.
pub fn top(rows: &[serde_json::Value], n: usize) -> Vec<(String, u64)> {
    group(rows)
        .into_iter()
        .take(n)
        .map(|g| (g.template, g.count))
        .collect()
}

/// The `{}` values of a known template in a message, in order.
pub fn values<'a>(template: &str, message: &'a str) -> Vec<&'a str> {
    let parts: Vec<&str> = template.split("{}").collect();
    let mut out = Vec::new();
    let mut rest = message.strip_prefix(parts[0]).unwrap_or(message);
    for p in &parts[1..] {
        let at = if p.is_empty() {
            rest.len()
        } else {
            rest.find(p).unwrap_or(rest.len())
        };
        out.push(&rest[..at]);
        rest = &rest[(at + p.len()).min(rest.len())..];
    }
    out
}

/// A field of an errors row as text (a number as written, null as none).
pub fn field_str(r: &serde_json::Value, k: &str) -> Option<String> {
    match r.get(k)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_messages_group_and_give_their_values() {
        let (t, k) = template("User U1234 didn't exist for user enrollment");
        assert_eq!(t, "User … didn't exist for user enrollment");
        assert!(k.is_some());
        let m = "An existing Canvas user with the SIS ID old7 has already claimed new7's user_id requested login information, skipping";
        let (t, k) = template(m);
        assert!(
            t.starts_with("An existing Canvas user with the SIS ID … has already claimed …'s"),
            "{t}"
        );
        assert_eq!(values(k.unwrap().template, m), vec!["old7", "new7"]);
        let (t, _) = template("Improper role \"boss\" for an enrollment");
        assert_eq!(t, "Improper role \"…\" for an enrollment");
    }

    #[test]
    fn unknown_messages_lose_their_ids_and_quoted_values() {
        let (t, k) = template("Something odd about course C1001 and 'x y', row 12.");
        assert!(k.is_none());
        assert_eq!(t, "Something odd about course … and '…', row ….");
    }

    #[test]
    fn rows_group_by_template_biggest_first_with_the_first_row_as_example() {
        let rows: Vec<serde_json::Value> = ["U1", "U2", "U3"]
            .iter()
            .map(|u| serde_json::json!({"message": format!("User {u} didn't exist for user enrollment"), "failure": false}))
            .chain([serde_json::json!({"message": "Improper status for user x", "failure": true})])
            .collect();
        let g = group(&rows);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].count, g[0].failures), (3, 0));
        assert_eq!(
            g[0].example["message"],
            "User U1 didn't exist for user enrollment"
        );
        assert!(g[0].known.is_some());
        assert_eq!((g[1].count, g[1].failures), (1, 1));
        assert_eq!(
            top(&rows, 1),
            vec![("User … didn't exist for user enrollment".to_string(), 3)]
        );
    }
}
