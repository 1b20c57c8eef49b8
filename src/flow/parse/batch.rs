//! The keys of a flow file that only a batch system reads: `executor`, the
//! `[slurm]` table, and a task's `mem`, `gpus`, `partition`, `account`,
//! `qos` and `sbatch_args`.

use std::time::Duration;

use super::Checker;
use crate::flow::doc::{Key, Node, Value};
use crate::flow::{
    BatchOptions, ExecutorKind, SlurmSettings, Spanned, StatusCommand, parse_duration,
};

/// A task's keys for a batch system (also the task defaults of `[slurm]`).
pub(super) const BATCH_KEYS: [&str; 6] =
    ["mem", "gpus", "partition", "account", "qos", "sbatch_args"];

/// The `[slurm]` table's own settings.
const SETTING_KEYS: [&str; 8] = [
    "poll_min",
    "poll_max",
    "submit_rate",
    "record_wait",
    "status",
    "workers",
    "worker_cpus",
    "worker_time",
];

/// `sbatch` options maestro sets itself, and what to write instead.
const OWN_OPTIONS: [(&str, Option<char>, &str); 19] = [
    ("--job-name", Some('J'), "maestro names every job after its run and task"),
    ("--output", Some('o'), "the job's output goes to the task's log"),
    ("--error", Some('e'), "the job's output goes to the task's log"),
    ("--open-mode", None, "the job's output goes to the task's log"),
    ("--chdir", Some('D'), "use the task's 'dir'"),
    ("--parsable", None, "maestro reads sbatch's answer itself"),
    ("--wrap", None, "the task's 'cmd' is the job's command"),
    ("--wait", Some('W'), "maestro follows the job itself"),
    ("--array", Some('a'), "use 'for_each' for many instances"),
    ("--dependency", Some('d'), "use 'deps': maestro submits a task when its deps are done"),
    ("--cpus-per-task", Some('c'), "use the task's 'cpus'"),
    ("--time", Some('t'), "use the task's 'timeout'"),
    ("--mem", None, "use the key 'mem'"),
    ("--gres", None, "use the key 'gpus'"),
    ("--gpus", Some('G'), "use the key 'gpus'"),
    ("--partition", Some('p'), "use the key 'partition'"),
    ("--account", Some('A'), "use the key 'account'"),
    ("--qos", Some('q'), "use the key 'qos'"),
    ("--requeue", None, "maestro resubmits what it must itself"),
];

impl Checker {
    /// `executor = "local"`, `"slurm"` or `"workers"`.
    pub(super) fn executor(&mut self, value: &Node<'_>) -> Option<Spanned<ExecutorKind>> {
        let name = self.string(value, "'executor'")?;
        match ExecutorKind::from_name(&name.value) {
            Some(kind) => Some(Spanned::new(kind, name.span)),
            None => {
                let message = format!("unknown executor '{}'", name.value);
                let hint = format!("use one of: {}", ExecutorKind::NAMES.join(", "));
                self.error_with_hint(message, name.span, hint);
                None
            }
        }
    }

