//! Whether an instance must run, and the reason in words (SPEC §3): a task
//! is fresh when its last success had the same command, env, dir, input
//! contents and deps, and its outputs are still as it left them.
//!
//! Decisions are taken when an instance is about to start, after its deps
//! finished, so that inputs a dep just wrote are hashed as they are now.

pub mod files;
pub mod record;

use std::fmt;
use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

pub use files::{EarlyStats, FileHashes, FileStamp};
pub use record::Record;

use crate::graph::Graph;
use files::write_field;

/// Stats of the files `graph`'s instances declare (the inputs that are not
/// globs, and the outputs), in instance order, while `keep_going()` says so.
pub fn early_stats(graph: &Graph, keep_going: impl Fn() -> bool) -> EarlyStats {
    let paths = graph.instances.iter().enumerate().flat_map(|(i, inst)| {
        let dir = &graph.settings_of(i).dir;
        let literal_inputs = inst.inputs.iter().filter(|p| !p.contains(['*', '?', '[']));
        literal_inputs.chain(&inst.outputs).map(|p| dir.join(p))
    });
    EarlyStats::take(paths, keep_going)
}

/// What to do with an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Skip it: its last success still holds.
    Fresh,
    /// Run it, because of this.
    Run(Reason),
}

/// Why an instance runs: the first difference found, in the order below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `--force`.
    Forced,
    /// It declares neither inputs nor outputs: nothing to compare.
    NothingDeclared,
    /// No success of it is recorded.
    NeverRan,
    /// Its last attempt failed.
    FailedLastTime,
    /// Its last attempt was interrupted.
    InterruptedLastTime,
    /// A dep runs in this run.
    DepRan(String),
    /// A dep would run (dry run).
    DepWillRun(String),
    /// Its command differs.
    CommandChanged,
    /// Its env differs.
    EnvChanged,
    /// Its working directory differs.
    DirChanged,
    /// Its declared outputs differ.
    OutputsDeclaredChanged,
    /// A dep ran, in another run, since this task's last success.
    DepChanged(String),
    /// A dep of its last success is no longer one (its item went away).
    DepGone(String),
    /// An input (file or glob) exists now and did not then.
    InputAdded(String),
    /// An input existed then and does not now.
    InputRemoved(String),
    /// An input's content differs.
    InputChanged(String),
    /// A declared input is not there (the task runs; it may make sense of it).
    InputMissing(String),
    /// A declared output is gone.
    OutputMissing(String),
    /// A temporary output is gone, and a dependent that runs needs it.
    TempNeeded {
        /// The output.
        output: String,
        /// The dependent.
        by: String,
    },
    /// A declared output's content differs from what the task left.
    OutputChanged(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Forced => write!(f, "forced"),
            Reason::NothingDeclared => write!(f, "no inputs or outputs declared"),
            Reason::NeverRan => write!(f, "never ran"),
            Reason::FailedLastTime => write!(f, "failed last time"),
            Reason::InterruptedLastTime => write!(f, "interrupted last time"),
            Reason::DepRan(dep) => write!(f, "dep {dep} re-ran"),
            Reason::DepWillRun(dep) => write!(f, "dep {dep} will run"),
            Reason::CommandChanged => write!(f, "command changed"),
            Reason::EnvChanged => write!(f, "env changed"),
            Reason::DirChanged => write!(f, "dir changed"),
            Reason::OutputsDeclaredChanged => write!(f, "declared outputs changed"),
            Reason::DepChanged(dep) => write!(f, "dep {dep} changed"),
            Reason::DepGone(dep) => write!(f, "dep {dep} is gone"),
            Reason::InputAdded(path) => write!(f, "input {path} added"),
            Reason::InputRemoved(path) => write!(f, "input {path} removed"),
            Reason::InputChanged(path) => write!(f, "input {path} changed"),
            Reason::InputMissing(path) => write!(f, "input {path} missing"),
            Reason::OutputMissing(path) => write!(f, "output {path} missing"),
            Reason::TempNeeded { output, by } => {
                write!(f, "temporary output {output} needed by {by}")
            }
            Reason::OutputChanged(path) => write!(f, "output {path} changed"),
        }
    }
}

