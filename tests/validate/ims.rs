//! IMS Enterprise 1.1 XML (reference §10.1, §10.2; `src/validate/xml/rules.rs`): every rule
//! at its exact `LINE:COL`, the clean sample, zips of XML, the safety limits, and property
//! tests (single mutations caught at their line; random bytes never panic).

use std::time::{Duration, Instant};

use crate::support::*;
use canvas_sis::validate::{Options, Report, Severity};
use proptest::prelude::*;

/// A clean file; the line numbers in the tests below refer to it.
const CLEAN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<enterprise>
  <properties>
    <datetime>2026-08-01T02:00:00</datetime>
  </properties>
  <person recstatus="1">
    <sourcedid><source>SIS</source><id>p1</id></sourcedid>
    <userid>p1login</userid>
  </person>
  <person>
    <sourcedid><source>SIS</source><id>p2</id></sourcedid>
    <name><fn>P Two</fn></name>
  </person>
  <group>
    <sourcedid><source>SIS</source><id>T1</id></sourcedid>
    <description><short>Fall</short></description>
    <timeframe><begin>2026-08-24</begin><end>2026-12-18</end></timeframe>
  </group>
  <group>
    <sourcedid><source>SIS</source><id>C1</id></sourcedid>
    <description><short>Bio 101</short></description>
    <relationship><sourcedid><source>SIS</source><id>T1</id></sourcedid><label>Term</label></relationship>
  </group>
  <membership>
    <sourcedid><source>SIS</source><id>C1</id></sourcedid>
    <member>
      <sourcedid><source>SIS</source><id>p1</id></sourcedid>
      <idtype>1</idtype>
      <role roletype="01"><status>1</status></role>
    </member>
    <member>
      <sourcedid><source>SIS</source><id>p2</id></sourcedid>
      <idtype>1</idtype>
      <role roletype="Instructor"><status>1</status></role>
    </member>
  </membership>
</enterprise>
"#;

/// CLEAN with `from` replaced by `to` (exactly once).
fn with(from: &str, to: &str) -> String {
    assert_eq!(CLEAN.matches(from).count(), 1, "{from:?} must occur once");
    CLEAN.replacen(from, to, 1)
}

/// CLEAN with line `n` (1-based) replaced.
fn line_replaced(n: usize, to: &str) -> String {
    let mut l: Vec<&str> = CLEAN.lines().collect();
    l[n - 1] = to;
    l.join("\n") + "\n"
}

fn diags(fx: &Fx, data: impl AsRef<[u8]>) -> Vec<String> {
    fx.check("x.xml", data)
}

/// Exactly one diagnostic, and it starts with `want`.
#[track_caller]
fn only(fx: &Fx, data: impl AsRef<[u8]>, want: &str) {
    let d = diags(fx, data);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(
        d[0].starts_with(want),
        "{:?} does not start with {want:?}",
        d[0]
    );
}

#[test]
fn the_clean_file_and_the_sample_validate() {
    let fx = Fx::new();
    assert_eq!(diags(&fx, CLEAN), Vec::<String>::new());
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/ims/enterprise.xml");
    let r = fx.run(std::slice::from_ref(&sample));
    assert_eq!(
        (r.error_count(), r.warning_count()),
        (0, 0),
        "{:?}",
        fx.lines(&r)
    );
    let text = std::fs::read_to_string(&sample).unwrap();
    let records = ["<person", "<group", "<membership"]
        .iter()
        .map(|t| text.matches(&format!("{t}>")).count() + text.matches(&format!("{t} ")).count())
        .sum::<usize>() as u64;
    assert!(
        records > 20,
        "the sample has persons, groups and memberships"
    );
    assert_eq!(r.kinds(), vec![("ims_enterprise", records)]);
}

