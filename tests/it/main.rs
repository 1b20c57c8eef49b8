//! Integration tests: the real `maestro` binary on real temp folders.

mod support;

mod errors;
mod output;
mod par;
mod process;
mod run_flow;
mod signals;
mod state;
