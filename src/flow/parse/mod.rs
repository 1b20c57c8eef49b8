//! Reads `maestro.toml` into a checked [`Flow`].
//!
//! The TOML document tree is walked by hand (no serde) so that every value
//! keeps its span and every problem in the file is reported at once. Checks
//! that depend on other parts of the file (capacities, deps) run
//! after the parts they depend on, and skip anything already reported, so a
//! single mistake yields a single diagnostic.
//!
//! The tree comes from the fast reader of plain TOML (`reader.rs`), or for
//! anything else from the `toml` crate's document, which also reports
//! syntax errors: see `doc.rs`.

use std::collections::HashMap;
use std::time::Duration;

use toml::de::DeTable;

use super::doc::{self, Key, Node, Table, Value};
use super::reader;
use super::sections::{self, Sectioned};
use super::{
    BatchOptions, Flow, ForEach, ResourceDef, Spanned, TaskDef, deps, is_valid_name, parse_duration,
};
use crate::diag::{Diagnostic, SourceFile, Span, nearest};
use crate::shell::Shell;

mod batch;
mod vars;

/// From this size on, a flow file is parsed a section at a time where it
/// can be (see `sections.rs`): below, the whole file at once costs little.
const SECTIONED_FROM: usize = 1 << 20;

/// Threads that read a big file's tasks at most (the checks of a million
/// tasks take about a second alone).
const READERS_MOST: usize = 4;

const TOP_LEVEL_KEYS: [&str; 9] =
    ["jobs", "default", "vars", "resources", "tasks", "executor", "slurm", "shell", "keep_outputs"];

/// Keys other tools name otherwise (Snakemake, GitHub Actions, Compose,
/// Makefiles' habits), each with maestro's: an unknown key gets its hint.
const OTHER_TOOLS_WORDS: [(&str, &str); 6] = [
    ("threads", "cpus"),
    ("needs", "deps"),
    ("depends_on", "deps"),
    ("command", "cmd"),
    ("run", "cmd"),
    ("script", "cmd"),
];
const TASK_KEYS: [&str; 21] = [
    "cmd",
    "shell",
    "deps",
    "for_each",
    "inputs",
    "outputs",
    "temp_outputs",
    "keep_outputs",
    "default",
    "dir",
    "env",
    "timeout",
    "retries",
    "cpus",
    "resources",
    "mem",
    "gpus",
    "partition",
    "account",
    "qos",
    "sbatch_args",
];
const SHELL_EXAMPLE: &str =
    "write shell = \"bash -euo pipefail -c\": the command follows as the last argument";
const NAME_RULE: &str = "use only letters, digits, '_', '-' and '.'";
const TASK_EXAMPLE: &str = "add a task, for example:\n    [tasks.hello]\n    cmd = \"echo hello\"";

/// Parses and checks a flow file.
///
/// Returns every problem found, in file order, rather than only the first.
/// A file that is not valid TOML yields only the TOML errors. Spans of string
/// values include their quotes; a task's name span is its key in the table
/// header, which is also where `cpus` points when the task does not set it.
pub fn parse(file: &SourceFile) -> Result<Flow, Vec<Diagnostic>> {
    if file.text.len() >= SECTIONED_FROM
        && let Some(sectioned) = sections::parse(&file.text)
    {
        let mut checker = Checker::default();
        let flow = checker.flow(&sectioned.root, Some(&sectioned));
        // A chunk that could not be read this way: the whole file, below.
        if !checker.unreadable {
            if checker.diags.is_empty() {
                return Ok(flow);
            }
            return Err(sorted(checker.diags));
        }
    }
    if let Some(root) = reader::read(&file.text, 0..file.text.len()) {
        return check(&root).map_err(sorted);
    }
    let (root, errors) = DeTable::parse_recoverable(&file.text);
    let diags = if errors.is_empty() {
        match check(&doc::from_toml(root.get_ref())) {
            Ok(flow) => return Ok(flow),
            Err(diags) => diags,
        }
    } else {
        errors.iter().map(|error| syntax_error(error, &file.text)).collect()
    };
    Err(sorted(diags))
}

/// Problems in file order.
fn sorted(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort_by_key(|d| d.span.as_ref().map_or(0, |span| span.start));
    diags
}

/// Checks a document's tree: the flow, or every problem found (unsorted).
fn check(root: &Table<'_>) -> Result<Flow, Vec<Diagnostic>> {
    let mut checker = Checker::default();
    let flow = checker.flow(root, None);
    if checker.diags.is_empty() { Ok(flow) } else { Err(checker.diags) }
}

fn syntax_error(error: &toml::de::Error, text: &str) -> Diagnostic {
    let message = error.message();
    let message = message.strip_suffix(", expected nothing").unwrap_or(message);
    match error.span() {
        Some(span) => Diagnostic::new(message, span),
        // The toml crate gives no place for a key too deep to follow: the
        // key with the most dotted parts is the one.
        None => match deepest_key(text) {
            Some((span, parts)) => {
                Diagnostic::new(format!("{message}: a key of {parts} dotted parts"), span)
            }
            None => Diagnostic::whole_file(message),
        },
    }
}

/// The key (in a `[header]` or before `=`) with the most dotted parts, if
/// one has more than a flow ever needs, and how many.
fn deepest_key(text: &str) -> Option<(Span, usize)> {
    let mut deepest: Option<(Span, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset + (line.len() - line.trim_start().len());
        offset += line.len();
        let key = line.trim_start().trim_start_matches('[');
        let key = key.split(['=', ']']).next().unwrap_or("");
        let parts = key.matches('.').count() + 1;
        if parts > 16 && deepest.as_ref().is_none_or(|(_, most)| parts > *most) {
            deepest = Some((start..start + line.trim_end().len().min(key.len() + 1), parts));
        }
    }
    deepest
}

/// What tasks are checked against: the top-level settings.
struct Limits {
    /// Every name under `[resources]`, with its capacity when that is valid.
    resources: HashMap<String, Option<u32>>,
    /// The task defaults of `[slurm]`.
    batch: std::sync::Arc<BatchOptions>,
}

#[derive(Default)]
struct Checker {
    diags: Vec<Diagnostic>,
    /// A big file's chunk of tasks could not be read section by section.
    unreadable: bool,
}

impl Checker {
    fn error(&mut self, message: impl Into<String>, span: Span) {
        self.diags.push(Diagnostic::new(message, span));
    }

    fn error_with_hint(&mut self, message: impl Into<String>, span: Span, hint: impl Into<String>) {
        self.diags.push(Diagnostic::new(message, span).with_hint(hint));
    }

