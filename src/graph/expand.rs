//! A flow's tasks as instances: `for_each` items found, every replacement
//! string filled (GNU parallel's from the item, and `{name}`: variables,
//! `{cpus}`, `{task.outputs}`, `{task.items}`), and deps resolved to
//! instances (all of a task's, or the one of the same item).

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use foldhash::HashMap as FastMap;

use super::{CommandText, Instance, PerSlot, Settings, TaskInfo};
use crate::diag::{Diagnostic, Span};
use crate::flow::{Dep, Flow, ForEach, Gathered, OWN_NAMES, Spanned, TaskDef, gathered};
use crate::template::{Names, Template};

/// Every instance of `flow`, tasks in file order, deps resolved; and the
/// joins they wait for: (task, its instances). With `release`, each task's
/// deps and command are let go once its instances are made (a big flow's
/// tasks as written would otherwise weigh beside all of its instances).
#[allow(clippy::type_complexity)]
pub fn instances(
    flow: &mut Flow,
    tasks: &[TaskInfo],
    settings: &[Settings],
    release: bool,
) -> Result<(Vec<Instance>, Vec<(usize, Range<usize>)>), Vec<Diagnostic>> {
    let vars: HashMap<&str, &[String]> =
        flow.vars.iter().map(|v| (v.name.value.as_str(), v.values.as_slice())).collect();
    // Every instance in one vector, tasks in the order they are expanded:
    // after those they depend on, as a task's text may gather their
    // outputs and items, and its deps name their instances. Put in file
    // order at the end, in place.
    let mut instances: Vec<Instance> = Vec::with_capacity(flow.tasks.len());
    let mut done: Vec<Option<Expanded>> = vec![None; flow.tasks.len()];
    let mut problems = Vec::new();
    // The first mistake in deps, by file order: (task, what).
    let mut dep_problem: Option<(usize, Diagnostic)> = None;
    // Joins by the task they join; their ranges are set at the end.
    let mut joins: Vec<(usize, Range<usize>)> = Vec::new();
    let mut join_of: Vec<Option<usize>> = vec![None; flow.tasks.len()];
    for task in task_order(flow) {
        let scope = Scope { flow, tasks, settings, vars: &vars, done: &done };
        let start = instances.len();
        let mut expanded = match scope.expand(task, &mut instances) {
            Ok(expanded) => expanded,
            Err(diagnostic) => {
                problems.push(diagnostic);
                continue;
            }
        };
        expanded.at = start..instances.len();
        // After a task that could not be expanded, deps are not resolved:
        // its mistake is what is said.
        let deps = DepsOf { flow, done: &done, expanded: &expanded, task };
        if problems.is_empty()
            && let Err(diagnostic) = deps.resolve(&mut instances, &mut joins, &mut join_of)
            && dep_problem.as_ref().is_none_or(|(first, _)| task < *first)
        {
            dep_problem = Some((task, diagnostic));
        }
        done[task] = Some(expanded);
        if release {
            let written = &mut flow.tasks[task];
            written.deps = Vec::new();
            written.cmd.value = String::new();
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if let Some((_, diagnostic)) = dep_problem {
        return Err(vec![diagnostic]);
    }
    let at = |expanded: &Option<Expanded>| expanded.as_ref().map_or(0..0, |e| e.at.clone());
    let mut by_task: Vec<Range<usize>> = Vec::with_capacity(done.len());
    let mut total = 0;
    for expanded in &done {
        by_task.push(total..total + at(expanded).len());
        total += at(expanded).len();
    }
    let mut file_order = vec![0; total];
    for (expanded, range) in done.iter().zip(&by_task) {
        for (from, to) in at(expanded).zip(range.clone()) {
            file_order[from] = to;
        }
    }
    drop(done);
    for instance in &mut instances {
        instance.deps.iter_mut().for_each(|dep| *dep = file_order[*dep]);
        if instance.deps.len() > 1 {
            let mut deps = instance.deps.to_vec();
            deps.sort_unstable();
            deps.dedup();
            instance.deps = deps.into_boxed_slice();
        }
    }
    permute(&mut instances, file_order);
    for (task, range) in &mut joins {
        *range = by_task[*task].clone();
    }
    number_joins_in_file_order(&mut instances, &mut joins);
    Ok((instances, joins))
}

/// Resolves one task's deps to the instances (and joins) its instances
/// wait for, as indices where they are expanded.
struct DepsOf<'a> {
    flow: &'a Flow,
    done: &'a [Option<Expanded>],
    /// The task's own instances.
    expanded: &'a Expanded,
    task: usize,
}

impl DepsOf<'_> {
    /// A dep on all of a for_each task's instances is a dep on its join.
    fn resolve(
        &self,
        instances: &mut [Instance],
        joins: &mut Vec<(usize, Range<usize>)>,
        join_of: &mut [Option<usize>],
    ) -> Result<(), Diagnostic> {
        let task = &self.flow.tasks[self.task];
        for (position, at) in self.expanded.at.clone().enumerate() {
            let (mut mine, mut mine_joined) = (Vec::with_capacity(task.deps.len()), Vec::new());
            for dep in &task.deps {
                let target = dep.target;
                // Expanded before, as its dependents are after it.
                let from = self.done[target].as_ref().expect("a dep's task is expanded");
                match &dep.instance {
                    None if self.flow.tasks[target].for_each.is_some() => {
                        let join = *join_of[target].get_or_insert_with(|| {
                            joins.push((target, 0..0));
                            joins.len() - 1
                        });
                        mine_joined.push(join);
                    }
                    None => mine.extend(from.at.clone()),
                    Some(which) => {
                        let item = self.expanded.items().get(position).map(String::as_str);
                        let name = &instances[at].name;
                        mine.push(from.at.start + one_instance(dep, which, item, from, name)?);
                    }
                }
            }
            instances[at].deps = mine.into_boxed_slice();
            instances[at].joins = mine_joined.into_boxed_slice();
        }
        Ok(())
    }
}

