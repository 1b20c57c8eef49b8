//! `maestro graph`: DOT read back by Graphviz, Mermaid by Mermaid itself
//! (in headless Chromium), both coloured by the last run.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::support::{Project, render};

const FLOW: &str = r#"
[tasks.fetch]
cmd = "true"

[tasks.clean]
for_each = ["a", "b", "c"]
cmd = "echo {}"
deps = ["fetch"]

[tasks.report]
cmd = "exit 1"
deps = ["clean"]

[tasks."odd.name-1"]
cmd = "true"
"#;

/// `dot -Tplain` of `text`: Graphviz's own reading of it, one `node` line
/// per node and one `edge` line per edge.
fn graphviz(text: &str) -> (usize, usize, String) {
    use std::io::Write;
    let mut child = Command::new("dot")
        .arg("-Tplain")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stderr.is_empty(), "dot: {stderr}\n{text}");
    let plain = String::from_utf8_lossy(&output.stdout).into_owned();
    let count = |kind: &str| plain.lines().filter(|l| l.starts_with(kind)).count();
    (count("node "), count("edge "), plain)
}

#[test]
#[cfg_attr(no_dot, ignore = "needs dot (apt-get install graphviz)")]
fn dot_reads_back_with_one_node_per_task_or_per_instance() {
    let p = Project::with_flow(FLOW);
    let collapsed = p.maestro(&["graph"]);
    assert_eq!(collapsed.code, 0, "{}", collapsed.stderr);
    let (nodes, edges, plain) = graphviz(&collapsed.stdout);
    assert_eq!((nodes, edges), (4, 2), "{plain}");
    assert!(plain.contains("\"clean (3 items)\""), "{plain}");

    let expanded = p.maestro(&["graph", "--expand"]);
    let (nodes, edges, plain) = graphviz(&expanded.stdout);
    // fetch -> clean:a/b/c -> report: 3 + 3 edges.
    assert_eq!((nodes, edges), (6, 6), "{plain}");
    assert!(plain.contains("clean:b"), "{plain}");
}

#[test]
fn the_last_run_colours_the_nodes() {
    let p = Project::with_flow(FLOW);
    let before = p.maestro(&["graph"]);
    assert!(!before.stdout.contains("tooltip="), "no run yet: {}", before.stdout);
    assert!(!p.path(".maestro").exists(), "graph must not create the state");
    assert_eq!(p.maestro(&["run"]).code, 1);
    let after = p.maestro(&["graph"]);
    assert!(after.stdout.contains("label=\"maestro.toml: last run 1\""), "{}", after.stdout);
    let node = |label: &str| {
        after
            .stdout
            .lines()
            .find(|l| l.contains(&format!("label=\"{label}\"")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(node("fetch").contains("tooltip=\"ok\""), "{}", after.stdout);
    assert!(node("clean (3 items)").contains("tooltip=\"ok\""), "{}", after.stdout);
    assert!(node("report").contains("tooltip=\"failed\""), "{}", after.stdout);
    let mermaid = p.maestro(&["graph", "--format", "mermaid"]);
    assert!(mermaid.stdout.contains("class n2 failed"), "{}", mermaid.stdout);
}

#[test]
fn a_bad_flow_is_an_error_with_its_place() {
    let p = Project::with_flow("[tasks.a]\ncmd = \"true\"\ndeps = [\"b\"]\n");
    let run = p.maestro(&["graph"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "maestro.toml:3:9: error: task 'a' depends on 'b', which does not exist
  |
3 | deps = [\"b\"]
  |         ^^^
"
    );
}

#[test]
// One attribute: two ignores on one test are an unused attribute to clippy.
#[cfg_attr(
    any(no_chromium, no_mermaid),
    ignore = "needs chromium (apt-get install chromium) and tests/tools/mermaid.min.js (.ci/run fetches it with npm)"
)]
fn mermaid_parses_and_draws_it() {
    // Mermaid's browser bundle, which .ci/run fetches (see there).
    let mermaid = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/mermaid.min.js");
    let p = Project::with_flow(FLOW);
    assert_eq!(p.maestro(&["run"]).code, 1);
    for (args, nodes) in [
        (&["graph", "--format", "mermaid"][..], 4),
        (&["graph", "--format", "mermaid", "--expand"][..], 6),
    ] {
        let text = p.maestro(args).stdout;
        // The diagram goes in as a JSON string: any text survives.
        let page = format!(
            r##"<!doctype html><html><body><div id="out"></div>
<script src="file://{}"></script>
<script>
const text = {};
mermaid.initialize({{ startOnLoad: false }});
mermaid.parse(text)
  .then(() => mermaid.render("diagram", text))
  .then(({{ svg }}) => {{
    document.getElementById("out").innerHTML = svg;
    document.body.dataset.nodes = document.querySelectorAll("#out g.node").length;
    document.body.dataset.result = "drawn";
  }})
  .catch((error) => {{ document.body.dataset.result = "error: " + error.message; }});
</script></body></html>"##,
            mermaid.display(),
            maestro::json::Value::Str(text.clone()).to_json_for_html()
        );
        p.file("mermaid.html", &page);
        let rendered = render(&p.path("mermaid.html"));
        assert!(
            rendered.dom.contains("data-result=\"drawn\""),
            "{text}\n{}",
            &rendered.dom[..rendered.dom.len().min(3000)]
        );
        assert!(rendered.dom.contains(&format!("data-nodes=\"{nodes}\"")), "{text}");
    }
}
