//! Where a run's attempts go (this machine, or Slurm), and the loop's
//! waiting: what `run`, `par` and `map` set up before their loop starts.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::cli::RunOptions;
use crate::error::{Error, Result};
use crate::estimate;
use crate::exec::jobserver::{self, Jobserver};
use crate::exec::local::LocalExecutor;
use crate::exec::slurm::{self, SlurmExecutor, SlurmRun, StatusSource};
use crate::exec::workers::WorkersExecutor;
use crate::exec::workers::slurm::{Allocation, SlurmLauncher};
use crate::exec::workers::ssh::{self, SshHost, SshLauncher};
use crate::exec::{Executor, Request};
use crate::flow::{BatchOptions, ExecutorKind, SlurmSettings, StatusCommand};
use crate::graph::Graph;
use crate::runner::reactor::Poller;
use crate::shell::shell_quote;

/// Job slots under Slurm when neither `-j` nor the flow says: jobs in the
/// queue at once (a cluster's own limits still apply, as back-pressure).
pub const SLURM_JOBS: u32 = 100;

/// The backend a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Processes on this machine.
    Local,
    /// One Slurm job per attempt.
    Slurm(SlurmSettings),
    /// `maestro worker` processes joining the run.
    Workers(WorkerLaunch),
}

/// Who starts a run's workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerLaunch {
    /// The user (maestro prints how).
    ByHand,
    /// Slurm, in allocations.
    Slurm(SlurmWorkers),
    /// ssh, on these hosts.
    Ssh(Vec<SshHost>),
}

/// What the command line asks of where tasks run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    /// `--executor`.
    pub executor: Option<ExecutorKind>,
    /// `--workers`.
    pub workers: Option<u32>,
    /// `--hosts`.
    pub hosts: Option<&'a str>,
}

impl<'a> Asked<'a> {
    /// What `options` ask.
    pub fn of(options: &'a RunOptions) -> Asked<'a> {
        Asked {
            executor: options.executor,
            workers: options.workers,
            hosts: options.hosts.as_deref(),
        }
    }
}

/// Workers in Slurm allocations, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmWorkers {
    /// How many at once.
    pub count: u32,
    /// CPUs of each (else a whole node's).
    pub cpus: Option<u32>,
    /// Each one's time limit (else from the work's recorded durations).
    pub time: Option<Duration>,
    /// Partition, account, ... from `[slurm]`.
    pub batch: Arc<BatchOptions>,
}

/// How much work a run has, for sizing workers' allocations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sizing {
    /// The selected instances' expected durations, summed.
    pub work: Duration,
    /// The longest chain of them.
    pub critical: Duration,
}

impl Backend {
    /// `--executor` if given, else the flow's `executor`, else local; with
    /// Slurm, workers if `--workers` (or the flow's `workers`) says so.
    pub fn choose(
        asked: Asked<'_>,
        in_flow: Option<ExecutorKind>,
        settings: SlurmSettings,
        defaults: &BatchOptions,
    ) -> Result<Backend> {
        let kind = asked.executor.or(in_flow);
        let workers = asked.workers.or(settings.workers);
        if let Some(hosts) = asked.hosts {
            let hosts = ssh::parse_hosts(hosts).map_err(|why| {
                Error::usage_hint(
                    format!("--hosts: {why}"),
                    "write --hosts a,b or --hosts 4/user@a",
                )
            })?;
            if kind.is_some_and(|kind| kind != ExecutorKind::Workers) || asked.workers.is_some() {
                return Err(Error::usage(
                    "--hosts starts workers over ssh: it goes with no --executor and no --workers",
                ));
            }
            return Ok(Backend::Workers(WorkerLaunch::Ssh(hosts)));
        }
        Ok(match (kind, workers) {
            (_, Some(0)) => {
                return Err(Error::usage_hint(
                    "--workers 0: at least one worker is needed",
                    "use --workers 1 or more",
                ));
            }
            (Some(ExecutorKind::Slurm), Some(count)) => {
                Backend::Workers(WorkerLaunch::Slurm(SlurmWorkers {
                    count,
                    cpus: settings.worker_cpus,
                    time: settings.worker_time,
                    batch: Arc::new(defaults.clone()),
                }))
            }
            (Some(ExecutorKind::Slurm), None) => Backend::Slurm(settings),
            (Some(ExecutorKind::Workers), _) => Backend::Workers(WorkerLaunch::ByHand),
            (Some(ExecutorKind::Local) | None, Some(count)) => {
                return Err(Error::usage_hint(
                    format!("--workers {count}: workers need a launcher"),
                    "add --executor slurm (or use --executor workers and start them by hand)",
                ));
            }
            (Some(ExecutorKind::Local) | None, None) => Backend::Local,
        })
    }

    /// Whether attempts go elsewhere (`-j` then counts attempts in flight,
    /// not CPUs).
    pub fn is_batch(&self) -> bool {
        matches!(self, Backend::Slurm(_) | Backend::Workers(_))
    }