/// Numbers `joins` by where they are first waited for in file order, as
/// if the deps had been resolved in that order.
fn number_joins_in_file_order(instances: &mut [Instance], joins: &mut Vec<(usize, Range<usize>)>) {
    let mut renumbered: Vec<Option<usize>> = vec![None; joins.len()];
    let mut order = Vec::with_capacity(joins.len());
    for instance in instances.iter_mut() {
        for join in instance.joins.iter_mut() {
            *join = *renumbered[*join].get_or_insert_with(|| {
                order.push(*join);
                order.len() - 1
            });
        }
    }
    *joins = order.into_iter().map(|old| joins[old].clone()).collect();
}

/// Moves each `items[i]` to `items[to[i]]`, in place (`to` is a
/// permutation), cycle by cycle.
fn permute<T>(items: &mut [T], mut to: Vec<usize>) {
    for start in 0..items.len() {
        while to[start] != start {
            let target = to[start];
            items.swap(start, target);
            to.swap(start, target);
        }
    }
}

/// One task's instances (where they are among all), with what other tasks
/// may gather from them.
#[derive(Debug, Clone)]
struct Expanded {
    /// Its instances' places in the vector they are expanded into.
    at: Range<usize>,
    /// A `for_each` task's items and keys (boxed: most tasks have none, and
    /// a big flow holds one of these per task while it is expanded).
    each: Option<Box<Items>>,
}

/// A `for_each` task's instances by what they were made for.
#[derive(Debug, Clone)]
struct Items {
    /// The item of each instance.
    items: Vec<String>,
    /// Each instance's key: the part of its name after `task:`.
    keys: Vec<String>,
}

impl Expanded {
    /// The `for_each` item of each instance (none without `for_each`).
    fn items(&self) -> &[String] {
        self.each.as_ref().map_or(&[], |each| &each.items)
    }

    /// Each instance's key (none without `for_each`).
    fn keys(&self) -> &[String] {
        self.each.as_ref().map_or(&[], |each| &each.keys)
    }
}

/// What a task's text can name while it is expanded.
struct Scope<'a> {
    flow: &'a Flow,
    /// The graph's tasks and settings.
    tasks: &'a [TaskInfo],
    settings: &'a [Settings],
    vars: &'a HashMap<&'a str, &'a [String]>,
    /// The tasks expanded so far (their instances are in the vector
    /// `expand` is given).
    done: &'a [Option<Expanded>],
}