/// What maestro remembers of an instance from earlier runs.
#[derive(Debug, Clone, Default)]
pub struct Remembered {
    /// Its last success, unless an attempt failed since (boxed: most
    /// instances of a big flow have none).
    pub record: Option<Box<Record>>,
    /// How its last attempt ended, when not well.
    pub unfinished: Option<Unfinished>,
}

/// How an attempt that did not succeed ended, as the store keeps it
/// (`tasks.failed_last`: 0 for none, then the numbers below).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// It failed (an exit status, a timeout, a missing output...).
    Failed = 1,
    /// It was interrupted (Ctrl-C, maestro killed).
    Interrupted = 2,
}

impl Unfinished {
    /// What the store's number means (0: the last attempt ended well).
    pub fn from_store(number: i64) -> Option<Unfinished> {
        match number {
            1 => Some(Unfinished::Failed),
            2 => Some(Unfinished::Interrupted),
            _ => None,
        }
    }
}

/// The instance as it stands now.
#[derive(Debug, Clone)]
struct Subject {
    key: u128,
    cmd: String,
    env: Vec<(String, String)>,
    dir: String,
    inputs: Vec<(String, Option<u128>)>,
    deps: Vec<(String, u128)>,
}

/// Decides instance by instance, remembering what it decided.
#[derive(Debug)]
pub struct Checker<'g> {
    graph: &'g Graph,
    remembered: Vec<Remembered>,
    files: FileHashes,
    force: bool,
    dry_run: bool,
    /// What each decided instance looked like (boxed: instances that
    /// declare no files have none).
    subjects: Vec<Option<Box<Subject>>>,
    ran: Vec<bool>,
    /// For an instance whose temporary outputs are gone: the dependent
    /// that needs them made again, if one runs.
    temp_needed: Vec<Option<usize>>,
    /// Per join: the key of all its members, once computed.
    join_keys: Vec<Option<u128>>,
    /// Per join: a member that runs in this run, if one does.
    join_ran: Vec<Option<usize>>,
}

