//! What real pipelines need of a flow: a strict shell, outputs that never
//! lie, per-item chains, aggregation, variables, targets.

use crate::support::{Project, finish};

#[test]
fn a_failing_line_or_pipeline_stage_fails_the_task() {
    let p = Project::with_flow(
        r#"
[tasks.lines]
cmd = """
false
echo after > lines.out
"""
[tasks.pipe]
cmd = "false | cat"
[tasks.simple]
cmd = "echo simple > simple.out"
"#,
    );
    let run = p.maestro(&["run", "-k", "--output", "quiet"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("1 ok, 2 failed"), "{}", run.stderr);
    assert!(!p.path("lines.out").exists(), "the line after `false` ran");
    assert_eq!(p.read("simple.out"), "simple\n");
    assert!(p.maestro(&["log", "pipe"]).stdout.ends_with("maestro: failed: exit 1\n"));
}

#[test]
fn the_shell_key_names_what_runs_the_commands() {
    let p = Project::with_flow(
        r#"
shell = "sh -c"
[tasks.lenient]
cmd = "false; echo went on > lenient.out"
[tasks.python]
shell = ["python3", "-c"]
cmd = "open('python.out', 'w').write(str(6 * 7))"
[tasks.bash]
shell = "bash"
cmd = "echo ${BASH_VERSION%%.*} > bash.out"
"#,
    );
    let run = p.maestro(&["run", "--output", "quiet"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("lenient.out"), "went on\n");
    assert_eq!(p.read("python.out"), "42");
    assert!(p.read("bash.out").trim().parse::<u32>().is_ok(), "{}", p.read("bash.out"));
}

#[test]
fn a_shell_that_is_not_installed_is_said_as_such() {
    let p = Project::with_flow("[tasks.t]\nshell = \"no-such-shell -c\"\ncmd = \"echo hi\"\n");
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        p.maestro(&["log", "t"]).stdout,
        "maestro: could not start: cannot run the task's shell: no-such-shell: command not found (a flow's `shell` key names another)\n"
    );
}

#[test]
fn a_failed_tasks_outputs_are_removed_unless_it_keeps_them() {
    let p = Project::with_flow(
        r#"
[tasks.truncated]
cmd = "echo half > calls/all.vcf; exit 3"
outputs = ["calls/all.vcf"]
[tasks.kept]
cmd = "echo half > kept.txt; exit 3"
outputs = ["kept.txt"]
keep_outputs = true
[tasks.missing]
cmd = "echo one > one.txt"
outputs = ["one.txt", "two.txt"]
"#,
    );
    let run = p.maestro(&["run", "-k", "--output", "quiet"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!p.path("calls/all.vcf").exists(), "a failed task's output stayed");
    assert!(p.path("calls").is_dir(), "the output's folder was made");
    assert_eq!(p.read("kept.txt"), "half\n");
    assert!(!p.path("one.txt").exists(), "an output of a task missing another stayed");
    assert_eq!(
        p.maestro(&["log", "truncated"]).stdout,
        "maestro: failed: exit 3\nmaestro: removed its outputs: calls/all.vcf\n"
    );
}

#[test]
fn old_outputs_are_removed_before_a_task_runs_again() {
    let p = Project::with_flow(
        r#"
[tasks.once]
cmd = "set -o noclobber; cat in.txt > out.txt"
inputs = ["in.txt"]
outputs = ["out.txt"]
"#,
    );
    p.file("in.txt", "1\n");
    assert_eq!(p.maestro(&["run"]).code, 0);
    p.file("in.txt", "2\n");
    let again = p.maestro(&["run"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(p.read("out.txt"), "2\n");
}

#[test]
fn an_interrupted_tasks_outputs_are_removed() {
    let p = Project::with_flow(
        r#"
[tasks.long]
cmd = "echo partial > big.out; touch started; sleep 30"
outputs = ["big.out"]
"#,
    );
    let child = p.spawn(&["run"]);
    p.wait_for("started");
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let (code, _, stderr) = finish(child);
    assert_eq!(code, 130, "{stderr}");
    assert!(!p.path("big.out").exists(), "an interrupted task's output stayed");
    assert!(
        p.maestro(&["log", "long"]).stdout.ends_with("maestro: removed its outputs: big.out\n")
    );
}

#[test]
fn a_task_gets_its_cpus_lowered_to_the_slots_there_are() {
    let p = Project::with_flow(
        r#"
[tasks.align]
cpus = 4
cmd = "echo {cpus} $MAESTRO_CPUS > align.out"
[tasks.small]
cpus = 1
cmd = "echo {cpus} $MAESTRO_CPUS > small.out"
"#,
    );
    let run = p.maestro(&["run", "-j", "2", "--output", "quiet"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.starts_with(
            "maestro: note: task 'align' asks for 4 cpus; it gets 2, the job slots there are (-j 2)\n"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(p.read("align.out"), "2 2\n");
    assert_eq!(p.read("small.out"), "1 1\n");
    let wide = p.maestro(&["run", "-j", "8", "--force", "--output", "quiet"]);
    assert!(!wide.stderr.contains("note"), "{}", wide.stderr);
    assert_eq!(p.read("align.out"), "4 4\n");
}

/// A Snakemake tutorial's shape: per-sample chains, then one task over all.
const CHAINS: &str = r#"
[vars]
samples = ["A", "B", "C"]
rate = "0.001"

[tasks.map]
for_each = ["{samples}"]
cmd = "cat data/{}.fq > mapped/{}.bam"
inputs = ["data/{}.fq"]
outputs = ["mapped/{}.bam"]

[tasks.sort]
for_each = ["{samples}"]
deps = ["map:{}"]
cmd = "sort mapped/{}.bam > sorted/{}.bam"
inputs = ["mapped/{}.bam"]
outputs = ["sorted/{}.bam"]

[tasks.call]
cmd = "echo rate {rate} > calls/all.vcf; cat {sort.outputs} >> calls/all.vcf"
inputs = ["{sort.outputs}"]
outputs = ["calls/all.vcf"]
"#;

fn chains() -> Project {
    let p = Project::with_flow(CHAINS);
    for (sample, read) in [("A", "a2\na1\n"), ("B", "b1\n"), ("C", "c2\nc1\n")] {
        p.file(&format!("data/{sample}.fq"), read);
    }
    p
}

#[test]
fn a_per_item_dep_chains_each_item_and_gathering_takes_them_all() {
    let p = chains();
    let run = p.maestro(&["run", "--output", "quiet"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("calls/all.vcf"), "rate 0.001\na1\na2\nb1\nc1\nc2\n");
    // One sample changes: its chain and the gathering task run, no other.
    p.file("data/B.fq", "b3\n");
    let dry = p.maestro(&["run", "-n"]);
    // In the order they would start: the longest chain first.
    let mut lines: Vec<&str> = dry.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines.join("\n") + "\n",
        "skip map:A (fresh)\n\
         skip map:C (fresh)\n\
         skip sort:A (fresh)\n\
         skip sort:C (fresh)\n\
         would run call (dep sort:B will run): echo rate 0.001 > calls/all.vcf; \
         cat sorted/A.bam sorted/B.bam sorted/C.bam >> calls/all.vcf\n\
         would run map:B (input data/B.fq changed): cat data/B.fq > mapped/B.bam\n\
         would run sort:B (dep map:B will run): sort mapped/B.bam > sorted/B.bam\n",
    );
    let again = p.maestro(&["run", "--output", "quiet"]);
    assert!(again.stderr.contains("3 ok, 4 skipped"), "{}", again.stderr);
    assert_eq!(p.read("calls/all.vcf"), "rate 0.001\na1\na2\nb3\nc1\nc2\n");
}

#[test]
fn variables_are_set_from_the_command_line() {
    let p = chains();
    let run = p.maestro(&["run", "--output", "quiet", "samples=A,C", "--set", "rate=0.5"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("calls/all.vcf"), "rate 0.5\na1\na2\nc1\nc2\n");
    assert!(!p.path("sorted/B.bam").exists());
    let typo = p.maestro(&["run", "--set", "sample=A"]);
    assert_eq!(typo.code, 2);
    assert_eq!(
        typo.stderr,
        "error: no variable 'sample' in the flow's [vars] (did you mean 'samples'?)\n"
    );
}

#[test]
fn a_removed_item_leaves_the_gathering_task_and_is_not_picked_up() {
    let p = chains();
    assert_eq!(p.maestro(&["run", "--output", "quiet"]).code, 0);
    let run = p.maestro(&["run", "--output", "quiet", "samples=A,B"]);
    assert_eq!(run.code, 0, "{run:?}");
    // sorted/C.bam is still on disk, but no longer one of sort's outputs.
    assert!(p.path("sorted/C.bam").exists());
    assert_eq!(p.read("calls/all.vcf"), "rate 0.001\na1\na2\nb1\n");
    assert!(run.stderr.contains("1 ok, 4 skipped"), "{}", run.stderr);
}

#[test]
fn a_per_item_dep_on_a_missing_item_is_refused_where_it_stands() {
    let p = Project::with_flow(
        "[tasks.a]\nfor_each = [\"x\", \"y\"]\ncmd = \"true\"\n\
         [tasks.b]\nfor_each = [\"x\", \"z\"]\ndeps = [\"a:{}\"]\ncmd = \"true\"\n",
    );
    let run = p.maestro(&["run"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr,
        "maestro.toml:6:9: error: 'b:z' needs 'a:z', which is no instance of 'a'
  |
6 | deps = [\"a:{}\"]
  |         ^^^^^^
  = hint: its instances: a:x, a:y
"
    );
}

#[test]
fn for_each_takes_a_list_of_globs_and_items() {
    let p = Project::with_flow(
        "[tasks.t]\nfor_each = [\"in/*.txt\", \"more/*.csv\", \"plain\"]\ncmd = \"echo {} >> seen\"\n",
    );
    p.file("in/a.txt", "").file("in/b.txt", "").file("more/c.csv", "");
    let run = p.maestro(&["run", "-j", "1", "--output", "quiet"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("seen"), "in/a.txt\nin/b.txt\nmore/c.csv\nplain\n");
    let dry = p.maestro(&["run", "-n", "--force"]).stdout;
    let mut lines: Vec<&str> = dry.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines.join("\n") + "\n",
        "would run t:a (forced): echo in/a.txt >> seen\n\
         would run t:b (forced): echo in/b.txt >> seen\n\
         would run t:c (forced): echo more/c.csv >> seen\n\
         would run t:plain (forced): echo plain >> seen\n"
    );
}

#[test]
fn a_dep_whose_item_went_away_is_the_reason_given() {
    // down:a needs all of up (a join): up's instances changed.
    let p = Project::with_flow(
        r#"
[tasks.up]
for_each = "in/*.txt"
cmd = "cp {} {.}.up"
inputs = ["{}"]
outputs = ["{.}.up"]
[tasks.down]
for_each = "in/*.txt"
deps = ["up"]
cmd = "cp {.}.up {.}.down"
inputs = ["{.}.up"]
outputs = ["{.}.down"]
"#,
    );
    p.file("in/a.txt", "a").file("in/b.txt", "b");
    assert_eq!(p.maestro(&["run", "--output", "quiet"]).code, 0);
    std::fs::remove_file(p.path("in/b.txt")).unwrap();
    let dry = p.maestro(&["run", "-n"]);
    assert_eq!(
        dry.stdout,
        "skip up:a (fresh)\nwould run down:a (dep up changed): cp in/a.up in/a.down\n"
    );
}

#[test]
fn an_interrupted_task_is_said_to_be_so_the_next_time() {
    let p = Project::with_flow(
        "[tasks.long]\ncmd = \"touch started; sleep 30; touch out\"\noutputs = [\"out\"]\n",
    );
    let child = p.spawn(&["run"]);
    p.wait_for("started");
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(finish(child).0, 130);
    let dry = p.maestro(&["run", "-n"]);
    assert_eq!(
        dry.stdout,
        "would run long (interrupted last time): touch started; sleep 30; touch out\n"
    );
}

#[test]
fn default_tasks_run_when_none_is_named_and_the_others_only_when_named() {
    let p = Project::with_flow(
        r#"
default = ["report"]
[tasks.data]
cmd = "echo data >> ran"
[tasks.report]
deps = ["data"]
cmd = "echo report >> ran"
[tasks.extra]
cmd = "echo extra >> ran"
"#,
    );
    assert_eq!(p.maestro(&["run", "-j", "1", "--output", "quiet"]).code, 0);
    assert_eq!(p.read("ran"), "data\nreport\n");
    assert_eq!(p.maestro(&["run", "extra", "--output", "quiet"]).code, 0);
    assert_eq!(p.read("ran"), "data\nreport\nextra\n");

    let q = Project::with_flow(
        r#"
[tasks.build]
cmd = "echo build >> ran"
[tasks.clean]
default = false
cmd = "echo clean >> ran"
"#,
    );
    assert_eq!(q.maestro(&["run", "--output", "quiet"]).code, 0);
    assert_eq!(q.read("ran"), "build\n");
    assert_eq!(q.maestro(&["run", "clean", "--output", "quiet"]).code, 0);
    assert_eq!(q.read("ran"), "build\nclean\n");
}

#[test]
fn temporary_outputs_go_once_used_and_come_back_only_when_needed() {
    let p = Project::with_flow(
        r#"
[vars]
unit = "bytes"
[tasks.unzip]
cmd = "cp in.txt big.tmp"
inputs = ["in.txt"]
temp_outputs = ["big.tmp"]
[tasks.count]
deps = ["unzip"]
cmd = "echo {unit} $(wc -c < big.tmp) > count.txt"
inputs = ["big.tmp"]
outputs = ["count.txt"]
"#,
    );
    p.file("in.txt", "12345");
    let first = p.maestro(&["run", "--output", "quiet"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(p.read("count.txt"), "bytes 5\n");
    assert!(!p.path("big.tmp").exists(), "a used temporary output stayed");

    let dry = p.maestro(&["run", "-n"]);
    assert_eq!(dry.stdout, "skip unzip (fresh)\nskip count (fresh)\n");

    let dry = p.maestro(&["run", "-n", "unit=chars"]);
    assert_eq!(
        dry.stdout,
        "would run unzip (temporary output big.tmp needed by count): cp in.txt big.tmp\n\
         would run count (dep unzip will run): echo chars $(wc -c < big.tmp) > count.txt\n"
    );
    let again = p.maestro(&["run", "--output", "quiet", "unit=chars"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(p.read("count.txt"), "chars 5\n");
    assert!(!p.path("big.tmp").exists());
}

#[test]
fn a_temporary_output_stays_while_a_dependent_has_not_succeeded() {
    let p = Project::with_flow(
        r#"
[tasks.make]
cmd = "echo data > part.tmp"
temp_outputs = ["part.tmp"]
[tasks.use]
deps = ["make"]
cmd = "cat part.tmp; exit 1"
"#,
    );
    assert_eq!(p.maestro(&["run", "--output", "quiet"]).code, 1);
    assert_eq!(p.read("part.tmp"), "data\n");
}

/// The most spans of `events` (start/end lines from `stamp`) open at once.
fn most_at_once(p: &Project) -> usize {
    let mut edges: Vec<(u128, i32)> = p
        .events()
        .into_iter()
        .map(|(what, _, at)| (at, if what == "start" { 1 } else { -1 }))
        .collect();
    // At one instant, an end comes before a start.
    edges.sort_unstable();
    let (mut open, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        open += step;
        most = most.max(open);
    }
    most as usize
}

const MAKEFILE: &str = "all: a b c d\na b c d:\n\t@sh stamp make-$@ 0.3\n";

#[test]
#[cfg_attr(no_make, ignore = "needs GNU make (apt-get install make)")]
fn a_tasks_make_runs_its_jobs_inside_the_job_slots() {
    let p = Project::with_flow(
        r#"
[tasks.build]
cmd = "make -s"
[tasks.other1]
cmd = "sh stamp other1 0.5"
[tasks.other2]
cmd = "sh stamp other2 0.5"
"#,
    );
    p.file("stamp", crate::support::STAMP).file("Makefile", MAKEFILE);
    let run = p.maestro(&["run", "-j", "2", "--output", "quiet"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.events().len(), 12);
    assert_eq!(most_at_once(&p), 2, "{:?}", p.events());

    // Alone, make runs two jobs at once: it takes part.
    let alone = Project::with_flow("[tasks.build]\ncmd = \"make -s\"\n");
    alone.file("stamp", crate::support::STAMP).file("Makefile", MAKEFILE);
    assert_eq!(alone.maestro(&["run", "-j", "2", "--output", "quiet"]).code, 0);
    assert_eq!(most_at_once(&alone), 2);

    // Unless the flow says not.
    let off = Project::with_flow("jobserver = false\n[tasks.build]\ncmd = \"make -s\"\n");
    off.file("stamp", crate::support::STAMP).file("Makefile", MAKEFILE);
    assert_eq!(off.maestro(&["run", "-j", "2", "--output", "quiet"]).code, 0);
    assert_eq!(most_at_once(&off), 1);
}

/// A jobserver client as ninja 1.13 and cargo are: it opens the pipe
/// `MAKEFLAGS` names, takes every token it can, says how many, gives
/// them back.
const FIFO_CLIENT: &str = r#"
import os, re
auth = re.findall(r"--jobserver-auth=(\S+)", os.environ["MAKEFLAGS"])[-1]
assert auth.startswith("fifo:"), auth
fd = os.open(auth[5:], os.O_RDWR | os.O_NONBLOCK)
try:
    taken = os.read(fd, 64)
except BlockingIOError:
    taken = b""
print(len(taken))
os.write(fd, taken)
"#;

#[test]
fn a_make_4_4_era_client_finds_the_tokens_by_the_pipes_path() {
    let p = Project::with_flow(
        "[tasks.client]\ncmd = \"python3 client.py > taken\"\n\
         [tasks.after]\ndeps = [\"client\"]\ncmd = \"python3 client.py > taken-after\"\n",
    );
    p.file("client.py", FIFO_CLIENT);
    // A make that says it is 4.4 makes maestro give the pipe's path.
    p.file("bin/make", "#!/bin/sh\necho 'GNU Make 4.4.1'\n");
    let make = p.path("bin/make");
    std::fs::set_permissions(&make, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", p.path("bin").display(), std::env::var("PATH").unwrap());
    let run =
        p.command(&["run", "-j", "3", "--output", "quiet"]).env("PATH", path).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    // Three slots: the task holds one, its tools may take the two others;
    // and it gave them back for the next task.
    assert_eq!(p.read("taken"), "2\n");
    assert_eq!(p.read("taken-after"), "2\n");
}

#[test]
fn the_bundled_pipeline_runs_per_sample_gathers_and_cleans() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipeline");
    let p = Project::new();
    for file in [
        "maestro.toml",
        "data/genome.txt",
        "data/samples/A.txt",
        "data/samples/B.txt",
        "data/samples/C.txt",
        "scripts/map.py",
        "scripts/call.py",
        "scripts/plot.py",
    ] {
        p.file(file, &std::fs::read_to_string(example.join(file)).unwrap());
    }
    let run = p.maestro(&["run", "--output", "quiet"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("8 ok"), "{}", run.stderr);
    assert_eq!(p.read("plots/quals.txt"), "A ### 3\nB ## 2\n");
    assert!(!p.path("mapped/A.txt").exists(), "the temporary output stayed");
    assert!(!p.path("clean").exists() && p.path("sorted/C.txt").exists());

    // Two samples: only what gathers runs again; sort:C's file stays, unread.
    let two = p.maestro(&["run", "--output", "quiet", "samples=A,B"]);
    assert_eq!(two.code, 0, "{two:?}");
    assert!(two.stderr.contains("2 ok, 4 skipped"), "{}", two.stderr);
    assert_eq!(p.read("plots/quals.txt"), "A ### 3\nB ## 2\n");

    let strict = p.maestro(&["run", "--output", "quiet", "min_quality=30"]);
    assert!(strict.stderr.contains("2 ok, 6 skipped"), "{}", strict.stderr);
    assert_eq!(p.read("plots/quals.txt"), "A # 1\nB # 1\n");

    assert_eq!(p.maestro(&["run", "clean", "--output", "quiet"]).code, 0);
    assert!(!p.path("sorted").exists() && !p.path("plots").exists());
}

#[test]
fn a_dep_taken_out_of_deps_is_the_reason_given() {
    let flow = |deps: &str| {
        format!(
            "[tasks.a]\ncmd = \"echo a > a.out\"\noutputs = [\"a.out\"]\n\
             [tasks.b]\ncmd = \"echo b > b.out\"\noutputs = [\"b.out\"]\n\
             [tasks.c]\ndeps = {deps}\ncmd = \"cat a.out > c.out\"\noutputs = [\"c.out\"]\n"
        )
    };
    let p = Project::with_flow(&flow("[\"a\", \"b\"]"));
    assert_eq!(p.maestro(&["run", "--output", "quiet"]).code, 0);
    p.file("maestro.toml", &flow("[\"a\"]"));
    let dry = p.maestro(&["run", "-n"]);
    assert!(dry.stdout.contains("would run c (dep b is gone)"), "{}", dry.stdout);
}

#[test]
fn a_big_generated_flow_is_read_and_its_mistakes_said_as_in_a_small_one() {
    let mut flow = String::from("jobs = 2\n");
    for i in 0..40_000 {
        flow.push_str(&format!("[tasks.t{i}]\ncmd = \"true\"\n"));
        if i > 0 {
            flow.push_str(&format!("deps = [\"t{}\"]\n", i - 1));
        }
    }
    assert!(flow.len() > 1 << 20, "big enough to be read a section at a time");
    let p = Project::with_flow(&flow);
    let dry = p.maestro(&["run", "-n", "t3"]);
    assert_eq!(
        dry.stdout,
        "would run t0 (no inputs or outputs declared): true\n\
         would run t1 (no inputs or outputs declared): true\n\
         would run t2 (no inputs or outputs declared): true\n\
         would run t3 (no inputs or outputs declared): true\n"
    );
    // A task named twice: the whole file's words for it.
    flow.push_str("[tasks.t7]\ncmd = \"again\"\n");
    p.file("maestro.toml", &flow);
    let twice = p.maestro(&["run", "-n"]);
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.starts_with("maestro.toml:"), "{}", twice.stderr);
    assert!(twice.stderr.contains("duplicate key"), "{}", twice.stderr);

    // A mistake in a task deep in the file: found where it is.
    let mut wrong = String::new();
    for i in 0..40_000 {
        let key = if i == 30_000 { "cmdd" } else { "cmd" };
        wrong.push_str(&format!("[tasks.t{i}]\n{key} = \"true\"\n"));
    }
    p.file("maestro.toml", &wrong);
    let typo = p.maestro(&["run", "-n"]);
    assert_eq!(typo.code, 2);
    assert!(
        typo.stderr.starts_with(
            "maestro.toml:60002:1: error: unknown key 'cmdd' in task 't30000'\n      |\n60002 | cmdd"
        ),
        "{}",
        typo.stderr
    );
}

#[test]
fn a_task_may_gather_from_one_written_after_it() {
    let p = Project::with_flow(
        r#"
[tasks.all]
cmd = "cat {part.outputs} > all.txt"
[tasks.part]
for_each = ["x", "y"]
deps = ["first"]
cmd = "echo {} > {}.txt"
outputs = ["{}.txt"]
[tasks.first]
cmd = "true"
"#,
    );
    let run = p.maestro(&["run", "-j", "1", "--output", "quiet"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.read("all.txt"), "x\ny\n");
    let graph = p.maestro(&["graph", "--expand"]).stdout;
    assert!(graph.contains("n0 [label=\"all\""), "{graph}");
    assert!(graph.contains("n1 [label=\"part:x\""), "{graph}");
    assert!(graph.contains("n3 [label=\"first\""), "{graph}");
}
