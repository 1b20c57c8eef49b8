//! Which shell runs `map`'s jobs: GNU parallel's choice, so that what works
//! there works here (`export -f myfunc; maestro map myfunc ::: a b`, bash's
//! `<(...)` when started from bash). `$PARALLEL_SHELL` if set; else the
//! nearest shell among maestro's ancestors (the one the user typed into, or
//! a script's); else `$SHELL`; else `/bin/sh`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::shell::Shell;

/// Shells by the names their processes show (a login shell's starts with
/// `-`): GNU parallel's list.
const SHELLS: [&str; 23] = [
    "ash", "bash", "bsd-csh", "csh", "dash", "fdsh", "fish", "fizsh", "ksh", "ksh93", "lksh",
    "mksh", "pdksh", "posh", "rbash", "rc", "rush", "rzsh", "sash", "sh", "tcsh", "yash", "zsh",
];

/// The shell for `map`'s jobs, from the environment and the process tree.
pub fn for_jobs() -> Shell {
    let chosen = std::env::var_os("PARALLEL_SHELL")
        .filter(|shell| !shell.is_empty())
        .or_else(|| ancestor_shell(Path::new("/proc"), std::os::unix::process::parent_id()))
        .or_else(|| std::env::var_os("SHELL").filter(|shell| !shell.is_empty()));
    match chosen {
        Some(path) if path != "/bin/sh" => Shell::Program(path.to_string_lossy().into()),
        _ => Shell::Sh,
    }
}

/// The program of the nearest process from `pid` up whose name is a
/// shell's, as `proc` (a procfs) shows them.
fn ancestor_shell(proc: &Path, mut pid: u32) -> Option<OsString> {
    // A process tree is not deeper than this; a loop in a broken procfs
    // must not hang maestro.
    for _ in 0..64 {
        if pid <= 1 {
            return None;
        }
        let dir = proc.join(pid.to_string());
        let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
        let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        let name = argv0.rsplit(|&b| b == b'/').next().unwrap_or_default();
        let name = name.strip_prefix(b"-").unwrap_or(name);
        if SHELLS.iter().any(|shell| shell.as_bytes() == name) {
            return Some(match std::fs::read_link(dir.join("exe")) {
                Ok(exe) => exe.into_os_string(),
                Err(_) => std::ffi::OsStr::from_bytes(argv0.strip_prefix(b"-").unwrap_or(argv0))
                    .to_owned(),
            });
        }
        pid = parent(&std::fs::read_to_string(dir.join("stat")).ok()?)?;
    }
    None
}

/// The parent pid in a `/proc/PID/stat` line: the second field after the
/// command name in parentheses (which may itself hold spaces and `)`).
fn parent(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake procfs named `name`: (pid, argv0, parent, exe).
    fn procfs(name: &str, processes: &[(u32, &str, u32, Option<&str>)]) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("maestro-procfs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for &(pid, argv0, parent, exe) in processes {
            let at = dir.join(pid.to_string());
            std::fs::create_dir_all(&at).unwrap();
            std::fs::write(at.join("cmdline"), format!("{argv0}\0-c\0x\0")).unwrap();
            std::fs::write(at.join("stat"), format!("{pid} (a b) c) S {parent} 1 1 0")).unwrap();
            if let Some(exe) = exe {
                std::os::unix::fs::symlink(exe, at.join("exe")).unwrap();
            }
        }
        dir
    }

    #[test]
    fn the_nearest_shell_up_the_tree_is_taken_by_its_program() {
        let proc = procfs(
            "nearest",
            &[
                (40, "/usr/bin/cargo", 30, None),
                (30, "-bash", 20, Some("/usr/bin/bash")),
                (20, "zsh", 1, Some("/usr/bin/zsh")),
            ],
        );
        assert_eq!(ancestor_shell(&proc, 40), Some("/usr/bin/bash".into()));
        assert_eq!(ancestor_shell(&proc, 20), Some("/usr/bin/zsh".into()));
    }

    #[test]
    fn names_that_only_look_like_shells_are_not_shells() {
        let proc = procfs(
            "lookalikes",
            &[(40, "/usr/sbin/sshd", 30, None), (30, "flush", 20, None), (20, "/opt/sh", 1, None)],
        );
        assert_eq!(ancestor_shell(&proc, 40), Some("/opt/sh".into()));
        let proc = procfs("none", &[(40, "sshd", 1, None)]);
        assert_eq!(ancestor_shell(&proc, 40), None);
    }

    #[test]
    fn the_parent_is_read_past_a_name_with_spaces_and_parentheses() {
        assert_eq!(parent("12 (a) b (c)) S 7 12 12 0"), Some(7));
        assert_eq!(parent("garbage"), None);
    }
}
