//! Checks a flow's `deps`: each names another task, once, and no chain of
//! them comes back to where it started.

use std::collections::{HashMap, HashSet};

use super::{Spanned, TaskDef};
use crate::diag::{Diagnostic, Span, nearest};

/// For each task, the tasks its deps name, with the span of each name.
type Edges = Vec<Vec<(usize, Span)>>;

/// Every problem with the deps of `tasks`: unknown, repeated or self
/// names, then each cycle among the valid ones.
pub fn check(tasks: &[TaskDef]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    if tasks.iter().all(|task| task.deps.is_empty()) {
        return diags;
    }
    let edges = resolve(tasks, &mut diags);
    check_cycles(tasks, &edges, &mut diags);
    diags
}

/// The graph of the valid deps; the others are reported in `diags`.
fn resolve(tasks: &[TaskDef], diags: &mut Vec<Diagnostic>) -> Edges {
    let index: HashMap<&str, usize> =
        tasks.iter().enumerate().map(|(i, t)| (t.name.value.as_str(), i)).collect();
    let mut edges = Vec::with_capacity(tasks.len());
    for task in tasks {
        let name = &task.name.value;
        let mut seen = HashSet::new();
        let mut targets = Vec::new();
        for dep in &task.deps {
            if !seen.insert(dep.value.as_str()) {
                let message = format!("'{}' is listed twice in deps of '{name}'", dep.value);
                diags.push(Diagnostic::new(message, dep.span.clone()));
            } else if dep.value == *name {
                let message = format!("task '{name}' depends on itself");
                diags.push(Diagnostic::new(message, dep.span.clone()));
            } else if let Some(&target) = index.get(dep.value.as_str()) {
                targets.push((target, dep.span.clone()));
            } else {
                diags.push(unknown_dep(dep, name, &index));
            }
        }
        edges.push(targets);
    }
    edges
}

fn unknown_dep(dep: &Spanned<String>, task: &str, index: &HashMap<&str, usize>) -> Diagnostic {
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
/// edge closes a different cycle, so none is reported twice.
fn check_cycles(tasks: &[TaskDef], edges: &Edges, diags: &mut Vec<Diagnostic>) {
    const UNSEEN: usize = usize::MAX;
    const DONE: usize = usize::MAX - 1;
    // Per task: UNSEEN, DONE, or its position on the current path.
    let mut state = vec![UNSEEN; tasks.len()];
    // The current path, each task with the index of its next edge.
    let mut path = Vec::new();
    for start in 0..tasks.len() {
        if state[start] != UNSEEN {
            continue;
        }
        path.push((start, 0));
        state[start] = 0;
        while let Some((task, next)) = path.last_mut() {
            let task = *task;
            let Some((target, _)) = edges[task].get(*next) else {
                state[task] = DONE;
                path.pop();
                continue;
            };
            *next += 1;
            match state[*target] {
                UNSEEN => {
                    state[*target] = path.len();
                    path.push((*target, 0));
                }
                DONE => {}
                position => {
                    let cycle: Vec<usize> = path[position..].iter().map(|(t, _)| *t).collect();
                    diags.push(cycle_error(cycle, tasks, edges));
                }
            }
        }
    }
}

/// `cycle` (each task naming the next, the last naming the first) told
/// from its task that comes first in the file, at the dep that starts it.
fn cycle_error(mut cycle: Vec<usize>, tasks: &[TaskDef], edges: &Edges) -> Diagnostic {
    let first = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
    cycle.rotate_left(first);
    let mut names: Vec<&str> = cycle.iter().map(|&t| tasks[t].name.value.as_str()).collect();
    names.push(names[0]);
    let second = cycle[1 % cycle.len()];
    let span = edges[cycle[0]]
        .iter()
        .find(|(target, _)| *target == second)
        .map_or(tasks[cycle[0]].name.span.clone(), |(_, span)| span.clone());
    Diagnostic::new(format!("dependency cycle: {}", names.join(" -> ")), span)
}
