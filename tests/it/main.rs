//! Integration tests: the real `maestro` binary on real temp folders.

mod support;

mod docs;
mod errors;
mod events;
mod graph;
mod map;
mod map_oracle;
mod output;
mod par;
mod prims;
mod process;
mod report;
mod retries;
mod run_flow;
mod signals;
mod snapshots;
mod state;