    /// The flow of `root`, whose tasks are in `chunks` when a big file is
    /// read section by section.
    fn flow(&mut self, root: &Table<'_>, chunks: Option<&Sectioned<'_>>) -> Flow {
        let (mut jobs, mut resources, mut tasks) = (None, None, None);
        let (mut executor, mut slurm, mut shell, mut keep_outputs) = (None, None, None, None);
        let (mut vars, mut default, mut jobserver) = (Vec::new(), None, true);
        for (key, value) in root {
            match key.name.as_ref() {
                "jobserver" => jobserver = self.boolean(value, "'jobserver'").unwrap_or(true),
                "default" => default = Some(self.strings(value, "default")),
                "vars" => vars = self.vars(value),
                "keep_outputs" => keep_outputs = self.boolean(value, "'keep_outputs'"),
                "shell" => shell = self.shell(value, "the flow"),
                "jobs" => jobs = Some(value),
                "resources" => resources = Some(value),
                "tasks" => tasks = Some((key, value)),
                "executor" => executor = self.executor(value),
                "slurm" => slurm = Some(value),
                other => {
                    let message = format!("unknown top-level key '{other}'");
                    self.unknown_key(key, message, &TOP_LEVEL_KEYS);
                }
            }
        }
        let jobs = jobs.and_then(|value| {
            self.integer(value, "'jobs'", 1).map(|n| Spanned::new(n, value.span.clone()))
        });
        let (resources, declared) = match resources {
            Some(value) => self.resources(value),
            None => Default::default(),
        };
        let (batch, slurm) = slurm.map(|value| self.slurm_table(value)).unwrap_or_default();
        let limits = Limits { resources: declared, batch: std::sync::Arc::new(batch) };
        let tasks = match (tasks, chunks) {
            (Some(_), Some(chunks)) => self.tasks_in_chunks(chunks, &limits),
            (Some((key, value)), None) => self.tasks(key, value, &limits),
            (None, _) => {
                self.diags
                    .push(Diagnostic::whole_file("no tasks in flow file").with_hint(TASK_EXAMPLE));
                Vec::new()
            }
        };
        let mut tasks = tasks;
        deps::add_gathered(&mut tasks, &mut self.diags);
        self.diags.extend(deps::check(&mut tasks));
        let slurm_defaults = BatchOptions::clone(&limits.batch);
        if let Some(default) = &default {
            self.check_default(default, &tasks);
        }
        Flow {
            jobs,
            resources,
            tasks,
            executor,
            slurm,
            slurm_defaults,
            shell,
            keep_outputs,
            vars,
            default,
            jobserver,
        }
    }

    /// The top-level `default`: each entry names a task that does not say
    /// `default = false`.
    fn check_default(&mut self, default: &[Spanned<String>], tasks: &[TaskDef]) {
        for entry in default {
            match tasks.iter().find(|t| t.name.value == entry.value) {
                Some(task) if !task.default => {
                    let message = format!(
                        "'{}' is in the default tasks and says default = false",
                        entry.value
                    );
                    self.error(message, entry.span.clone());
                }
                Some(_) => {}
                None => {
                    let message = format!("default task '{}' does not exist", entry.value);
                    let names = tasks.iter().map(|t| t.name.value.as_str());
                    match nearest(&entry.value, names) {
                        Some(near) => self.error_with_hint(
                            message,
                            entry.span.clone(),
                            format!("did you mean '{near}'?"),
                        ),
                        None => self.error(message, entry.span.clone()),
                    }
                }
            }
        }
    }