impl<'g> Checker<'g> {
    /// A checker over `graph`, with what is remembered of each instance
    /// (indexed like `graph.instances`).
    pub fn new(
        graph: &'g Graph,
        remembered: Vec<Remembered>,
        files: FileHashes,
        force: bool,
        dry_run: bool,
    ) -> Checker<'g> {
        let n = graph.instances.len();
        Checker {
            graph,
            remembered,
            files,
            force,
            dry_run,
            subjects: vec![None; n],
            ran: vec![false; n],
            temp_needed: vec![None; n],
            join_keys: vec![None; graph.joins.len()],
            join_ran: vec![None; graph.joins.len()],
        }
    }

    /// Whether `instance` must run. Its deps must have been decided (and
    /// have finished, in a real run).
    pub fn decide(&mut self, instance: usize) -> Decision {
        let inst = &self.graph.instances[instance];
        if !self.force && inst.inputs.is_empty() && inst.outputs.is_empty() {
            // It always runs: no key to compute (its dependents re-run
            // after it whatever it does, so theirs need none of it).
            return Decision::Run(Reason::NothingDeclared);
        }
        let subject = self.subject(instance);
        let decision = self.compare(instance, &subject);
        self.subjects[instance] = Some(Box::new(subject));
        decision
    }

    /// Notes that `instance` is taken as done by the run `--resume`
    /// resumes: nothing is decided, but its key is computed, for its
    /// dependents' keys to be the same as when it is found fresh.
    pub fn note_resumed(&mut self, instance: usize) {
        let inst = &self.graph.instances[instance];
        if !(inst.inputs.is_empty() && inst.outputs.is_empty()) {
            self.subjects[instance] = Some(Box::new(self.subject(instance)));
        }
    }

    /// The cache key `decide` computed for `instance`, as hex.
    pub fn key(&self, instance: usize) -> Option<String> {
        self.subjects[instance].as_ref().map(|s| format!("{:032x}", s.key))
    }

    /// Notes that `instance` runs in this run (its dependents will too).
    pub fn note_ran(&mut self, instance: usize) {
        self.ran[instance] = true;
        if let Some(join) = self.graph.join_of(instance) {
            self.join_ran[join].get_or_insert(instance);
        }
        // It may change files: stats taken before it are no longer the truth.
        self.files.forget_early();
    }

    /// The results (`MAESTRO_OUTPUT` pairs) of a fresh instance's last success.
    pub fn remembered_results(&self, instance: usize) -> Vec<(String, String)> {
        self.remembered[instance].record.as_ref().map(|r| r.results.clone()).unwrap_or_default()
    }

    /// What a success of `instance` leaves for the next run to compare
    /// against: what `decide` saw, the outputs as they are now, `results`.
    pub fn record(&mut self, instance: usize, results: Vec<(String, String)>) -> Option<Record> {
        let subject = *self.subjects[instance].clone()?;
        let inst = &self.graph.instances[instance];
        let dir = &self.graph.settings_of(instance).dir;
        let outputs = inst
            .outputs
            .iter()
            .map(|path| (path.clone(), self.files.hash(&dir.join(path)).ok().flatten()))
            .collect();
        Some(Record {
            key: subject.key,
            cmd: subject.cmd,
            env: subject.env,
            dir: subject.dir,
            inputs: subject.inputs,
            deps: subject.deps,
            outputs,
            results,
        })
    }

    /// The file hashes, with what this run learned.
    pub fn files(&self) -> &FileHashes {
        &self.files
    }

    fn subject(&mut self, instance: usize) -> Subject {
        let inst = &self.graph.instances[instance];
        let cmd = inst.cmd.key_text();
        let mut env = inst.env.to_vec();
        env.sort();
        let in_dir = &self.graph.settings_of(instance).dir;
        let dir = in_dir.to_string_lossy().into_owned();
        let mut inputs = Vec::new();
        for pattern in &inst.inputs {
            for path in expand_input(in_dir, pattern) {
                let full = in_dir.join(&path);
                let hash = match self.files.hash(&full).ok().flatten() {
                    None => self.removed_temp(instance, &full),
                    found => found,
                };
                inputs.push((path, hash));
            }
        }
        let mut deps: Vec<(String, u128)> = inst
            .deps
            .iter()
            .map(|&d| {
                let key = self.subjects[d].as_ref().map_or(0, |s| s.key);
                (self.graph.instances[d].name.to_string(), key)
            })
            .collect();
        for &join in &inst.joins {
            deps.push((self.join_name(join).to_string(), self.join_key(join)));
        }
        let mut hasher = Xxh3::new();
        write_field(&mut hasher, cmd.as_bytes());
        for (k, v) in &env {
            write_field(&mut hasher, k.as_bytes());
            write_field(&mut hasher, v.as_bytes());
        }
        write_field(&mut hasher, dir.as_bytes());
        for (path, hash) in &inputs {
            write_field(&mut hasher, path.as_bytes());
            hasher.update(&hash.map_or([0xff; 16], u128::to_le_bytes));
        }
        for (name, key) in &deps {
            write_field(&mut hasher, name.as_bytes());
            hasher.update(&key.to_le_bytes());
        }
        for path in &inst.outputs {
            write_field(&mut hasher, path.as_bytes());
        }
        Subject { key: hasher.digest128(), cmd, env, dir, inputs, deps }
    }

    /// A join as a dep is named by its task.
    fn join_name(&self, join: usize) -> &'g str {
        let first = &self.graph.instances[self.graph.joins[join].members.start].name;
        first.split_once(':').map_or(&**first, |(task, _)| task)
    }

    /// The key of all of a join's members: one dep standing for them all,
    /// in its dependents' keys and records.
    fn join_key(&mut self, join: usize) -> u128 {
        if let Some(key) = self.join_keys[join] {
            return key;
        }
        let mut hasher = Xxh3::new();
        for member in self.graph.joins[join].members.clone() {
            write_field(&mut hasher, self.graph.instances[member].name.as_bytes());
            let key = self.subjects[member].as_ref().map_or(0, |s| s.key);
            hasher.update(&key.to_le_bytes());
        }
        let key = hasher.digest128();
        self.join_keys[join] = Some(key);
        key
    }

    /// The hash a dep's temporary output `path` had when the dep left it,
    /// if `path` is one and that dep does not run again: a temporary file
    /// removed after use counts as unchanged.
    fn removed_temp(&self, instance: usize, path: &Path) -> Option<u128> {
        self.graph.each_dep(instance).find_map(|dep| {
            if self.graph.instances[dep].temp == 0 || self.ran[dep] {
                return None;
            }
            let record = self.remembered[dep].record.as_ref()?;
            let (temps, dir) = (self.graph.temp_outputs(dep), &self.graph.settings_of(dep).dir);
            record.outputs.iter().find_map(|(output, hash)| {
                (temps.contains(output) && dir.join(output) == path).then_some(*hash)?
            })
        })
    }

    /// Looks ahead, as a dry run would, for the instances among `selected`
    /// whose removed temporary outputs a dependent that runs needs: those
    /// run again, first. Repeats until nothing more is found (making one
    /// again makes its dependents run, which may need others').
    pub fn plan_temporaries(&mut self, selected: &[bool]) {
        let has_temps = |i: usize| selected[i] && self.graph.instances[i].temp > 0;
        if !(0..self.graph.instances.len()).any(has_temps) {
            return;
        }
        let order = self.graph.topological_order();
        let dry_run = std::mem::replace(&mut self.dry_run, true);
        loop {
            let mut found = false;
            for &i in order.iter().filter(|&&i| selected[i]) {
                if let Decision::Run(_) = self.decide(i) {
                    self.note_ran(i);
                    for dep in self.graph.each_dep(i) {
                        if !self.ran[dep] && self.temp_needed[dep].is_none() && self.temps_gone(dep)
                        {
                            self.temp_needed[dep] = Some(i);
                            found = true;
                        }
                    }
                }
            }
            self.subjects.iter_mut().for_each(|s| *s = None);
            self.ran.iter_mut().for_each(|r| *r = false);
            self.join_keys.iter_mut().for_each(|k| *k = None);
            self.join_ran.iter_mut().for_each(|r| *r = None);
            if !found {
                break;
            }
        }
        self.dry_run = dry_run;
    }

    /// Whether a temporary output of `instance` is not on disk.
    fn temps_gone(&mut self, instance: usize) -> bool {
        let graph = self.graph;
        let (dir, temps) = (&graph.settings_of(instance).dir, graph.temp_outputs(instance));
        temps.iter().any(|t| self.files.hash(&dir.join(t)).ok().flatten().is_none())
    }

    fn compare(&mut self, instance: usize, now: &Subject) -> Decision {
        let inst = &self.graph.instances[instance];
        if self.force {
            return Decision::Run(Reason::Forced);
        }
        if inst.inputs.is_empty() && inst.outputs.is_empty() {
            return Decision::Run(Reason::NothingDeclared);
        }
        let ran_dep = inst.deps.iter().copied().find(|&d| self.ran[d]);
        if let Some(dep) = ran_dep.or_else(|| inst.joins.iter().find_map(|&j| self.join_ran[j])) {
            let name = self.graph.instances[dep].name.to_string();
            return Decision::Run(if self.dry_run {
                Reason::DepWillRun(name)
            } else {
                Reason::DepRan(name)
            });
        }
        let remembered = &self.remembered[instance];
        let Some(then) = &remembered.record else {
            return Decision::Run(match remembered.unfinished {
                Some(Unfinished::Failed) => Reason::FailedLastTime,
                Some(Unfinished::Interrupted) => Reason::InterruptedLastTime,
                None => Reason::NeverRan,
            });
        };
        if let Some(reason) = differences(then, now, &inst.outputs) {
            return Decision::Run(reason);
        }
        if now.key != then.key {
            // Every field the key covers was compared above; a different
            // key with equal fields means a record from another encoding.
            return Decision::Run(Reason::NeverRan);
        }
        let temps = self.graph.temp_outputs(instance);
        for (path, recorded) in &then.outputs {
            match self.files.hash(&self.graph.settings_of(instance).dir.join(path)).ok().flatten() {
                None if temps.contains(path) => {
                    if let Some(by) = self.temp_needed[instance] {
                        let by = self.graph.instances[by].name.to_string();
                        return Decision::Run(Reason::TempNeeded { output: path.clone(), by });
                    }
                }
                None => return Decision::Run(Reason::OutputMissing(path.clone())),
                Some(hash) if Some(hash) != *recorded => {
                    return Decision::Run(Reason::OutputChanged(path.clone()));
                }
                Some(_) => {}
            }
        }
        Decision::Fresh
    }
}