impl Scope<'_> {
    fn settings_of(&self, task: usize) -> &Settings {
        &self.settings[self.tasks[task].settings as usize]
    }

    /// Appends the task's instances to `all`.
    fn expand(&self, task_index: usize, all: &mut Vec<Instance>) -> Result<Expanded, Diagnostic> {
        let task = &self.flow.tasks[task_index];
        let Settings { dir, cpus, .. } = self.settings_of(task_index);
        self.check_items_gathered(task)?;
        let values = |name: &str| self.value(task, dir, *cpus, name, all);
        let known = |inner: &str| values(inner).is_some();
        let plain = Names { items: false, known: &known };
        let values = |name: &str| values(name).unwrap_or_default();
        let (items, keys) = match &task.for_each {
            Some(for_each) => {
                let items = for_each_items(for_each, dir, &values, &plain)?;
                let keys = instance_keys(&items, &task.name.value, for_each_span(for_each))?;
                (items.into_iter().map(|item| item.text).collect(), keys)
            }
            None => (Vec::new(), Vec::new()),
        };
        let names = Names { items: task.for_each.is_some(), known: &known };
        let cmd = Template::parse_with(&task.cmd.value, &names);
        let inputs = parsed(&task.inputs, &names);
        let outputs = parsed(&task.outputs, &names);
        let temp_outputs = parsed(&task.extras().temp_outputs, &names);
        let env: Vec<(&str, Template)> = task
            .extras()
            .env
            .iter()
            .map(|(k, v)| (k.value.as_str(), Template::parse_with(&v.value, &names)))
            .collect();
        let lookup = values;
        let one = |item: Option<&str>, seq: u64| {
            let args: Vec<&[u8]> = item.map(str::as_bytes).into_iter().collect();
            // Most text holds no replacement string: it is taken as is.
            let raw = |t: &Template| match t.literal() {
                Some(text) => text.to_string(),
                None => String::from_utf8_lossy(&t.expand_with(&args, seq, 0, false, &lookup))
                    .into_owned(),
            };
            let each = |paths: &[Template]| -> Vec<String> {
                paths.iter().flat_map(|t| every_combination(t, &args, seq, &values)).collect()
            };
            let temps = each(&temp_outputs);
            let cmd = if cmd.uses_slot() && item.is_some() {
                let named = cmd.names().map(|name| (name.to_string(), lookup(name))).collect();
                let item = item.unwrap_or_default().to_string();
                CommandText::PerSlot(Box::new(PerSlot { template: cmd.clone(), item, seq, named }))
            } else {
                CommandText::Fixed(match cmd.literal() {
                    Some(text) => text.into(),
                    None => {
                        let bytes = cmd.expand_with(&args, seq, 0, true, &lookup);
                        String::from_utf8_lossy(&bytes).into()
                    }
                })
            };
            Instance {
                name: Box::default(),
                // Tasks number fewer than 2^32: each takes a hundred bytes.
                task: task_index as u32,
                cmd,
                env: env.iter().map(|(k, v)| (k.to_string(), raw(v))).collect(),
                inputs: each(&inputs).into_boxed_slice(),
                outputs: [each(&outputs), temps.clone()].concat().into_boxed_slice(),
                temp: temps.len() as u32,
                deps: Box::default(),
                joins: Box::default(),
            }
        };
        let named = |mut instance: Instance, name: String| {
            instance.name = name.into_boxed_str();
            instance
        };
        let mut made = Vec::with_capacity(items.len().max(1));
        if task.for_each.is_some() {
            for (i, (item, key)) in items.iter().zip(&keys).enumerate() {
                let name = format!("{}:{key}", task.name.value);
                made.push(named(one(Some(item), i as u64 + 1), name));
            }
        } else {
            made.push(named(one(None, 1), task.name.value.clone()));
        }
        all.append(&mut made);
        let each = task.for_each.is_some().then(|| Box::new(Items { items, keys }));
        Ok(Expanded { at: 0..0, each })
    }

    /// The values of `{name}` in `task`'s text, if it names any: its `cpus`,
    /// a variable, or what it gathers from a task it depends on.
    fn value(
        &self,
        task: &TaskDef,
        dir: &Path,
        cpus: u32,
        name: &str,
        all: &[Instance],
    ) -> Option<Vec<String>> {
        if name == OWN_NAMES[0] {
            return Some(vec![cpus.to_string()]);
        }
        if let Some(values) = self.vars.get(name) {
            return Some(values.to_vec());
        }
        let (from, what) = gathered(name)?;
        let dep = task.deps.iter().find(|dep| *dep.task.value == *from)?;
        let from = self.done[dep.target].as_ref()?;
        let from_dir = &self.settings_of(dep.target).dir;
        Some(match what {
            Gathered::Items => from.items().to_vec(),
            Gathered::Outputs => all[from.at.clone()]
                .iter()
                .flat_map(|i| i.outputs.iter().map(|o| relative_to(dir, &from_dir.join(o))))
                .collect(),
        })
    }

    /// `{from.items}` where `from` has no for_each names nothing: an error.
    fn check_items_gathered(&self, task: &TaskDef) -> Result<(), Diagnostic> {
        if !mentions(task, ".items}") {
            return Ok(());
        }
        for dep in &task.deps {
            let name = &dep.task.value;
            let target = dep.target;
            let wanted = format!("{{{name}.items}}");
            if self.flow.tasks[target].for_each.is_none() && mentions(task, &wanted) {
                let message = format!(
                    "task '{}' gathers {{{name}.items}}, and '{name}' has no for_each",
                    task.name.value
                );
                return Err(Diagnostic::new(message, dep.task.span.clone()));
            }
        }
        Ok(())
    }
}

