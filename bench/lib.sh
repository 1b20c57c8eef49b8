# Shared by dispatch.sh, makespan.sh, map.sh, noop.sh, prims.sh, slurm.sh and workers.sh, which source it after
# setting `prog` (their name in messages). Not a benchmark itself.
# Sets bench_dir (this directory), repo (the checkout above it), maestro (the
# release binary, checked by need_maestro) and notes (the header's notes).

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench_dir/.." && pwd)"
maestro="$repo/target/release/maestro"
notes=()

# check_positive NAME:VALUE...: exit 2 unless every VALUE is a positive
# integer; NAME is the option without its dashes.
check_positive() {
    local pair
    for pair in "$@"; do
        if ! [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]]; then
            echo "$prog: --${pair%%:*} must be a positive integer, got '${pair#*:}'" >&2
            exit 2
        fi
    done
}

# need_maestro: exit 2 unless target/release/maestro has been built.
need_maestro() {
    if [[ ! -x $maestro ]]; then
        echo "$prog: $maestro not found; run 'cargo build --release' first" >&2
        exit 2
    fi
}

# need_slurm: exit 2 unless a Slurm node here takes jobs.
need_slurm() {
    if ! sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "$prog: no Slurm node takes jobs here: scripts/slurm-cluster.sh start" >&2
        exit 2
    fi
}

# need CMD...: exit 2 unless every CMD is installed.
need() {
    local cmd
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null 2>&1 || { echo "$prog: '$cmd' is required but not installed" >&2; exit 2; }
    done
}

# find_true: set true_bin to the path of a `true` executable, or exit 2.
find_true() {
    true_bin="$(command -v -p true 2>/dev/null || true)"
    [[ $true_bin == /* ]] || true_bin=/bin/true
    [[ -x $true_bin ]] || { echo "$prog: no 'true' executable found" >&2; exit 2; }
}

# build_spawnloop: set spawnloop to the raw spawn loop's binary, compiled
# with cc when its source changed (bench/.build is gitignored).
build_spawnloop() {
    local build_dir="$bench_dir/.build"
    spawnloop="$build_dir/spawnloop"
    if [[ ! -x $spawnloop || $bench_dir/spawnloop.c -nt $spawnloop ]]; then
        mkdir -p "$build_dir"
        cc -O2 -Wall -o "$spawnloop.tmp" "$bench_dir/spawnloop.c"
        mv "$spawnloop.tmp" "$spawnloop"
    fi
}

# find_ninja RUNNER: set ninja_bin to ninja's path, or to "" with a note that
# RUNNER is skipped if ninja is not installed.
find_ninja() {
    ninja_bin=""
    if command -v ninja >/dev/null 2>&1; then
        ninja_bin="$(command -v ninja)"
    else
        notes+=("ninja not installed: skipping $1 (apt-get install -y ninja-build)")
    fi
}

# first CMD...: the first line of CMD's output (stdout and stderr), whatever
# its exit status.
first() { "$@" 2>&1 | head -n1 || true; }

# header_start TITLE: print the header's first lines (title, date, host and
# load, maestro's git commit and version), noting uncommitted source changes
# and a binary older than the source.
header_start() {
    local commit
    commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if ! git -C "$repo" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null; then
        commit="$commit (+ uncommitted changes in src/Cargo)"
    fi
    if [[ -n $(find "$repo/src" "$repo/Cargo.toml" -newer "$maestro" -print -quit 2>/dev/null) ]]; then
        notes+=("target/release/maestro is older than the source: run 'cargo build --release'")
    fi
    echo "== maestro $1 benchmark =="
    echo "date:     $(date '+%Y-%m-%d %H:%M:%S %z')"
    echo "host:     nproc $(nproc), $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
    echo "maestro:  commit $commit, $(first "$maestro" --version)"
}

# tool_line NAME [BIN]: print "NAME:" and the first line of `BIN --version`
# (BIN defaults to NAME), or "not installed" if BIN is given but empty.
tool_line() {
    local bin="${2-$1}"
    if [[ -n $bin ]]; then
        printf '%-9s %s\n' "$1:" "$(first "$bin" --version)"
    else
        printf '%-9s %s\n' "$1:" "not installed"
    fi
}

# header_end: print the header's last lines, python's version and the notes.
header_end() {
    local note
    tool_line python python3
    for note in "${notes[@]+"${notes[@]}"}"; do
        echo "note:     $note"
    done
}