    /// Checks, before anything is recorded, that the backend can work
    /// here: Slurm's commands must be installed.
    pub fn check(&self) -> Result<()> {
        match self {
            Backend::Local
            | Backend::Workers(WorkerLaunch::ByHand)
            | Backend::Workers(WorkerLaunch::Ssh(_)) => Ok(()),
            Backend::Slurm(_) | Backend::Workers(WorkerLaunch::Slurm(_)) => slurm::check_sbatch()
                .map_err(|why| {
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
/// `shared_slots`: the job slots, to share with the tools tasks run through
/// a GNU make jobserver (locally), if they are to be.
pub fn engine(
    backend: &Backend,
    state_dir: &Path,
    run_id: u64,
    sizing: Sizing,
    shared_slots: Option<u32>,
) -> Result<(Box<dyn Executor>, Poller)> {
    let setup = |e| Error::system("cannot set up process supervision", e);
    let poller = Poller::new().map_err(setup)?;
    let executor: Box<dyn Executor> = match backend {
        Backend::Local => {
            let env = [(crate::prims::STATE_ENV, state_dir.as_os_str())];
            let mut executor = LocalExecutor::new(&env).map_err(setup)?;
            if let Some(slots) = shared_slots {
                let path = std::env::var_os("PATH").unwrap_or_default();
                let form = jobserver::form_for(&path, &state_dir.join("make-jobserver"));
                let fifo = state_dir.join(format!("jobserver.{run_id}"));
                let jobserver = Jobserver::create(fifo, slots, form)
                    .map_err(|e| Error::system("cannot make the jobserver", e))?;
                executor = executor.with_jobserver(jobserver);
            }
            Box::new(executor)
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
        Backend::Workers(launch) => {
            let executor = WorkersExecutor::new(state_dir, run_id, state_env(state_dir))
                .map_err(|e| Error::system("cannot listen for workers", e))?;
            match launch {
                WorkerLaunch::ByHand => {
                    eprintln!(
                        "maestro: waiting for workers: maestro worker --join {}",
                        executor.join_path().display()
                    );
                    Box::new(executor)
                }
                WorkerLaunch::Ssh(hosts) => {
                    let logs = state_dir.join("workers").join(run_id.to_string());
                    let launcher = SshLauncher::new(hosts.clone(), executor.entrance(), logs);
                    Box::new(executor.with_launcher(Box::new(launcher)))
                }
                WorkerLaunch::Slurm(asked) => {
                    let allocation = allocation(asked, sizing);
                    let launcher =
                        SlurmLauncher::new(state_dir, run_id, executor.join_path(), allocation)
                            .map_err(|e| {
                                Error::system("cannot write the workers' job script", e)
                            })?;
                    Box::new(executor.with_launcher(Box::new(launcher)))
                }
            }
        }
    };
    Ok((executor, poller))
}

/// What `-n` says of the workers a run would have, if it has workers.
pub fn workers_preview(backend: &Backend, sizing: Sizing) -> Option<String> {
    let Backend::Workers(launch) = backend else { return None };
    Some(match launch {
        WorkerLaunch::ByHand => {
            "would wait for workers started by hand (maestro worker --join FILE)".to_string()
        }
        WorkerLaunch::Ssh(hosts) => {
            let names: Vec<&str> = hosts.iter().map(|h| h.login.as_str()).collect();
            format!("would start a worker over ssh on each of: {}", names.join(", "))
        }
        WorkerLaunch::Slurm(asked) => {
            let allocation = allocation(asked, sizing);
            let options: Vec<String> =
                allocation.options().iter().map(|o| o.to_string_lossy().into_owned()).collect();
            format!(
                "would submit {} worker allocation{}: sbatch {}",
                allocation.count,
                if allocation.count == 1 { "" } else { "s" },
                options.join(" ")
            )
        }
    })
}

/// The allocations to ask for: as set, else a whole node's CPUs for as
/// long as the work is expected to take (half again, and five minutes more,
/// for estimates that are short).
fn allocation(asked: &SlurmWorkers, sizing: Sizing) -> Allocation {
    let cpus = asked.cpus.unwrap_or_else(|| slurm::node_cpus(asked.batch.partition.as_deref()));
    let time = asked.time.unwrap_or_else(|| {
        let slots = asked.count.saturating_mul(cpus).max(1);
        estimate::remaining(sizing.critical, sizing.work, slots) * 3 / 2 + WORKER_TIME_MARGIN
    });
    Allocation { count: asked.count, cpus, time, batch: asked.batch.clone() }
}

/// What a worker's allocation gets beyond the expected work.
const WORKER_TIME_MARGIN: Duration = Duration::from_secs(300);

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
    let settings = graph.settings_of(instance);
    let request = Request {
        cpus: settings.cpus,
        time_limit: settings.timeout,
        batch: settings.batch.clone(),
    };
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
