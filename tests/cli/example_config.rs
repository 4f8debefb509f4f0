//! canvas_sis.example.toml documents real keys: uncommented, it parses with no warning.

use crate::support::*;

#[test]
fn the_example_config_uses_only_known_keys() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/canvas_sis.example.toml"
    ))
    .unwrap();
    // Uncomment `# key = value` lines and section headers; drop prose comments.
    let mut out = String::new();
    let mut keys = 0;
    for line in text.lines() {
        let t = line.trim_start_matches("# ");
        let is_setting = t
            .split_once(" = ")
            .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        if line.starts_with('[') || (line.starts_with("# [") && t.starts_with('[')) {
            out.push_str(t);
        } else if line.starts_with("# ") && is_setting {
            // Keep the value, drop a trailing comment.
            let v = t.split("   #").next().unwrap().split("  #").next().unwrap();
            out.push_str(v);
            keys += 1;
        }
        out.push('\n');
    }
    // One token source is enough; the uncommented file would otherwise name a missing file.
    let out = out.replace("token_file = \"/etc/canvas-sis/token\"", "");
    let out = out.replace("dir = \"/var/log/canvas-sis\"", "dir = \"\"");
    let out = out.replace("ca_cert = \"/etc/ssl/private-ca.pem\"", "");
    let out = out.replace("access_token = \"\"", "");
    assert!(keys >= 40, "found {keys} keys");
    // Every key of the settings table is shown in the example.
    let mut section = String::new();
    let mut shown = std::collections::HashSet::new();
    for line in out.lines() {
        if let Some(s) = line.strip_prefix('[') {
            section = s.trim_end_matches(']').to_string();
        } else if let Some((k, _)) = line.split_once(" = ") {
            shown.insert(if section.is_empty() {
                k.to_string()
            } else {
                format!("{section}.{k}")
            });
        }
    }
    for d in canvas_sis::settings::table::TABLE {
        if d.key == "token_file" || d.key == "access_token" || d.key == "ca_cert" {
            continue; // replaced above, present in the original text
        }
        assert!(
            shown.contains(d.key),
            "canvas_sis.example.toml lacks {}",
            d.key
        );
    }
    for k in ["token_file", "access_token", "ca_cert"] {
        assert!(
            text.contains(&format!("# {k} = ")),
            "canvas_sis.example.toml lacks {k}"
        );
    }
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("c.toml");
    std::fs::write(&cfg, &out).unwrap();
    let o = bare_cmd(home.path())
        .arg("-c")
        .arg(&cfg)
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}\n{out}", stderr(&o));
    assert!(!stderr(&o).contains("unknown key"), "{}", stderr(&o));
}
