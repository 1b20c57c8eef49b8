#!/usr/bin/env python3
"""The examples of GNU parallel's own documents (parallel_tutorial(7), and
so far part of parallel_examples(7)), run through GNU parallel and through
`maestro map`, side by side: how many give the same stdout and exit
status.

Each example runs with bash (`bash -c`, as a reader would paste it) in a
fresh folder holding the tutorial's input files, once with `parallel` and
once with `parallel` a function calling `maestro map`. Output is compared
exactly when the example asks for an order (-k, -j1), else as sorted lines
(without -k the order is the order jobs happen to end in).

In scope: every example of the tutorial but remote hosts (-S, --sshlogin,
transfers), --sql*, and the interactive ones (--tty, --interactive); long
sleeps are shortened. From parallel_examples(7), those that run here with
small local files (no network, no media tools). Kinds of result:
  same      stdout and exit status identical
  refused   maestro stops with a usage error (exit 255) where parallel ran
  DIFFERENT anything else: the ones that must go

Usage: bench/parallel_docs.py [--maestro BIN] [--only REGEX] [--show]
Needs GNU parallel, bash and perl; BIN defaults to target/release/maestro.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The input files the tutorial's "Input sources" section makes.
SETUP = r"""
printf 'A\nB\nC\n' > abc-file
printf 'D\nE\nF\n' > def-file
printf 'A\0B\0C\0' > abc0-file
printf 'A_B_C_' > abc_-file
printf 'f1\tf2\nA\tB\nC\tD\n' > tsv-file.tsv
seq 30000 > num30000
seq 8 > num8
(echo %head1; echo %head2; seq 10) > num_%header
mkdir -p dir/sub && touch dir/sub/file.ex1.ex2.ex3
my_func() { echo in my_func $1; }
export -f my_func
myvar=abcAaAdef
touch a.log b.log && mkdir -p destdir
printf 'one\n' | gzip > a.gz && printf 'two\n' | gzip > b.gz
printf 'abc-file\nmissing-file\n' > file_list
doit() { echo Doing it for "$@"; }
doubleit() { echo "$1" "$2"; }
tester() { if (eval "$@") >&/dev/null; then perl -e 'printf "\033[30;102m[ OK ]\033[0m @ARGV\n"' "$@"; else perl -e 'printf "\033[30;101m[FAIL]\033[0m @ARGV\n"' "$@"; fi; }
export -f doit doubleit tester
printf 'A\nB\nC\nD\n' > in.txt
printf 'x\ny\n' > textfile
touch a.es.txt b.es.txt
printf '1\t2\n3\t4\n' > table_file.tsv
VAR="My brother's 12\" records"
"""

EXAMPLES = [
    # Input sources.
    "parallel echo ::: A B C",
    "parallel -a abc-file echo",
    "cat abc-file | parallel echo",
    "parallel echo ::: A B C ::: D E F",
    "parallel -a abc-file -a def-file echo",
    "cat abc-file | parallel -a - -a def-file echo",
    "cat abc-file | parallel echo :::: - def-file",
    "parallel echo ::: A B C :::: def-file",
    "parallel --link echo ::: A B C ::: D E F",
    "parallel --link echo ::: A B C D E ::: F G",
    "parallel echo :::: abc-file :::+ G H I :::: def-file",
    "parallel echo :::: abc-file ::: G H I ::::+ def-file",
    "parallel echo ::: A B C D E :::+ F G",
    "parallel --arg-sep ,, echo ,, A B C :::: def-file",
    "parallel --arg-file-sep // echo ::: A B C // def-file",
    "parallel -d _ echo :::: abc_-file",
    "parallel -d '\\0' echo :::: abc0-file",
    "parallel -0 echo :::: abc0-file",
    "parallel -E stop echo ::: A B stop C D",
    # The command.
    "parallel ::: ls 'echo foo' pwd",
    "parallel my_func ::: 1 2 3",
    # Replacement strings.
    "parallel echo ::: A/B.C",
    "parallel echo {} ::: A/B.C",
    "parallel echo {.} ::: A/B.C",
    "parallel echo {/} ::: A/B.C",
    "parallel echo {//} ::: A/B.C",
    "parallel echo {/.} ::: A/B.C",
    "parallel echo {#} ::: A B C",
    "parallel -j 2 echo {%} ::: A B C",
    "parallel -I ,, echo ,, ::: A/B.C",
    "parallel --extensionreplace ,, echo ,, ::: A/B.C",
    "parallel --basenamereplace ,, echo ,, ::: A/B.C",
    "parallel --dirnamereplace ,, echo ,, ::: A/B.C",
    "parallel --basenameextensionreplace ,, echo ,, ::: A/B.C",
    "parallel --seqreplace ,, echo ,, ::: A B C",
    "parallel -j2 --slotreplace ,, echo ,, ::: A B C",
    "parallel echo '{= s:\\.[^.]+$::;s:\\.[^.]+$::; =}' ::: foo.tar.gz",
    "parallel echo Job {#} of {= '$_=total_jobs()' =} ::: {1..5}",
    "parallel --rpl '{..} s:\\.[^.]+$::;s:\\.[^.]+$::;' echo '{..}' ::: foo.tar.gz",
    "parallel echo {1} and {2} ::: A B ::: C D",
    "parallel echo /={1/} //={1//} /.={1/.} .={1.} ::: A/B.C D/E.F",
    "parallel echo 1={1} 2={2} 3={3} -1={-1} -2={-2} -3={-3} ::: A B ::: C D ::: E F",
    "parallel --colsep '\\t' echo 1={1} 2={2} :::: tsv-file.tsv",
    "parallel --header : echo f1={f1} f2={f2} ::: f1 A B ::: f2 C D",
    "parallel --header : --colsep '\\t' echo f1={f1} f2={f2} :::: tsv-file.tsv",
    "parallel --plus echo {} ::: dir/sub/file.ex1.ex2.ex3",
    "parallel --plus echo {+/}/{/} ::: dir/sub/file.ex1.ex2.ex3",
    "parallel --plus echo {.}.{+.} ::: dir/sub/file.ex1.ex2.ex3",
    "parallel --plus echo {..}.{+..} ::: dir/sub/file.ex1.ex2.ex3",
    "parallel --plus echo Job {#} of {##} ::: {1..5}",
    "parallel --plus echo {:2:3} ::: \"$myvar\"",
    "parallel --plus echo {#abc} ::: \"$myvar\"",
    "parallel --plus echo {%def} ::: \"$myvar\"",
    "parallel --plus echo {/def/ghi} ::: \"$myvar\"",
    # More than one argument.
    "parallel --jobs 4 -m echo ::: 1 2 3 4 5 6 7 8 9 10",
    "parallel --jobs 4 -m echo pre-{}-post ::: A B C D E F G",
    "parallel --jobs 4 -X echo pre-{}-post ::: A B C D E F G",
    "parallel -N3 echo ::: A B C D E F G H",
    "parallel -N3 echo 1={1} 2={2} 3={3} ::: A B C D E F G H",
    "parallel -N0 echo foo ::: 1 2 3",
    "cat num30000 | parallel --xargs echo | wc -l",
    # Quoting.
    "parallel perl -e 'print \"@ARGV\\n\"' ::: This wont work",
    "parallel -q perl -e 'print \"@ARGV\\n\"' ::: This works",
    "parallel perl -e \\''print \"@ARGV\\n\"'\\' ::: This works, too",
    "parallel perl\\ -e\\ \\'print\\ \\\"@ARGV\\\\n\\\"\\' ::: This also works",
    "parallel --trim r echo pre-{}-post ::: ' A '",
    "parallel --trim l echo pre-{}-post ::: ' A '",
    "parallel --trim lr echo pre-{}-post ::: ' A '",
    # Controlling the output.
    "parallel --tag echo foo-{} ::: A B C",
    "parallel --tagstring {}-bar echo foo-{} ::: A B C",
    "parallel --dryrun echo {} ::: A B C",
    "parallel --verbose echo {} ::: A B C",
    "parallel -j2 'printf \"%s-start\\n%s\" {} {}; sleep {}; printf \"%s\\n\" -middle; echo {}-end' ::: 0.4 0.2 0.1",
    "parallel -j2 -k 'printf \"%s-start\\n%s\" {} {}; sleep {}; printf \"%s\\n\" -middle; echo {}-end' ::: 0.4 0.2 0.1",
    "parallel --files echo ::: A B C | xargs cat",
    "parallel --results outdir echo ::: A B C >/dev/null; cat outdir/1/*/stdout",
    # Controlling the execution.
    "parallel --use-cpus-instead-of-cores -N0 echo :::: num8 | wc -l",
    "parallel --shuf echo ::: 1 2 3 ::: a b c ::: A B C",
    "parallel --delay 0.2 echo Starting {} ::: 1 2 3",
    "parallel --timeout 1.1 sleep {}\\; echo {} ::: 0.2 0.4 3",
    "parallel --bar sleep ::: 0.1 0.2",
    "parallel --joblog log exit ::: 1 2 3 0; cut -f 7 log",
    "parallel --joblog log exit ::: 1 2 3 0; parallel --resume --joblog log exit ::: 1 2 3 0 0 0; cut -f 7 log",
    "parallel --joblog log exit ::: 1 2 3 0; parallel --resume-failed --joblog log exit ::: 1 2 3 0 0 0; cut -f 7 log",
    "parallel -j2 --halt soon,fail=1 echo {}\\; exit {} ::: 0 0 1 2 3",
    "parallel -j2 --halt now,fail=1 echo {}\\; exit {} ::: 0 0 1 2 3",
    "parallel -j2 --halt soon,fail=20% echo {}\\; exit {} ::: 0 1 2 3 4 5 6 7 8 9",
    "parallel -j2 --halt now,success=1 echo {}\\; exit {} ::: 1 2 3 0 4 5 6",
    "parallel -k --retries 3 'echo tried {} >>/tmp/runs-$$; echo completed {}; exit {}' ::: 1 2 0",
    "parallel --memfree 1G echo will run if more than 1 GB is ::: free",
    "parallel --nice 17 echo this is being run with nice -n ::: 17",
    # --pipe.
    "cat num1000000 | parallel --pipe wc | awk '{s+=$1} END {print s}'",
    "cat num1000000 | parallel --pipe --block 2M wc | awk '{s+=$1} END {print s}'",
    "cat num_%header | parallel --pipe --header '(%.*\\n)*' --block 20 -k cat | head -4",
    "cat num1000000 | parallel --pipe -N 140000 wc | awk '{s+=$1} END {print s}'",
    "cat num1000000 | parallel --pipe --recend '' -k --block 3M wc | awk '{s+=$1} END {print s}'",
    "parallel --pipepart -a num1000000 --block 3M wc | awk '{s+=$1} END {print s}'",
    # Semaphore.
    "parallel --semaphore --id doc-sem 'sleep 0.2; echo done'; sem --id doc-sem --wait",
    # parallel_examples(7).
    "ls | grep -E '\\.log$' | parallel mv {} destdir; ls destdir",
    "ls | grep -E '\\.log$' | parallel -m mv {} destdir; ls destdir",
    "printf '%s\\0' *.log | parallel -0 -m mv {} destdir; ls destdir",
    "seq -w 0 99 | parallel touch pict{}.jpg; ls | grep -c pict",
    "seq -w 0 99 | parallel -X touch pict{}.jpg; ls | grep -c pict",
    "parallel zcat {} '>'{.} ::: *.gz; cat a b",
    "parallel \"zcat {} >{.}\" ::: *.gz; cat a b",
    "ls | parallel 'echo -n {}\" \"; ls {}|wc -l'",
    "cat file_list | parallel 'if [ ! -e {} ] ; then echo {}; fi'",
    "parallel doit ::: 1 2 3",
    "parallel doubleit ::: 1 2 3 ::: a b",
    "parallel tester exit ::: 1 0 2 0",
    "seq 9 -1 1 | parallel -j1 echo log.{} log.'{= $_++ =}'",
    "parallel --plus echo {%_demo} ::: mycode_demo keep_demo_here",
    "parallel --plus echo {#demo_} ::: demo_mycode keep_demo_here",
    "parallel --plus echo {/demo_/} ::: demo_mycode remove_demo_here",
    "parallel echo {1} {2} ::: red green blue ::: S M L XL XXL | sort",
    "parallel --header : echo {colour} {size} ::: colour red green blue ::: size S M L XL XXL | sort",
    "parallel --plus echo {choose_k} ::: A B C D ::: A B C D",
    "parallel --plus echo {uniq} ::: A B C ::: A B C ::: A B C",
    "parallel echo {1} - {2} ::::+ <(head -n -1 in.txt) <(tail -n +2 in.txt)",
    "parallel -q echo \"$VAR\" ::: '!'",
    "parallel echo '\"$VAR\"' ::: '!'",
    "parallel echo \"'$VAR'\" ::: '!'",
    "cat textfile | parallel -k echo {} append_string",
    "ls *.es.* | perl -pe 'print; s/\\.es//' | parallel -N2 cp {1} {2}; ls *.txt",
    "parallel -k echo ::: 0 1 ::: 0 1 ::: 0 1",
    "parallel --link -a <(seq 6) -a <(seq 6 -1 1) echo",
    "parallel --link echo :::: <(seq 6) <(seq 6 -1 1)",
    "parallel -a table_file.tsv --colsep '\\t' echo -o {2} -i {1}",
    "find . -type f | sort | parallel -k -j150% -n 1000 -m grep -H -n A {}",
]

ORDERED = re.compile(r"(^|\s)(-k|--keep-order|-j ?1|--jobs 1)(\s|$)")

# Which jobs a `--halt` lets finish depends on how fast each tool starts the
# next one: only the exit status is compared.
TIMING = re.compile(r"--halt (soon|now),")

# Where both run: the same path, so that what prints it (`pwd`) agrees.
WORK = os.path.join(tempfile.gettempdir(), "maestro-parallel-docs")


def run(command, cwd, maestro):
    """stdout, exit status of `command` in bash, `parallel` being GNU
    parallel, or `maestro map` when `maestro` is given."""
    prelude = SETUP
    if "num1000000" in command:
        prelude += "seq 1000000 > num1000000\n"
    if maestro:
        prelude += f'parallel() {{ "{maestro}" map "$@"; }}\nexport -f parallel\n'
    try:
        done = subprocess.run(
            ["bash", "-c", prelude + command],
            cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
            env={**os.environ, "PARALLEL_HOME": os.path.join(cwd, ".parallel")},
        )
        return done.stdout, done.returncode, done.stderr
    except subprocess.TimeoutExpired:
        return b"", "timeout", b""


def main():
    parser = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--maestro", default=os.path.join(root, "target/release/maestro"))
    parser.add_argument("--only")
    parser.add_argument("--show", action="store_true", help="print each difference")
    args = parser.parse_args()
    if not shutil.which("parallel"):
        sys.exit("needs GNU parallel (apt-get install parallel)")
    maestro = os.path.abspath(args.maestro)
    counts = {"same": 0, "refused": 0, "DIFFERENT": 0}
    for command in EXAMPLES:
        if args.only and not re.search(args.only, command):
            continue
        outcomes = []
        for side in (None, maestro):
            shutil.rmtree(WORK, ignore_errors=True)
            os.makedirs(WORK)
            outcomes.append(run(command, WORK, side))
        shutil.rmtree(WORK, ignore_errors=True)
        (theirs, their_code, their_err), (ours, our_code, our_err) = outcomes
        if not ORDERED.search(command):
            theirs, ours = sorted(theirs.splitlines()), sorted(ours.splitlines())
        if TIMING.search(command):
            theirs, ours = b"", b""
        said_usage = lambda err: re.search(rb"(^|\n)error: ", err) is not None
        if (theirs, their_code) == (ours, our_code):
            kind = "same"
        elif said_usage(our_err) and not said_usage(their_err):
            kind = "refused"
        else:
            kind = "DIFFERENT"
        counts[kind] += 1
        print(f"{kind:9}  {command}")
        if args.show and kind != "same":
            print(f"           parallel: exit {their_code}: {theirs!r}"[:400])
            print(f"           maestro:  exit {our_code}: {ours!r} {our_err[:200]!r}"[:400])
    total = sum(counts.values())
    print()
    print(f"{total} examples: " + ", ".join(f"{n} {k}" for k, n in counts.items())
          + f" ({100 * counts['same'] / max(total, 1):.0f}% the same)")


if __name__ == "__main__":
    main()