/// The committed sample is what its generator writes (stdlib Python, deterministic).
#[test]
#[cfg_attr(
    not(external_tests),
    ignore = "needs python3: runs with CANVAS_SIS_EXTERNAL_TESTS=1"
)]
fn the_sample_is_what_make_py_writes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fx = Fx::new();
    let out = fx.path("enterprise.xml");
    let st = std::process::Command::new("python3")
        .arg(root.join("samples/ims/make.py"))
        .arg("--out")
        .arg(&out)
        .status()
        .expect("python3 must be installed when CANVAS_SIS_EXTERNAL_TESTS=1");
    assert!(st.success());
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(root.join("samples/ims/enterprise.xml")).unwrap(),
        "samples/ims/enterprise.xml is stale: run python3 samples/ims/make.py"
    );
}

#[test]
fn well_formedness_and_the_root() {
    let fx = Fx::new();
    only(
        &fx,
        with("  </person>\n  <person>", "  </persn>\n  <person>"),
        "x.xml:9:3: error: XML is not well-formed: ",
    );
    only(
        &fx,
        "<?xml version=\"1.0\"?>\n<root>\n</root>\n",
        "x.xml:2:1: error: the root element is <root>, not <enterprise>",
    );
    only(
        &fx,
        "<enterprise>\n  <person>\n",
        "x.xml:3:1: error: XML is not well-formed: unclosed element <person> (opened at 2:3)",
    );
    only(
        &fx,
        with("</enterprise>\n", "</enterprise>\n<enterprise/>\n"),
        "x.xml:38:1: error: XML is not well-formed: more than one root element",
    );
    only(
        &fx,
        with("<userid>p1login", "<userid>p1&nope;login"),
        "x.xml:8:15: error: XML is not well-formed: &nope; is not an entity XML defines",
    );
}

#[test]
fn entities_are_refused_before_anything_is_expanded_or_read() {
    let fx = Fx::new();
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE enterprise [\n <!ENTITY a \"aaaaaaaaaa\">\n <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n]>\n<enterprise><comments>&h;</comments></enterprise>\n";
    let t = Instant::now();
    only(
        &fx,
        laughs,
        "x.xml:3:2: error: the DOCTYPE declares entities; refused without expanding or fetching any",
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    // An external entity naming a FIFO: opening it would block this test forever, so
    // finishing at all shows it was never opened.
    let fifo = fx.path("secret.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let xxe = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE enterprise [<!ENTITY x SYSTEM \"file://{}\">]>\n<enterprise><comments>&x;</comments></enterprise>\n",
        fifo.display()
    );
    let p = fx.write("xxe.xml", xxe);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = canvas_sis::validate::validate_paths(&[p], &Options::default()).unwrap();
        let _ = tx.send(
            r.diagnostics()
                .map(|d| (d.line, d.col, d.code))
                .collect::<Vec<_>>(),
        );
    });
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("validation ended without opening the entity");
    assert_eq!(got, vec![(Some(2), Some(23), "xml_doctype_entities")]);
    // A DOCTYPE that only names the binding's DTD is fine: the DTD is never fetched.
    let plain = with(
        "<enterprise>\n",
        "<!DOCTYPE enterprise SYSTEM \"http://192.0.2.1/ims_epv1p1.dtd\">\n<enterprise>\n",
    );
    assert_eq!(diags(&fx, plain), Vec::<String>::new());
}

