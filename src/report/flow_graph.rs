//! `maestro graph`: a flow's tasks and deps as Graphviz DOT or a Mermaid
//! flowchart, coloured by how each task ended in the flow's last run.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::flow::Flow;
use crate::graph::Graph;

/// How a node's tasks ended in the last run, worst first: a collapsed
/// `for_each` task shows the worst of its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeStatus {
    /// Failed in any way (exit status, signal, timeout, not started, outputs).
    Failed,
    /// Killed because maestro was interrupted.
    Interrupted,
    /// Still running (or maestro was killed before it ended).
    Running,
    /// Not run: a dep failed, or the run stopped first.
    NotRun,
    /// Succeeded.
    Ok,
    /// Skipped: fresh, or done in the resumed run.
    Skipped,
}

impl NodeStatus {
    /// From the store's words: an attempt's status or a skip's kind.
    pub fn from_recorded(word: &str) -> NodeStatus {
        match word {
            "ok" => NodeStatus::Ok,
            "interrupted" => NodeStatus::Interrupted,
            "running" => NodeStatus::Running,
            "fresh" | "resumed" | "joblog" | "filtered" => NodeStatus::Skipped,
            "dep_failed" | "cancelled" => NodeStatus::NotRun,
            _ => NodeStatus::Failed,
        }
    }

    fn word(self) -> &'static str {
        match self {
            NodeStatus::Failed => "failed",
            NodeStatus::Interrupted => "interrupted",
            NodeStatus::Running => "running",
            NodeStatus::NotRun => "not_run",
            NodeStatus::Ok => "ok",
            NodeStatus::Skipped => "skipped",
        }
    }

    /// Fill and border colours (the report page's palette, lightened).
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            NodeStatus::Failed => ("#f8d0d0", "#c62828"),
            NodeStatus::Interrupted => ("#e0e0e0", "#616161"),
            NodeStatus::Running => ("#d0e4f8", "#1565c0"),
            NodeStatus::NotRun => ("#ffffff", "#9e9e9e"),
            NodeStatus::Ok => ("#cdebd8", "#2e7d32"),
            NodeStatus::Skipped => ("#e6f2ef", "#80a89c"),
        }
    }
}

/// A node: a task (collapsed) or an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node shows.
    pub label: String,
    /// How it ended in the last run, if it took part.
    pub status: Option<NodeStatus>,
}

/// Nodes and edges (`from` must succeed before `to` starts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowGraph {
    /// The nodes, in the flow's order.
    pub nodes: Vec<Node>,
    /// (from, to) node indices, sorted, without duplicates.
    pub edges: Vec<(usize, usize)>,
    /// A caption: the flow and which run the colours come from.
    pub caption: String,
}

