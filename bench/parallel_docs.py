#!/usr/bin/env python3
"""The examples of GNU parallel's own documents, parallel_tutorial(7),
parallel_examples(7) (part of it so far) and parallel(1), run through GNU
parallel and through `maestro map`, side by side: how many give the same
stdout and exit status.

Each example runs with bash (`bash -c`, as a reader would paste it) in a
fresh folder holding the documents' input files (SETUP, and the FILES the
example names), once with GNU parallel and once with a `parallel` first in
PATH that runs `maestro map` (so that `timeout parallel ...`, a `#!` line
or a job's own shell get maestro too). Output is compared exactly when the
example asks for an order (-k, also bundled as in -kN1, -j1), else as
sorted lines (without -k the order is the order jobs happen to end in).

In scope: every example of the tutorial but remote hosts (-S, --sshlogin,
transfers), --sql*, and the interactive ones (--tty, --interactive); long
sleeps are shortened. From parallel_examples(7), those that run here with
small local files (no network, no media tools). From parallel(1), the
command lines of its OPTIONS and of the sections after them (QUOTING,
signals, ENVIRONMENT VARIABLES, PROFILE FILES, BUGS) but the same kinds
(remote hosts, --sql*, interactive use) and those needing the network or
a tool not installed here; adapted the same way: small inputs, sleeps in
tenths of seconds, and where GNU parallel's own output is not stable
(random tmp names, timings, pids) only what is, e.g. through `wc`, `sort`
or `cut`. The comment over MAN_PAGE lists what is left out and why.
Kinds of result:
  same      stdout and exit status identical
  refused   maestro stops with a usage error (exit 255) where parallel ran
  on purpose  a difference the README lists (ON_PURPOSE says which)
  DIFFERENT anything else: the ones that must go
The summary counts them for each document (tutorial, examples, man page),
then for all.

Usage: bench/parallel_docs.py [--maestro BIN] [--only REGEX] [--show]
Needs GNU parallel, bash and perl (and bc, bzip2, python3, column, for
some of parallel(1)'s); BIN defaults to target/release/maestro.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The input files the tutorial's "Input sources" section makes, then those
# (and the functions) of the other examples.
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
do_test() { id="$3 {%}=$1 PARALLEL_JOBSLOT=$2"; echo run "$id"; case $3 in A) sleep 0.1;; *) sleep 0.4;; esac; return `echo $1%2 | bc`; }
myprog() { echo Using "$@"; cat "$@"; }
export -f do_test myprog
"""

# Files that only some examples need, made for an example that names them
# (as a word): the million-line file takes time to make, and the others
# would change what the examples that list the folder print.
FILES = {
    "num1000000": "seq 1000000 > num1000000",
    "myfile": "seq 100000 > myfile",
    "file1": "echo 1 > file1; echo 2 > file2",
    "file": "printf 'two words\\nthree words here\\n' > file",
    "words": "printf '%s\\n' apple banana cherry date zebra > words",
    "list": "printf '%s\\n' abc-file def-file > list",
    "passwd": "printf '%s\\n' root:x:0:0:root:/root:/bin/bash alice:x:1000:1000:Alice:/home/alice:/bin/sh > passwd",
    "table.csv": "printf '%s\\n' 'UserID, Consumption' '123,    1' '123,    2' '12-3,   1' '221,    3' '221,    1' '2/21,   5' > table.csv",
    "my.tmpl": "printf '%s\\n' 'Xval: {x}' 'Yval: {y}' 'FixedValue: 9' '# x with 2 decimals' 'DecimalX: {=x $_=sprintf(\"%.2f\",$_) =}' 'TenX: {=x $_=$_*10 =}' 'RandomVal: {=1 $_=rand() =}' > my.tmpl",
}

# parallel_tutorial(7), section by section.
TUTORIAL = [
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
]

