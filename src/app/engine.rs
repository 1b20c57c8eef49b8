//! Where a run's attempts go (this machine, or Slurm), and the loop's
//! waiting: what `run`, `par` and `map` set up before their loop starts.

use std::path::Path;
use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::exec::local::LocalExecutor;
use crate::exec::slurm::{self, SlurmExecutor, SlurmRun, StatusSource};
use crate::exec::workers::WorkersExecutor;
use crate::exec::{Executor, Request};
use crate::flow::{ExecutorKind, SlurmSettings, StatusCommand};
use crate::graph::Graph;
use crate::runner::reactor::Poller;
use crate::shell::shell_quote;

/// Job slots under Slurm when neither `-j` nor the flow says: jobs in the
/// queue at once (a cluster's own limits still apply, as back-pressure).
pub const SLURM_JOBS: u32 = 100;

/// The backend a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Processes on this machine.
    Local,
    /// One Slurm job per attempt.
    Slurm(SlurmSettings),
    /// `maestro worker` processes, started by hand, joining the run.
    Workers,
}

impl Backend {
    /// `--executor` if given, else the flow's `executor`, else local.
    pub fn choose(
        flag: Option<ExecutorKind>,
        in_flow: Option<ExecutorKind>,
        settings: SlurmSettings,
    ) -> Backend {
        match flag.or(in_flow) {
            Some(ExecutorKind::Slurm) => Backend::Slurm(settings),
            Some(ExecutorKind::Workers) => Backend::Workers,
            Some(ExecutorKind::Local) | None => Backend::Local,
        }
    }

    /// Whether attempts go elsewhere (`-j` then counts attempts in flight,
    /// not CPUs).
    pub fn is_batch(&self) -> bool {
        matches!(self, Backend::Slurm(_) | Backend::Workers)
    }

    /// Checks, before anything is recorded, that the backend can work
    /// here: Slurm's commands must be installed.
    pub fn check(&self) -> Result<()> {
        match self {
            Backend::Local | Backend::Workers => Ok(()),
            Backend::Slurm(_) => slurm::check_sbatch().map_err(|why| {
                Error::usage_hint(
                    format!("--executor slurm: {why}"),
                    "run maestro where Slurm's commands are (a cluster's login node)",
                )
            }),
        }
    }
}

/// The loop's waiting and `backend` for run `run_id`, whose tasks find the
/// state directory `state_dir` (where the primitives they use live) in
/// `MAESTRO_STATE`. The poller first: it blocks the requests to stop
/// before any backend starts a process or a thread.
pub fn engine(
    backend: &Backend,
    state_dir: &Path,
    run_id: u64,
) -> Result<(Box<dyn Executor>, Poller)> {
    let setup = |e| Error::system("cannot set up process supervision", e);
    let poller = Poller::new().map_err(setup)?;
    let executor: Box<dyn Executor> = match backend {
        Backend::Local => {
            let env = [(crate::prims::STATE_ENV, state_dir.as_os_str())];
            Box::new(LocalExecutor::new(&env).map_err(setup)?)
        }
        Backend::Slurm(settings) => {
            let source = match settings.status {
                StatusCommand::Sacct => StatusSource::Sacct,
                StatusCommand::Squeue => StatusSource::Squeue,
                StatusCommand::Auto if slurm::accounting_works() => StatusSource::Sacct,
                StatusCommand::Auto => StatusSource::Squeue,
            };
            let run = SlurmRun {
                run: run_id,
                state_dir: absolute(state_dir),
                env: state_env(state_dir),
                settings: *settings,
                since: SystemTime::now(),
            };
            let executor = SlurmExecutor::new(&run, source)
                .map_err(|e| Error::system("cannot start talking to Slurm", e))?;
            Box::new(executor)
        }
        Backend::Workers => {
            let executor = WorkersExecutor::new(state_dir, run_id, state_env(state_dir))
                .map_err(|e| Error::system("cannot listen for workers", e))?;
            eprintln!(
                "maestro: waiting for workers: maestro worker --join {}",
                executor.join_path().display()
            );
            Box::new(executor)
        }
    };
    Ok((executor, poller))
}

/// `state_dir`, whole, as tasks elsewhere must name it.
fn absolute(state_dir: &Path) -> std::path::PathBuf {
    std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf())
}

/// What tasks run elsewhere are told of the run's state directory (where
/// the primitives they use live).
fn state_env(state_dir: &Path) -> Vec<(String, String)> {
    let state_dir = absolute(state_dir);
    vec![(crate::prims::STATE_ENV.to_string(), state_dir.to_string_lossy().into_owned())]
}

/// The `sbatch` options instance `instance` of `graph` would be submitted
/// with, as `-n` shows them (without those naming the run's files).
pub fn sbatch_preview(graph: &Graph, instance: usize) -> String {
    let inst = &graph.instances[instance];
    let request =
        Request { cpus: inst.cpus, time_limit: inst.timeout, batch: graph.batch_options(instance) };
    slurm::script::request_options(&request)
        .iter()
        .map(|arg| {
            let bytes = arg.as_encoded_bytes();
            // `=`, `,` and `:` mean nothing to a shell where they stand.
            let plain = bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_./=,:+".contains(b));
            match plain {
                true => String::from_utf8_lossy(bytes).into_owned(),
                false => String::from_utf8_lossy(&shell_quote(bytes)).into_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
