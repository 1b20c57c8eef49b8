//! Integration tests: the real `maestro` binary on real temp folders.
//!
//! A test that needs a program this machine lacks (found by `build.rs`) is
//! reported as ignored, with what to install; under `CI=true` the test
//! below fails instead, since `.ci/run` installs them all.

mod support;

mod attacks;
mod docs;
mod errors;
mod events;
mod fuzz;
mod graph;
mod map;
mod map_oracle;
mod output;
mod par;
mod pipelines;
mod prims;
mod process;
mod report;
mod retries;
mod run_flow;
mod signals;
mod slurm;
mod slurm_workers;
mod snapshots;
mod ssh_workers;
mod state;
mod workers;

#[test]
fn every_program_the_tests_need_is_here_under_ci() {
    let missing = env!("MAESTRO_TESTS_MISSING");
    assert!(
        std::env::var("CI").as_deref() != Ok("true") || missing.is_empty(),
        "CI=true, and tests were left out for want of: {missing}"
    );
}
