//! The live status line: one line on stderr, redrawn in place, only when
//! stderr is a terminal that can take it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Whether stderr can show a live status line and colours: a terminal, not
/// `TERM=dumb`, and no `NO_COLOR`.
pub fn stderr_is_rich() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// The line and what it last showed. Whoever owns it prints everything
/// else too, calling [`StatusLine::clear`] first.
#[derive(Debug, Default)]
pub struct StatusLine {
    /// What is on screen, so an unchanged line is not written again.
    last: String,
    /// Whether it is on screen (not erased since drawn).
    shown: bool,
}

impl StatusLine {
    /// Erases the line, if on screen, so that what is printed next starts
    /// on a clean line; the next tick draws it again.
    pub fn clear(&mut self) {
        if std::mem::take(&mut self.shown) {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(b"\r\x1b[K");
            let _ = err.flush();
        }
    }

    /// Draws `done/total`, failures, the time left when it can be
    /// estimated, and the running names with their times, cut to the
    /// terminal's width.
    /// `total` is `None` while unknown (`map` still reading its inputs).
    pub fn draw(
        &mut self,
        done: usize,
        total: Option<usize>,
        failed: usize,
        eta: Option<Duration>,
        running: &[(&str, Instant)],
    ) {
        let now = Instant::now();
        let mut line = match total {
            Some(total) => format!("[{done}/{total}]"),
            None => format!("[{done}/?]"),
        };
        if failed > 0 {
            line.push_str(&format!(" \x1b[31m{failed} failed\x1b[0m"));
        }
        if let Some(eta) = eta {
            // Rounded up: a few hundred milliseconds left is not "0s".
            let eta = Duration::from_secs(eta.as_secs_f64().ceil() as u64);
            line.push_str(&format!(" ETA {}", short_elapsed(eta)));
        }
        if !running.is_empty() {
            line.push_str(" running:");
            for (name, since) in running {
                let secs = now.saturating_duration_since(*since).as_secs();
                line.push_str(&format!(" {name} ({})", short_elapsed(Duration::from_secs(secs))));
            }
        }
        let line = truncate_visible(&line, terminal_width().saturating_sub(1));
        if line == self.last && self.shown {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
        self.shown = true;
        self.last = line;
    }
}

fn short_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 { format!("{s}s") } else { format!("{}m{:02}s", s / 60, s % 60) }
}

/// Columns of the terminal on stderr (80 when unknown).
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a zeroed winsize.
    let columns = unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) == 0 {
            size.ws_col
        } else {
            0
        }
    };
    if columns == 0 { 80 } else { usize::from(columns) }
}

/// Cuts `line` to `width` visible characters, not counting colour escapes,
/// ending with `…` when cut, and resetting colours.
fn truncate_visible(line: &str, width: usize) -> String {
    let mut out = String::new();
    let mut visible = 0;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            for e in chars.by_ref() {
                out.push(e);
                if e == 'm' {
                    break;
                }
            }
            continue;
        }
        if visible + 1 >= width && chars.peek().is_some() {
            out.push('…');
            out.push_str("\x1b[0m");
            return out;
        }
        out.push(c);
        visible += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_ignores_escapes_and_marks_the_cut() {
        assert_eq!(truncate_visible("abcdef", 10), "abcdef");
        assert_eq!(truncate_visible("abcdef", 4), "abc…\x1b[0m");
        assert_eq!(truncate_visible("\x1b[31mab\x1b[0mcdef", 4), "\x1b[31mab\x1b[0mc…\x1b[0m");
    }
}
