//! Every environment variable canvas-sis reads, in one place.

pub const CONFIG: &str = "CANVAS_SIS_CONFIG";
pub const PROFILE: &str = "CANVAS_SIS_PROFILE";
pub const BASE_URL: &str = "CANVAS_BASE_URL";
pub const ACCOUNT_ID: &str = "CANVAS_ACCOUNT_ID";
pub const ACCESS_TOKEN: &str = "CANVAS_ACCESS_TOKEN";
pub const LOG_DIR: &str = "CANVAS_SIS_LOG_DIR";
pub const NO_COLOR: &str = "NO_COLOR";
pub const JOURNAL_STREAM: &str = "JOURNAL_STREAM";
/// The local syslog socket (default `/dev/log`), for `[log] syslog = true`; tests point it at
/// their own socket.
pub const SYSLOG_SOCKET: &str = "CANVAS_SIS_SYSLOG_SOCKET";
/// journald's native socket (default `/run/systemd/journal/socket`), used when stderr is the
/// journal; tests point it at their own socket.
pub const JOURNAL_SOCKET: &str = "CANVAS_SIS_JOURNAL_SOCKET";
/// systemd's credentials dir (`LoadCredential=`): the token may be the `canvas-token` there.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";
pub const HOME: &str = "HOME";
pub const XDG_STATE_HOME: &str = "XDG_STATE_HOME";
pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
pub const TERM: &str = "TERM";
/// The SMTP password for `[notify] smtp_url` (the user is in the URL; a password there is
/// refused, like a token on the command line).
pub const SMTP_PASSWORD: &str = "CANVAS_SIS_SMTP_PASSWORD";
/// The terminal width, for progress bars.
pub const COLUMNS: &str = "COLUMNS";

/// Every name above, for the test that the command line names no other.
pub const ALL: &[&str] = &[
    CONFIG,
    PROFILE,
    BASE_URL,
    ACCOUNT_ID,
    ACCESS_TOKEN,
    LOG_DIR,
    NO_COLOR,
    JOURNAL_STREAM,
    SYSLOG_SOCKET,
    JOURNAL_SOCKET,
    CREDENTIALS_DIRECTORY,
    HOME,
    XDG_STATE_HOME,
    XDG_CONFIG_HOME,
    TERM,
    COLUMNS,
    SMTP_PASSWORD,
];