    /// `[slurm]`: the task defaults, and maestro's settings.
    pub(super) fn slurm_table(&mut self, value: &Node<'_>) -> (BatchOptions, SlurmSettings) {
        let (mut defaults, mut settings) = (BatchOptions::default(), SlurmSettings::default());
        let Value::Table(table) = &value.value else {
            let message = format!("'slurm' must be a table, not {}", value.value.a());
            self.error_with_hint(
                message,
                value.span.clone(),
                "write [slurm] and then partition = \"short\"",
            );
            return (defaults, settings);
        };
        for (key, value) in table {
            if self.batch_key(key, value, &mut defaults, "[slurm]") {
                continue;
            }
            let what = format!("'{}' in [slurm]", key.name);
            match key.name.as_ref() {
                "poll_min" => set(&mut settings.poll_min, self.positive_duration(value, &what)),
                "poll_max" => set(&mut settings.poll_max, self.positive_duration(value, &what)),
                "record_wait" => {
                    set(&mut settings.record_wait, self.positive_duration(value, &what))
                }
                "submit_rate" => set(&mut settings.submit_rate, self.integer(value, &what, 1)),
                "status" => set(&mut settings.status, self.status_command(value, &what)),
                "workers" => set(&mut settings.workers, self.integer(value, &what, 1).map(Some)),
                "worker_cpus" => {
                    set(&mut settings.worker_cpus, self.integer(value, &what, 1).map(Some))
                }
                "worker_time" => {
                    set(&mut settings.worker_time, self.positive_duration(value, &what).map(Some))
                }
                other => {
                    let message = format!("unknown key '{other}' in [slurm]");
                    let valid: Vec<&str> =
                        BATCH_KEYS.iter().chain(&SETTING_KEYS).copied().collect();
                    self.unknown_key(key, message, &valid);
                }
            }
        }
        if settings.poll_min > settings.poll_max {
            let message = "'poll_min' in [slurm] is longer than 'poll_max'";
            self.error(message, value.span.clone());
        }
        (defaults, settings)
    }

    /// Reads `key` into `options` if it is a batch key (`owner` names the
    /// table in messages); `false` if it is not one.
    pub(super) fn batch_key(
        &mut self,
        key: &Key<'_>,
        value: &Node<'_>,
        options: &mut BatchOptions,
        owner: &str,
    ) -> bool {
        let what = format!("'{}' in {owner}", key.name);
        match key.name.as_ref() {
            "mem" => set(&mut options.mem, self.memory(value, &what).map(Some)),
            "gpus" => set(&mut options.gpus, self.integer(value, &what, 1).map(Some)),
            "partition" => set(&mut options.partition, self.word(value, &what).map(Some)),
            "account" => set(&mut options.account, self.word(value, &what).map(Some)),
            "qos" => set(&mut options.qos, self.word(value, &what).map(Some)),
            "sbatch_args" => {
                let args = self.strings(value, "sbatch_args");
                for arg in &args {
                    if let Some(why) = own_option(&arg.value) {
                        let message = format!("sbatch_args: maestro sets '{}' itself", arg.value);
                        self.error_with_hint(message, arg.span.clone(), why);
                    }
                }
                options.sbatch_args.extend(args.into_iter().map(|arg| arg.value));
            }
            _ => return false,
        }
        true
    }

    /// `status = "auto"`, `"sacct"` or `"squeue"`.
    fn status_command(&mut self, value: &Node<'_>, what: &str) -> Option<StatusCommand> {
        let name = self.string(value, what)?;
        match name.value.as_str() {
            "auto" => Some(StatusCommand::Auto),
            "sacct" => Some(StatusCommand::Sacct),
            "squeue" => Some(StatusCommand::Squeue),
            other => {
                let message = format!("unknown {what}: '{other}'");
                self.error_with_hint(message, name.span, "use one of: auto, sacct, squeue");
                None
            }
        }
    }

    /// A duration string, or a number of seconds, greater than zero.
    fn positive_duration(&mut self, value: &Node<'_>, what: &str) -> Option<Duration> {
        let duration = match &value.value {
            Value::String(text) => parse_duration(text).map_err(|e| format!("bad {what}: {e}")),
            Value::Integer(int) => match int.value() {
                Some(secs) if (0..=i128::from(u32::MAX)).contains(&secs) => {
                    Ok(Duration::from_secs(secs as u64))
                }
                _ => Err(format!("{what} is out of range")),
            },
            other => Err(format!(
                "{what} must be a duration like \"10s\" or a number of seconds, not {}",
                other.a()
            )),
        };
        match duration {
            Ok(duration) if duration.is_zero() => {
                self.error(format!("{what} must be greater than zero"), value.span.clone());
                None
            }
            Ok(duration) => Some(duration),
            Err(message) => {
                self.error(message, value.span.clone());
                None
            }
        }
    }

