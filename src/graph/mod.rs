//! Task instances and the edges between them: `for_each` expansion, target
//! selection, and the longest-remaining-path weights the scheduler orders by.

mod expand;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::diag::Diagnostic;
use crate::flow::{BatchOptions, Flow};
use crate::shell::Shell;
use crate::template::Template;

/// One runnable unit: a task, or one item of a `for_each` task.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Unique name: the task's name, or `task:item` for a `for_each` item.
    pub name: Box<str>,
    /// Index of the task definition it came from (the stage for `par`).
    pub task: u32,
    /// The command line, substitutions done (but `{%}`, known at spawn).
    pub cmd: CommandText,
    /// Extra environment, substitutions done.
    pub env: Box<[(String, String)]>,
    /// Declared inputs and outputs, substitutions done, relative to its
    /// settings' `dir`.
    pub inputs: Box<[String]>,
    /// See `inputs`; its temporary outputs last.
    pub outputs: Box<[String]>,
    /// How many of `outputs`, at the end, are temporary.
    pub temp: u32,
    /// Instances that must succeed first, one by one.
    pub deps: Box<[usize]>,
    /// Joins (all the instances of a `for_each` task) that must have
    /// succeeded first, by index in [`Graph::joins`].
    pub joins: Box<[usize]>,
}

/// Every instance of one `for_each` task, as one dep: an instance that
/// needs them all waits for the join, not for each, so that N instances
/// needed by M make N + M edges, not N x M.
#[derive(Debug, Clone)]
pub struct Join {
    /// Its task.
    pub task: usize,
    /// Its instances.
    pub members: Range<usize>,
    /// The instances that wait for it.
    pub dependents: Vec<usize>,
}

/// A command line, or a template still waiting for the job slot (`{%}`).
#[derive(Debug, Clone)]
pub enum CommandText {
    /// Ready to run.
    Fixed(Box<str>),
    /// Expanded at spawn time, when the slot is known.
    /// (Boxed: rare, and big beside a command line.)
    PerSlot(Box<PerSlot>),
}

/// A command line to finish when the job slot is known.
#[derive(Debug, Clone)]
pub struct PerSlot {
    /// The parsed `cmd`.
    pub template: Template,
    /// The `for_each` item.
    pub item: String,
    /// Its sequence number, from 1.
    pub seq: u64,
    /// The values of its `{name}` strings.
    pub named: Vec<(String, Vec<String>)>,
}

impl CommandText {
    /// The command as the cache key sees it: the same on every job slot
    /// (`{%}` is taken as 0), since the slot is not the task's business.
    pub fn key_text(&self) -> String {
        self.for_slot(0)
    }

    /// The command line to run on job slot `slot` (from 1), not copied
    /// when it is the same on every slot.
    pub fn for_slot_borrowed(&self, slot: u32) -> std::borrow::Cow<'_, str> {
        match self {
            CommandText::Fixed(cmd) => std::borrow::Cow::Borrowed(cmd),
            CommandText::PerSlot(_) => std::borrow::Cow::Owned(self.for_slot(slot)),
        }
    }

    /// The command line to run on job slot `slot` (from 1).
    pub fn for_slot(&self, slot: u32) -> String {
        match self {
            CommandText::Fixed(cmd) => cmd.to_string(),
            CommandText::PerSlot(per_slot) => {
                let PerSlot { template, item, seq, named } = &**per_slot;
                let values = |name: &str| {
                    named
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let bytes = template.expand_with(&[item.as_bytes()], *seq, slot, true, &values);
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }
    }
}

/// A named capacity with its number of units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Name as written.
    pub name: String,
    /// Units.
    pub capacity: u32,
}

/// How an instance runs: what the instances of a task share, kept once for
/// all the tasks that set it alike (most tasks of a big flow set nothing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Settings {
    /// What runs its command lines.
    pub shell: Shell,
    /// Its declared outputs are left alone before an attempt and after a
    /// failed one, instead of removed.
    pub keep_outputs: bool,
    /// What it asks of a batch system, if anything.
    pub batch: Option<Arc<BatchOptions>>,
    /// Working directory.
    pub dir: Arc<Path>,
    /// Kill after this long.
    pub timeout: Option<Duration>,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// CPUs it asks for.
    pub cpus: u32,
    /// Job slots it takes: its `cpus` on this machine, one under a batch
    /// system (where `-j` counts jobs).
    pub slots: u32,
    /// (resource index, units) taken.
    pub resources: Box<[(usize, u32)]>,
}