#[test]
fn encodings_the_bytes_contradict() {
    let fx = Fx::new();
    only(
        &fx,
        with("encoding=\"UTF-8\"", "encoding=\"UTF-16\""),
        "x.xml:1:1: error: the declaration says encoding=\"utf-16\", but the bytes are 8-bit",
    );
    only(
        &fx,
        with("p1login", "p1l\u{e9}gin").replace("UTF-8", "US-ASCII"),
        "x.xml:8:16: error: byte 0xC3 is not ASCII, but the declaration says US-ASCII",
    );
    let mut latin = with("p1login", "p1lXgin").into_bytes();
    let i = latin.iter().position(|&b| b == b'X').unwrap();
    latin[i] = 0xE9;
    only(&fx, &latin, "x.xml:8:16: error: byte 0xE9 is not UTF-8");
    // An attribute given twice is malformed XML (found with a set: quick-xml's own check
    // compared each attribute with every earlier one, 38 s for 200,000 of them).
    let twice = with(
        "<person recstatus=\"1\">",
        "<person recstatus=\"1\" recstatus=\"3\">",
    );
    let d = diags(&fx, &twice);
    assert!(
        d.iter().any(|l| l.starts_with("x.xml:6:3: error:")
            && l.contains("attribute recstatus appears twice on <person>")),
        "{d:?}"
    );
    // A raw NUL (as `&#0;` is): no XML may hold it, in any encoding; it was passed and sent.
    let mut nul = latin.clone();
    nul[i] = 0;
    only(
        &fx,
        &nul,
        "x.xml:8:16: error: byte 0x00 is a control character",
    );
    // Declared Latin-1, the same bytes are right.
    let mut declared = latin.clone();
    declared.splice(30..35, b"ISO-8859-1".iter().copied());
    assert!(
        String::from_utf8_lossy(&declared)
            .starts_with("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>")
    );
    assert_eq!(diags(&fx, &declared), Vec::<String>::new());
    only(
        &fx,
        with("UTF-8", "EBCDIC-US"),
        "x.xml:1:1: error: the declaration says encoding=\"ebcdic-us\", which this validator does not read",
    );
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("<enterprise/>".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    only(
        &fx,
        utf16,
        "x.xml:1:1: error: the file is UTF-16, which this validator does not read",
    );
    // A UTF-8 byte order mark is not a column.
    only(
        &fx,
        format!(
            "\u{feff}{}",
            with("</enterprise>", "  <foo/>\n</enterprise>")
        ),
        "x.xml:37:3: error: <foo> is not an element of <enterprise>",
    );
}

#[test]
fn size_and_depth_are_bounded() {
    let fx = Fx::new();
    let huge = "a".repeat(5 << 20);
    only(
        &fx,
        with("p1login", &huge),
        "x.xml:8:13: error: one tag, text or comment starting here is over 4 MiB",
    );
    let deep = format!("    {}", "<x>".repeat(70));
    let d = diags(&fx, line_replaced(8, &deep));
    // enterprise, person, then 62 <x>: the 63rd is one too deep.
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with(&format!(
            "x.xml:8:{}: error: elements nest deeper than 64",
            5 + 62 * 3
        )),
        "{d:?}"
    );
}

#[test]
fn structure_order_and_required_children() {
    let fx = Fx::new();
    only(
        &fx,
        with(
            "  <membership>",
            "  <person><sourcedid><source>S</source><id>p3</id></sourcedid><userid>p3</userid></person>\n  <membership>",
        ),
        "x.xml:24:3: error: <person> after <group> in <enterprise>",
    );
    only(
        &fx,
        with(
            "  <properties>\n    <datetime>2026-08-01T02:00:00</datetime>\n  </properties>\n",
            "",
        )
        .replace(
            "</person>\n  <group>",
            "</person>\n  <properties/>\n  <group>",
        ),
        "x.xml:11:3: error: <properties> after <person> in <enterprise>",
    );
    only(
        &fx,
        with("</enterprise>", "  <foo/>\n</enterprise>"),
        "x.xml:37:3: error: <foo> is not an element of <enterprise>",
    );
    only(
        &fx,
        line_replaced(8, ""),
        "x.xml:6:3: error: <person> has no <userid> or <name>",
    );
    only(
        &fx,
        with(
            "<source>SIS</source><id>p1</id></sourcedid>\n    <userid>",
            "<id>p1</id></sourcedid>\n    <userid>",
        ),
        "x.xml:7:5: error: <sourcedid> has no <source>",
    );
    let no_id = with(
        "<source>SIS</source><id>p2</id></sourcedid>\n    <name>",
        "<source>SIS</source></sourcedid>\n    <name>",
    );
    let d = diags(&fx, no_id);
    assert!(
        d[0].starts_with("x.xml:11:5: error: <sourcedid> has no <id>"),
        "{d:?}"
    );
    // The person has no id now, so the member that names p2 points nowhere.
    assert!(
        d[1].starts_with("x.xml:31:5: warning: membership member references person \"p2\""),
        "{d:?}"
    );
    assert_eq!(d.len(), 2);
    only(
        &fx,
        with(
            "<description><short>Fall</short></description>",
            "<description><long>Fall</long></description>",
        ),
        "x.xml:16:5: error: <description> has no <short>",
    );
    only(
        &fx,
        with("    <description><short>Fall</short></description>\n", ""),
        "x.xml:14:3: error: <group> has no <description>",
    );
    only(
        &fx,
        line_replaced(28, ""),
        "x.xml:26:5: error: <member> has no <idtype>",
    );
    only(
        &fx,
        line_replaced(29, ""),
        "x.xml:26:5: error: <member> has no <role>",
    );
    only(
        &fx,
        line_replaced(29, "      <role roletype=\"01\"></role>"),
        "x.xml:29:7: error: <role> has no <status>",
    );
    only(
        &fx,
        line_replaced(29, "      <role><status>1</status></role>"),
        "x.xml:29:7: error: <role> has no roletype attribute",
    );
    only(&fx, line_replaced(27, "      <idtype>1</idtype>\n      <sourcedid><source>SIS</source><id>p1</id></sourcedid>").replace("      <idtype>1</idtype>\n      <role roletype=\"01\">", "      <role roletype=\"01\">"), "x.xml:28:7: error: <sourcedid> after <idtype> in <member>");
}

