//! A flow's `deps`: read from their text, completed with the tasks that a
//! task's text gathers from (`{align.outputs}`), and checked: each names
//! another task, once, and no chain of them comes back to where it started.

use std::collections::HashSet;

use foldhash::HashMap;

use super::{Dep, Spanned, TaskDef, gathered};
use crate::diag::{Diagnostic, Span, nearest};
use crate::template::{Names, Template};

/// `task`, `task:key` or `task:{}` as a [`Dep`].
pub fn read(entry: Spanned<String>) -> Dep {
    match entry.value.split_once(':') {
        Some((task, instance)) => Dep {
            instance: Some(instance.into()),
            task: Spanned::new(task.into(), entry.span),
            target: Dep::UNRESOLVED,
        },
        None => Dep {
            task: Spanned::new(entry.value.into_boxed_str(), entry.span),
            instance: None,
            target: Dep::UNRESOLVED,
        },
    }
}

/// Adds to each task a dep on every task its text gathers from
/// (`{align.outputs}` in `cmd`, `inputs`, `outputs` or `env`), unless it
/// already depends on all of that task's instances: the gathered files are
/// made there. A task gathering from no task is reported.
pub fn add_gathered(tasks: &mut [TaskDef], diags: &mut Vec<Diagnostic>) {
    let is_gathered = |inner: &str| gathered(inner).is_some();
    // Most tasks gather nothing: their text is looked at, not parsed.
    let might_gather =
        |text: &Spanned<String>| text.value.contains(".outputs}") || text.value.contains(".items}");
    let wanted: Vec<(usize, Vec<(String, Span)>)> = tasks
        .iter()
        .enumerate()
        .filter_map(|(index, task)| {
            let texts = std::iter::once(&task.cmd)
                .chain(&task.inputs)
                .chain(&task.outputs)
                .chain(&task.extras().temp_outputs)
                .chain(task.extras().env.iter().map(|(_, value)| value));
            let mut wanted: Vec<(String, Span)> = Vec::new();
            for text in texts.filter(|text| might_gather(text)) {
                let names_in = Names { items: false, known: &is_gathered };
                for inner in Template::parse_with(&text.value, &names_in).names() {
                    let Some((from, _)) = gathered(inner) else { continue };
                    if !wanted.iter().any(|(name, _)| name == from) {
                        wanted.push((from.to_string(), text.span.clone()));
                    }
                }
            }
            (!wanted.is_empty()).then_some((index, wanted))
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    let names: HashSet<String> = tasks.iter().map(|t| t.name.value.clone()).collect();
    for (index, wanted) in wanted {
        let task = &mut tasks[index];
        for (from, span) in wanted {
            if !names.contains(&from) || from == task.name.value {
                let message = if from == task.name.value {
                    format!("task '{}' gathers from itself in {{{from}.outputs}}", task.name.value)
                } else {
                    format!(
                        "task '{}' gathers from '{from}', which does not exist",
                        task.name.value
                    )
                };
                let near = nearest(&from, names.iter().map(String::as_str));
                let diag = Diagnostic::new(message, span);
                diags.push(match near.filter(|near| *near != from) {
                    Some(near) => diag.with_hint(format!("did you mean '{near}'?")),
                    None => diag,
                });
                continue;
            }
            let all = |dep: &Dep| *dep.task.value == *from && dep.instance.is_none();
            if !task.deps.iter().any(all) {
                task.deps.retain(|dep| *dep.task.value != *from);
                let target = Dep::UNRESOLVED;
                task.deps.push(Dep {
                    task: Spanned::new(from.into(), span),
                    instance: None,
                    target,
                });
            }
        }
    }
}

/// Every problem with the deps of `tasks`: unknown, repeated or self
/// names, then each cycle among the valid ones. Each valid dep gets its
/// target.
pub fn check(tasks: &mut [TaskDef]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    if tasks.iter().all(|task| task.deps.is_empty()) {
        return diags;
    }
    let mut found = find_targets(tasks, &mut diags).into_iter();
    for dep in tasks.iter_mut().flat_map(|task| task.deps.iter_mut()) {
        dep.target = match found.next() {
            Some(target) if target != NO_TARGET => target as usize,
            _ => Dep::UNRESOLVED,
        };
    }
    check_cycles(tasks, &mut diags);
    diags
}

/// What [`find_targets`] gives a dep reported in `diags`.
const NO_TARGET: u32 = u32::MAX;

/// The target of every dep, in order ([`NO_TARGET`] for one reported in
/// `diags`): `u32`s, in one list, as a big flow's deps are many and these
/// weigh at the peak of reading it.
fn find_targets(tasks: &[TaskDef], diags: &mut Vec<Diagnostic>) -> Vec<u32> {
    let index: HashMap<&str, usize> =
        tasks.iter().enumerate().map(|(i, t)| (t.name.value.as_str(), i)).collect();
    let mut found = Vec::with_capacity(tasks.iter().map(|task| task.deps.len()).sum());
    for task in tasks {
        let name = &task.name.value;
        let repeated = repeated_entries(&task.deps);
        for (at, dep) in task.deps.iter().enumerate() {
            let span = dep.task.span.clone();
            let mut target = None;
            if repeated.get(at) == Some(&true) {
                let message = format!("'{}' is listed twice in deps of '{name}'", dep.text());
                diags.push(Diagnostic::new(message, span));
            } else if *dep.task.value == **name {
                let message = format!("task '{name}' depends on itself");
                diags.push(Diagnostic::new(message, span));
            } else if let Some(problem) = instance_problem(dep, task) {
                diags.push(problem);
            } else if let Some(&index) = index.get(&*dep.task.value) {
                target = u32::try_from(index).ok();
            } else {
                diags.push(unknown_dep(&dep.task, name, &index));
            }
            found.push(target.unwrap_or(NO_TARGET));
        }
    }
    found
}

/// For each entry of `deps`, whether it repeats one before it (empty for
/// a list too short to repeat anything): pair by pair in a short list,
/// through a set in a long one.
fn repeated_entries(deps: &[Dep]) -> Vec<bool> {
    const PAIRED_UP_TO: usize = 16;
    fn key(d: &Dep) -> (&str, Option<&str>) {
        (&*d.task.value, d.instance.as_deref())
    }
    if deps.len() < 2 {
        return Vec::new();
    }
    if deps.len() <= PAIRED_UP_TO {
        return (0..deps.len())
            .map(|at| deps[..at].iter().any(|d| key(d) == key(&deps[at])))
            .collect();
    }
    let mut seen = HashSet::with_capacity(deps.len());
    deps.iter().map(|d| !seen.insert(key(d))).collect()
}

/// What is wrong with the instance part of `dep`, if anything: it is empty,
/// or fills a template from an item the task does not have.
fn instance_problem(dep: &Dep, task: &TaskDef) -> Option<Diagnostic> {
    let instance = dep.instance.as_deref()?;
    let span = dep.task.span.clone();
    if instance.is_empty() {
        let message =
            format!("'{}:' in deps of '{}' names no instance", dep.task.value, task.name.value);
        let hint = format!(
            "write '{0}' for all its instances, '{0}:{{}}' for the one of the same item",
            dep.task.value
        );
        return Some(Diagnostic::new(message, span).with_hint(hint));
    }
    if task.for_each.is_none() && Template::parse(instance).has_replacements() {
        let message = format!(
            "'{}' in deps of '{}' needs an item, and '{}' has no for_each",
            dep.text(),
            task.name.value,
            task.name.value
        );
        let hint = format!(
            "name one instance ('{}:KEY') or all of them ('{}')",
            dep.task.value, dep.task.value
        );
        return Some(Diagnostic::new(message, span).with_hint(hint));
    }
    None
}

fn unknown_dep(dep: &Spanned<Box<str>>, task: &str, index: &HashMap<&str, usize>) -> Diagnostic {
    let message = format!("task '{task}' depends on '{}', which does not exist", dep.value);
    let diag = Diagnostic::new(message, dep.span.clone());
    // A task cannot depend on itself: its own name is no suggestion.
    match nearest(&dep.value, index.keys().copied().filter(|&name| name != task)) {
        Some(near) => diag.with_hint(format!("did you mean '{near}'?")),
        None => diag,
    }
}

/// Reports cycles, walking depth-first from each task in file order and
/// reporting each edge that leads back onto the current path. Each such
/// edge closes a different cycle, so none is reported twice. The edges are
/// the resolved deps (another dep naming the same task adds none).
fn check_cycles(tasks: &[TaskDef], diags: &mut Vec<Diagnostic>) {
    const UNSEEN: usize = usize::MAX;
    const DONE: usize = usize::MAX - 1;
    // Per task: UNSEEN, DONE, or its position on the current path.
    let mut state = vec![UNSEEN; tasks.len()];
    // The current path, each task with the index of its next dep.
    let mut path = Vec::new();
    for start in 0..tasks.len() {
        if state[start] != UNSEEN {
            continue;
        }
        path.push((start, 0));
        state[start] = 0;
        while let Some((task, next)) = path.last_mut() {
            let (task, at) = (*task, *next);
            let deps = &tasks[task].deps;
            let Some(dep) = deps.get(at) else {
                state[task] = DONE;
                path.pop();
                continue;
            };
            *next += 1;
            let target = dep.target;
            if target == Dep::UNRESOLVED {
                continue;
            }
            match state[target] {
                UNSEEN => {
                    state[target] = path.len();
                    path.push((target, 0));
                }
                DONE => {}
                // Named before by this task: that edge reported the cycle.
                _ if deps[..at].iter().any(|before| before.target == target) => {}
                position => {
                    let cycle: Vec<usize> = path[position..].iter().map(|(t, _)| *t).collect();
                    diags.push(cycle_error(cycle, tasks));
                }
            }
        }
    }
}

/// `cycle` (each task naming the next, the last naming the first) told
/// from its task that comes first in the file, at the dep that starts it.
fn cycle_error(mut cycle: Vec<usize>, tasks: &[TaskDef]) -> Diagnostic {
    let first = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
    cycle.rotate_left(first);
    let mut names: Vec<&str> = cycle.iter().map(|&t| tasks[t].name.value.as_str()).collect();
    names.push(names[0]);
    let second = cycle[1 % cycle.len()];
    let span = tasks[cycle[0]]
        .deps
        .iter()
        .find(|dep| dep.target == second)
        .map_or(tasks[cycle[0]].name.span.clone(), |dep| dep.task.span.clone());
    Diagnostic::new(format!("dependency cycle: {}", names.join(" -> ")), span)
}