    /// `mem`: megabytes as a number, or a string such as `"4G"` or `"500M"`.
    fn memory(&mut self, value: &Node<'_>, what: &str) -> Option<String> {
        let text = match &value.value {
            Value::Integer(_) => return self.integer(value, what, 1).map(|mb| format!("{mb}M")),
            Value::String(text) => text.trim(),
            other => {
                let message = format!("{what} must be a size like \"4G\", not {}", other.a());
                self.error(message, value.span.clone());
                return None;
            }
        };
        match slurm_memory(text) {
            Some(mem) => Some(mem),
            None => {
                let message = format!("bad {what}: '{text}' is not a size");
                self.error_with_hint(message, value.span.clone(), "write a number of megabytes, or one with K, M, G or T after it: \"500M\", \"4G\"");
                None
            }
        }
    }

    /// A name passed to Slurm as one argument: not empty, no blanks.
    fn word(&mut self, value: &Node<'_>, what: &str) -> Option<String> {
        let text = self.string(value, what)?;
        if text.value.is_empty()
            || text.value.contains(|c: char| c.is_whitespace() || c.is_control())
        {
            let message = format!(
                "{what} must be a name without blanks, not '{}'",
                text.value.escape_debug()
            );
            self.error(message, text.span);
            return None;
        }
        Some(text.value)
    }
}

/// Keeps `target` when `value` is `None` (a bad value, reported already).
fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *target = value;
    }
}

/// `4G`, `4GB`, `4g`, `500`, `1.5G`? Slurm takes whole numbers with an
/// optional unit letter: the form it takes, or `None`.
fn slurm_memory(text: &str) -> Option<String> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (number, unit) = text.split_at(digits);
    let unit = unit.strip_suffix(['B', 'b']).unwrap_or(unit);
    let unit = match unit {
        "" => "M",
        "K" | "k" => "K",
        "M" | "m" => "M",
        "G" | "g" => "G",
        "T" | "t" => "T",
        _ => return None,
    };
    let number: u64 = number.parse().ok().filter(|&n| n > 0)?;
    Some(format!("{number}{unit}"))
}

/// Why `arg` may not be given: maestro sets that option itself.
fn own_option(arg: &str) -> Option<&'static str> {
    OWN_OPTIONS.iter().find_map(|&(long, short, why)| {
        let is_long =
            arg == long || arg.strip_prefix(long).is_some_and(|rest| rest.starts_with('='));
        let is_short = short.is_some_and(|short| {
            arg.strip_prefix('-').and_then(|rest| rest.strip_prefix(short)).is_some()
                && !arg.starts_with("--")
        });
        (is_long || is_short).then_some(why)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_takes_slurm_s_units() {
        assert_eq!(slurm_memory("4G").as_deref(), Some("4G"));
        assert_eq!(slurm_memory("4GB").as_deref(), Some("4G"));
        assert_eq!(slurm_memory("500").as_deref(), Some("500M"));
        assert_eq!(slurm_memory("16t").as_deref(), Some("16T"));
        assert_eq!(slurm_memory("1.5G"), None);
        assert_eq!(slurm_memory("0"), None);
        assert_eq!(slurm_memory("G"), None);
        assert_eq!(slurm_memory("4 G"), None);
    }

    #[test]
    fn options_maestro_sets_are_recognised_in_every_spelling() {
        for arg in ["--job-name", "--job-name=x", "-J", "-Jx", "--time=10", "-t", "--wrap=ls"] {
            assert!(own_option(arg).is_some(), "{arg}");
        }
        for arg in
            ["--constraint=avx", "--nodes=1", "-N", "--exclusive", "--mem-per-cpu=1G", "--timex"]
        {
            assert!(own_option(arg).is_none(), "{arg}");
        }
    }
}
