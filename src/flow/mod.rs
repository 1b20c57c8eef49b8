//! `maestro.toml`: the text is parsed and checked in one pass (`parse`) into
//! a [`Flow`] whose every value keeps the span it came from, so that later
//! passes (expansion, scheduling) can still point into the file.

mod deps;
mod doc;
pub mod duration;
mod parse;
mod reader;
mod sections;

pub use duration::parse_duration;
pub use parse::parse;

use std::time::Duration;

use crate::diag::Span;
use crate::shell::Shell;

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Its byte range in the flow file.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `value` written at `span`.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl Flow {
    /// Gives variable `name` the value `value` from the command line: a
    /// list variable takes comma-separated values.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<(), String> {
        let Some(var) = self.vars.iter_mut().find(|v| v.name.value == name) else {
            let names = self.vars.iter().map(|v| v.name.value.as_str());
            let hint = match crate::diag::nearest(name, names) {
                Some(near) => format!(" (did you mean '{near}'?)"),
                None if self.vars.is_empty() => " (the flow has no [vars])".to_string(),
                None => String::new(),
            };
            return Err(format!("no variable '{name}' in the flow's [vars]{hint}"));
        };
        if value.contains('\0') {
            return Err(format!("the value of '{name}' contains a NUL byte"));
        }
        var.values = match (var.is_list, value.is_empty()) {
            (true, true) => Vec::new(),
            (true, false) => value.split(',').map(str::to_string).collect(),
            (false, _) => vec![value.to_string()],
        };
        Ok(())
    }
}

/// A checked flow file: names resolve, no cycle, amounts fit capacities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// `jobs = N` at the top, if given (never 0).
    pub jobs: Option<Spanned<u32>>,
    /// `[resources]`, in file order.
    pub resources: Vec<ResourceDef>,
    /// `[tasks.*]`, in file order.
    pub tasks: Vec<TaskDef>,
    /// `executor = "..."` at the top, if given.
    pub executor: Option<Spanned<ExecutorKind>>,
    /// The `[slurm]` table (its task defaults are already in each task's
    /// `batch`).
    pub slurm: SlurmSettings,
    /// The `[slurm]` table's task defaults: what workers' allocations ask
    /// for (partition, account, ...).
    pub slurm_defaults: BatchOptions,
    /// `shell = ...` at the top: what runs tasks that name none.
    pub shell: Option<Shell>,
    /// `keep_outputs = ...` at the top: for tasks that say nothing.
    pub keep_outputs: Option<bool>,
    /// `[vars]`, in file order.
    pub vars: Vec<Var>,
    /// `default = [...]` at the top: the tasks `maestro run` runs when it
    /// is named none (each names a task).
    pub default: Option<Vec<Spanned<String>>>,
    /// Whether a local run gives tasks a GNU make jobserver
    /// (`jobserver = false` at the top says not).
    pub jobserver: bool,
}

/// Where tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Processes on this machine.
    Local,
    /// One Slurm job per task attempt.
    Slurm,
    /// `maestro worker` processes that join the run (started by hand).
    Workers,
}

impl ExecutorKind {
    /// The names users write, in the order of the variants.
    pub const NAMES: [&str; 3] = ["local", "slurm", "workers"];

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<ExecutorKind> {
        match name {
            "local" => Some(ExecutorKind::Local),
            "slurm" => Some(ExecutorKind::Slurm),
            "workers" => Some(ExecutorKind::Workers),
            _ => None,
        }
    }
}

/// What a task asks of a batch system beyond `cpus` and `timeout`: a
/// local run has no use for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BatchOptions {
    /// Memory, in Slurm's form: a number of megabytes, or with a `K`, `M`,
    /// `G` or `T` suffix.
    pub mem: Option<String>,
    /// GPUs (`--gres=gpu:N`).
    pub gpus: Option<u32>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--qos`.
    pub qos: Option<String>,
    /// More `sbatch` arguments, each one argument (no shell splits them).
    pub sbatch_args: Vec<String>,
}

/// How maestro talks to Slurm: the `[slurm]` table's settings of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlurmSettings {
    /// The shortest wait between two status queries (while jobs start and
    /// end).
    pub poll_min: Duration,
    /// The longest (while nothing happens).
    pub poll_max: Duration,
    /// Submissions per second, at most.
    pub submit_rate: u32,
    /// How long an end that Slurm reports waits for the job's own record of
    /// it (a shared file system may show it late).
    pub record_wait: Duration,
    /// Which command says how jobs stand.
    pub status: StatusCommand,
    /// Workers (allocations) to run tasks in, instead of a job per task.
    pub workers: Option<u32>,
    /// CPUs of each worker's allocation.
    pub worker_cpus: Option<u32>,
    /// Each worker's time limit.
    pub worker_time: Option<Duration>,
}

/// Which of Slurm's commands says how a run's jobs stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCommand {
    /// `sacct` where accounting works, else `squeue`.
    Auto,
    /// `sacct`.
    Sacct,
    /// `squeue`.
    Squeue,
}

impl Default for SlurmSettings {
    fn default() -> SlurmSettings {
        SlurmSettings {
            poll_min: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
            submit_rate: 20,
            record_wait: Duration::from_secs(30),
            status: StatusCommand::Auto,
            workers: None,
            worker_cpus: None,
            worker_time: None,
        }
    }
}

/// A named capacity from `[resources]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    /// Its name.
    pub name: Spanned<String>,
    /// How many units exist (at least 1).
    pub capacity: u32,
}