#[test]
fn codes_and_dates() {
    let fx = Fx::new();
    only(
        &fx,
        with("recstatus=\"1\"", "recstatus=\"4\""),
        "x.xml:6:11: error: recstatus \"4\" on <person> is not allowed",
    );
    only(
        &fx,
        line_replaced(28, "      <idtype>3</idtype>"),
        "x.xml:28:7: error: idtype \"3\" is not allowed",
    );
    only(
        &fx,
        with("roletype=\"01\"", "roletype=\"09\""),
        "x.xml:29:13: error: roletype \"09\" on <role> is not allowed",
    );
    only(
        &fx,
        with("roletype=\"Instructor\"", "roletype=\"Teacher\""),
        "x.xml:34:13: error: roletype \"Teacher\" on <role> is not allowed",
    );
    only(
        &fx,
        with(
            "<role roletype=\"01\"><status>1",
            "<role roletype=\"01\"><status>2",
        ),
        "x.xml:29:27: error: role status \"2\" is not allowed",
    );
    only(
        &fx,
        with("<begin>2026-08-24</begin>", "<begin>08/24/2026</begin>"),
        "x.xml:17:16: error: timeframe begin \"08/24/2026\" is not allowed",
    );
    only(
        &fx,
        with("<end>2026-12-18</end>", "<end>2026-02-30</end>"),
        "x.xml:17:41: error: timeframe end \"2026-02-30\" is not allowed",
    );
    only(
        &fx,
        with("2026-08-01T02:00:00", "yesterday"),
        "x.xml:4:5: error: properties datetime \"yesterday\" is not allowed",
    );
    // Every role name of the 1.1 XSD, and every code, passes.
    for r in [
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "07",
        "08",
        "Learner",
        "Content Developer",
        "TeachingAssistant",
    ] {
        assert_eq!(
            diags(&fx, with("roletype=\"01\"", &format!("roletype=\"{r}\""))),
            Vec::<String>::new(),
            "{r}"
        );
    }
}