impl Settings {
    /// `par`'s stages: commands as a terminal runs them, in `dir`.
    fn stage(dir: &Path) -> Settings {
        Settings {
            shell: Shell::Sh,
            keep_outputs: true,
            batch: None,
            dir: Arc::from(dir),
            timeout: None,
            retries: 0,
            cpus: 1,
            slots: 1,
            resources: Box::default(),
        }
    }
}

/// One task (or stage) of the graph (`u32` indices: a big flow has one of
/// these per task).
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// Its instances' settings, by index in [`Graph::settings`].
    pub settings: u32,
    /// Whether it runs when no task is named.
    pub by_default: bool,
    /// The join of its instances, when an instance waits for them all.
    pub join: Option<u32>,
}

/// All instances and both directions of their edges.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every instance, in declaration order.
    pub instances: Vec<Instance>,
    /// For each instance, those that depend on it directly.
    pub dependents: Dependents,
    /// Named resources, indexed by `Settings::resources`.
    pub resources: Vec<Resource>,
    /// Each task (or stage), by `Instance::task`.
    pub tasks: Vec<TaskInfo>,
    /// The tasks' settings, each once.
    pub settings: Vec<Settings>,
    /// The joins instances wait for.
    pub joins: Vec<Join>,
    /// What to show for each instance in output, when not its name (`par`'s
    /// commands); empty for a flow. See [`Graph::label`].
    pub labels: Vec<Box<str>>,
}

/// Per instance, the instances whose deps name it, all in one list: a big
/// graph's edges would otherwise be as many small vectors.
#[derive(Debug, Clone, Default)]
pub struct Dependents {
    /// Where each instance's dependents start in `all`, then where the last
    /// instance's end.
    starts: Vec<usize>,
    /// Every instance's dependents, in instance order.
    all: Vec<u32>,
}

impl Dependents {
    /// The dependents of `instances`, from their deps.
    pub fn from_deps(instances: &[Instance]) -> Dependents {
        let mut starts = vec![0; instances.len() + 1];
        for &dep in instances.iter().flat_map(|instance| instance.deps.iter()) {
            starts[dep + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut filled = starts.clone();
        let mut all = vec![0; starts[instances.len()]];
        for (i, instance) in instances.iter().enumerate() {
            for &dep in &instance.deps {
                // Instances number fewer than 2^32: each takes a hundred bytes.
                all[filled[dep]] = i as u32;
                filled[dep] += 1;
            }
        }
        Dependents { starts, all }
    }

    /// The instances that depend on `instance` directly, in order.
    pub fn of(&self, instance: usize) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.all[self.starts[instance]..self.starts[instance + 1]].iter().map(|&d| d as usize)
    }
}

/// What of a flow's tasks as written [`Graph::from_flow`] lets go once
/// their instances are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Nothing: the caller reads the tasks' deps and commands after.
    Nothing,
    /// Each task's deps and command: the caller needs no more than the
    /// tasks' names and settings (a big flow's deps take more memory than
    /// its instances' do).
    DepsAndCommands,
}

impl Graph {
    /// Expands a checked flow into instances. `flow_dir` is the directory of
    /// the flow file: `dir`, `for_each` globs and paths are relative to it.
    /// A task's `cpus` above `cpu_limit` (the job slots of a local run) is
    /// lowered to it.
    pub fn from_flow(
        flow: &mut Flow,
        flow_dir: &Path,
        cpu_limit: Option<u32>,
        release: Release,
    ) -> Result<Graph, Vec<Diagnostic>> {
        let release = release == Release::DepsAndCommands;
        let (tasks, settings) = task_settings(flow, flow_dir, cpu_limit);
        let (instances, joins) = expand::instances(flow, &tasks, &settings, release)?;
        let resources = flow
            .resources
            .iter()
            .map(|r| Resource { name: r.name.value.clone(), capacity: r.capacity })
            .collect();
        Ok(Graph::with_edges(instances, resources, tasks, settings, joins))
    }