/// The first field in which `now` differs from `then`, as a reason.
fn differences(then: &Record, now: &Subject, outputs: &[String]) -> Option<Reason> {
    if then.cmd != now.cmd {
        return Some(Reason::CommandChanged);
    }
    if then.env != now.env {
        return Some(Reason::EnvChanged);
    }
    if then.dir != now.dir {
        return Some(Reason::DirChanged);
    }
    if then.outputs.iter().map(|(p, _)| p).ne(outputs.iter()) {
        return Some(Reason::OutputsDeclaredChanged);
    }
    for (name, key) in &now.deps {
        if then.deps.iter().find(|(n, _)| n == name).is_none_or(|(_, k)| k != key) {
            return Some(Reason::DepChanged(name.clone()));
        }
    }
    if let Some((gone, _)) = then.deps.iter().find(|(n, _)| !now.deps.iter().any(|(m, _)| m == n)) {
        return Some(Reason::DepGone(gone.clone()));
    }
    for (path, hash) in &now.inputs {
        match then.inputs.iter().find(|(p, _)| p == path) {
            None if hash.is_some() => return Some(Reason::InputAdded(path.clone())),
            None => return Some(Reason::InputMissing(path.clone())),
            Some((_, old)) if old != hash => {
                return Some(match hash {
                    None if old.is_some() => Reason::InputRemoved(path.clone()),
                    None => Reason::InputMissing(path.clone()),
                    Some(_) => Reason::InputChanged(path.clone()),
                });
            }
            Some(_) => {}
        }
    }
    if let Some((path, _)) =
        then.inputs.iter().find(|(p, _)| !now.inputs.iter().any(|(q, _)| q == p))
    {
        return Some(Reason::InputRemoved(path.clone()));
    }
    None
}