# parallel_examples(7).
HOWTO = [
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

# The four steps of parallel(1)'s --retry-failed section, on one joblog: a
# run cut short by `timeout`, then --resume, --resume-failed, --retry-failed
# (the first step's sleeps halved and its timeout 2.4 s for 4 s: the same 4
# jobs finish before it). Each example runs the steps before it, then shows
# the log but for its times (timeout's -k spelt --kill-after, which ORDERED
# does not take for parallel's -k).
RESUME_STEPS = [
    "timeout --kill-after=1 2.4 parallel --joblog log -j10 'sleep {= $_/=2 =}; exit {= $_%=2 =}' ::: {10..1}",
    "parallel --resume --joblog log -j10 'sleep .{}; exit {= $_%=2 =}' ::: {10..1}",
    "parallel --resume-failed --joblog log -j10 'echo {};sleep .{}; exit {= $_%=3 =}' ::: {10..1}",
    "parallel --retry-failed --joblog log -j10 this part is ignored",
]

# parallel(1): the command lines of OPTIONS and of the sections after it.
# Left out: remote hosts (-S, --sshlogin(file), --transfer*, --return,
# --cleanup with them, --basefile, --workdir, --hostgroups, --nonall/--onall,
# -M, the nonall and dist profiles), --sql*, the interactive ones (--tty,
# --interactive, --open-tty, --shell-completion: the completion code is each
# tool's own); and, one by one:
#   --bar: the zenity example (zenity is not installed here);
#   {=perl expression=}: `csh -c {= ... Q($_) =}` (csh is not installed),
#     `{= $_= ++$wrong_counter =}` (given as undefined behaviour);
#   --csv: the two --csv examples (GNU parallel needs the perl module
#     Text::CSV, not installed here: it stops with exit 255);
#   --fifo: `seq 1000000 | parallel --fifo echo This will block` (blocks
#     forever, as the man page says);
#   --jobs: `parallel -j0 echo '{= $_ = $foo++; =}'` (a bug of -j0: counts
#     from the number of job slots, which depends on the machine's limits);
#   --latest-line: its output is a terminal's (\r redraws, timing);
#   --shebang-wrap `/original/parser --options` (a placeholder);
#   PROFILE FILES: the pre_perl profile (GNU parallel 20221122 unquotes
#     its line into a bash syntax error: every job fails);
#   Speed/Disk access: `sem --id diskio cat file | compute | ...` (sem, and
#     `compute` a placeholder);
#   the --rpl lines that show how GNU parallel implements its own strings,
#     and --halt's list of values (options, not command lines).
MAN_PAGE = [
    # {%} (A sleeps less than B and C so that D takes its slot, as in the
    # man page's output; 0.1 s and 0.4 s for 1 s).
    "parallel -j3 --jl mylog do_test {%} \\$PARALLEL_JOBSLOT {} ::: A B C D",
    "parallel -j3 --jl mylog do_test {%} \\$PARALLEL_JOBSLOT {} ::: A B C D; parallel --retry-failed -j3 --jl mylog do_test {%} \\$PARALLEL_JOBSLOT {} ::: A B C D",
    # {=perl expression=}.
    "seq 10 | parallel echo {} + 1 is {= '$_++' =}",
    "seq 50 | parallel echo job {#} of {= '$_=total_jobs()' =}",
    # ::: arguments: six ways to gzip two files.
    "(echo file1; echo file2) | parallel gzip; ls file*",
    "parallel gzip ::: file1 file2; ls file*",
    "parallel gzip {} ::: file1 file2; ls file*",
    "parallel --arg-sep ,, gzip {} ,, file1 file2; ls file*",
    "parallel --arg-sep ,, gzip ,, file1 file2; ls file*",
    "parallel ::: \"gzip file1\" \"gzip file2\"; ls file*",
    # ::: arguments: :::, :::: and --arg-file mixed, six ways to the same jobs.
    "parallel echo {1} {2} {3} ::: 6 7 ::: 4 5 ::: 1 2 3",
    "parallel echo {1} {2} {3} :::: <(seq 6 7) <(seq 4 5) :::: <(seq 1 3)",
    "parallel -a <(seq 6 7) echo {1} {2} {3} :::: <(seq 4 5) :::: <(seq 1 3)",
    "parallel -a <(seq 6 7) -a <(seq 4 5) echo {1} {2} {3} ::: 1 2 3",
    "seq 6 7 | parallel -a - -a <(seq 4 5) echo {1} {2} {3} ::: 1 2 3",
    "seq 4 5 | parallel echo {1} {2} {3} :::: <(seq 6 7) - ::: 1 2 3",
    # :::+ arguments.
    "parallel echo ::: a b c :::+ 1 2 3 ::: X Y :::+ 11 22",
    # --block: a negative size with --pipe-part (10 blocks for each of 5
    # job slots: 50 jobs).
    "parallel --pipe-part -a myfile --block -10 -j5 wc",
    # --cat, --fifo (wc's counts only: the file it names is a random tmp name).
    "cat num1000000 | parallel --pipe --cat wc {} | awk '{print $1, $2, $3}'",
    "cat num1000000 | parallel --pipe --fifo wc {} | awk '{print $1, $2, $3}'",
    "seq 1000000 | parallel --fifo 'echo This will not block < {}'",
    # --colsep.
    "parallel --colsep '-' echo {4} {3} {2} {1} ::: A-B C-D ::: e-f g-h",
    # --csv: the --colsep half of its comparison.
    r"""echo '"1 big, 2 small","2""x4"" plank",12.34' | parallel --colsep ',' echo {1} of {2} at {3}""",
    # --embed (what the code added at its end prints: the rest is each
    # tool's own text).
    "parallel --embed > new_script && echo 'parallel -k echo ::: A B C' >> new_script && bash new_script | tail -3",
    # --filter.
    "parallel --filter '{1} < {2}+1' echo ::: {1..3} ::: {1..3}",
    # --group-by, on the man page's table.csv.
    "tail -n +2 table.csv | parallel --pipe --colsep , --group-by 1 -kN1 wc",
    "cat table.csv | parallel --pipe --colsep , --header : --group-by 1 -kN1 wc",
    "cat table.csv | parallel --pipe --colsep , --header : --group-by UserID -kN1 wc",
    r"cat table.csv | parallel --pipe --colsep , --header : --group-by 'UserID s/\D//g' -kN1 wc",
    # --joblog: the log made ISO-8601, then pretty-printed (without the run
    # time, and the start time only as its format).
    r"""parallel --joblog logfile echo ::: A B C; cat logfile | perl -a -F"\t" -ne 'chomp($F[2]=`date -d \@$F[2] +%FT%T`); print join("\t",@F)' | sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}/DATE/' | cut -f 1-3,5-""",
    "parallel --joblog joblog echo ::: A B C; cat joblog | cut -f 1,2,5- | column -t",
    # --jobs: -j100 counts from 1 (300 jobs for 10000, all of them sorted
    # before head: without -k the order is timing).
    "seq 300 | parallel -j100 echo '{= $_ = $foo++; =}' | sort -n | head",
    # --keep-order (sleeps in tenths of seconds; --round-robin: only the
    # sum of wc's counts, which blocks each job gets is timing).
    "parallel -j4 sleep {}\\; echo {} ::: 0.2 0.1 0.4 0.3",
    "parallel -j4 -k sleep {}\\; echo {} ::: 0.2 0.1 0.4 0.3",
    "cat num1000000 | parallel --pipe --round-robin 'sleep 0.$RANDOM; wc' | awk '{s+=$1} END {print s}'",
    "cat num1000000 | parallel --pipe -k --round-robin 'sleep 0.$RANDOM; wc' | awk '{s+=$1} END {print s}'",
    # --line-buffer (sleeps in tenths of seconds).
    "parallel -j0 'echo {};sleep {};echo {}' ::: 0.1 0.3 0.2 0.4",
    "parallel -j0 --lb 'echo {};sleep {};echo {}' ::: 0.1 0.3 0.2 0.4",
    "parallel -j0 -k --lb 'echo {};sleep {};echo {}' ::: 0.1 0.3 0.2 0.4",
    # --link.
    "parallel echo {1} {2} ::: 1 2 3 ::: a b c",
    "parallel --link echo {1} {2} ::: 1 2 3 ::: a b c",
    "parallel --link echo {1} {2} {3} ::: 1 2 ::: I II III ::: a b c d e f g",
    # --minversion.
    "parallel --minversion 20170422 && echo halt done=50% supported from version 20170422 && parallel --halt now,done=50% echo ::: {1..100}",
    # -N (a passwd of two users for /etc/passwd, and echo chown for chown).
    r"tr ':' '\n' < passwd | parallel -N7 echo chown {1} {6}",
    # --parens.
    "parallel --parens ,,,, echo foo is ,,s/I/O/g,, ::: FII",
    # --process-slot-var (which slot a job gets is timing: only that the
    # variable holds a number).
    "seq 10 | parallel --process-slot-var=name echo '$name' {} | sed 's/^[0-9][0-9]* /N /'",
    # --results: the files made.
    "parallel --header : --results foo echo {a} {b} ::: a I II ::: b III IIII; find foo -type f | sort",
    "parallel --results foo echo {1} {2} ::: I II ::: III IIII; find foo -type f | sort",
    "parallel --results my_{} echo ::: foo bar baz; ls my_*; cat my_foo",
    "parallel --results my_{}/ echo ::: foo bar baz; find my_* -type f | sort; cat my_foo/stdout",
    # --retry-failed: --resume, --resume-failed and --retry-failed compared.
    *("; ".join(RESUME_STEPS[:n] + ["cut -f 1,7- log"]) for n in range(1, 5)),
    # --rpl: dynamic replacement strings.
    r"""parallel --rpl '{%(.*?)} s/$$1//' echo {%.tar.gz} ::: my.tar.gz""",
    r"""parallel --rpl '{:%(.+?)} s:$$1(\.[^/]+)*$::' echo {:%_file} ::: my_file.tar.gz""",
    r"""parallel -n3 --rpl '{/:%(.*?)} s:.*/(.*)$$1(\.[^/]+)*$:$1:' echo job {#}: {2} {2.} {3/:%_1} ::: a/b.c c/d.e f/g_1.h.i""",
    r"""parallel --rpl '{/(.+?)/(.*?)} s/$$1/$$2/;' echo {/replacethis/withthis} {/b/C} ::: a_replacethis_b""",
    r"""parallel --rpl '{(.*?)/(.*?)} $_="$$2$_$$1"' echo {swap/these} ::: -middle-""",
    # --rpl: its "few examples" (the man page gives only the --rpl; each
    # used with echo on a few inputs; -j1 for {%1}: which slot the second
    # job gets is timing).
    r"""parallel --rpl '{odd} $_ = seq() % 2 ? "odd" : "even"' echo {odd} ::: a b c""",
    r"""parallel --rpl '{0#} $f=1+int("".(log(total_jobs())/log(10))); $_=sprintf("%0${f}d",seq())' echo {0#} ::: {1..10}""",
    r"""parallel --rpl '{#0} $_ = seq() - 1' echo {#0} ::: a b c""",
    r"""parallel -j1 --rpl '{%1} $_ = slot() + 1' echo {%1} ::: a b""",
    r"""parallel --rpl '{:} s:(\.[^/]+)*$::' echo {:} ::: dir/file.tar.gz""",
    # --shebang, the Linux and the FreeBSD first line (echo for wget: no
    # network; the first line names the `parallel` of PATH, which is
    # maestro's in its runs).
    "printf '%s\\n' \"#!$(type -P parallel) --shebang -r echo\" '' https://ftpmirror.gnu.org/parallel/parallel-20120822.tar.bz2 https://ftpmirror.gnu.org/parallel/parallel-20130822.tar.bz2 https://ftpmirror.gnu.org/parallel/parallel-20140822.tar.bz2 > urls; chmod +x urls; ./urls",
    "printf '%s\\n' '#!/usr/bin/env -S parallel --shebang -r echo' '' https://ftpmirror.gnu.org/parallel/parallel-20120822.tar.bz2 https://ftpmirror.gnu.org/parallel/parallel-20130822.tar.bz2 https://ftpmirror.gnu.org/parallel/parallel-20140822.tar.bz2 > urls; chmod +x urls; ./urls",
    # --shebang-wrap (python3 for /usr/bin/python; perl with --pipe).
    "printf '%s\\n' \"#!$(type -P parallel) --shebang-wrap $(type -P python3)\" 'import sys' 'print(sys.argv[1:])' > script.py; chmod +x script.py; ./script.py A B C",
    "printf '%s\\n' \"#!$(type -P parallel) --shebang-wrap --pipe $(type -P perl) -w\" 'while(<>){print \"got $_\"}' > script.pl; chmod +x script.pl; seq 3 | ./script.pl",
    # --shell-quote.
    "echo 'a b' | parallel --shell-quote | parallel --shell-quote",
    "echo 'a b' | parallel --shell-quote --shell-quote",
    # --shuf: a random 1% sample.
    "parallel --shuf --halt soon,done=1% echo ::: {1..100} ::: {1..100}",
    # --tee (a words file for /usr/share/dict/words).
    "seq 1000 | parallel --pipe --tee -v wc {} ::: -w -l -c",
    "seq 1000 | parallel --pipe --tee --tag 'grep {1} | wc {2}' ::: {0..9} ::: -l -c",
    "parallel -a words --pipe-part --tee --tag 'grep {1} | wc {2}' ::: {a..z} ::: -l -c",
    # --template, with the man page's my.tmpl and myprog (but its RandomVal
    # line: rand()).
    "parallel --cleanup --header : --tmpl my.tmpl={#}.t myprog {#}.t ::: x 1.234 2.345 3.45678 ::: y 1 2 3 | grep -v RandomVal",
    # --ungroup (sleeps in tenths of seconds; with -u only the pieces, how
    # they mix is timing; seq 1000000 for 300000000, counted, for >/dev/null).
    "seq 4 | parallel -j0 'sleep 0.{};echo -n start{};sleep 0.{};echo {}end'",
    "seq 4 | parallel -u -j0 'sleep 0.{};echo -n start{};sleep 0.{};echo {}end' | grep -o 'start[0-9]\\|[0-9]end'",
    "parallel seq ::: 1000000 | wc -l",
    "parallel -u seq ::: 1000000 | wc -l",
    "parallel --line-buffer seq ::: 1000000 | wc -l",
    # QUOTING (`file` holds a line of two words; with `ls` perl reads the
    # folder's files; $$ and \$\$: only how many different ones).
    r"""parallel perl -ne \''/^\S+\s+\S+$/ and print $ARGV,"\n"'\' ::: file""",
    "seq 10 | parallel -N2 echo seq:\\$PARALLEL_SEQ arg1:{1} arg2:{2}",
    "VAR=this_is_set_before_starting; echo test | parallel echo {} $VAR",
    "VAR=\"two  spaces  between  each  word\"; echo test | parallel echo {} \\'\"$VAR\"\\'",
    "echo test | parallel VAR=this_is_set_after_starting \\; echo {} \\$VAR",
    "VAR=\"two  spaces  between  each  word\"; echo test | parallel VAR='\"two  spaces  between  each  word\"' echo {} \\'\"$VAR\"\\'",
    "seq 10 | parallel echo $$ | cut -d' ' -f1 | sort -u | wc -l",
    "seq 10 | parallel echo \\$\\$ | cut -d' ' -f1 | sort -u | wc -l",
    "echo test | parallel echo {} \\\\\\$VAR",
    "echo test | parallel -q echo {} \\$VAR",
    r"""ls | parallel perl -ne '/^\\S+\\s+\\S+\$/\ and\ print\ \$ARGV,\"\\n\"'""",
    r"""ls | parallel perl -ne \''/^\S+\s+\S+$/ and print $ARGV,"\n"'\'""",
    r"""ls | parallel -q  perl -ne '/^\S+\s+\S+$/ and print $ARGV,"\n"'""",
    "ls *.gz | parallel -q \"zcat {} >{.}\"",
    "ls *.gz | parallel -q \"zcat {} | bzip2 >{.}.bz2\"",
    "ls | parallel -q bash -c 'wc -c <(echo {})'",
    "ls | parallel -q bash -c 'tar c {} | tee >(gzip >{}.tar.gz) | bzip2 >{}.tar.bz2'; ls | grep -c 'tar.bz2$'",
    # LIST RUNNING JOBS, COMPLETE RUNNING JOBS BUT DO NOT START NEW JOBS, and
    # $PARALLEL_PID: the signals sent by a job to $PARALLEL_PID, for
    # `killall -USR1 parallel` and `killall -HUP parallel` (which would
    # reach every parallel of the machine; the job fails if kill does; what
    # USR1 makes parallel print goes to stderr, not compared).
    "parallel -j2 'sleep 0.{}; echo {}; [ {} != 1 ] || kill -USR1 $PARALLEL_PID' ::: 1 3",
    "parallel -j1 'echo {}; [ {} != 3 ] || kill -HUP $PARALLEL_PID' ::: 1 2 3 4 5",
    # ENVIRONMENT VARIABLES: $PARALLEL_SEQ, $PARALLEL (`list` names two files).
    "seq 10 | parallel -N2 echo seq:'$'PARALLEL_SEQ arg1:{1} arg2:{2}",
    "cat list | parallel -j1 -k -v ls",
    "cat list | PARALLEL=\"-kvj1\" parallel ls",
    # PROFILE FILES (in $PARALLEL_HOME, which stands for ~/.parallel here).
    "mkdir -p $PARALLEL_HOME; echo -j-1 nice > $PARALLEL_HOME/nice_profile; parallel -J nice_profile bzip2 -9 ::: *; ls | grep -c '\\.bz2$'",
    # BUGS: Quoting of newline.
    "echo 1,2,3 | parallel -vkd, \"echo 'a{}b'\"",
    "echo 1,2,3 | parallel -vkd, echo a{}b",
    "echo 1,2,3 | parallel -vkd, \"echo 'a'{}'b'\"",
    "echo 1,2,3 | parallel -vkd, \"echo 'a'\"{}\"'b'\"",
]

# Each document's examples, in the order they run and are counted.
DOCUMENTS = [
    ("tutorial", TUTORIAL),   # parallel_tutorial(7)
    ("examples", HOWTO),      # parallel_examples(7)
    ("man page", MAN_PAGE),   # parallel(1)
]

# -k also in a bundle of short options (-kN1, -vkd, "-kvj1" in $PARALLEL).
ORDERED = re.compile(r"""(^|[\s"'])(-[a-zA-Z]*k[a-zA-Z0-9,]*|--keep-order|-j ?1|--jobs 1)(["'\s]|$)""")

# Examples where maestro differs from GNU parallel on purpose, each with
# the README's reason ("Where maestro differs from parallel, on purpose"):
# they count as "on purpose", not as DIFFERENT, and never as same.
ON_PURPOSE = {
    # parallel(1)'s --fifo: jobs that open the pipe and read nothing; GNU
    # parallel counts those it wrote to too late as failed.
    "seq 1000000 | parallel --fifo 'echo This will not block < {}'":
        "a --pipe (or --fifo) job that ends without reading all its block is judged by its own exit status",
    # parallel(1)'s BUGS section shows parallel breaking the command.
    "echo 1,2,3 | parallel -vkd, \"echo 'a{}b'\"":
        "a value inside the template's own quotes is quoted as those quotes need",
}

# Which jobs a `--halt` lets finish depends on how fast each tool starts the
# next one: only the exit status is compared.
TIMING = re.compile(r"--halt (soon|now),")

# Where both run: the same path, so that what prints it (`pwd`) agrees.
WORK = os.path.join(tempfile.gettempdir(), "maestro-parallel-docs")

# For maestro's runs, a folder put first in PATH whose `parallel` runs
# `maestro map`: so that what runs `parallel` itself (timeout, a #! line,
# a job's shell) gets maestro too.
SHIM = os.path.join(tempfile.gettempdir(), "maestro-parallel-docs-bin")


def run(command, cwd, shim):
    """stdout, exit status, stderr of `command` in bash, `parallel` being
    GNU parallel, or `maestro map` when `shim` (the folder holding the
    `parallel` that runs it) is given."""
    prelude = SETUP + "".join(
        line + "\n" for name, line in FILES.items()
        if re.search(r"(?<![\w.-])" + re.escape(name) + r"(?![\w.*-])", command))
    env = {**os.environ, "PARALLEL_HOME": os.path.join(cwd, ".parallel")}
    if shim:
        env["PATH"] = shim + os.pathsep + env.get("PATH", "")
    try:
        done = subprocess.run(
            ["bash", "-c", prelude + command],
            cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
            env=env,
        )
        return done.stdout, done.returncode, done.stderr
    except subprocess.TimeoutExpired:
        return b"", "timeout", b""


def summary(label, counts):
    total = sum(counts.values())
    return (f"{label}{total} examples: " + ", ".join(f"{n} {k}" for k, n in counts.items())
            + f" ({100 * counts['same'] / max(total, 1):.0f}% the same)")


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
    os.makedirs(SHIM, exist_ok=True)
    shim_parallel = os.path.join(SHIM, "parallel")
    with open(shim_parallel, "w") as shim_file:
        # bash, not sh: dash would drop the functions bash exports.
        shim_file.write(f'#!{shutil.which("bash")}\nexec "{maestro}" map "$@"\n')
    os.chmod(shim_parallel, 0o755)
    kinds = ("same", "refused", "on purpose", "DIFFERENT")
    per_document = {document: dict.fromkeys(kinds, 0) for document, _ in DOCUMENTS}
    for document, examples in DOCUMENTS:
        counts = per_document[document]
        for command in examples:
            if args.only and not re.search(args.only, command):
                continue
            outcomes = []
            for side in (None, SHIM):
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
            elif command in ON_PURPOSE:
                kind = "on purpose"
            else:
                kind = "DIFFERENT"
            counts[kind] += 1
            print(f"{kind:10}  {command}")
            if args.show and kind != "same":
                print(f"           parallel: exit {their_code}: {theirs!r}"[:400])
                print(f"           maestro:  exit {our_code}: {ours!r} {our_err[:200]!r}"[:400])
    total = {kind: sum(counts[kind] for counts in per_document.values()) for kind in kinds}
    print()
    for document, counts in per_document.items():
        if sum(counts.values()):
            print(summary(f"{document + ':':10} ", counts))
    print(summary("", total))


if __name__ == "__main__":
    main()