    /// The graph of `maestro par`: each stage's commands wait for every
    /// command of the stage before.
    pub fn from_stages(stages: &[Vec<String>], dir: &Path) -> Graph {
        let mut instances: Vec<Instance> = Vec::new();
        let mut joins: Vec<(usize, Range<usize>)> = Vec::new();
        let mut previous_stage = 0..0;
        for (stage, commands) in stages.iter().enumerate() {
            let start = instances.len();
            for cmd in commands {
                let number = instances.len() + 1;
                instances.push(Instance {
                    name: number.to_string().into(),
                    task: stage as u32,
                    cmd: CommandText::Fixed(cmd.as_str().into()),
                    env: Box::default(),
                    inputs: Box::default(),
                    outputs: Box::default(),
                    temp: 0,
                    deps: Box::default(),
                    joins: Box::default(),
                });
            }
            // A stage waits for the whole stage before: one command
            // directly, several through their join.
            if previous_stage.len() == 1 {
                let only = previous_stage.start;
                instances[start..].iter_mut().for_each(|inst| inst.deps = Box::new([only]));
            } else if previous_stage.len() > 1 && start < instances.len() {
                let join = joins.len();
                joins.push((stage - 1, previous_stage.clone()));
                instances[start..].iter_mut().for_each(|inst| inst.joins = Box::new([join]));
            }
            previous_stage = start..instances.len();
        }
        let stage = TaskInfo { settings: 0, by_default: true, join: None };
        let tasks = vec![stage; stages.len()];
        let labels = stages.iter().flatten().map(|cmd| cmd.as_str().into()).collect();
        let settings = vec![Settings::stage(dir)];
        Graph { labels, ..Graph::with_edges(instances, Vec::new(), tasks, settings, joins) }
    }

    fn with_edges(
        instances: Vec<Instance>,
        resources: Vec<Resource>,
        mut tasks: Vec<TaskInfo>,
        settings: Vec<Settings>,
        joins: Vec<(usize, Range<usize>)>,
    ) -> Graph {
        let dependents = Dependents::from_deps(&instances);
        let mut joins: Vec<Join> = joins
            .into_iter()
            .map(|(task, members)| Join { task, members, dependents: Vec::new() })
            .collect();
        for (i, instance) in instances.iter().enumerate() {
            for &join in &instance.joins {
                joins[join].dependents.push(i);
            }
        }
        for (index, join) in joins.iter().enumerate() {
            tasks[join.task].join = Some(index as u32);
        }
        Graph { instances, dependents, resources, tasks, settings, joins, labels: Vec::new() }
    }

    /// The join `instance` is a member of, if any instance waits for it.
    pub fn join_of(&self, instance: usize) -> Option<usize> {
        self.task_of(instance).join.map(|join| join as usize)
    }

