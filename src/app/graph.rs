//! `maestro graph`: the flow, as DOT or Mermaid, with the last run's colours.

use std::collections::HashMap;

use super::{flow_directory, flow_error, read_flow_file};
use crate::cli::{GraphArgs, GraphFormat};
use crate::error::Result;
use crate::exit_code;
use crate::flow;
use crate::graph::{Graph, Release};
use crate::report::flow_graph::{self, NodeStatus};
use crate::store::{self, Store, query, state_error};

/// `maestro graph`.
pub fn graph(args: &GraphArgs) -> Result<i32> {
    let file = read_flow_file(&args.file)?;
    let mut flow = flow::parse(&file).map_err(|diagnostics| flow_error(&file, diagnostics))?;
    super::set_vars(&mut flow, args.set.iter())?;
    let flow_dir = flow_directory(&args.file)?;
    let graph = Graph::from_flow(&mut flow, &flow_dir, None, Release::Nothing)
        .map_err(|d| flow_error(&file, d))?;
    let name = args
        .file
        .file_name()
        .map_or_else(|| "maestro.toml".to_string(), |name| name.to_string_lossy().into_owned());
    let (run, statuses) = last_run_statuses(&store::state_dir(&flow_dir), &name)?;
    let caption = match run {
        Some(run) => format!("{name}: last run {run}"),
        None => name,
    };
    let status = |i: usize| statuses.get(&*graph.instances[i].name).copied();
    let drawn = if args.expand {
        flow_graph::expanded(&graph, status, caption)
    } else {
        flow_graph::collapsed(&flow, &graph, status, caption)
    };
    match args.format {
        GraphFormat::Dot => print!("{}", drawn.to_dot()),
        GraphFormat::Mermaid => print!("{}", drawn.to_mermaid()),
    }
    Ok(exit_code::SUCCESS)
}

/// The flow's last run and how each instance ended in it; nothing when no
/// run was recorded (the state is only read, never created).
fn last_run_statuses(
    state_dir: &std::path::Path,
    flow: &str,
) -> Result<(Option<i64>, HashMap<String, NodeStatus>)> {
    let mut statuses = HashMap::new();
    if !state_dir.join("state.db").exists() {
        return Ok((None, statuses));
    }
    let store = Store::open(state_dir)?;
    let conn = store.connection();
    let e = |e: rusqlite::Error| state_error(store.path(), &e);
    let Some(run) = query::last_run_of_flow(conn, flow).map_err(e)? else {
        return Ok((None, statuses));
    };
    for (why, name) in query::not_run_of_run(conn, run).map_err(e)? {
        statuses.insert(name, NodeStatus::from_recorded(&why));
    }
    // In start order: an instance's last attempt is the one that stays.
    for attempt in query::attempts_of_run(conn, run).map_err(e)? {
        statuses.insert(attempt.instance, NodeStatus::from_recorded(&attempt.status));
    }
    Ok((Some(run), statuses))
}