/// Whether `task`'s text holds `wanted`.
fn mentions(task: &TaskDef, wanted: &str) -> bool {
    std::iter::once(&task.cmd)
        .chain(&task.inputs)
        .chain(&task.outputs)
        .chain(&task.extras().temp_outputs)
        .chain(task.extras().env.iter().map(|(_, v)| v))
        .any(|text| text.value.contains(wanted))
}

fn parsed(texts: &[Spanned<String>], names: &Names<'_>) -> Vec<Template> {
    texts.iter().map(|text| Template::parse_with(&text.value, names)).collect()
}

/// A path or glob's every expansion: one per combination of the values of
/// the names it holds (`counts/{samples}.txt` with two samples gives two
/// paths, as Snakemake's `expand()`).
fn every_combination(
    template: &Template,
    args: &[&[u8]],
    seq: u64,
    values: &dyn Fn(&str) -> Vec<String>,
) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for name in template.names() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        let text = match template.literal() {
            Some(text) => text.to_string(),
            None => String::from_utf8_lossy(&template.expand(args, seq, 0, false)).into_owned(),
        };
        return vec![text];
    }
    let all: Vec<Vec<String>> = names.iter().map(|name| values(name)).collect();
    let sizes: Vec<usize> = all.iter().map(Vec::len).collect();
    if sizes.contains(&0) {
        return Vec::new();
    }
    let total: usize = sizes.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut choice = vec![0usize; names.len()];
    for _ in 0..total {
        let pick = |name: &str| {
            let at = names.iter().position(|n| *n == name).expect("a name of the template");
            vec![all[at][choice[at]].clone()]
        };
        out.push(String::from_utf8_lossy(&template.expand_with(args, seq, 0, false, &pick)).into());
        // The next combination: the last name's value changes fastest.
        for at in (0..choice.len()).rev() {
            choice[at] += 1;
            if choice[at] < sizes[at] {
                break;
            }
            choice[at] = 0;
        }
    }
    out
}

/// `path` as seen from `dir`: relative when it lies below, else as is.
fn relative_to(dir: &Path, path: &Path) -> String {
    let shown = path.strip_prefix(dir).unwrap_or(path);
    shown.to_string_lossy().into_owned()
}