    /// Every instance `instance` needs, one by one: its deps, then the
    /// members of its joins (as many as they have: for what must look at
    /// each, such as a dep's outputs).
    pub fn each_dep(&self, instance: usize) -> impl Iterator<Item = usize> + '_ {
        let inst = &self.instances[instance];
        inst.deps
            .iter()
            .copied()
            .chain(inst.joins.iter().flat_map(|&j| self.joins[j].members.clone()))
    }

    /// Every instance that needs `instance`, one by one.
    pub fn each_dependent(&self, instance: usize) -> impl Iterator<Item = usize> + '_ {
        let through_join = self.join_of(instance).map(|j| self.joins[j].dependents.as_slice());
        self.dependents.of(instance).chain(through_join.into_iter().flatten().copied())
    }

    /// The temporary outputs of `instance`.
    pub fn temp_outputs(&self, instance: usize) -> &[String] {
        let inst = &self.instances[instance];
        &inst.outputs[inst.outputs.len() - inst.temp as usize..]
    }

    /// What to show for `instance` in output: its name, or the command for
    /// `par`.
    pub fn label(&self, instance: usize) -> &str {
        self.labels.get(instance).unwrap_or(&self.instances[instance].name)
    }

    /// The task (or stage) `instance` is of.
    pub fn task_of(&self, instance: usize) -> &TaskInfo {
        &self.tasks[self.instances[instance].task as usize]
    }

    /// How `instance` runs.
    pub fn settings_of(&self, instance: usize) -> &Settings {
        &self.settings[self.task_of(instance).settings as usize]
    }

    /// The settings of `instance` alone, to change: its own task, with a
    /// copy of its settings (for tests that set one instance apart).
    #[cfg(test)]
    pub fn own_settings(&mut self, instance: usize) -> &mut Settings {
        let mut task = self.task_of(instance).clone();
        self.settings.push(self.settings[task.settings as usize].clone());
        task.settings = (self.settings.len() - 1) as u32;
        self.tasks.push(task);
        self.instances[instance].task = (self.tasks.len() - 1) as u32;
        self.settings.last_mut().expect("just pushed")
    }

    /// Under a batch system `-j` counts jobs, not CPUs: every instance
    /// takes one job slot, whatever its `cpus` (which its job asks for).
    pub fn count_jobs_not_cpus(&mut self) {
        for settings in &mut self.settings {
            settings.slots = 1;
        }
    }

    /// Instances named by `targets` and everything they need; when empty,
    /// the default tasks' (every task's but those that say otherwise). A
    /// target is a task name (all its instances) or an instance name.
    pub fn select(&self, targets: &[String]) -> Result<Vec<bool>, String> {
        let mut selected = vec![false; self.instances.len()];
        let mut stack = Vec::new();
        if targets.is_empty() {
            if self.tasks.iter().all(|task| task.by_default) {
                return Ok(vec![true; self.instances.len()]);
            }
            stack.extend((0..self.instances.len()).filter(|&i| self.task_of(i).by_default));
        }
        for target in targets {
            let before = stack.len();
            stack.extend(
                self.instances
                    .iter()
                    .enumerate()
                    .filter(|(_, inst)| {
                        *inst.name == **target
                            || inst.name.split_once(':').is_some_and(|(task, _)| task == target)
                    })
                    .map(|(i, _)| i),
            );
            if stack.len() == before {
                let names = self.task_names();
                let hint = match crate::diag::nearest(target, names.iter().map(String::as_str)) {
                    Some(near) => format!(" (did you mean '{near}'?)"),
                    None => String::new(),
                };
                return Err(format!("no task named '{target}'{hint}"));
            }
        }
        let mut joins_taken = vec![false; self.joins.len()];
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut selected[i], true) {
                stack.extend(&self.instances[i].deps);
                for &join in &self.instances[i].joins {
                    if !std::mem::replace(&mut joins_taken[join], true) {
                        stack.extend(self.joins[join].members.clone());
                    }
                }
            }
        }
        Ok(selected)
    }

    fn task_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .instances
            .iter()
            .map(|i| i.name.split_once(':').map_or(&*i.name, |(t, _)| t).to_string())
            .collect();
        names.dedup();
        names
    }

    /// Longest path from each instance to the end of the graph, counting its
    /// own estimated duration: the order in which ready instances should start.
    pub fn remaining_path(&self, estimate: impl Fn(usize) -> Duration) -> Vec<Duration> {
        let n = self.instances.len();
        // Instances, then joins (which take no time).
        let mut weight = vec![Duration::ZERO; n + self.joins.len()];
        for node in self.reverse_node_order() {
            let after = |dependents: &mut dyn Iterator<Item = usize>| {
                dependents.map(|d| weight[d]).max().unwrap_or_default()
            };
            if node >= n {
                weight[node] = after(&mut self.joins[node - n].dependents.iter().copied());
                continue;
            }
            let direct = after(&mut self.dependents.of(node));
            let joined = self.join_of(node).map_or(Duration::ZERO, |j| weight[n + j]);
            weight[node] = estimate(node) + direct.max(joined);
        }
        weight.truncate(n);
        weight
    }

    /// Every instance after all its deps.
    pub fn topological_order(&self) -> Vec<usize> {
        let n = self.instances.len();
        let mut order: Vec<usize> =
            self.reverse_node_order().into_iter().filter(|&i| i < n).collect();
        order.reverse();
        order
    }

    /// Every node (an instance, or `instances.len() + j` for join `j`)
    /// after all that need it (the graph has no cycle).
    fn reverse_node_order(&self) -> Vec<usize> {
        let n = self.instances.len();
        let mut unfinished: Vec<usize> = (0..n)
            .map(|i| self.dependents.of(i).len() + usize::from(self.join_of(i).is_some()))
            .chain(self.joins.iter().map(|join| join.dependents.len()))
            .collect();
        let mut order: Vec<usize> = (0..unfinished.len()).filter(|&i| unfinished[i] == 0).collect();
        let mut next = 0;
        while next < order.len() {
            let node = order[next];
            next += 1;
            let mut done_with = |dep: usize| {
                unfinished[dep] -= 1;
                if unfinished[dep] == 0 {
                    order.push(dep);
                }
            };
            if node < n {
                let inst = &self.instances[node];
                inst.deps.iter().for_each(|&dep| done_with(dep));
                inst.joins.iter().for_each(|&join| done_with(n + join));
            } else {
                self.joins[node - n].members.clone().for_each(done_with);
            }
        }
        order
    }
}