/// One node per task: a `for_each` task's items collapsed into one, its
/// label saying how many. `status` gives each instance's.
pub fn collapsed(
    flow: &Flow,
    graph: &Graph,
    status: impl Fn(usize) -> Option<NodeStatus>,
    caption: String,
) -> FlowGraph {
    let mut nodes: Vec<Node> = flow
        .tasks
        .iter()
        .map(|task| Node { label: task.name.value.clone(), status: None })
        .collect();
    let mut items = vec![0usize; flow.tasks.len()];
    let mut edges = BTreeSet::new();
    for (i, instance) in graph.instances.iter().enumerate() {
        let task = instance.task as usize;
        items[task] += 1;
        let node = &mut nodes[task];
        node.status = match (node.status, status(i)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for &dep in &instance.deps {
            edges.insert((graph.instances[dep].task as usize, task));
        }
        for &join in &instance.joins {
            edges.insert((graph.joins[join].task, task));
        }
    }
    for (t, task) in flow.tasks.iter().enumerate() {
        if task.for_each.is_some() {
            let noun = if items[t] == 1 { "item" } else { "items" };
            nodes[t].label = format!("{} ({} {noun})", task.name.value, items[t]);
        }
    }
    FlowGraph { nodes, edges: edges.into_iter().collect(), caption }
}

/// One node per instance.
pub fn expanded(
    graph: &Graph,
    status: impl Fn(usize) -> Option<NodeStatus>,
    caption: String,
) -> FlowGraph {
    let nodes = graph
        .instances
        .iter()
        .enumerate()
        .map(|(i, instance)| Node { label: instance.name.to_string(), status: status(i) })
        .collect();
    let edges: BTreeSet<(usize, usize)> = graph
        .instances
        .iter()
        .enumerate()
        .flat_map(|(i, _)| graph.each_dep(i).map(move |dep| (dep, i)))
        .collect();
    FlowGraph { nodes, edges: edges.into_iter().collect(), caption }
}

impl FlowGraph {
    /// Graphviz DOT: `dot -Tsvg` draws it.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph maestro {\n");
        out.push_str("  rankdir=LR;\n");
        let _ = writeln!(out, "  label={};", dot_string(&self.caption));
        out.push_str("  labelloc=t;\n");
        out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\"];\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let _ = write!(out, "  n{i} [label={}", dot_string(&node.label));
            if let Some(status) = node.status {
                let (fill, border) = status.colours();
                let _ = write!(
                    out,
                    ", fillcolor=\"{fill}\", color=\"{border}\", tooltip={}",
                    dot_string(status.word())
                );
            }
            out.push_str("];\n");
        }
        for (from, to) in &self.edges {
            let _ = writeln!(out, "  n{from} -> n{to};");
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart (GitHub and many editors draw it inline).
    pub fn to_mermaid(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "---\ntitle: {}\n---", mermaid_title(&self.caption));
        out.push_str("flowchart LR\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let _ = writeln!(out, "  n{i}[\"{}\"]", mermaid_text(&node.label));
        }
        for (from, to) in &self.edges {
            let _ = writeln!(out, "  n{from} --> n{to}");
        }
        let used: BTreeSet<NodeStatus> = self.nodes.iter().filter_map(|n| n.status).collect();
        for status in used {
            let (fill, border) = status.colours();
            let _ = writeln!(out, "  classDef {} fill:{fill},stroke:{border}", status.word());
            let members: Vec<String> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].status == Some(status))
                .map(|i| format!("n{i}"))
                .collect();
            let _ = writeln!(out, "  class {} {}", members.join(","), status.word());
        }
        out
    }
}

/// A DOT double-quoted string.
fn dot_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text inside a Mermaid `["..."]` label: quotes and the characters Mermaid
/// reads as markup written as entity codes.
fn mermaid_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The front matter's title: one line, YAML-quoted.
fn mermaid_title(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FlowGraph {
        FlowGraph {
            nodes: vec![
                Node { label: "fetch \"all\"".into(), status: Some(NodeStatus::Ok) },
                Node { label: "a<b>#c".into(), status: Some(NodeStatus::Failed) },
                Node { label: "report".into(), status: None },
            ],
            edges: vec![(0, 1), (1, 2)],
            caption: "maestro.toml".into(),
        }
    }

    #[test]
    fn dot_quotes_labels_and_colours_by_status() {
        let dot = sample().to_dot();
        assert!(dot.contains(r##"n0 [label="fetch \"all\"", fillcolor="#cdebd8""##), "{dot}");
        assert!(dot.contains("n2 [label=\"report\"];"), "{dot}");
        assert!(dot.contains("n0 -> n1;\n  n1 -> n2;"), "{dot}");
    }

    #[test]
    fn mermaid_escapes_markup_and_groups_classes() {
        let mermaid = sample().to_mermaid();
        assert!(mermaid.contains("n0[\"fetch #quot;all#quot;\"]"), "{mermaid}");
        assert!(mermaid.contains("n1[\"a#lt;b#gt;#35;c\"]"), "{mermaid}");
        assert!(mermaid.contains("class n1 failed\n"), "{mermaid}");
        assert!(mermaid.contains("n1 --> n2"), "{mermaid}");
    }

    #[test]
    fn the_worst_status_wins() {
        assert!(NodeStatus::Failed < NodeStatus::Ok);
        assert_eq!(NodeStatus::from_recorded("timed_out"), NodeStatus::Failed);
        assert_eq!(NodeStatus::from_recorded("fresh"), NodeStatus::Skipped);
    }
}
