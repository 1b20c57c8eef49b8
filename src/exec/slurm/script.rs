//! What is handed to `sbatch` for one attempt: the job script, which runs
//! the task's command and leaves the records of its start and end, and the
//! options of the submission.
//!
//! The command is never put on `sbatch`'s command line (`--wrap`): it goes
//! into the script, single-quoted, so no length limit or quoting of
//! `sbatch`'s applies to it. Every value the script holds is quoted the
//! same way; none is ever run as code.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use crate::exec::{Launch, Request};
use crate::shell::shell_quote;

/// Where the job script leaves what it knows of the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPaths {
    /// Written (atomically) when the job starts: when, and on which node.
    pub started: std::path::PathBuf,
    /// Written (atomically) when the command ended: its exit status, when,
    /// and its CPU time; or why it could not start.
    pub ended: std::path::PathBuf,
}

/// The job script of `launch`, which records into `records`.
pub fn job_script(launch: &Launch, records: &RecordPaths, title: &str) -> Vec<u8> {
    let q = |bytes: &[u8]| shell_quote(bytes);
    let path = |p: &Path| shell_quote(p.as_os_str().as_bytes());
    let mut s: Vec<u8> = Vec::with_capacity(launch.cmd.len() + 1024);
    s.extend_from_slice(b"#!/bin/sh\n# ");
    s.extend_from_slice(title.replace('\n', " ").as_bytes());
    s.extend_from_slice(b"\n# Written by maestro: the task's command runs in a child shell, and\n");
    s.extend_from_slice(
        b"# its end is recorded (written beside, then renamed) for maestro to read.\n",
    );
    s.extend_from_slice(b"started=");
    s.extend(path(&records.started));
    s.extend_from_slice(b"\nended=");
    s.extend(path(&records.ended));
    s.extend_from_slice(
        b"\nrm -f \"$ended\"\n{ date +%s.%N; hostname; } >\"$started.tmp\" 2>/dev/null && mv -f \"$started.tmp\" \"$started\"\n",
    );
    let cannot_enter = format!("cannot run in {}: no such directory", launch.dir.display());
    s.extend_from_slice(b"cd ");
    s.extend(path(&launch.dir));
    s.extend_from_slice(b" 2>/dev/null || {\n    why=");
    s.extend(q(cannot_enter.as_bytes()));
    s.extend_from_slice(
        b"\n    echo \"maestro: $why\" >&2\n    printf 'refused %s\\n' \"$why\" >\"$ended.tmp\" && mv -f \"$ended.tmp\" \"$ended\"\n    exit 127\n}\n",
    );
    // A TERM from Slurm (a cancel, the time limit, a node failing before a
    // requeue) reaches the command too; the script lives on to record how
    // the command took it, and that it was signalled. A requeued job runs
    // the script again: its first act is to drop the last run's end.
    s.extend_from_slice(b"trap 'signalled=1' TERM\n");
    // `env` takes any variable name; `export` only those sh allows.
    s.extend_from_slice(b"env");
    if launch.env.iter().any(|(name, _)| name.starts_with('-')) {
        s.extend_from_slice(b" --");
    }
    for (name, value) in &launch.env {
        s.push(b' ');
        s.extend(q(format!("{name}={value}").as_bytes()));
    }
    for word in launch.shell.words() {
        s.push(b' ');
        s.extend(q(word.as_bytes()));
    }
    s.push(b' ');
    s.extend(q(&launch.cmd));
    s.extend_from_slice(b" </dev/null\nstatus=$?\n");
    s.extend_from_slice(
        b"{ echo \"exit $status${signalled:+ signalled}\"; date +%s.%N; times; } >\"$ended.tmp\" && mv -f \"$ended.tmp\" \"$ended\"\n",
    );
    s.extend_from_slice(b"exit $status\n");
    s
}

/// `sbatch`'s arguments for `launch` named `job_name`, without the script.
pub fn sbatch_options(launch: &Launch, job_name: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> =
        vec!["--parsable".into(), format!("--job-name={job_name}").into()];
    let (stdout, stderr) = launch.output.files.paths();
    args.push(with_prefix("--output=", &file_pattern(stdout)));
    args.push(with_prefix("--error=", &file_pattern(stderr)));
    args.push("--open-mode=append".into());
    args.extend(request_options(&launch.request));
    args
}

/// The options that say what an attempt asks for (CPUs, time, memory,
/// GPUs, where to run, the task's own `sbatch_args`).
pub fn request_options(request: &Request) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    args.push(format!("--cpus-per-task={}", request.cpus.max(1)).into());
    if let Some(limit) = request.time_limit {
        args.push(format!("--time={}", time_limit_minutes(limit)).into());
    }
    if let Some(batch) = &request.batch {
        if let Some(mem) = &batch.mem {
            args.push(format!("--mem={mem}").into());
        }
        if let Some(gpus) = batch.gpus {
            args.push(format!("--gres=gpu:{gpus}").into());
        }
        for (option, value) in
            [("partition", &batch.partition), ("account", &batch.account), ("qos", &batch.qos)]
        {
            if let Some(value) = value {
                args.push(format!("--{option}={value}").into());
            }
        }
        args.extend(batch.sbatch_args.iter().map(OsString::from));
    }
    args
}

