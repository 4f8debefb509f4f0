//! Exit codes (the contract's table) and the one error type every command returns.
//!
//! A command ends either with an `Exit` (which may be non-zero without being an error, e.g.
//! `imported_with_messages` → 1) or with a `Failure` that carries its exit code and a message
//! that says what to do.

use std::fmt;

/// The documented exit codes (`docs/cli-contract.md`, "Exit codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    ImportedWithMessages = 1,
    Usage = 2,
    ImportFailed = 3,
    MaxPolls = 4,
    NotFound = 5,
    DataErr = 65,
    NoInput = 66,
    /// Output (stdout or an output file) could not be written; a closed pipe is not one.
    IoErr = 74,
    Unavailable = 69,
    TempFail = 75,
    NoPerm = 77,
    Config = 78,
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A failure with the exit code it maps to, a message and an optional hint (what to do).
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            hint: None,
        }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(Exit::Usage, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(Exit::Config, message)
    }
    pub fn no_input(message: impl Into<String>) -> Self {
        Failure::new(Exit::NoInput, message)
    }
    /// Writing `what` failed (disk full, I/O error): exit 74.
    pub fn output(what: &str, e: &std::io::Error) -> Self {
        Failure::new(Exit::IoErr, format!("cannot write {what}: {e}"))
            .hint("free space on the disk it goes to, or send it elsewhere")
    }
    pub fn data(message: impl Into<String>) -> Self {
        Failure::new(Exit::DataErr, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

pub type Result<T, E = Failure> = std::result::Result<T, E>;
