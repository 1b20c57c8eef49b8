//! GNU parallel's Perl: `{= perl expression =}`, `--rpl`, `--parens` and
//! `--filter` are Perl code, which maestro hands to one `perl` process for
//! the whole run (as parallel evaluates them in its own), so they mean
//! exactly what they mean there: `$_` is the value and its result, `@arg`
//! the job's values (from `$arg[1]`), `seq()`, `slot()`, `total_jobs()`,
//! `skip()`, `uq()`, `Q()`, `pQ()`, `hash()` and the time functions, and
//! variables keep their values from one job to the next.
//!
//! The code is the user's own, from the command line, as the command is;
//! input values reach Perl only as `$_` and `@arg`, never as code.
//!
//! Messages go both ways as length-prefixed strings (4 bytes, big-endian):
//! a request's kind, then its fields; the answer's kind, then its fields.

use std::cell::RefCell;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::template::Evaluator;

/// What an expression gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluated {
    /// `$_` after it; `unquoted` when it called `uq()`.
    Value {
        /// The value.
        bytes: Vec<u8>,
        /// `uq()`: not quoted for the shell.
        unquoted: bool,
    },
    /// It called `skip()`: the job does not run (`$_` after it, as for
    /// a value: a dry run shows it).
    Skip {
        /// The value.
        bytes: Vec<u8>,
        /// `uq()`.
        unquoted: bool,
    },
    /// It died, or perl is gone: why.
    Failed(String),
}

/// The Perl side: reads requests on stdin, answers on stdout.
const DRIVER: &str = r#"
use strict;
no warnings;
binmode STDIN;
binmode STDOUT;
$| = 1;

sub rd {
    my $head = '';
    return undef unless read(STDIN, $head, 4) == 4;
    my $len = unpack('N', $head);
    my $s = '';
    while (length($s) < $len) {
        my $got = read(STDIN, $s, $len - length($s), length($s));
        return undef unless $got;
    }
    return $s;
}
sub wr { print STDOUT map { pack('N', length($_)) . $_ } @_; }

