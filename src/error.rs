//! The user-facing error: what went wrong, where, and which exit code it maps
//! to. Every error reaches the user through [`Error::report`], in one place.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostic, SourceFile};
use crate::exit_code;

/// The most problems in a flow file shown at once.
const MOST_DIAGNOSTICS: usize = 20;

/// An error that stops maestro before or outside a run's own task failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something impossible.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do instead, when we can tell.
        hint: Option<String>,
    },
    /// Problems found in a flow file, each pointing into it.
    #[error("{} problem(s) in {}", diagnostics.len(), file.path.display())]
    Flow {
        /// The file, kept whole to quote its lines.
        file: Arc<SourceFile>,
        /// Every problem found.
        diagnostics: Vec<Diagnostic>,
    },
    /// A file or directory maestro needs could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What maestro was doing ("cannot read", "cannot create").
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The state database cannot be used as it is.
    #[error("{}: {message}", path.display())]
    State {
        /// The database file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
    /// The operating system refused something maestro needs to run tasks.
    #[error("{context}: {source}")]
    System {
        /// What maestro was doing.
        context: String,
        /// The cause.
        source: io::Error,
    },
    /// A run could not go on once started: tasks may have run. (Made from
    /// the loop's own error by the app, which knows both.)
    #[error("{0}")]
    Run(String),
}

impl Error {
    /// A usage error with no hint.
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage { message: message.into(), hint: None }
    }

    /// A usage error with a hint.
    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Usage { message: message.into(), hint: Some(hint.into()) }
    }

    /// An I/O error about `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io { action, path: path.into(), source }
    }

    /// A system error in `context`.
    pub fn system(context: impl Into<String>, source: io::Error) -> Error {
        Error::System { context: context.into(), source }
    }

    /// The exit status this error ends maestro with: a run that broke
    /// off failed; everything else stopped maestro before anything ran.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Run(_) => exit_code::RUN_BROKE_OFF,
            Error::Usage { .. }
            | Error::Flow { .. }
            | Error::Io { .. }
            | Error::State { .. }
            | Error::System { .. } => exit_code::USAGE,
        }
    }

    /// The text printed on stderr for this error.
    pub fn render(&self) -> String {
        match self {
            Error::Flow { file, diagnostics } => {
                let shown: Vec<String> =
                    diagnostics.iter().take(MOST_DIAGNOSTICS).map(|d| d.render(file)).collect();
                let mut text = shown.join("\n");
                // A generated flow with one mistake repeated should not
                // bury the terminal: the first ones say what to fix.
                if diagnostics.len() > MOST_DIAGNOSTICS {
                    let more = diagnostics.len() - MOST_DIAGNOSTICS;
                    text.push_str(&format!(
                        "\nerror: {more} more problem{} in {}, not shown\n",
                        if more == 1 { "" } else { "s" },
                        file.path.display()
                    ));
                }
                text
            }
            Error::Usage { message, hint: Some(hint) } => {
                format!("error: {message}\n  = hint: {hint}\n")
            }
            Error::State { hint: Some(hint), .. } => format!("error: {self}\n  = hint: {hint}\n"),
            other => format!("error: {other}\n"),
        }
    }
}

/// Result with maestro's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