/// The tasks in an order where every task comes after those it depends on
/// (the flow has no cycle), file order among the rest. Depth first, with a
/// stack of its own: a chain of a million tasks is no deeper than one.
fn task_order(flow: &Flow) -> Vec<usize> {
    let mut order = Vec::with_capacity(flow.tasks.len());
    let mut placed = vec![false; flow.tasks.len()];
    // Each task on the path with the number of its deps looked at.
    let mut path: Vec<(usize, usize)> = Vec::new();
    for start in 0..flow.tasks.len() {
        if placed[start] {
            continue;
        }
        placed[start] = true;
        path.push((start, 0));
        while let Some((task, next)) = path.last_mut() {
            let task = *task;
            match flow.tasks[task].deps.get(*next) {
                Some(dep) => {
                    *next += 1;
                    let dep = dep.target;
                    if !std::mem::replace(&mut placed[dep], true) {
                        path.push((dep, 0));
                    }
                }
                None => {
                    order.push(task);
                    path.pop();
                }
            }
        }
    }
    order
}

/// The instance of `from` that `dep` (`task:which`) names for an instance
/// of `item`: by its key, or by its item.
fn one_instance(
    dep: &Dep,
    which: &str,
    item: Option<&str>,
    from: &Expanded,
    dependent: &str,
) -> Result<usize, Diagnostic> {
    let wanted = match item {
        Some(item) => {
            let bytes = Template::parse(which).expand(&[item.as_bytes()], 1, 0, false);
            String::from_utf8_lossy(&bytes).into_owned()
        }
        None => which.to_string(),
    };
    let by_key = from.keys().iter().position(|key| *key == wanted);
    if let Some(found) = by_key.or_else(|| from.items().iter().position(|i| *i == wanted)) {
        return Ok(found);
    }
    let name = &dep.task.value;
    let message = if from.keys().is_empty() {
        format!("'{dependent}' needs '{name}:{wanted}', and '{name}' has no for_each")
    } else {
        format!("'{dependent}' needs '{name}:{wanted}', which is no instance of '{name}'")
    };
    let shown: Vec<String> = from.keys().iter().take(5).map(|k| format!("{name}:{k}")).collect();
    let more = if from.keys().len() > 5 { ", ..." } else { "" };
    let diag = Diagnostic::new(message, dep.task.span.clone());
    Err(if shown.is_empty() {
        diag.with_hint(format!("write '{name}' to depend on the task"))
    } else {
        diag.with_hint(format!("its instances: {}{more}", shown.join(", ")))
    })
}

/// One `for_each` item, and whether a glob found it (its key is then made
/// from its path).
struct Item {
    text: String,
    from_glob: bool,
}

fn for_each_span(for_each: &ForEach) -> Span {
    match for_each {
        ForEach::Glob(pattern) => pattern.span.clone(),
        ForEach::List(list) => list.first().map(|i| i.span.clone()).unwrap_or_default(),
    }
}

/// The items of a `for_each`, variables filled: a string is a glob; in a
/// list, an entry with `*`, `?` or `[` is a glob and any other is an item
/// as written. Globs match files relative to the task's dir, sorted; a glob
/// that matches nothing is an error: globs are expanded when the run
/// starts, and an empty set almost always means a wrong path.
fn for_each_items(
    for_each: &ForEach,
    base_dir: &Path,
    values: &dyn Fn(&str) -> Vec<String>,
    names: &Names<'_>,
) -> Result<Vec<Item>, Diagnostic> {
    let entries: Vec<(&Spanned<String>, bool)> = match for_each {
        ForEach::Glob(pattern) => vec![(pattern, true)],
        ForEach::List(list) => list.iter().map(|entry| (entry, false)).collect(),
    };
    let mut items = Vec::new();
    for (entry, always_glob) in entries {
        let template = Template::parse_with(&entry.value, names);
        for text in every_combination(&template, &[], 1, values) {
            if always_glob || text.contains(['*', '?', '[']) {
                items.extend(glob_items(&text, entry, base_dir)?);
            } else {
                items.push(Item { text, from_glob: false });
            }
        }
    }
    Ok(items)
}