/// Slurm's limit for a task with `timeout`: whole minutes, one more than
/// the timeout takes, so that maestro's own stop (at the timeout, to the
/// second) comes first and Slurm's is the backstop should maestro be gone.
pub fn time_limit_minutes(timeout: Duration) -> u64 {
    timeout.as_secs().div_ceil(60) + 1
}

fn with_prefix(prefix: &str, path: &[u8]) -> OsString {
    let mut arg = prefix.as_bytes().to_vec();
    arg.extend_from_slice(path);
    std::ffi::OsStr::from_bytes(&arg).to_os_string()
}

/// A path as `sbatch --output` takes it: `%` starts a replacement there
/// (`%j`), so it is doubled; unless the path holds a `\`, which turns
/// replacements off for the whole name.
fn file_pattern(path: &Path) -> Vec<u8> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&b'\\') {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    for &byte in bytes {
        out.push(byte);
        if byte == b'%' {
            out.push(b'%');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::exec::{Output, OutputFiles, Stdin, Watch};
    use crate::flow::BatchOptions;
    use crate::shell::Shell;

    fn launch(cmd: &str) -> Launch {
        Launch {
            cmd: cmd.as_bytes().to_vec(),
            shell: Shell::Sh,
            dir: PathBuf::from("/work/flow dir"),
            env: vec![("MAESTRO_TASK".into(), "a'b".into()), ("my-var".into(), "$(x)".into())],
            output: Output {
                files: OutputFiles::Log { path: PathBuf::from("/s/logs/3/t%2Fx.log"), attempt: 1 },
                watch: Watch::No,
            },
            name: "t/x".into(),
            request: Request::default(),
            stdin: Stdin::Null,
        }
    }

    fn records() -> RecordPaths {
        RecordPaths { started: "/s/jobs/3/1.started".into(), ended: "/s/jobs/3/1.ended".into() }
    }

    #[test]
    fn the_script_quotes_every_value_and_records_the_end() {
        let text = job_script(&launch("echo \"$HOME\" 'q' | wc -c"), &records(), "task 't/x'");
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with("#!/bin/sh\n# task 't/x'\n"), "{text}");
        assert!(text.contains("\ncd '/work/flow dir' 2>/dev/null || {\n"), "{text}");
        assert!(
            text.contains(
                "\nenv 'MAESTRO_TASK=a'\"'\"'b' 'my-var=$(x)' /bin/sh -c 'echo \"$HOME\" '\"'\"'q'\"'\"' | wc -c' </dev/null\nstatus=$?\n"
            ),
            "{text}"
        );
        assert!(text.contains("started=/s/jobs/3/1.started\nended=/s/jobs/3/1.ended\n"), "{text}");
        assert!(text.ends_with("exit $status\n"), "{text}");
    }

    #[test]
    fn the_script_runs_its_command_as_given() {
        // Through a real sh: the command sees its variables, and its exit
        // status is recorded, then returned.
        let dir = std::env::temp_dir().join(format!("maestro-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let records = RecordPaths { started: dir.join("s"), ended: dir.join("e") };
        let mut l = launch("printf '%s|%s' \"$MAESTRO_TASK\" \"$MY_VAR\" > out; exit 3");
        l.env.push(("MY_VAR".into(), "$(touch pwned)".into()));
        l.dir = dir.clone();
        let script = dir.join("job.sh");
        std::fs::write(&script, job_script(&l, &records, "t")).unwrap();
        let status = std::process::Command::new("/bin/sh").arg(&script).status().unwrap();
        assert_eq!(status.code(), Some(3));
        assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), "a'b|$(touch pwned)");
        assert!(!dir.join("pwned").exists());
        let ended = std::fs::read_to_string(&records.ended).unwrap();
        assert!(ended.starts_with("exit 3\n"), "{ended}");
        assert!(records.started.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn options_come_from_the_request() {
        let mut l = launch("x");
        l.request = Request {
            cpus: 4,
            time_limit: Some(Duration::from_secs(90)),
            batch: Some(Arc::new(BatchOptions {
                mem: Some("4G".into()),
                gpus: Some(2),
                partition: Some("short".into()),
                account: None,
                qos: Some("low".into()),
                sbatch_args: vec!["--constraint=avx2".into()],
            })),
        };
        let args: Vec<String> =
            sbatch_options(&l, "job").iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            args,
            [
                "--parsable",
                "--job-name=job",
                "--output=/s/logs/3/t%%2Fx.log",
                "--error=/s/logs/3/t%%2Fx.log",
                "--open-mode=append",
                "--cpus-per-task=4",
                "--time=3",
                "--mem=4G",
                "--gres=gpu:2",
                "--partition=short",
                "--qos=low",
                "--constraint=avx2",
            ]
        );
    }

    #[test]
    fn a_backslash_turns_replacements_off() {
        assert_eq!(file_pattern(Path::new("/a/100%\\x")), b"/a/100%\\x");
        assert_eq!(file_pattern(Path::new("/a/%j")), b"/a/%%j");
    }
}