/// Each task of `flow`, and the settings its instances run with, each set
/// of settings once. A task's `cpus` above `cpu_limit` is lowered to it.
fn task_settings(
    flow: &Flow,
    flow_dir: &Path,
    cpu_limit: Option<u32>,
) -> (Vec<TaskInfo>, Vec<Settings>) {
    // Most tasks run in the flow's directory: they share its path.
    let flow_dir: Arc<Path> = Arc::from(flow_dir);
    let mut settings: Vec<Settings> = Vec::new();
    let mut known: foldhash::HashMap<Settings, u32> = foldhash::HashMap::default();
    let tasks = flow
        .tasks
        .iter()
        .map(|task| {
            let extras = task.extras();
            let cpus = cpu_limit.map_or(task.cpus.value, |limit| task.cpus.value.min(limit));
            let resources = extras.resources.iter().map(|(name, amount)| {
                let index = flow.resources.iter().position(|r| r.name.value == name.value);
                (index.expect("resources are checked when parsing"), *amount)
            });
            let own = Settings {
                shell: extras
                    .shell
                    .as_ref()
                    .or(flow.shell.as_ref())
                    .cloned()
                    .unwrap_or(Shell::Strict),
                keep_outputs: extras.keep_outputs.or(flow.keep_outputs).unwrap_or(false),
                batch: (*task.batch != BatchOptions::default()).then(|| Arc::clone(&task.batch)),
                dir: match &extras.dir {
                    Some(dir) => Arc::from(flow_dir.join(&dir.value)),
                    None => Arc::clone(&flow_dir),
                },
                timeout: extras.timeout.as_ref().map(|t| t.value),
                retries: extras.retries,
                cpus,
                slots: cpus,
                resources: resources.collect(),
            };
            let index = *known.entry(own).or_insert_with_key(|own| {
                settings.push(own.clone());
                (settings.len() - 1) as u32
            });
            let by_default = match &flow.default {
                Some(default) => default.iter().any(|name| name.value == task.name.value),
                None => task.default,
            };
            TaskInfo { settings: index, by_default, join: None }
        })
        .collect();
    (tasks, settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(s: &[&[&str]]) -> Graph {
        let stages: Vec<Vec<String>> =
            s.iter().map(|st| st.iter().map(|c| c.to_string()).collect()).collect();
        Graph::from_stages(&stages, Path::new("."))
    }

    #[test]
    fn stages_depend_on_the_whole_previous_stage() {
        let g = stages(&[&["a", "b"], &["c"], &["d", "e"]]);
        // Two commands before: through their join; one: directly.
        assert_eq!(g.instances[2].joins[..], [0]);
        assert_eq!(g.joins[0].members, 0..2);
        assert_eq!(g.each_dep(2).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(g.instances[3].deps[..], [2]);
        assert_eq!(g.each_dependent(0).collect::<Vec<_>>(), vec![2]);
        assert_eq!(g.each_dependent(2).collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(g.topological_order(), vec![1, 0, 2, 4, 3]);
    }

    #[test]
    fn a_dep_on_all_of_a_big_task_takes_a_join_not_every_edge() {
        let stages: Vec<Vec<String>> =
            [3000, 3000].iter().map(|&n| (0..n).map(|i| format!("c{i}")).collect()).collect();
        let g = Graph::from_stages(&stages, Path::new("."));
        let edges: usize = g.instances.iter().map(|i| i.deps.len() + i.joins.len()).sum();
        assert_eq!(edges, 3000);
        assert_eq!(g.joins[0].dependents.len(), 3000);
        let w = g.remaining_path(|_| Duration::from_secs(1));
        assert_eq!((w[0], w[5999]), (Duration::from_secs(2), Duration::from_secs(1)));
    }

    #[test]
    fn remaining_path_counts_the_longest_chain() {
        let g = stages(&[&["a", "b"], &["c"], &["d", "e"]]);
        let w = g.remaining_path(|i| Duration::from_secs(if i == 4 { 5 } else { 1 }));
        assert_eq!(w[0], Duration::from_secs(7));
        assert_eq!(w[2], Duration::from_secs(6));
        assert_eq!(w[3], Duration::from_secs(1));
    }

    #[test]
    fn select_takes_deps_and_suggests_near_names() {
        let g = stages(&[&["a"], &["b"], &["c"]]);
        assert_eq!(g.select(&["2".to_string()]).unwrap(), vec![true, true, false]);
        assert!(g.select(&["9".to_string()]).unwrap_err().contains("no task named '9'"));
    }
}