#[test]
fn ids_and_references() {
    let fx = Fx::new();
    only(
        &fx,
        with(
            "<id>p2</id></sourcedid>\n    <name>",
            "<id>p1</id></sourcedid>\n    <name>",
        )
        .replace(
            "<id>p2</id></sourcedid>\n      <idtype>",
            "<id>p1</id></sourcedid>\n      <idtype>",
        ),
        "x.xml:10:3: warning: person \"p1\" again (first at 6:3); the later one wins",
    );
    let del = with(
        "  <person>\n    <sourcedid><source>SIS</source><id>p2</id>",
        "  <person recstatus=\"3\">\n    <sourcedid><source>SIS</source><id>p1</id>",
    )
    .replace(
        "<id>p2</id></sourcedid>\n      <idtype>",
        "<id>p1</id></sourcedid>\n      <idtype>",
    );
    only(
        &fx,
        del,
        "x.xml:10:3: error: this person deletes (recstatus 3) \"p1\", which the person at 6:3 adds or updates",
    );
    only(
        &fx,
        with(
            "<id>p1</id></sourcedid>\n      <idtype>",
            "<id>p9</id></sourcedid>\n      <idtype>",
        ),
        "x.xml:26:5: warning: membership member references person \"p9\", which is not in this file; it may already exist in Canvas",
    );
    only(
        &fx,
        with(
            "<id>T1</id></sourcedid><label>",
            "<id>T9</id></sourcedid><label>",
        ),
        "x.xml:22:5: warning: group relationship references group \"T9\"",
    );
    only(
        &fx,
        with(
            "    <sourcedid><source>SIS</source><id>C1</id></sourcedid>\n    <member>",
            "    <sourcedid><source>SIS</source><id>C9</id></sourcedid>\n    <member>",
        ),
        "x.xml:24:3: warning: membership references group \"C9\"",
    );
    // A relationship to a group defined later in the file resolves.
    let later = with(
        "<id>T1</id></sourcedid><label>",
        "<id>C1</id></sourcedid><label>",
    );
    assert_eq!(diags(&fx, later), Vec::<String>::new());
}

#[test]
fn an_empty_or_blank_sourcedid_id_or_source_is_an_error() {
    let fx = Fx::new();
    assert_eq!(
        diags(
            &fx,
            with(
                "<id>p2</id></sourcedid>\n    <name>",
                "<id>   </id></sourcedid>\n    <name>"
            )
        ),
        [
            "x.xml:11:36: error: the person's <sourcedid> has an <id> that is only whitespace \
             (write the record's SIS id: the import keys the record by it, and one without an id \
             cannot be imported)",
            "x.xml:31:5: warning: membership member references person \"p2\", which is not in \
             this file; it may already exist in Canvas",
        ]
    );
    only(
        &fx,
        with(
            "    <sourcedid><source>SIS</source><id>C1</id></sourcedid>\n    <member>",
            "    <sourcedid><source>SIS</source><id></id></sourcedid>\n    <member>",
        ),
        "x.xml:25:36: error: the membership's <sourcedid> has an <id> that is empty (write the SIS \
         id of the person or group it names: the id is how the import finds it)",
    );
    only(
        &fx,
        with(
            "<source>SIS</source><id>T1</id></sourcedid>\n",
            "<source> </source><id>T1</id></sourcedid>\n",
        ),
        "x.xml:15:16: error: the group's <sourcedid> has a <source> that is only whitespace (name \
         the system the id comes from, such as the SIS's name: the binding requires it in every \
         sourcedid)",
    );
    let r = report_of(
        &fx,
        &with(
            "<id>p1</id></sourcedid>\n    <userid>",
            "<id/></sourcedid>\n    <userid>",
        ),
    );
    assert_eq!(r.error_count(), 1);
    assert_eq!(r.files[0].diagnostics[0].code, "empty_sourcedid");
}

#[test]
fn a_timeframe_that_ends_before_it_begins_is_an_error() {
    let fx = Fx::new();
    only(
        &fx,
        with(
            "<begin>2026-08-24</begin><end>2026-12-18</end>",
            "<begin>2027-01-01</begin><end>2026-12-18</end>",
        ),
        "x.xml:17:41: error: group \"T1\" ends (2026-12-18) before it begins (2027-01-01) (swap or \
         correct the dates)",
    );
    only(
        &fx,
        with(
            "<role roletype=\"01\"><status>1</status></role>",
            "<role roletype=\"01\"><status>1</status><timeframe><begin>2026-09-01T10:00:00Z</begin><end>2026-09-01T09:00:00Z</end></timeframe></role>",
        ),
        "x.xml:29:91: error: the role of member \"p1\" ends (2026-09-01T09:00:00Z) before it begins \
         (2026-09-01T10:00:00Z)",
    );
    // The same day, or one end without a time against a begin with one, is not reported;
    // nor is a begin or end alone, or an invalid date (invalid_date says so).
    for tf in [
        "<begin>2026-08-24</begin><end>2026-08-24</end>",
        "<begin>2026-08-24T10:00:00Z</begin><end>2026-08-24</end>",
        "<begin>20260824</begin><end>2026-12-18</end>",
        "<end>2020-01-01</end>",
    ] {
        assert_eq!(
            diags(
                &fx,
                with("<begin>2026-08-24</begin><end>2026-12-18</end>", tf)
            ),
            Vec::<String>::new(),
            "{tf}"
        );
    }
}

