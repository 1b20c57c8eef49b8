//! maestro conducts your scripts: independent commands run in parallel on
//! every core, dependent ones start the moment what they need is done.
//!
//! Data flows one way: argv → [`cli`] → a checked [`flow`] → [`graph`] →
//! [`plan`] ⇄ [`runner`] driving an [`exec`] backend → [`event`]s →
//! [`report`] → one exit code.

pub mod allocator;
pub mod app;
pub mod cli;
pub mod clock;
pub mod diag;
pub mod error;
pub mod estimate;
pub mod event;
pub mod exec;
pub mod exit_code;
pub mod flow;
pub mod fresh;
pub mod graph;
pub mod json;
pub mod liveness;
pub mod map;
pub mod plan;
pub mod plus;
pub mod prims;
pub mod private;
pub mod report;
pub mod runner;
pub mod shell;
pub mod store;
pub mod template;
pub mod timers;