    /// Reports an unknown key, returning the valid key it is a typo of, if any.
    fn unknown_key<'v>(
        &mut self,
        key: &Key<'_>,
        message: String,
        valid: &[&'v str],
    ) -> Option<&'v str> {
        let near = valid
            .iter()
            .copied()
            .find(|&valid| OTHER_TOOLS_WORDS.contains(&(key.name.as_ref(), valid)))
            .or_else(|| nearest(&key.name, valid.iter().copied()));
        let hint = match near {
            Some(near) => format!("did you mean '{near}'?"),
            None => format!("valid keys: {}", valid.join(", ")),
        };
        self.error_with_hint(message, key.span.clone(), hint);
        near
    }

    /// `[resources]`: the valid definitions, and every declared name.
    fn resources(&mut self, value: &Node<'_>) -> (Vec<ResourceDef>, HashMap<String, Option<u32>>) {
        let (mut defs, mut declared) = (Vec::new(), HashMap::new());
        let Value::Table(table) = &value.value else {
            let message =
                format!("'resources' must be a table of name = capacity, not {}", value.value.a());
            self.error_with_hint(
                message,
                value.span.clone(),
                "write [resources] and then printer = 1",
            );
            return (defs, declared);
        };
        for (key, value) in table {
            let name = key.name.to_string();
            let valid_name = self.check_name(key, "resource");
            let capacity = self.integer(value, &format!("capacity of '{name}'"), 1);
            declared.insert(name.clone(), capacity);
            if let (true, Some(capacity)) = (valid_name, capacity) {
                defs.push(ResourceDef { name: Spanned::new(name, key.span.clone()), capacity });
            }
        }
        (defs, declared)
    }

    /// Reports a key that is not a valid task or resource name.
    fn check_name(&mut self, key: &Key<'_>, what: &str) -> bool {
        let valid = is_valid_name(&key.name);
        if !valid {
            let message = format!("invalid {what} name '{}': {NAME_RULE}", key.name);
            self.error(message, key.span.clone());
        }
        valid
    }

    /// The tasks of a big file read section by section, read and checked
    /// on every core (see [`Checker::tasks`]); none, and the checker
    /// `unreadable`, if a chunk of them cannot be read so.
    fn tasks_in_chunks(&mut self, chunks: &Sectioned<'_>, limits: &Limits) -> Vec<TaskDef> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Every thread fills its own part of one list, in place: a list of
        // its own to join after would weigh as much again, at the peak.
        let unset =
            TaskDef::new(Spanned::new(String::new(), 0..0), std::sync::Arc::clone(&limits.batch));
        let mut all = vec![unset; chunks.tasks()];
        let whole = all.as_mut_slice();
        let parts = move |counts: &[usize]| {
            let mut rest = whole;
            let mut parts = Vec::with_capacity(counts.len());
            for &count in counts {
                let (part, after) = rest.split_at_mut(count.min(rest.len()));
                parts.push((Checker::default(), part, 0));
                rest = after;
            }
            parts
        };
        let each = |(checker, part, filled): &mut (Checker, &mut [TaskDef], usize),
                    chunk: &Table<'_>| {
            for (key, value) in chunk {
                part[*filled] = checker.task(key, value, limits);
                *filled += 1;
            }
        };
        let Some(parts) = chunks.read_tasks(threads.min(READERS_MOST), parts, &each) else {
            self.unreadable = true;
            return Vec::new();
        };
        for (checker, ..) in parts {
            self.diags.extend(checker.diags);
        }
        // A task named in two chunks: the whole file's parse says where.
        let mut names = foldhash::HashSet::with_capacity_and_hasher(all.len(), Default::default());
        if !all.iter().all(|task| names.insert(task.name.value.as_str())) {
            self.unreadable = true;
            return Vec::new();
        }
        drop(names);
        all
    }

    /// `[tasks]`: every task, in file order, even those with errors (so that
    /// deps on them do not look unknown).
    fn tasks(&mut self, key: &Key<'_>, value: &Node<'_>, limits: &Limits) -> Vec<TaskDef> {
        let table = match &value.value {
            Value::Table(table) => table,
            Value::Array(_) => {
                let message = "'tasks' must be a table of tasks, not an array";
                self.error_with_hint(
                    message,
                    key.span.clone(),
                    "write [tasks.NAME], not [[tasks]]",
                );
                return Vec::new();
            }
            other => {
                let message = format!("'tasks' must be a table of tasks, not {}", other.a());
                self.error_with_hint(message, value.span.clone(), TASK_EXAMPLE);
                return Vec::new();
            }
        };
        if table.is_empty() {
            self.diags.push(
                Diagnostic::new("no tasks in flow file", key.span.clone()).with_hint(TASK_EXAMPLE),
            );
        }
        table.iter().map(|(key, value)| self.task(key, value, limits)).collect()
    }

    fn task(&mut self, key: &Key<'_>, value: &Node<'_>, limits: &Limits) -> TaskDef {
        let name: &str = &key.name;
        self.check_name(key, "task");
        let mut task = TaskDef::new(
            Spanned::new(name.to_string(), key.span.clone()),
            std::sync::Arc::clone(&limits.batch),
        );
        let Value::Table(table) = &value.value else {
            let message = format!("task '{name}' must be a table, not {}", value.value.a());
            let hint = format!("write [tasks.{name}] and put cmd = \"...\" under it");
            self.error_with_hint(message, value.span.clone(), hint);
            return task;
        };
        // A misspelt cmd is reported as such, not also as a missing one.
        let (mut has_cmd, mut cmd_typo) = (false, false);
        for (key, value) in table {
            match key.name.as_ref() {
                "cmd" => {
                    has_cmd = true;
                    if let Some(cmd) = self.non_empty(value, "'cmd'", name) {
                        task.cmd = cmd;
                    }
                }
                "shell" => task.extras_mut().shell = self.shell(value, &format!("task '{name}'")),
                "deps" => {
                    task.deps = self.strings(value, "deps").into_iter().map(deps::read).collect()
                }
                "for_each" => task.for_each = self.for_each(value, name).map(Box::new),
                "inputs" => task.inputs = self.paths(value, "inputs", name).into(),
                "outputs" => task.outputs = self.paths(value, "outputs", name).into(),
                "temp_outputs" => {
                    task.extras_mut().temp_outputs = self.paths(value, "temp_outputs", name)
                }
                "keep_outputs" => {
                    task.extras_mut().keep_outputs = self.boolean(value, "'keep_outputs'")
                }
                "default" => task.default = self.boolean(value, "'default'").unwrap_or(true),
                "dir" => task.extras_mut().dir = self.non_empty(value, "'dir'", name),
                "env" => task.extras_mut().env = self.env(value),
                "timeout" => task.extras_mut().timeout = self.timeout(value, name),
                "retries" => {
                    task.extras_mut().retries = self.integer(value, "'retries'", 0).unwrap_or(0)
                }
                "cpus" => {
                    if let Some(cpus) = self.cpus(value) {
                        task.cpus = cpus;
                    }
                }
                "resources" => {
                    task.extras_mut().resources = self.task_resources(value, name, limits)
                }
                _ if self.batch_key(
                    key,
                    value,
                    std::sync::Arc::make_mut(&mut task.batch),
                    &format!("task '{name}'"),
                ) => {}
                other => {
                    let message = format!("unknown key '{other}' in task '{name}'");
                    cmd_typo |= self.unknown_key(key, message, &TASK_KEYS) == Some("cmd");
                }
            }
        }
        if !has_cmd && !cmd_typo {
            let hint = "add a line like cmd = \"./run.sh\" under the task's header";
            self.error_with_hint(format!("task '{name}' has no 'cmd'"), key.span.clone(), hint);
        }
        task
    }

    /// `shell`: a program and its options, as a string split at spaces or as
    /// an array; the command line follows them as one more argument. A
    /// single word gets `-c`, as make's `SHELL` does.
    fn shell(&mut self, value: &Node<'_>, whose: &str) -> Option<Shell> {
        let mut words: Vec<String> = match &value.value {
            Value::String(text) => text.split_whitespace().map(str::to_string).collect(),
            Value::Array(_) => self.strings(value, "shell").into_iter().map(|w| w.value).collect(),
            other => {
                let message =
                    format!("'shell' must be a string or an array of strings, not {}", other.a());
                self.error_with_hint(message, value.span.clone(), SHELL_EXAMPLE);
                return None;
            }
        };
        if words.first().is_none_or(|program| program.trim().is_empty()) {
            self.error_with_hint(
                format!("empty 'shell' in {whose}"),
                value.span.clone(),
                SHELL_EXAMPLE,
            );
            return None;
        }
        if words.iter().any(|word| word.contains('\0')) {
            self.error(format!("'shell' of {whose} contains a NUL byte"), value.span.clone());
            return None;
        }
        if words.len() == 1 {
            words.push("-c".to_string());
        }
        Some(Shell::from_words(words))
    }

    fn for_each(&mut self, value: &Node<'_>, task: &str) -> Option<ForEach> {
        match &value.value {
            Value::String(_) => self.non_empty(value, "'for_each'", task).map(ForEach::Glob),
            Value::Array(array) if array.is_empty() => {
                self.error(format!("empty 'for_each' list in task '{task}'"), value.span.clone());
                None
            }
            Value::Array(_) => {
                let items = self.strings(value, "for_each");
                for item in items.iter().filter(|item| item.value.trim().is_empty()) {
                    let message = format!("empty item in 'for_each' of task '{task}'");
                    self.error(message, item.span.clone());
                }
                Some(ForEach::List(items))
            }
            other => {
                let message = format!(
                    "'for_each' must be a string or an array of strings, not {}",
                    other.a()
                );
                self.error(message, value.span.clone());
                None
            }
        }
    }

    /// `inputs` or `outputs`: non-empty strings.
    fn paths(&mut self, value: &Node<'_>, key: &str, task: &str) -> Vec<Spanned<String>> {
        let paths = self.strings(value, key);
        for path in paths.iter().filter(|path| path.value.trim().is_empty()) {
            self.error(format!("empty path in '{key}' of task '{task}'"), path.span.clone());
        }
        paths
    }

    fn env(&mut self, value: &Node<'_>) -> Vec<(Spanned<String>, Spanned<String>)> {
        let Value::Table(table) = &value.value else {
            let message = format!("'env' must be a table, not {}", value.value.a());
            self.error_with_hint(message, value.span.clone(), "write env = { NAME = \"value\" }");
            return Vec::new();
        };
        let mut vars = Vec::new();
        for (key, value) in table {
            let name: &str = &key.name;
            if name.is_empty() || name.contains(['=', '\0']) {
                self.error(format!("invalid environment variable name '{name}'"), key.span.clone());
                continue;
            }
            let text = match &value.value {
                Value::String(s) if s.contains('\0') => {
                    let message = format!("value of env '{name}' contains a NUL byte");
                    self.error(message, value.span.clone());
                    continue;
                }
                Value::String(s) => s.to_string(),
                Value::Integer(int) => int.value().map_or_else(|| int.text(), |n| n.to_string()),
                Value::Float(float) => float.to_string(),
                Value::Boolean(b) => b.to_string(),
                other => {
                    let message = format!(
                        "value of env '{name}' must be a string, number or boolean, not {}",
                        other.a()
                    );
                    self.error(message, value.span.clone());
                    continue;
                }
            };
            vars.push((
                Spanned::new(name.to_string(), key.span.clone()),
                Spanned::new(text, value.span.clone()),
            ));
        }
        vars
    }

    /// `timeout`: a duration string, or a number of seconds; never zero.
    fn timeout(&mut self, value: &Node<'_>, task: &str) -> Option<Spanned<Duration>> {
        let duration = match &value.value {
            Value::String(text) => match parse_duration(text) {
                Ok(duration) => duration,
                Err(e) => {
                    let message = format!("bad timeout '{text}' in task '{task}': {e}");
                    self.error(message, value.span.clone());
                    return None;
                }
            },
            Value::Integer(int) => match int.value() {
                Some(secs) if secs <= 0 => Duration::ZERO,
                Some(secs) if secs <= i128::from(u64::MAX) => Duration::from_secs(secs as u64),
                _ => {
                    self.error("'timeout' is too large", value.span.clone());
                    return None;
                }
            },
            other => {
                let message = format!(
                    "'timeout' must be a duration like \"10m\" or a number of seconds, not {}",
                    other.a()
                );
                self.error(message, value.span.clone());
                return None;
            }
        };
        if duration.is_zero() {
            let message = format!("timeout of task '{task}' must be greater than zero");
            self.error_with_hint(
                message,
                value.span.clone(),
                "remove 'timeout' to let the task run as long as it needs",
            );
            return None;
        }
        Some(Spanned::new(duration, value.span.clone()))
    }

    /// `cpus`: at least 1 (a local run lowers it to the job slots there are).
    fn cpus(&mut self, value: &Node<'_>) -> Option<Spanned<u32>> {
        let cpus = self.integer(value, "'cpus'", 1)?;
        Some(Spanned::new(cpus, value.span.clone()))
    }

    /// A task's `resources`: each declared, each amount within capacity.
    fn task_resources(
        &mut self,
        value: &Node<'_>,
        task: &str,
        limits: &Limits,
    ) -> Vec<(Spanned<String>, u32)> {
        let Value::Table(table) = &value.value else {
            let message =
                format!("'resources' must be a table of name = amount, not {}", value.value.a());
            self.error_with_hint(message, value.span.clone(), "write resources = { printer = 1 }");
            return Vec::new();
        };
        let mut uses = Vec::new();
        for (key, value) in table {
            let name: &str = &key.name;
            let amount = self.integer(value, &format!("amount of '{name}'"), 1);
            match limits.resources.get(name) {
                None => self.unknown_resource(key, task, limits),
                Some(Some(capacity)) if amount.is_some_and(|amount| amount > *capacity) => {
                    let message = format!(
                        "task '{task}' needs {} of '{name}', which has only {capacity}",
                        amount.unwrap_or_default()
                    );
                    self.error(message, value.span.clone());
                }
                // An invalid capacity is reported at [resources] already.
                Some(_) => {}
            }
            if let Some(amount) = amount {
                uses.push((Spanned::new(name.to_string(), key.span.clone()), amount));
            }
        }
        uses
    }

    fn unknown_resource(&mut self, key: &Key<'_>, task: &str, limits: &Limits) {
        let name = &key.name;
        let message = format!("task '{task}' uses resource '{name}', which is not declared");
        let hint = match nearest(name, limits.resources.keys().map(String::as_str)) {
            Some(near) => format!("did you mean '{near}'?"),
            None => format!("declare it under [resources], e.g. {name} = 1"),
        };
        self.error_with_hint(message, key.span.clone(), hint);
    }
    /// An integer in `min..=u32::MAX`; `what` names it in messages.
    fn integer(&mut self, value: &Node<'_>, what: &str, min: u32) -> Option<u32> {
        let Value::Integer(int) = &value.value else {
            let kind = if min == 0 { "non-negative" } else { "positive" };
            let message = format!("{what} must be a {kind} integer, not {}", value.value.a());
            self.error(message, value.span.clone());
            return None;
        };
        match int.value() {
            Some(n) if n < i128::from(min) => {
                self.error(format!("{what} must be at least {min}"), value.span.clone());
                None
            }
            Some(n) if n <= i128::from(u32::MAX) => u32::try_from(n).ok(),
            _ => {
                let message = format!("{what} is too large (at most {})", u32::MAX);
                self.error(message, value.span.clone());
                None
            }
        }
    }

    /// `true` or `false`; `what` names the value in messages.
    fn boolean(&mut self, value: &Node<'_>, what: &str) -> Option<bool> {
        match &value.value {
            Value::Boolean(b) => Some(*b),
            other => {
                let message = format!("{what} must be true or false, not {}", other.a());
                self.error(message, value.span.clone());
                None
            }
        }
    }

    /// A string; `what` names the value in messages.
    fn string(&mut self, value: &Node<'_>, what: &str) -> Option<Spanned<String>> {
        match &value.value {
            Value::String(s) => Some(Spanned::new(s.to_string(), value.span.clone())),
            other => {
                self.error(
                    format!("{what} must be a string, not {}", other.a()),
                    value.span.clone(),
                );
                None
            }
        }
    }

    /// A string that is not blank; `what` is the quoted key.
    fn non_empty(&mut self, value: &Node<'_>, what: &str, task: &str) -> Option<Spanned<String>> {
        let s = self.string(value, what)?;
        if s.value.trim().is_empty() {
            self.error(format!("empty {what} in task '{task}'"), s.span);
            return None;
        }
        Some(s)
    }

    /// An array of strings; items of another type are reported and dropped.
    fn strings(&mut self, value: &Node<'_>, key: &str) -> Vec<Spanned<String>> {
        let Value::Array(array) = &value.value else {
            let message = format!("'{key}' must be an array of strings, not {}", value.value.a());
            let diag = Diagnostic::new(message, value.span.clone());
            self.diags.push(match &value.value {
                Value::String(s) => diag.with_hint(format!("write {key} = [\"{s}\"]")),
                _ => diag,
            });
            return Vec::new();
        };
        let mut strings = Vec::with_capacity(array.len());
        for item in array {
            match &item.value {
                Value::String(s) => strings.push(Spanned::new(s.to_string(), item.span.clone())),
                other => {
                    let message =
                        format!("each item of '{key}' must be a string, not {}", other.a());
                    self.error(message, item.span.clone());
                }
            }
        }
        strings
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Instant;

    use super::*;
    use crate::flow::{SlurmSettings, TaskExtras};

    fn file(text: &str) -> SourceFile {
        SourceFile { path: PathBuf::from("maestro.toml"), text: text.to_string() }
    }

    fn flow(text: &str) -> Flow {
        parse(&file(text)).unwrap_or_else(|diags| panic!("unexpected errors: {diags:#?}"))
    }

    /// Each diagnostic as (message, hint, text under the span).
    fn errors(text: &str) -> Vec<(String, Option<String>, Option<String>)> {
        let diags = parse(&file(text)).expect_err("expected errors");
        let under = |span: &Span| text[span.clone()].to_string();
        diags
            .iter()
            .map(|d| (d.message.clone(), d.hint.clone(), d.span.as_ref().map(under)))
            .collect()
    }

    /// The one diagnostic as (message, hint, text under the span).
    fn error(text: &str) -> (String, Option<String>, String) {
        let mut all = errors(text);
        assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
        let (message, hint, under) = all.remove(0);
        (message, hint, under.expect("a span"))
    }

    fn no_hint(message: &str, under: &str) -> (String, Option<String>, String) {
        (message.to_string(), None, under.to_string())
    }

    fn hint(message: &str, hint: &str, under: &str) -> (String, Option<String>, String) {
        (message.to_string(), Some(hint.to_string()), under.to_string())
    }

    /// The first `needle` after the first `anchor` in `text`, with its span.
    fn at<T>(text: &str, anchor: &str, needle: &str, value: T) -> Spanned<T> {
        let from = text.find(anchor).unwrap_or_else(|| panic!("{anchor:?} not in text"));
        let start = from + text[from..].find(needle).unwrap_or_else(|| panic!("{needle:?}"));
        Spanned::new(value, start..start + needle.len())
    }

    fn dep(task: Spanned<String>, target: usize) -> crate::flow::Dep {
        let task = Spanned::new(task.value.into_boxed_str(), task.span);
        crate::flow::Dep { task, instance: None, target }
    }

    /// Like [`at`], for a string value: `needle` is what is written (with
    /// quotes for a TOML string), the value is without the quotes.
    fn text_at(text: &str, anchor: &str, needle: &str) -> Spanned<String> {
        at(text, anchor, needle, needle.trim_matches('"').to_string())
    }

    const EXAMPLE: &str = r#"# An example flow.
jobs = 4

[resources]
printer = 3
gpu = 1

[tasks.process1]
cmd = "python process1.py"

[tasks.analyze]
for_each = "data/*.csv"
cmd = "python analyze.py {} > results/{/.}.json"
inputs = ["analyze.py", "{}"]
outputs = ["results/{/.}.json"]
dir = "sub"
env = { B = "x", A = 1, C = true, D = 2.5, E = 0x1F }
timeout = "10m"
retries = 2
cpus = 2
resources = { printer = 1, gpu = 1 }
deps = ["process1"]

[tasks.zip]
for_each = ["north", "south"]
cmd = "zip {}.zip {}"
deps = ["analyze", "process1"]
timeout = 90
"#;

    fn plain_task(text: &str, name: &str, cmd: &str) -> TaskDef {
        let header = format!("[tasks.{name}]");
        let name = text_at(text, &header, name);
        TaskDef { cmd: text_at(text, &header, cmd), ..TaskDef::new(name, Default::default()) }
    }

    #[test]
    fn a_big_flow_is_read_section_by_section_each_task_in_its_place() {
        let text: String = (0..40_000)
            .map(|i| format!("[tasks.t{i}]\ncmd = \"echo {i}\"\ndeps = [\"t{}\"]\n\n", i / 2))
            .collect::<String>()
            .replacen("deps = [\"t0\"]\n", "", 1);
        assert!(text.len() >= SECTIONED_FROM);
        let sectioned = sections::parse(&text).expect("sectioned");
        let mut checker = Checker::default();
        let flow = checker.flow(&sectioned.root, Some(&sectioned));
        assert!(!checker.unreadable && checker.diags.is_empty(), "{:?}", checker.diags);
        assert_eq!(flow.tasks.len(), 40_000);
        for (i, task) in flow.tasks.iter().enumerate() {
            assert_eq!(
                (task.name.value.as_str(), task.cmd.value.as_str()),
                (&*format!("t{i}"), &*format!("echo {i}"))
            );
        }
        assert_eq!(flow.tasks[39_999].deps[0].target, 19_999);
    }

    #[test]
    fn a_big_flow_naming_a_task_twice_gets_the_error_of_the_whole_file() {
        let tasks: String = (0..60_000).map(|i| format!("[tasks.t{i}]\ncmd = \"x\"\n")).collect();
        let text = format!("{tasks}[tasks.t1]\ncmd = \"y\"\n");
        assert!(text.len() >= SECTIONED_FROM);
        let sectioned = sections::parse(&text).expect("sectioned");
        let mut checker = Checker::default();
        checker.flow(&sectioned.root, Some(&sectioned));
        assert!(checker.unreadable);
        let diags = parse(&file(&text)).expect_err("named twice");
        let span = diags[0].span.clone().expect("a span");
        assert_eq!((diags[0].message.as_str(), &text[span.clone()]), ("duplicate key", "t1"));
        assert!(span.start > tasks.len(), "the second one: {span:?}");
    }

    #[test]
    fn full_example_round_trips() {
        let t = EXAMPLE;
        let a = "[tasks.analyze]";
        let env = |key: &str, needle: &str, value: &str| {
            let anchor = format!("{key} = ");
            (text_at(t, a, key), at(t, &anchor, needle, value.to_string()))
        };
        let analyze = TaskDef {
            for_each: Some(Box::new(ForEach::Glob(text_at(t, a, "\"data/*.csv\"")))),
            inputs: Box::new([text_at(t, a, "\"analyze.py\""), text_at(t, a, "\"{}\"")]),
            outputs: Box::new([text_at(t, a, "\"results/{/.}.json\"")]),
            extras: Some(Box::new(TaskExtras {
                dir: Some(text_at(t, a, "\"sub\"")),
                env: vec![
                    env("B", "\"x\"", "x"),
                    env("A", "1", "1"),
                    env("C", "true", "true"),
                    env("D", "2.5", "2.5"),
                    env("E", "0x1F", "31"),
                ],
                timeout: Some(at(t, a, "\"10m\"", Duration::from_secs(600))),
                retries: 2,
                resources: vec![(text_at(t, a, "printer"), 1), (text_at(t, a, "gpu"), 1)],
                ..TaskExtras::default()
            })),
            cpus: at(t, "cpus = ", "2", 2),
            deps: vec![dep(text_at(t, a, "\"process1\""), 0)],
            ..plain_task(t, "analyze", "\"python analyze.py {} > results/{/.}.json\"")
        };
        let z = "[tasks.zip]";
        let zip = TaskDef {
            for_each: Some(Box::new(ForEach::List(vec![
                text_at(t, z, "\"north\""),
                text_at(t, z, "\"south\""),
            ]))),
            deps: vec![dep(text_at(t, z, "\"analyze\""), 1), dep(text_at(t, z, "\"process1\""), 0)],
            extras: Some(Box::new(TaskExtras {
                timeout: Some(at(t, z, "90", Duration::from_secs(90))),
                ..TaskExtras::default()
            })),
            ..plain_task(t, "zip", "\"zip {}.zip {}\"")
        };
        let expected = Flow {
            jobs: Some(at(t, "jobs = ", "4", 4)),
            resources: vec![
                ResourceDef { name: text_at(t, "", "printer"), capacity: 3 },
                ResourceDef { name: text_at(t, "", "gpu"), capacity: 1 },
            ],
            tasks: vec![plain_task(t, "process1", "\"python process1.py\""), analyze, zip],
            executor: None,
            slurm: SlurmSettings::default(),
            slurm_defaults: Default::default(),
            shell: None,
            keep_outputs: None,
            vars: Vec::new(),
            default: None,
            jobserver: true,
        };
        assert_eq!(flow(t), expected);
        // Spot-check that the helpers found the intended text.
        let parsed = flow(t);
        assert_eq!(&t[parsed.tasks[1].name.span.clone()], "analyze");
        assert_eq!(&t[parsed.tasks[2].deps[1].task.span.clone()], "\"process1\"");
        assert_eq!(parsed.tasks[2].deps[1].task.span.start, t.rfind("\"process1\"").unwrap());
        assert_eq!(&t[parsed.tasks[1].extras().env[1].1.span.clone()], "1");
    }

    #[test]
    fn syntax_errors_keep_the_toml_message_and_span() {
        let text = "[tasks.a]\ncmd = \"x\"\ncmd = \"y\"\n";
        assert_eq!(error(text), no_hint("duplicate key", "cmd"));
        let all = errors("[tasks.a\ncmd = = \"x\"\n");
        assert_eq!(all[0], ("unclosed table, expected `]`".to_string(), None, Some(String::new())));
        assert_eq!(parse(&file("[tasks.a\n")).unwrap_err()[0].span, Some(8..8));
        assert_eq!(all[1], ("extra `=`".to_string(), None, Some("=".to_string())));
    }

    #[test]
    fn unknown_task_key_suggests_the_nearest() {
        let text = "[tasks.build]\ncmdd = \"make\"\n";
        let expected = hint("unknown key 'cmdd' in task 'build'", "did you mean 'cmd'?", "cmdd");
        // Only once: not also as a missing cmd.
        assert_eq!(error(text), expected);
    }

    #[test]
    fn unknown_task_key_lists_valid_keys_when_nothing_is_near() {
        let text = "[tasks.build]\ncmd = \"make\"\ncolour = \"red\"\n";
        let valid = "valid keys: cmd, shell, deps, for_each, inputs, outputs, temp_outputs, keep_outputs, default, dir, env, timeout, retries, \
                     cpus, resources, mem, gpus, partition, account, qos, sbatch_args";
        assert_eq!(error(text), hint("unknown key 'colour' in task 'build'", valid, "colour"));
    }

    #[test]
    fn unknown_top_level_key() {
        let text = "job = 4\n[tasks.a]\ncmd = \"x\"\n";
        let expected = hint("unknown top-level key 'job'", "did you mean 'jobs'?", "job");
        assert_eq!(error(text), expected);
        let text = "[task.a]\ncmd = \"x\"\n[tasks.b]\ncmd = \"y\"\n";
        assert_eq!(
            error(text),
            hint("unknown top-level key 'task'", "did you mean 'tasks'?", "task")
        );
    }

    #[test]
    fn wrong_types() {
        let task = |body: &str| error(&format!("[tasks.t]\ncmd = \"x\"\n{body}\n"));
        let m = "'retries' must be a non-negative integer, not a string";
        assert_eq!(task("retries = \"2\""), no_hint(m, "\"2\""));
        let m = "'cpus' must be a positive integer, not a float";
        assert_eq!(task("cpus = 1.5"), no_hint(m, "1.5"));
        let m = "'deps' must be an array of strings, not a string";
        assert_eq!(task("deps = \"a\""), hint(m, "write deps = [\"a\"]", "\"a\""));
        let m = "each item of 'inputs' must be a string, not an integer";
        assert_eq!(task("inputs = [\"a\", 3]"), no_hint(m, "3"));
        let m = "'dir' must be a string, not a boolean";
        assert_eq!(task("dir = true"), no_hint(m, "true"));
        let m = "'env' must be a table, not an array";
        assert_eq!(task("env = []"), hint(m, "write env = { NAME = \"value\" }", "[]"));
        let m = "value of env 'A' must be a string, number or boolean, not an array";
        assert_eq!(task("env = { A = [1] }"), no_hint(m, "[1]"));
        let m = "'for_each' must be a string or an array of strings, not an integer";
        assert_eq!(task("for_each = 3"), no_hint(m, "3"));
        let m = "'timeout' must be a duration like \"10m\" or a number of seconds, not a boolean";
        assert_eq!(task("timeout = false"), no_hint(m, "false"));
        let m = "'resources' must be a table of name = amount, not an integer";
        assert_eq!(task("resources = 1"), hint(m, "write resources = { printer = 1 }", "1"));
        let m = "'cmd' must be a string, not an array";
        assert_eq!(error("[tasks.t]\ncmd = [\"make\"]\n"), no_hint(m, "[\"make\"]"));
    }

    #[test]
    fn tasks_must_be_a_table_of_tables() {
        let text = "tasks = 3\n";
        let expected = hint("'tasks' must be a table of tasks, not an integer", TASK_EXAMPLE, "3");
        assert_eq!(error(text), expected);
        let text = "[[tasks]]\ncmd = \"x\"\n";
        let m = "'tasks' must be a table of tasks, not an array";
        assert_eq!(error(text), hint(m, "write [tasks.NAME], not [[tasks]]", "tasks"));
        let text = "[tasks]\nbuild = \"make\"\n";
        let h = "write [tasks.build] and put cmd = \"...\" under it";
        assert_eq!(error(text), hint("task 'build' must be a table, not a string", h, "\"make\""));
        let text = "resources = [1]\n[tasks.a]\ncmd = \"x\"\n";
        let m = "'resources' must be a table of name = capacity, not an array";
        assert_eq!(error(text), hint(m, "write [resources] and then printer = 1", "[1]"));
    }

    #[test]
    fn missing_and_empty_cmd() {
        let h = "add a line like cmd = \"./run.sh\" under the task's header";
        let text = "[tasks.build]\ndir = \"x\"\n";
        assert_eq!(error(text), hint("task 'build' has no 'cmd'", h, "build"));
        assert_eq!(error("[tasks.build]\n"), hint("task 'build' has no 'cmd'", h, "build"));
        let m = "empty 'cmd' in task 'build'";
        assert_eq!(error("[tasks.build]\ncmd = \"\"\n"), no_hint(m, "\"\""));
        assert_eq!(error("[tasks.build]\ncmd = \" \\t \"\n"), no_hint(m, "\" \\t \""));
    }

    #[test]
    fn no_tasks() {
        let diags = parse(&file("jobs = 2\n")).unwrap_err();
        assert_eq!(
            diags,
            vec![Diagnostic::whole_file("no tasks in flow file").with_hint(TASK_EXAMPLE)]
        );
        assert_eq!(parse(&file("")).unwrap_err(), diags);
        let expected = hint("no tasks in flow file", TASK_EXAMPLE, "tasks");
        assert_eq!(error("[tasks]\n"), expected);
    }

    #[test]
    fn invalid_names() {
        let m = "invalid task name 'a:b': use only letters, digits, '_', '-' and '.'";
        assert_eq!(error("[tasks.\"a:b\"]\ncmd = \"x\"\n"), no_hint(m, "\"a:b\""));
        let m = "invalid resource name 'big printer': use only letters, digits, '_', '-' and '.'";
        let text = "[resources]\n\"big printer\" = 1\n[tasks.a]\ncmd = \"x\"\n";
        assert_eq!(error(text), no_hint(m, "\"big printer\""));
    }

    #[test]
    fn dep_on_unknown_task() {
        let text = "[tasks.fetch]\ncmd = \"x\"\n[tasks.clean]\ncmd = \"y\"\ndeps = [\"fetchh\"]\n";
        let m = "task 'clean' depends on 'fetchh', which does not exist";
        assert_eq!(error(text), hint(m, "did you mean 'fetch'?", "\"fetchh\""));
        let text = "[tasks.clean]\ncmd = \"y\"\ndeps = [\"zzzzzz\"]\n";
        let m = "task 'clean' depends on 'zzzzzz', which does not exist";
        assert_eq!(error(text), no_hint(m, "\"zzzzzz\""));
    }

    #[test]
    fn dep_on_itself() {
        let text = "[tasks.a]\ncmd = \"x\"\ndeps = ['a']\n";
        assert_eq!(error(text), no_hint("task 'a' depends on itself", "'a'"));
    }

    #[test]
    fn dep_listed_twice() {
        let text = "[tasks.b]\ncmd = \"x\"\n[tasks.a]\ncmd = \"y\"\ndeps = [\"b\", 'b']\n";
        assert_eq!(error(text), no_hint("'b' is listed twice in deps of 'a'", "'b'"));
    }

    #[test]
    fn cycle_starts_at_the_task_first_in_the_file() {
        let text = "[tasks.c]\ncmd = \"x\"\ndeps = [\"a\"]\n\
                    [tasks.b]\ncmd = \"x\"\ndeps = [\"c\"]\n\
                    [tasks.a]\ncmd = \"x\"\ndeps = [\"b\"]\n";
        let (message, hint, under) = error(text);
        assert_eq!(
            (message.as_str(), hint, under.as_str()),
            ("dependency cycle: c -> a -> b -> c", None, "\"a\"")
        );
        let diags = parse(&file(text)).unwrap_err();
        assert_eq!(diags[0].span.as_ref().map(|s| s.start), text.find("\"a\""));
    }

    #[test]
    fn each_cycle_is_reported_once() {
        // a -> b -> a and a -> c -> a share 'a'; d -> e -> d is separate.
        let text = "[tasks.a]\ncmd = \"x\"\ndeps = [\"b\", \"c\"]\n\
                    [tasks.b]\ncmd = \"x\"\ndeps = [\"a\"]\n\
                    [tasks.c]\ncmd = \"x\"\ndeps = [\"a\"]\n\
                    [tasks.d]\ncmd = \"x\"\ndeps = [\"e\", \"b\"]\n\
                    [tasks.e]\ncmd = \"x\"\ndeps = [\"d\"]\n";
        let messages: Vec<String> = errors(text).into_iter().map(|e| e.0).collect();
        assert_eq!(
            messages,
            [
                "dependency cycle: a -> b -> a",
                "dependency cycle: a -> c -> a",
                "dependency cycle: d -> e -> d",
            ]
        );
    }

    #[test]
    fn a_cycle_through_two_deps_on_one_task_is_reported_once() {
        let text = "[tasks.a]\ncmd = \"x\"\ndeps = [\"b\", \"b:x\"]\n\
                    [tasks.b]\nfor_each = [\"x\"]\ncmd = \"x\"\ndeps = [\"a\"]\n";
        assert_eq!(error(text), no_hint("dependency cycle: a -> b -> a", "\"b\""));
    }

    #[test]
    fn bad_deps_are_not_also_reported_as_cycles() {
        let text = "[tasks.a]\ncmd = \"x\"\ndeps = [\"a\", \"nope\", \"b\", \"b\"]\n\
                    [tasks.b]\ncmd = \"x\"\n";
        let messages: Vec<String> = errors(text).into_iter().map(|e| e.0).collect();
        assert_eq!(
            messages,
            [
                "task 'a' depends on itself",
                "task 'a' depends on 'nope', which does not exist",
                "'b' is listed twice in deps of 'a'",
            ]
        );
    }

    #[test]
    fn jobs_must_be_at_least_one() {
        let tasks = "[tasks.a]\ncmd = \"x\"\n";
        assert_eq!(error(&format!("jobs = 0\n{tasks}")), no_hint("'jobs' must be at least 1", "0"));
        assert_eq!(
            error(&format!("jobs = -3\n{tasks}")),
            no_hint("'jobs' must be at least 1", "-3")
        );
        let m = "'jobs' must be a positive integer, not a string";
        assert_eq!(error(&format!("jobs = \"4\"\n{tasks}")), no_hint(m, "\"4\""));
    }

    #[test]
    fn cpus_above_jobs_are_accepted_and_a_bad_count_is_not() {
        // A run lowers them to its job slots.
        let text = "jobs = 4\n[tasks.x]\ncmd = \"x\"\ncpus = 8\n";
        assert_eq!(flow(text).tasks[0].cpus.value, 8);
        assert_eq!(flow("[tasks.x]\ncmd = \"x\"\ncpus = 64\n").tasks[0].cpus.value, 64);
        let text = "jobs = 0\n[tasks.x]\ncmd = \"x\"\ncpus = 8\n";
        assert_eq!(error(text).0, "'jobs' must be at least 1");
        assert_eq!(
            error("[tasks.x]\ncmd = \"x\"\ncpus = 0\n"),
            no_hint("'cpus' must be at least 1", "0")
        );
    }

    #[test]
    fn resources_are_declared_and_within_capacity() {
        let head = "[resources]\nprinter = 3\n[tasks.x]\ncmd = \"x\"\n";
        let text = format!("{head}resources = {{ printer = 5 }}\n");
        assert_eq!(error(&text), no_hint("task 'x' needs 5 of 'printer', which has only 3", "5"));
        let text = format!("{head}resources = {{ printr = 1 }}\n");
        let m = "task 'x' uses resource 'printr', which is not declared";
        assert_eq!(error(&text), hint(m, "did you mean 'printer'?", "printr"));
        let text = format!("{head}resources = {{ gpu = 1 }}\n");
        let m = "task 'x' uses resource 'gpu', which is not declared";
        assert_eq!(error(&text), hint(m, "declare it under [resources], e.g. gpu = 1", "gpu"));
        let text = format!("{head}resources = {{ printer = 0 }}\n");
        assert_eq!(error(&text), no_hint("amount of 'printer' must be at least 1", "0"));
        let text = format!("{head}resources = {{ printer = \"1\" }}\n");
        let m = "amount of 'printer' must be a positive integer, not a string";
        assert_eq!(error(&text), no_hint(m, "\"1\""));
    }

    #[test]
    fn bad_capacity_is_reported_once() {
        let text =
            "[tasks.x]\ncmd = \"x\"\nresources = { printer = 5 }\n[resources]\nprinter = 0\n";
        assert_eq!(error(text), no_hint("capacity of 'printer' must be at least 1", "0"));
        // Resources declared after the tasks are still found.
        let text =
            "[tasks.x]\ncmd = \"x\"\nresources = { printer = 2 }\n[resources]\nprinter = 2\n";
        assert_eq!(flow(text).tasks[0].extras().resources[0].1, 2);
    }

    #[test]
    fn bad_and_zero_timeouts() {
        let task = |timeout: &str| format!("[tasks.x]\ncmd = \"x\"\ntimeout = {timeout}\n");
        let m = "bad timeout '5x' in task 'x': unknown unit 'x' in '5x' (use ms, s, m, h or d)";
        assert_eq!(error(&task("\"5x\"")), no_hint(m, "\"5x\""));
        let m = "timeout of task 'x' must be greater than zero";
        let h = "remove 'timeout' to let the task run as long as it needs";
        assert_eq!(error(&task("\"0s\"")), hint(m, h, "\"0s\""));
        assert_eq!(error(&task("0")), hint(m, h, "0"));
        assert_eq!(error(&task("-5")), hint(m, h, "-5"));
        let m = "'timeout' is too large";
        let huge = "99999999999999999999999";
        assert_eq!(error(&task(huge)), no_hint(m, huge));
        let timeout = flow(&task("\"1h30m\"")).tasks[0].extras().timeout.clone().unwrap();
        assert_eq!(timeout.value, Duration::from_secs(5_400));
    }

    #[test]
    fn integers_out_of_range() {
        let task = |body: &str| error(&format!("[tasks.t]\ncmd = \"x\"\n{body}\n"));
        let m = "'retries' is too large (at most 4294967295)";
        assert_eq!(task("retries = 4294967296"), no_hint(m, "4294967296"));
        let huge = "9".repeat(50);
        assert_eq!(task(&format!("retries = {huge}")), no_hint(m, &huge));
        assert_eq!(task("retries = -1"), no_hint("'retries' must be at least 0", "-1"));
        assert_eq!(
            flow("[tasks.t]\ncmd = \"x\"\nretries = 4294967295\n").tasks[0].extras().retries,
            u32::MAX
        );
    }

    #[test]
    fn for_each_lists_and_paths_must_not_be_empty() {
        let task = |body: &str| error(&format!("[tasks.t]\ncmd = \"x\"\n{body}\n"));
        assert_eq!(task("for_each = []"), no_hint("empty 'for_each' list in task 't'", "[]"));
        assert_eq!(task("for_each = \"\""), no_hint("empty 'for_each' in task 't'", "\"\""));
        let m = "empty item in 'for_each' of task 't'";
        assert_eq!(task("for_each = [\"a\", \" \"]"), no_hint(m, "\" \""));
        let m = "empty path in 'outputs' of task 't'";
        assert_eq!(task("outputs = [\"\"]"), no_hint(m, "\"\""));
        assert_eq!(task("dir = \"\""), no_hint("empty 'dir' in task 't'", "\"\""));
    }

    #[test]
    fn env_names_and_values() {
        let task = |body: &str| error(&format!("[tasks.t]\ncmd = \"x\"\n{body}\n"));
        let m = "invalid environment variable name 'A=B'";
        assert_eq!(task("env = { \"A=B\" = \"1\" }"), no_hint(m, "\"A=B\""));
        let m = "value of env 'A' contains a NUL byte";
        assert_eq!(task("env = { A = \"x\\u0000\" }"), no_hint(m, "\"x\\u0000\""));
    }

    #[test]
    fn all_problems_are_reported_in_file_order() {
        let text = "jobs = 0\nwat = 1\n[tasks.a]\ncmd = \"\"\n[tasks.b]\nretries = -1\n";
        let messages: Vec<String> = errors(text).into_iter().map(|e| e.0).collect();
        assert_eq!(
            messages,
            [
                "'jobs' must be at least 1",
                "unknown top-level key 'wat'",
                "empty 'cmd' in task 'a'",
                "task 'b' has no 'cmd'",
                "'retries' must be at least 0",
            ]
        );
    }

    #[test]
    fn tasks_keep_file_order() {
        let text =
            "[tasks.zeta]\ncmd = \"x\"\n[tasks.alpha]\ncmd = \"x\"\n[tasks.mid]\ncmd = \"x\"\n";
        let names: Vec<String> = flow(text).tasks.into_iter().map(|t| t.name.value).collect();
        assert_eq!(names, ["zeta", "alpha", "mid"]);
    }

    fn chain(n: usize, closed: bool) -> String {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!("[tasks.t{i}]\ncmd = \"echo {i}\"\n"));
            if i + 1 < n {
                text.push_str(&format!("deps = [\"t{}\"]\n", i + 1));
            } else if closed {
                text.push_str("deps = [\"t0\"]\n");
            }
        }
        text
    }

    #[test]
    fn long_chains_are_fast_and_do_not_overflow_the_stack() {
        let text = chain(20_000, false);
        let started = Instant::now();
        let flow = flow(&text);
        assert!(started.elapsed().as_secs_f64() < 1.0, "took {:?}", started.elapsed());
        assert_eq!(flow.tasks.len(), 20_000);
        let text = chain(20_000, true);
        let (message, _, under) = error(&text);
        assert!(message.starts_with("dependency cycle: t0 -> t1 -> t2 -> "), "{message}");
        assert!(message.ends_with(" -> t19999 -> t0"));
        assert_eq!(under, "\"t1\"");
    }

    #[test]
    fn never_panics_on_mangled_input() {
        let base = format!("{EXAMPLE}{}", chain(6, true));
        assert!(base.lines().count() >= 40);
        for end in 0..=base.len() {
            let _ = parse(&file(&base[..end]));
        }
        for i in 0..base.len() {
            for replacement in ["\"", "[", "]", "{", "}", "=", ",", "\n", "#"] {
                let mut text = base.clone();
                text.replace_range(i..i + 1, replacement);
                let _ = parse(&file(&text));
            }
        }
    }
}