package Arg;
our (@arg, $Seq, $Slot, $Total, $Skip, $Unquote);
sub Q($) {
    local $_ = $_[0];
    if (/[^-_.+a-z0-9\/]/i) { s/'/'"'"'/g; $_ = "'$_'"; s/^''//; s/''$//; return $_; }
    return $_ eq '' ? "''" : $_;
}
sub pQ($) { my $a = $_[0]; $a =~ s/[\\\"\$\@]/\\$&/g if defined $a; return $a; }
sub uq() { $Unquote = 1; }
sub hash($) { require B; B::hash(@_); }
sub total_jobs() { return $Total; }
sub skip() { $Skip = 1; }
sub slot() { return $Slot; }
sub seq() { return $Seq; }
use POSIX ();
sub stamp { POSIX::strftime($_[0], localtime()) }
sub yyyy_mm_dd_hh_mm_ss() { stamp('%Y-%m-%d %H:%M:%S') }
sub yyyy_mm_dd_hh_mm() { stamp('%Y-%m-%d %H:%M') }
sub yyyy_mm_dd() { stamp('%Y-%m-%d') }
sub hh_mm_ss() { stamp('%H:%M:%S') }
sub hh_mm() { stamp('%H:%M') }
sub yyyymmddhhmmss() { stamp('%Y%m%d%H%M%S') }
sub yyyymmddhhmm() { stamp('%Y%m%d%H%M') }
sub yyyymmdd() { stamp('%Y%m%d') }
sub hhmmss() { stamp('%H%M%S') }
sub hhmm() { stamp('%H%M') }

package Job;
sub seq { $Arg::Seq } sub slot { $Arg::Slot } sub skip { $Arg::Skip = 1 }
sub total_jobs { $Arg::Total }

package Arg;
my %compiled;
sub compiled {
    my $code = shift;
    return $compiled{$code} if $compiled{$code};
    my $sub = eval('sub { no strict; no warnings; my $job = shift; ' . $code . "\n}");
    $compiled{$code} = $sub if $sub;
    return $sub;
}
sub why { my $e = "$_[0]"; $e =~ s/ at \(eval \d+\) line \d+.*//s; chomp $e; return $e; }

# --rpl and --parens: GNU parallel's rewriting of a template, the Perl
# expressions marked with \x01 and \x02.
sub rewrite {
    my ($text, $left, $right, %rpl) = @_;
    $_ = $text;
    s[\Q$left\E((?:(?!\Q$left\E|\Q$right\E).)*?)\Q$right\E]{\x01$1\x02}gs;
    for my $rpl (sort { length $b <=> length $a } keys %rpl) {
        my ($prefix, $grp_regexp, $postfix) = $rpl =~ /^([^(]*)(\(.*\))?([^)]*)$/s;
        $grp_regexp ||= '';
        my $rplval = $rpl{$rpl};
        my $expand = sub {
            my ($position, @grp) = @_;
            my $rv = $rplval;
            $rv =~ s/\$\$(\d+)/\$_pAr_gRp$1/g;
            my $set_args = '';
            for my $i (1 .. $#grp) {
                last unless defined $grp[$i];
                $set_args .= "\$_pAr_gRp$i = \"" . pQ($grp[$i]) . "\";";
            }
            return "\x01" . $position . $set_args . $rv . "\x02";
        };
        while (s{((?:^|\x02)[^\x01]*?)\Q$prefix\E$grp_regexp\Q$postfix\E}{
            my $unchanged = $1;
            my @grp = (1);
            for (my $i = 2; defined $grp[$#grp]; $i++) { push @grp, eval '$' . $i; }
            $unchanged . $expand->('', @grp)
        }gxes) {}
        my $bare = $prefix;
        if ($bare =~ s/^\{//) {
            while (s{((?:^|\x02)[^\x01]*?)\{(-?\d+)\s*\Q$bare\E$grp_regexp\Q$postfix\E}{
                my ($unchanged, $position) = ($1, $2);
                my @grp = (1);
                for (my $i = 3; defined $grp[$#grp]; $i++) { push @grp, eval '$' . $i; }
                $unchanged . $expand->($position, @grp)
            }gxes) {}
        }
    }
    return $_;
}

while (defined(my $kind = main::rd())) {
    if ($kind eq 'check') {
        my $code = main::rd();
        if (compiled($code)) { main::wr('ok'); } else { main::wr('error', why($@)); }
    } elsif ($kind eq 'eval') {
        my ($code, $value, $seq, $slot, $total, $n) = map { main::rd() } 1 .. 6;
        @arg = (undef, map { main::rd() } 1 .. $n);
        ($Seq, $Slot, $Total, $Skip, $Unquote) = ($seq, $slot, ($total eq '' ? undef : $total), 0, 0);
        my $sub = compiled($code);
        if (!$sub) { main::wr('error', why($@)); next; }
        local $_ = $value;
        my $ok = eval { $sub->(bless({}, 'Job')); 1 };
        if (!$ok) { main::wr('error', why($@)); }
        elsif ($Skip) { main::wr('skip', $Unquote ? '1' : '0', defined($_) ? "$_" : ''); }
        else { main::wr('value', $Unquote ? '1' : '0', defined($_) ? "$_" : ''); }
    } elsif ($kind eq 'filter') {
        # As GNU parallel's --filter: code under strict, an error is false.
        my $code = main::rd();
        my $run = eval("package main; use strict; no warnings; $code");
        main::wr($run ? 'pass' : 'fail');
    } elsif ($kind eq 'rewrite') {
        my ($text, $left, $right, $n) = map { main::rd() } 1 .. 4;
        my %rpl = map { main::rd() } 1 .. 2 * $n;
        main::wr('text', rewrite($text, $left, $right, %rpl));
    }
}
"#;

/// The `perl` process of a run.
#[derive(Debug)]
pub struct Perl {
    io: RefCell<Pipes>,
}

#[derive(Debug)]
struct Pipes {
    child: Child,
    to: BufWriter<ChildStdin>,
    from: BufReader<ChildStdout>,
}

/// What a job's expressions are evaluated with.
#[derive(Debug, Clone, Copy)]
pub struct JobContext<'a> {
    /// `seq()`.
    pub seq: u64,
    /// `slot()`.
    pub slot: u32,
    /// `total_jobs()`, when known.
    pub total: Option<u64>,
    /// `@arg`, from `$arg[1]`.
    pub args: &'a [Vec<u8>],
}

impl Perl {
    /// Starts `perl`.
    pub fn start() -> io::Result<Perl> {
        let mut child = Command::new("perl")
            .arg("-e")
            .arg(DRIVER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start perl: {e}")))?;
        let to = BufWriter::new(child.stdin.take().expect("piped stdin"));
        let from = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Perl { io: RefCell::new(Pipes { child, to, from }) })
    }

    /// Sends a request; returns the answer's fields, its kind first.
    fn ask(&self, fields: &[&[u8]]) -> io::Result<Vec<Vec<u8>>> {
        let mut io = self.io.borrow_mut();
        for field in fields {
            io.to.write_all(&(field.len() as u32).to_be_bytes())?;
            io.to.write_all(field)?;
        }
        io.to.flush()?;
        let mut read = || -> io::Result<Vec<u8>> {
            let mut head = [0u8; 4];
            io.from.read_exact(&mut head).map_err(|e| io::Error::new(e.kind(), "perl ended"))?;
            let mut field = vec![0; u32::from_be_bytes(head) as usize];
            io.from.read_exact(&mut field)?;
            Ok(field)
        };
        let kind = read()?;
        // Each kind of answer has its number of fields.
        let more = match kind.as_slice() {
            b"value" | b"skip" => 2,
            b"error" | b"text" => 1,
            _ => 0,
        };
        let mut answer = vec![kind];
        for _ in 0..more {
            answer.push(read()?);
        }
        Ok(answer)
    }

    /// Whether `code` compiles; why not.
    pub fn check(&self, code: &str) -> io::Result<Result<(), String>> {
        let answer = self.ask(&[b"check", code.as_bytes()])?;
        Ok(match answer.first().map(Vec::as_slice) {
            Some(b"ok") => Ok(()),
            _ => {
                Err(String::from_utf8_lossy(answer.get(1).map_or(&[][..], Vec::as_slice))
                    .into_owned())
            }
        })
    }

    /// GNU parallel's rewriting of `text` for `--parens` (`left`, `right`)
    /// and `--rpl` (`tags`: (tag, code)): every Perl expression between
    /// [`PERL_START`] and [`PERL_END`].
    pub fn rewrite(
        &self,
        text: &str,
        left: &str,
        right: &str,
        tags: &[(String, String)],
    ) -> io::Result<String> {
        let count = tags.len().to_string();
        let mut fields: Vec<&[u8]> =
            vec![b"rewrite", text.as_bytes(), left.as_bytes(), right.as_bytes(), count.as_bytes()];
        for (tag, code) in tags {
            fields.push(tag.as_bytes());
            fields.push(code.as_bytes());
        }
        let answer = self.ask(&fields)?;
        let text = answer.get(1).cloned().unwrap_or_default();
        String::from_utf8(text)
            .map_err(|_| io::Error::other("perl made the template invalid UTF-8"))
    }

    /// `--filter`: whether `code` (its replacement strings filled in) is
    /// true; an error is false, as in GNU parallel.
    pub fn passes(&self, code: &str) -> io::Result<bool> {
        Ok(self.ask(&[b"filter", code.as_bytes()])?.first().is_some_and(|kind| kind == b"pass"))
    }

    /// `code` for one value of a job.
    pub fn evaluate(&self, code: &str, value: &[u8], job: &JobContext<'_>) -> Evaluated {
        let (seq, slot) = (job.seq.to_string(), job.slot.to_string());
        let total = job.total.map(|t| t.to_string()).unwrap_or_default();
        let count = job.args.len().to_string();
        let mut fields: Vec<&[u8]> = vec![
            b"eval",
            code.as_bytes(),
            value,
            seq.as_bytes(),
            slot.as_bytes(),
            total.as_bytes(),
            count.as_bytes(),
        ];
        fields.extend(job.args.iter().map(Vec::as_slice));
        match self.ask(&fields) {
            Ok(answer) => match answer.first().map(Vec::as_slice) {
                Some(b"value") => Evaluated::Value {
                    unquoted: answer.get(1).is_some_and(|flag| flag == b"1"),
                    bytes: answer.get(2).cloned().unwrap_or_default(),
                },
                Some(b"skip") => Evaluated::Skip {
                    unquoted: answer.get(1).is_some_and(|flag| flag == b"1"),
                    bytes: answer.get(2).cloned().unwrap_or_default(),
                },
                _ => Evaluated::Failed(
                    String::from_utf8_lossy(answer.get(1).map_or(&[][..], Vec::as_slice))
                        .into_owned(),
                ),
            },
            Err(e) => Evaluated::Failed(e.to_string()),
        }
    }
}

impl Drop for Perl {
    fn drop(&mut self) {
        let io = self.io.get_mut();
        // Its stdin closed, the driver's loop ends.
        let _ = io.to.flush();
        let _ = io.child.kill();
        let _ = io.child.wait();
    }
}

/// How long a match of the Perl regular expression `regex` at the start
/// of `text` is, if it matches there (`--pipe --header REGEX`), as a perl
/// of its own says.
pub fn prefix_match(regex: &str, text: &[u8]) -> io::Result<Option<usize>> {
    let mut child = Command::new("perl")
        .arg("-e")
        .arg("binmode STDIN; local $/; my $t = <STDIN>; print length($1) if $t =~ /^($ARGV[0])/;")
        .arg(regex)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start perl: {e}")))?;
    let mut to = child.stdin.take().expect("piped stdin");
    let text = text.to_vec();
    let writer = std::thread::spawn(move || to.write_all(&text));
    let output = child.wait_with_output()?;
    let _ = writer.join();
    let length = String::from_utf8_lossy(&output.stdout);
    Ok(length.trim().parse().ok())
}

/// A Perl expression's replacement: the text, and whether it stays
/// unquoted (`uq()`).
type Replacement = (Vec<u8>, bool);

/// A job's evaluator: [`Perl`] with the job's context, remembering a
/// skip or a failure for whoever builds its command line. An expression
/// runs once per value of the job, as in GNU parallel (the same string
/// twice in a command gives the same text), unless its result was false
/// to Perl ("" or "0"): GNU parallel's cache takes those for missing.
pub struct ForJob<'a> {
    perl: &'a Perl,
    job: JobContext<'a>,
    /// `skip()` was called.
    pub skipped: std::cell::Cell<bool>,
    /// Why an expression failed, if one did.
    pub failed: RefCell<Option<String>>,
    /// What each expression gave for each value.
    done: RefCell<std::collections::HashMap<(String, Vec<u8>), Replacement>>,
}

impl<'a> ForJob<'a> {
    /// The evaluator of `job`'s expressions.
    pub fn new(perl: &'a Perl, job: JobContext<'a>) -> ForJob<'a> {
        ForJob {
            perl,
            job,
            skipped: std::cell::Cell::new(false),
            failed: RefCell::new(None),
            done: RefCell::default(),
        }
    }
}

impl Evaluator for ForJob<'_> {
    fn evaluate(&self, code: &str, value: &[u8]) -> Option<(Vec<u8>, bool)> {
        let key = (code.to_string(), value.to_vec());
        let done = self.done.borrow().get(&key).cloned();
        if let Some(done) = done.filter(|(value, _)| !value.is_empty() && value != b"0") {
            return Some(done);
        }
        match self.perl.evaluate(code, value, &self.job) {
            Evaluated::Value { bytes, unquoted } => {
                self.done.borrow_mut().insert(key, (bytes.clone(), unquoted));
                Some((bytes, unquoted))
            }
            Evaluated::Skip { bytes, unquoted } => {
                self.skipped.set(true);
                Some((bytes, unquoted))
            }
            Evaluated::Failed(why) => {
                self.failed.borrow_mut().get_or_insert(why);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(args: &[&str]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn expressions_see_the_value_the_job_and_keep_their_variables() {
        let perl = Perl::start().unwrap();
        let args = job(&["a.tar.gz", "b"]);
        let context = JobContext { seq: 7, slot: 2, total: Some(9), args: &args };
        let value = |code: &str, value: &str| match perl.evaluate(code, value.as_bytes(), &context)
        {
            Evaluated::Value { bytes, unquoted } => (String::from_utf8(bytes).unwrap(), unquoted),
            other => panic!("{code}: {other:?}"),
        };
        assert_eq!(value("s:\\.[^.]+$::;s:\\.[^.]+$::;", "a.tar.gz"), ("a".into(), false));
        assert_eq!(
            value("$_ = seq() . '/' . total_jobs() . '@' . slot()", "x"),
            ("7/9@2".into(), false)
        );
        assert_eq!(value("$_ = $arg[2] . $job->seq()", "x"), ("b7".into(), false));
        assert_eq!(value("$_ = $n++", "x"), ("0".into(), false));
        assert_eq!(value("$_ = $n++", "x"), ("1".into(), false));
        assert_eq!(value("uq()", "a b"), ("a b".into(), true));
        assert_eq!(value("$_ = Q($_)", "a b"), ("'a b'".into(), false));
        assert!(matches!(perl.evaluate("skip()", b"x", &context), Evaluated::Skip { .. }));
        assert!(
            matches!(perl.evaluate("die 'no'", b"x", &context), Evaluated::Failed(why) if why == "no")
        );
        assert!(perl.check("s/a/").unwrap().is_err());
        assert_eq!(perl.check("$_++").unwrap(), Ok(()));
    }

    #[test]
    fn rpl_tags_become_perl_expressions_as_in_parallel() {
        let perl = Perl::start().unwrap();
        let tags = [("{..}".to_string(), "s:\\.[^.]+$::;s:\\.[^.]+$::;".to_string())];
        let text = perl.rewrite("echo {..} {2..} {=$_++=}", "{=", "=}", &tags).unwrap();
        assert!(perl.passes("1 < 2").unwrap());
        assert!(!perl.passes("ab =~ /b/").unwrap());
        assert_eq!(
            text,
            "echo \u{1}s:\\.[^.]+$::;s:\\.[^.]+$::;\u{2} \u{1}2s:\\.[^.]+$::;s:\\.[^.]+$::;\u{2} \u{1}$_++\u{2}"
        );
        let dynamic = [("{%(.*?)}".to_string(), "s/$$1//".to_string())];
        let text = perl.rewrite("echo {%.tar.gz}", "{=", "=}", &dynamic).unwrap();
        assert_eq!(text, "echo \u{1}$_pAr_gRp1 = \".tar.gz\";s/$_pAr_gRp1//\u{2}");
    }
}