#[test]
fn a_latin1_declaration_over_utf8_text_is_a_warning() {
    let fx = Fx::new();
    // <name><fn>P Two</fn> (line 12) written in UTF-8 under an ISO-8859-1 declaration.
    let text =
        with("<fn>P Two</fn>", "<fn>P T\u{ef}wo Ren\u{e9}e</fn>").replace("UTF-8", "ISO-8859-1");
    assert_eq!(
        diags(&fx, &text),
        [
            "x.xml:12:18: warning: the declaration says encoding=\"iso-8859-1\", but this text is \
             valid UTF-8 with multi-byte characters: \"P T\u{ef}wo Ren\u{e9}e\" would be read as \
             \"P T\u{c3}\u{af}wo Ren\u{c3}\u{a9}e\" (if the file is UTF-8, write \
             encoding=\"UTF-8\" in the declaration, or leave the encoding out)"
        ]
    );
    // Real Latin-1 bytes under the same declaration: nothing to say.
    let mut latin = with("<fn>P Two</fn>", "<fn>P TXwo</fn>")
        .replace("UTF-8", "ISO-8859-1")
        .into_bytes();
    let i = latin.iter().position(|&b| b == b'X').unwrap();
    latin[i] = 0xEF;
    assert_eq!(diags(&fx, &latin), Vec::<String>::new());
}

#[test]
fn an_undefined_entity_is_named_at_its_ampersand() {
    let fx = Fx::new();
    only(
        &fx,
        with("<userid>p1login</userid>", "<userid>p1&nbsp;login</userid>"),
        "x.xml:8:15: error: XML is not well-formed: &nbsp; is not an entity XML defines (only &amp; \
         &lt; &gt; &quot; &apos;) (write the character itself, or its number: &#160; for &nbsp;, \
         &#233; for &eacute;)",
    );
    only(
        &fx,
        with("<userid>p1login</userid>", "<userid>p1 & login</userid>"),
        "x.xml:8:16: error: XML is not well-formed: an & that starts no entity (no ; follows) (write \
         a literal & as &amp;)",
    );
}

#[test]
fn json_diagnostics_carry_the_column_and_csv_ones_do_not() {
    let fx = Fx::new();
    let x = fx.write("x.xml", line_replaced(28, "      <idtype>3</idtype>"));
    let c = fx.write("users.csv", "user_id,login_id,status\nu1,l1,bogus\n");
    let j = fx.run(&[x, c]).to_json();
    let d = j["diagnostics"].as_array().unwrap();
    let xml = d.iter().find(|d| d["code"] == "invalid_idtype").unwrap();
    assert_eq!(
        (xml["line"].as_u64(), xml["col"].as_u64()),
        (Some(28), Some(7))
    );
    assert_eq!(xml["column"], "idtype");
    assert_eq!(xml["severity"], "error");
    let csv = d
        .iter()
        .find(|d| d["file"].as_str().unwrap().ends_with("users.csv"))
        .unwrap();
    assert!(csv.get("col").is_none(), "{csv}");
    assert_eq!(csv["line"].as_u64(), Some(2));
}

#[test]
fn a_zip_of_ims_files_is_read_as_ims() {
    let fx = Fx::new();
    let bad = line_replaced(28, "      <idtype>3</idtype>");
    let z = fx.zip(
        "b.zip",
        &[("a.xml", CLEAN.as_bytes()), ("b/c.xml", bad.as_bytes())],
    );
    let r = fx.run(std::slice::from_ref(&z));
    let l = fx.lines(&r);
    assert_eq!(
        l[0],
        "b.zip:b/c.xml:28:7: error: idtype \"3\" is not allowed (use 1 (a person) or 2 (a group))",
        "{l:?}"
    );
    assert_eq!(r.error_count(), 1, "{l:?}");
    assert_eq!(r.kinds(), vec![("ims_enterprise", 10)]);
    // With instructure_csv named, Canvas reads only CSV: the XML is skipped, nothing imported.
    let o = Options {
        import_type: "instructure_csv".into(),
        import_type_set: true,
        ..Options::default()
    };
    let r = fx.run_with(&[z], &o);
    let codes: Vec<_> = r.diagnostics().map(|d| d.code).collect();
    assert_eq!(codes, ["skipped_file", "skipped_file", "zip_no_csv"]);
    let d = r.diagnostics().last().unwrap();
    assert!(
        d.hint.as_deref().unwrap_or_default().contains("ims_xml"),
        "the hint says where its XML goes: {d:?}"
    );
}