/// The paths an `inputs` entry names, relative to `dir`, sorted: the
/// matches of a glob, or the path itself. A glob matching nothing names
/// itself, so that its absence is part of the key.
fn expand_input(dir: &Path, pattern: &str) -> Vec<String> {
    if !pattern.contains(['*', '?', '[']) {
        return vec![pattern.to_string()];
    }
    let full = dir.join(pattern);
    let mut found: Vec<String> = glob::glob(&full.to_string_lossy())
        .map(|paths| {
            paths
                .filter_map(Result::ok)
                .filter_map(|p| p.strip_prefix(dir).ok().map(|p| p.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if found.is_empty() { vec![pattern.to_string()] } else { found }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::diag::SourceFile;
    use crate::graph::Release;
    use foldhash::HashMap as FastMap;

    const FLOW: &str = r#"
[tasks.a]
cmd = "true"
[tasks.b]
cmd = "cp x.txt y.txt"
inputs = ["x.txt"]
outputs = ["y.txt"]
"#;

    #[test]
    fn stats_taken_before_the_run_are_dropped_once_a_task_runs() {
        let dir = std::env::temp_dir().join(format!("maestro-early-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let old = |name: &str, text: &str| {
            fs::write(dir.join(name), text).unwrap();
            let file = fs::File::options().write(true).open(dir.join(name)).unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
        };
        old("x.txt", "aaa");
        old("y.txt", "aaa");
        let source = SourceFile { path: "maestro.toml".into(), text: FLOW.into() };
        let mut flow = crate::flow::parse(&source).unwrap();
        let graph = Graph::from_flow(&mut flow, &dir, None, Release::Nothing).unwrap();
        let (a, b) = (0, 1);

        // A first run records b's success and the files' stamps.
        let mut first = Checker::new(
            &graph,
            vec![Remembered::default(); 2],
            FileHashes::default(),
            false,
            false,
        );
        assert_eq!(first.decide(b), Decision::Run(Reason::NeverRan));
        let record = first.record(b, Vec::new()).unwrap();
        let stamps: FastMap<_, _> =
            first.files().changed().map(|(p, s)| (p.as_os_str().to_owned(), *s)).collect();

        // The next run stats early, then x.txt changes (as a running task would).
        let early = early_stats(&graph, || true);
        fs::write(dir.join("x.txt"), "changed").unwrap();
        let remembered = vec![
            Remembered::default(),
            Remembered { record: Some(Box::new(record)), unfinished: None },
        ];
        let files = FileHashes::new(stamps).with_early(early);
        let mut second = Checker::new(&graph, remembered, files, false, false);
        second.note_ran(a);
        assert_eq!(second.decide(b), Decision::Run(Reason::InputChanged("x.txt".into())));
        fs::remove_dir_all(&dir).unwrap();
    }
}
