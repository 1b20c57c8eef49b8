//! Showing a run: the terminal output during and after it.

pub mod events;
pub mod flow_graph;
pub mod html;
pub mod recorded;
pub mod status;
pub mod terminal;
pub mod trace;
