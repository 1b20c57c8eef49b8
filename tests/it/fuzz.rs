//! Fuzzing on stable Rust, for a bounded time: the flow parser, templates
//! and `map`'s argument parsers get inputs mutated from the corpus of bad
//! inputs and from good flows, and must never panic; every diagnostic must
//! point inside its file and render. `MAESTRO_FUZZ_SECONDS` sets how long
//! each target runs (default 2; `bench/attacks.sh` runs them for minutes),
//! `MAESTRO_FUZZ_SEED` replays a run (the seed is printed).

use std::ffi::OsString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use maestro::diag::SourceFile;
use maestro::template::Template;

/// xorshift64*: enough randomness to mutate with, and replayable.
struct Rng(u64);

impl Rng {
    fn new() -> (Rng, u64) {
        let seed = std::env::var("MAESTRO_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                u64::from(nanos) | 1
            });
        (Rng(seed), seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces that mean something to TOML, templates, shells or `map`.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "\\",
    "\\u",
    "\\U0010FFFF",
    ".",
    ",",
    "{",
    "}",
    "\n",
    "\r\n",
    "#",
    " ",
    "\t",
    "tasks",
    "cmd",
    "deps",
    "for_each",
    "inputs",
    "outputs",
    "env",
    "timeout",
    "retries",
    "cpus",
    "resources",
    "jobs",
    "dir",
    "{}",
    "{.}",
    "{/}",
    "{//}",
    "{/.}",
    "{1}",
    "{-1}",
    "{#}",
    "{%}",
    "{0}",
    "$(",
    ")",
    "`",
    "0x",
    "1e9",
    "-",
    "+",
    "inf",
    "nan",
    "1979-05-27T07:32:00Z",
    "99999999999999999999",
    "\u{0}",
    "\u{feff}",
    "é",
    "\u{1b}[31m",
    ":::",
    "::::",
    ":::+",
    "::::+",
    "%",
    "now,fail=1",
    "soon,success=50%",
    "true",
    "false",
];

/// One of [`TOKENS`].
fn token(rng: &mut Rng) -> &'static str {
    TOKENS[rng.below(TOKENS.len())]
}

fn seconds() -> Duration {
    let seconds = std::env::var("MAESTRO_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok());
    Duration::from_secs_f64(seconds.unwrap_or(2.0))
}

/// The good and bad flows to start from.
fn seeds() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = vec![
        "[tasks.a]\ncmd = \"echo {}\"\nfor_each = [\"x\", \"y\"]\n[tasks.b]\ncmd = \"true\"\ndeps = [\"a\"]\n"
            .to_string(),
        "jobs = 2\n[resources]\ngpu = 1\n[tasks.t]\ncmd = \"x\"\ncpus = 2\nresources = { gpu = 1 }\ntimeout = \"5s\"\nretries = 2\nenv = { A = \"b\" }\n"
            .to_string(),
    ];
    for dir in [root.join("tests/corpus/flows"), root.join("examples/seed")] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                seeds.push(text);
            }
        }
    }
    seeds
}

/// `text` with one to eight mutations, each at a character boundary.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut text = text.to_string();
    for _ in 0..=rng.below(8) {
        let boundaries: Vec<usize> =
            (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
        let at = *rng.pick(&boundaries);
        let to = *rng.pick(&boundaries);
        let (from, to) = (at.min(to), at.max(to));
        match rng.below(5) {
            0 | 1 => text.insert_str(at, token(rng)),
            2 => {
                let end = boundaries.iter().copied().filter(|&b| b >= from && b <= from + 16);
                text.replace_range(from..end.max().unwrap_or(from), "");
            }
            3 => {
                let piece = text[from..to].to_string();
                text.insert_str(to, &piece);
            }
            _ => text.truncate(at),
        }
        if text.len() > 200_000 {
            text.truncate(text.floor_char_boundary(200_000));
        }
    }
    text
}

/// Runs `check` on inputs from `make` until the time is up; a panic fails
/// the test with the input that caused it and the seed to replay.
fn fuzz(target: &str, mut make: impl FnMut(&mut Rng) -> String, check: impl Fn(&str)) {
    let (mut rng, seed) = Rng::new();
    let deadline = Instant::now() + seconds();
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let input = make(&mut rng);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            panic!("{target}: panicked (MAESTRO_FUZZ_SEED={seed}) on {input:?}");
        }
        runs += 1;
    }
    eprintln!("fuzz {target}: {runs} inputs, seed {seed}");
    assert!(runs > 0);
}

#[test]
fn the_flow_parser_never_panics_and_points_inside_the_file() {
    let seeds = seeds();
    fuzz(
        "flow",
        |rng| {
            let seed = rng.below(seeds.len());
            mutate(rng, &seeds[seed])
        },
        |text| {
            let file = SourceFile { path: PathBuf::from("maestro.toml"), text: text.to_string() };
            if let Err(diagnostics) = maestro::flow::parse(&file) {
                assert!(!diagnostics.is_empty());
                for diagnostic in &diagnostics {
                    if let Some(span) = &diagnostic.span {
                        assert!(span.start <= span.end && span.end <= text.len(), "{span:?}");
                    }
                    let rendered = diagnostic.render(&file);
                    assert!(rendered.contains("error: "), "{rendered}");
                }
            }
        },
    );
}

#[test]
fn templates_never_panic() {
    fuzz(
        "template",
        |rng| {
            let mut text = String::new();
            for _ in 0..rng.below(12) {
                text.push_str(token(rng));
            }
            text
        },
        |text| {
            let template = Template::parse(text);
            let args: Vec<&[u8]> = vec![b"a b", b"$(x)", b"", b"\xff"];
            for quote in [true, false] {
                let _ = template.expand(&args, 7, 3, quote);
            }
            let _ = template.max_position();
        },
    );
}

#[test]
fn map_s_argument_parsers_never_panic() {
    use std::os::unix::ffi::OsStringExt;
    fuzz(
        "map arguments",
        |rng| {
            let mut words = Vec::new();
            for _ in 0..rng.below(6) {
                words.push(token(rng).to_string());
            }
            words.join("\u{1}")
        },
        |joined| {
            let words: Vec<OsString> =
                joined.split('\u{1}').map(|w| OsString::from_vec(w.as_bytes().to_vec())).collect();
            let _ = maestro::map::args::split_command_line(words, &[]);
            for word in joined.split('\u{1}') {
                let _ = maestro::map::args::parse_jobs(word, 2, 4096);
                let _ = maestro::map::args::parse_timeout(word);
                let _ = maestro::map::args::parse_colsep(word);
                let _ = maestro::map::halt::parse_halt(word);
                let _ = maestro::flow::parse_duration(word);
            }
        },
    );
}