#[test]
fn a_zip_named_ims_xml_without_xml_imports_nothing() {
    let fx = Fx::new();
    let z = fx.zip("c.zip", &[("users.csv", USERS.as_bytes())]);
    let o = Options {
        import_type: "ims_xml".into(),
        import_type_set: true,
        ..Options::default()
    };
    let r = fx.run_with(&[z], &o);
    let codes: Vec<_> = r.diagnostics().map(|d| d.code).collect();
    assert_eq!(codes, ["skipped_file", "zip_no_xml"]);
    assert_eq!(r.error_count(), 1);
}

/// The README's table of IMS codes lists every rule of `xml::rules::RULES`, and every value
/// rule cites the reference.
#[test]
fn every_xml_rule_is_documented() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let section = readme
        .split("### IMS Enterprise XML")
        .nth(1)
        .unwrap()
        .split("\n### ")
        .next()
        .unwrap();
    for r in canvas_sis::validate::xml::rules::RULES {
        let sev = match r.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let row = format!("| `{}` | {sev} |", r.code);
        let elsewhere = format!("| `{}` |", r.code);
        assert!(
            section.contains(&row) || readme.contains(&elsewhere),
            "README lacks {row}"
        );
    }
}

#[test]
fn an_xml_file_with_instructure_csv_named_is_refused_and_the_hint_names_ims_xml() {
    let fx = Fx::new();
    let p = fx.write("x.xml", CLEAN);
    let o = Options {
        import_type: "instructure_csv".into(),
        import_type_set: true,
        ..Options::default()
    };
    let r = fx.run_with(std::slice::from_ref(&p), &o);
    let d: Vec<_> = r.diagnostics().collect();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].code, d[0].severity),
        ("xml_not_imported", Severity::Error)
    );
    assert!(d[0].hint.as_deref().unwrap().contains("ims_xml"));
    let o = Options {
        import_type: "ims_xml".into(),
        import_type_set: true,
        ..Options::default()
    };
    assert_eq!(fx.run_with(&[p], &o).error_count(), 0);
}

// ---- property tests ------------------------------------------------------------------

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A generated clean file, one element per line, and where each record starts.
struct Doc {
    lines: Vec<String>,
    /// (line index of the record's start, kind, line index of its `<id>` line)
    persons: Vec<(usize, usize)>,
    /// (member start line index, idtype line index, role line index)
    members: Vec<(usize, usize, usize)>,
}

fn doc(persons: usize, groups: usize, members: usize) -> Doc {
    let mut l: Vec<String> = vec!["<?xml version=\"1.0\"?>".into(), "<enterprise>".into()];
    let mut d = Doc {
        lines: vec![],
        persons: vec![],
        members: vec![],
    };
    for i in 0..persons {
        let start = l.len();
        l.push("  <person>".into());
        l.push("    <sourcedid>".into());
        l.push("      <source>S</source>".into());
        d.persons.push((start, l.len()));
        l.push(format!("      <id>p{i}</id>"));
        l.push("    </sourcedid>".into());
        l.push(format!("    <userid>u{i}</userid>"));
        l.push("  </person>".into());
    }
    for g in 0..groups {
        l.push("  <group>".into());
        l.push(format!(
            "    <sourcedid><source>S</source><id>g{g}</id></sourcedid>"
        ));
        l.push(format!(
            "    <description><short>G{g}</short></description>"
        ));
        l.push("  </group>".into());
    }
    l.push("  <membership>".into());
    l.push("    <sourcedid><source>S</source><id>g0</id></sourcedid>".into());
    for m in 0..members {
        let start = l.len();
        l.push("    <member>".into());
        l.push(format!(
            "      <sourcedid><source>S</source><id>p{}</id></sourcedid>",
            m % persons
        ));
        let idtype = l.len();
        l.push("      <idtype>1</idtype>".into());
        let role = l.len();
        l.push("      <role roletype=\"01\"><status>1</status></role>".into());
        l.push("    </member>".into());
        d.members.push((start, idtype, role));
    }
    l.push("  </membership>".into());
    l.push("</enterprise>".into());
    d.lines = l;
    d
}