/// One `[tasks.NAME]` table, before `for_each` expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDef {
    /// The table name (letters, digits, `_`, `-`, `.`).
    pub name: Spanned<String>,
    /// The shell command, not empty; replacement strings still unexpanded.
    pub cmd: Spanned<String>,
    /// Whether `maestro run` runs it when named no task (`default = false`:
    /// only when named, or needed by another).
    pub default: bool,
    /// What must succeed first (each names another task).
    pub deps: Vec<Dep>,
    /// Input globs, relative to the task's dir.
    pub inputs: Box<[Spanned<String>]>,
    /// Output paths, relative to the task's dir.
    pub outputs: Box<[Spanned<String>]>,
    /// One instance per item, when set.
    pub for_each: Option<Box<ForEach>>,
    /// Job slots taken while running (at least 1).
    pub cpus: Spanned<u32>,
    /// What it asks of a batch system (the `[slurm]` defaults, then its own;
    /// shared by the tasks that add nothing).
    pub batch: std::sync::Arc<BatchOptions>,
    /// The keys few tasks set, when it sets any (see [`TaskDef::extras`]).
    extras: Option<Box<TaskExtras>>,
}

/// The keys of a task that few tasks set: apart, so that the many plain
/// tasks of a big flow stay small.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskExtras {
    /// What runs `cmd`, when the task names it.
    pub shell: Option<Shell>,
    /// Whether its declared outputs are left alone before an attempt and
    /// after a failed one, when the task says.
    pub keep_outputs: Option<bool>,
    /// Outputs removed once every dependent has succeeded, whose absence
    /// is then no reason to run again (Snakemake's `temp()`).
    pub temp_outputs: Vec<Spanned<String>>,
    /// Working directory, relative to the flow file's directory.
    pub dir: Option<Spanned<String>>,
    /// Extra environment variables, in file order.
    pub env: Vec<(Spanned<String>, Spanned<String>)>,
    /// Kill the task's process group after this long.
    pub timeout: Option<Spanned<Duration>>,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Units of named resources taken while running (each at least 1 and at
    /// most the resource's capacity).
    pub resources: Vec<(Spanned<String>, u32)>,
}

/// What a task that sets none of the keys of [`TaskExtras`] has.
static NO_EXTRAS: TaskExtras = TaskExtras {
    shell: None,
    keep_outputs: None,
    temp_outputs: Vec::new(),
    dir: None,
    env: Vec::new(),
    timeout: None,
    retries: 0,
    resources: Vec::new(),
};

impl TaskDef {
    /// A task named `name` that sets nothing yet but its batch options: no
    /// command, one CPU (both pointing at the name), run by default.
    pub fn new(name: Spanned<String>, batch: std::sync::Arc<BatchOptions>) -> TaskDef {
        let span = name.span.clone();
        TaskDef {
            name,
            cmd: Spanned::new(String::new(), span.clone()),
            default: true,
            deps: Vec::new(),
            inputs: Box::default(),
            outputs: Box::default(),
            for_each: None,
            cpus: Spanned::new(1, span),
            batch,
            extras: None,
        }
    }

    /// The keys few tasks set: their defaults when it sets none.
    pub fn extras(&self) -> &TaskExtras {
        self.extras.as_deref().unwrap_or(&NO_EXTRAS)
    }

    /// The keys few tasks set, to set one.
    pub fn extras_mut(&mut self) -> &mut TaskExtras {
        self.extras.get_or_insert_with(Box::default)
    }
}

/// One entry of a task's `deps`: `task`, `task:key` or `task:{}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    /// The task it names; the span is the whole entry's. (Boxed strings: a
    /// big flow has a few of these a task.)
    pub task: Spanned<Box<str>>,
    /// Which of its instances, after the `:`: an instance's key, or a
    /// template the dependent's item fills (`{}`, `{/.}`); all when `None`.
    pub instance: Option<Box<str>>,
    /// The index of the task it names in [`Flow::tasks`]: found when the
    /// flow is checked ([`Dep::UNRESOLVED`] until then).
    pub target: usize,
}

impl Dep {
    /// The target of a dep not checked yet.
    pub const UNRESOLVED: usize = usize::MAX;

    /// The entry as written.
    pub fn text(&self) -> String {
        match &self.instance {
            Some(instance) => format!("{}:{instance}", self.task.value),
            None => self.task.value.to_string(),
        }
    }
}

/// A flow variable from `[vars]`: one value or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// Its name.
    pub name: Spanned<String>,
    /// Its values (one for a string, number or boolean).
    pub values: Vec<String>,
    /// Whether it was written as a list (`--set` then splits at commas).
    pub is_list: bool,
}

/// Where a `for_each` task's items come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForEach {
    /// Files matching a glob, relative to the flow file's directory.
    Glob(Spanned<String>),
    /// Literal items.
    List(Vec<Spanned<String>>),
}

/// What `{task.outputs}` and `{task.items}` gather from every instance of
/// a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gathered {
    /// Their declared outputs.
    Outputs,
    /// Their `for_each` items.
    Items,
}

/// The task and what of it `{task.outputs}` or `{task.items}` names, from
/// the text inside the braces.
pub fn gathered(inner: &str) -> Option<(&str, Gathered)> {
    if let Some(task) = inner.strip_suffix(".outputs") {
        return is_valid_name(task).then_some((task, Gathered::Outputs));
    }
    let task = inner.strip_suffix(".items")?;
    is_valid_name(task).then_some((task, Gathered::Items))
}

/// Names a task's text holds that are maestro's own, not variables.
pub const OWN_NAMES: [&str; 1] = ["cpus"];

/// Whether `name` can name a variable: letters, digits and `_`, not first
/// a digit.
pub fn is_var_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a valid task or resource name.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