fn glob_items(
    pattern: &str,
    entry: &Spanned<String>,
    base_dir: &Path,
) -> Result<Vec<Item>, Diagnostic> {
    let span = entry.span.clone();
    let escaped_base = glob::Pattern::escape(&base_dir.to_string_lossy());
    let full = format!("{escaped_base}/{pattern}");
    let paths = glob::glob(&full)
        .map_err(|e| Diagnostic::new(format!("bad glob '{pattern}': {}", e.msg), span.clone()))?;
    let mut items = Vec::new();
    for path in paths {
        let path = path.map_err(|e| {
            let message = format!("cannot read {}: {}", e.path().display(), e.error());
            Diagnostic::new(message, span.clone())
        })?;
        let relative = path.strip_prefix(base_dir).unwrap_or(&path);
        let Some(text) = relative.to_str() else {
            return Err(Diagnostic::new(
                format!("for_each matches '{}', whose name is not UTF-8", relative.display()),
                span,
            ));
        };
        items.push(Item { text: text.to_string(), from_glob: true });
    }
    if items.is_empty() {
        return Err(Diagnostic::new(
            format!("for_each glob '{pattern}' matches no file in {}", base_dir.display()),
            span,
        )
        .with_hint("globs are expanded when the run starts, relative to the task's dir; files a task makes later are not seen"));
    }
    Ok(items)
}

/// The part after `task:` in each instance's name: the file's stem for an
/// item a glob found (its path without extension when two stems collide),
/// the item itself otherwise. Two items giving one name is an error.
fn instance_keys(items: &[Item], task: &str, span: Span) -> Result<Vec<String>, Diagnostic> {
    let key = |item: &Item, stem_only: bool| match item.from_glob {
        true => path_key(&item.text, stem_only),
        false => item.text.clone(),
    };
    let stems: Vec<String> = items.iter().map(|item| key(item, true)).collect();
    let keys = if first_duplicate(&stems).is_some() {
        items.iter().map(|item| key(item, false)).collect()
    } else {
        stems
    };
    if let Some((a, b)) = first_duplicate(&keys) {
        return Err(Diagnostic::new(
            format!(
                "items '{}' and '{}' both make the instance '{task}:{}'",
                items[a].text, items[b].text, keys[a]
            ),
            span,
        )
        .with_hint("every for_each item must give a distinct instance name"));
    }
    Ok(keys)
}

/// `data/a.csv` -> `a` (stem only) or `data/a`.
fn path_key(item: &str, stem_only: bool) -> String {
    let mut text: &str = item;
    if stem_only {
        text = text.rsplit('/').next().unwrap_or(text);
    }
    let name_start = text.rfind('/').map_or(0, |i| i + 1);
    match text[name_start..].rfind('.') {
        Some(dot) if dot > 0 => text[..name_start + dot].to_string(),
        _ => text.to_string(),
    }
}

fn first_duplicate(keys: &[String]) -> Option<(usize, usize)> {
    let mut seen: FastMap<&str, usize> = FastMap::default();
    seen.reserve(keys.len());
    for (i, key) in keys.iter().enumerate() {
        if let Some(&first) = seen.get(key.as_str()) {
            return Some((first, i));
        }
        seen.insert(key, i);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_moves_each_to_its_place() {
        let mut items = vec!['c', 'a', 'd', 'b', 'e'];
        permute(&mut items, vec![2, 0, 3, 1, 4]);
        assert_eq!(items, ['a', 'b', 'c', 'd', 'e']);
    }

    #[test]
    fn path_keys() {
        assert_eq!(path_key("data/a.csv", true), "a");
        assert_eq!(path_key("data/a.csv", false), "data/a");
        assert_eq!(path_key("sub.dir/bar", false), "sub.dir/bar");
        assert_eq!(path_key(".hidden", true), ".hidden");
    }

    #[test]
    fn every_combination_of_list_values() {
        let values: HashMap<String, Vec<String>> = [
            ("s".to_string(), vec!["A".to_string(), "B".to_string()]),
            ("k".to_string(), vec!["x".to_string(), "y".to_string()]),
        ]
        .into();
        let known = |inner: &str| values.contains_key(inner);
        let names = Names { items: false, known: &known };
        let template = Template::parse_with("c/{s}_{k}_{s}.txt", &names);
        let lookup = |name: &str| values[name].clone();
        assert_eq!(
            every_combination(&template, &[], 1, &lookup),
            ["c/A_x_A.txt", "c/A_y_A.txt", "c/B_x_B.txt", "c/B_y_B.txt"]
        );
    }
}
