//! Finds which of the programs some integration tests drive are missing
//! here, so that those tests are reported as ignored with the reason rather
//! than passing without having run (`tests/it/main.rs` fails under
//! `CI=true` when any is missing). Nothing here touches maestro itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A program a test needs: the cfg set when it is missing, how to probe
/// for it, and how to install it.
struct Need {
    cfg: &'static str,
    probe: &'static [&'static str],
    /// The probe's stdout must start with this (`parallel` must be GNU's).
    says: &'static str,
    install: &'static str,
}

const NEEDS: &[Need] = &[
    Need {
        cfg: "no_bash",
        probe: &["bash", "--version"],
        says: "",
        install: "apt-get install bash",
    },
    Need {
        cfg: "no_groff",
        probe: &["groff", "--version"],
        says: "",
        install: "apt-get install groff-base",
    },
    Need {
        cfg: "no_jsonschema",
        probe: &["python3", "-c", "import jsonschema"],
        says: "",
        install: "python3 -m pip install jsonschema",
    },
    Need {
        cfg: "no_make",
        probe: &["make", "--version"],
        says: "GNU Make",
        install: "apt-get install make",
    },
    Need { cfg: "no_dot", probe: &["dot", "-V"], says: "", install: "apt-get install graphviz" },
    Need {
        cfg: "no_chromium",
        probe: &["chromium", "--version"],
        says: "",
        install: "apt-get install chromium",
    },
    Need {
        cfg: "no_parallel",
        probe: &["parallel", "--version"],
        says: "GNU parallel",
        install: "apt-get install parallel",
    },
    Need {
        cfg: "no_slurm",
        // Installed is not enough: a node must take jobs.
        probe: &["sh", "-c", "sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'"],
        says: "",
        install: "a running Slurm: scripts/slurm-cluster.sh start",
    },
    Need {
        cfg: "no_slurm_accounting",
        probe: &["sh", "-c", "sacct -n -X -j 1 >/dev/null 2>&1"],
        says: "",
        install: "Slurm with accounting: scripts/slurm-cluster.sh start --accounting",
    },
    Need {
        cfg: "no_ssh_local",
        probe: &[
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=3",
            "maestro-remote@localhost",
            "true",
        ],
        says: "",
        install: "a local sshd and a second user: scripts/ssh-local.sh start",
    },
    Need {
        cfg: "no_script",
        probe: &["script", "--version"],
        says: "",
        install: "apt-get install util-linux",
    },
];

/// Where `.ci/run` puts Mermaid's browser bundle.
const MERMAID: &str = "tests/tools/mermaid.min.js";

fn main() {
    let mut cfgs: Vec<&str> = NEEDS.iter().map(|need| need.cfg).collect();
    cfgs.extend(["no_mermaid", "not_root"]);
    println!("cargo::rustc-check-cfg=cfg({})", cfgs.join(", "));

    let mut missing = Vec::new();
    for need in NEEDS {
        if !found(need) {
            println!("cargo::rustc-cfg={}", need.cfg);
            missing.push(format!("{} ({})", need.cfg.trim_start_matches("no_"), need.install));
        }
    }
    if !Path::new(MERMAID).is_file() {
        println!("cargo::rustc-cfg=no_mermaid");
        missing.push(format!("{MERMAID} (.ci/run fetches it with npm)"));
    }
    if !is_root() {
        println!("cargo::rustc-cfg=not_root");
    }
    println!("cargo::rustc-env=MAESTRO_TESTS_MISSING={}", missing.join("; "));

    // Probed again when the build script changes, or when a program may
    // have come or gone: a directory on PATH or tests/tools changed, or
    // Python's packages while jsonschema is missing (they are tens of
    // thousands of files to look at on every build otherwise).
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    let mut watched: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    if missing.iter().any(|m| m.starts_with("python3")) {
        watched.extend(python_package_dirs());
    }
    watched.push(PathBuf::from("tests/tools"));
    // Slurm or the local sshd started, stopped or reconfigured.
    watched.extend(["/etc/slurm/slurm.conf", "/run"].map(PathBuf::from));
    for dir in watched.iter().filter(|path| path.exists()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
}

fn found(need: &Need) -> bool {
    let output = Command::new(need.probe[0])
        .args(&need.probe[1..])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    output.is_ok_and(|output| {
        output.status.success() && output.stdout.starts_with(need.says.as_bytes())
    })
}

/// Where python3 looks for installed packages (none without python3).
fn python_package_dirs() -> Vec<PathBuf> {
    let script =
        "import site; print('\\n'.join(site.getsitepackages() + [site.getusersitepackages()]))";
    Command::new("python3")
        .args(["-c", script])
        .stderr(Stdio::null())
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).lines().map(PathBuf::from).collect())
        .unwrap_or_default()
}

/// Whether the build runs as root (the tests then do too).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|effective| effective == "0")
}