fn report_of(fx: &Fx, text: &str) -> Report {
    let p = fx.write("m.xml", text);
    fx.run(&[p])
}

proptest! {
    #![proptest_config(cfg(64))]

    #[test]
    fn single_mutations_are_caught_at_their_line(
        persons in 1usize..12, groups in 1usize..5, members in 1usize..12,
        which in 0usize..5, pick in any::<usize>(),
    ) {
        let fx = Fx::new();
        let mut d = doc(persons, groups, members);
        prop_assert_eq!(report_of(&fx, &(d.lines.join("\n") + "\n")).error_count(), 0);
        let (code, line, sev) = match which {
            // Drop a person's <id>: its sourcedid (the line before) has no id.
            0 => {
                let (_, id) = d.persons[pick % persons];
                d.lines[id] = String::new();
                ("ims_missing_element", id - 2, Severity::Error)
            }
            // A member's idtype out of range.
            1 => {
                let (_, idtype, _) = d.members[pick % members];
                d.lines[idtype] = "      <idtype>7</idtype>".into();
                ("invalid_idtype", idtype, Severity::Error)
            }
            // A bad roletype.
            2 => {
                let (_, _, role) = d.members[pick % members];
                d.lines[role] = "      <role roletype=\"10\"><status>1</status></role>".into();
                ("invalid_roletype", role, Severity::Error)
            }
            // Drop a member's role.
            3 => {
                let (start, _, role) = d.members[pick % members];
                d.lines[role] = String::new();
                ("ims_missing_element", start, Severity::Error)
            }
            // A person repeats an earlier person's id.
            _ => {
                prop_assume!(persons >= 2);
                let k = 1 + pick % (persons - 1);
                let (start, id) = d.persons[k];
                d.lines[id] = "      <id>p0</id>".into();
                ("duplicate_sourcedid", start, Severity::Warning)
            }
        };
        let r = report_of(&fx, &(d.lines.join("\n") + "\n"));
        let found: Vec<_> = r.diagnostics().filter(|x| x.code == code).collect();
        prop_assert_eq!(found.len(), 1, "{:?}", fx.lines(&r));
        prop_assert_eq!(found[0].line, Some(line as u64 + 1));
        prop_assert_eq!(found[0].severity, sev);
        prop_assert!(found[0].col.is_some());
        // Nothing else is an error.
        let others = r.diagnostics().filter(|x| x.code != code && x.severity == Severity::Error).count();
        prop_assert_eq!(others, 0, "{:?}", fx.lines(&r));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), prefix in any::<bool>()) {
        let fx = Fx::new();
        let mut data = if prefix { b"<?xml version=\"1.0\"?>\n<enterprise>".to_vec() } else { vec![] };
        data.extend_from_slice(&bytes);
        let p = fx.write("r.xml", &data);
        let r = canvas_sis::validate::validate_paths(&[p], &Options::default()).unwrap();
        for d in r.diagnostics() {
            prop_assert!(d.line.is_none() || d.line >= Some(1));
        }
    }

    #[test]
    fn damaged_clean_files_never_panic(cut in 0usize..1500, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8)) {
        let fx = Fx::new();
        let mut data = CLEAN.as_bytes().to_vec();
        for (i, b) in flips {
            let n = data.len();
            data[i % n] = b;
        }
        data.truncate(cut.min(data.len()));
        let p = fx.write("d.xml", &data);
        let _ = canvas_sis::validate::validate_paths(&[p], &Options::default()).unwrap();
    }
}
