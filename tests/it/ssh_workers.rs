//! Workers over ssh: `--hosts` and `maestro map -S`, on the local sshd and
//! second user that `scripts/ssh-local.sh start` sets up (the tasks run as
//! that user: what they print says so).

use crate::support::Project;

const HOST: &str = "maestro-remote@localhost";

#[test]
#[cfg_attr(no_ssh_local, ignore = "needs a local sshd and user: scripts/ssh-local.sh start")]
fn a_flow_runs_on_workers_over_ssh() {
    let flow = "[tasks.who]\nfor_each = [\"1\", \"2\", \"3\"]\ncmd = \"echo {} $(whoami); echo e{} >&2\"\n\n[tasks.after]\ncmd = \"echo after $(whoami)\"\ndeps = [\"who\"]\n";
    let p = Project::with_flow(flow);
    let hosts = format!("{HOST},2/{HOST}");
    let run = p.maestro(&["run", "--hosts", &hosts]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read(".maestro/logs/1/who:2.log"), "2 maestro-remote\ne2\n");
    assert!(run.stdout.contains("after maestro-remote"), "{run:?}");
}

#[test]
#[cfg_attr(no_ssh_local, ignore = "needs a local sshd and user: scripts/ssh-local.sh start")]
fn a_host_that_lets_no_one_in_fails_the_run_with_ssh_s_words() {
    let p = Project::with_flow("[tasks.t]\ncmd = \"true\"\n");
    let run = p.maestro(&["run", "--hosts", "no-such-user@localhost"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "could not start: no worker over ssh is left: no-such-user@localhost: ssh failed: "
        ),
        "{run:?}"
    );
    assert!(run.stderr.contains("Permission denied"), "{run:?}");
}

#[test]
#[cfg_attr(
    any(no_ssh_local, no_parallel),
    ignore = "needs a local sshd and user (scripts/ssh-local.sh start) and GNU parallel (apt-get install parallel)"
)]
fn map_s_prints_what_gnu_parallel_s_prints() {
    let p = Project::new();
    let cases: [&[&str]; 4] = [
        &["-k", "echo {} $(whoami)", ":::", "a", "b c", "d"],
        &["-k", "--tag", "echo {}; echo {} >&2", ":::", "1", "2", "3"],
        &["-j", "2", "-k", "exit {}", ":::", "0", "1", "2"],
        &["-k", "-n", "2", "echo {1}-{2}", ":::", "a", "b", "c", "d"],
    ];
    for case in cases {
        let mut args = vec!["map", "-S", HOST];
        args.extend_from_slice(case);
        let ours = p.maestro(&args);
        let theirs = std::process::Command::new("parallel")
            .args(["--will-cite", "-S", HOST])
            .args(case)
            .current_dir(&p.dir)
            .output()
            .unwrap();
        assert_eq!(ours.stdout, String::from_utf8_lossy(&theirs.stdout), "{case:?}");
        assert_eq!(Some(ours.code), theirs.status.code(), "{case:?}: {}", ours.stderr);
    }
}
