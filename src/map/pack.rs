//! `-m`, `-X`, `--xargs`: as many inputs in each job as its command line
//! holds, GNU parallel's way. A job takes inputs (records: one value per
//! source) while its command line stays within [`LONGEST_COMMAND`] bytes,
//! and at most `-N` of them. If the first job took every input, they are
//! spread evenly over the job slots instead (not with `--xargs`): `-j4 -m
//! echo ::: 1 2 3 4 5 6 7 8 9 10` runs four jobs of 3, 3, 3 and 1.

use std::collections::VecDeque;

use super::feed::JobSource;
use super::inputs::{InputError, Job};
use super::job::command_for;
use crate::template::Template;

/// The longest command line a job gets: GNU parallel's, which is half of
/// what the system takes less 3,000 bytes (it keeps room to wrap and
/// encode the command), where the system takes about 130,000 bytes in one
/// argument (Linux's `MAX_ARG_STRLEN` is 128 KiB, and the shell's `-c`
/// gets the command as one).
pub const LONGEST_COMMAND: usize = 63_662;

/// How inputs are packed into jobs.
#[derive(Debug, Clone)]
pub struct Packing {
    /// The template the command lines are built from.
    pub template: Option<Template>,
    /// `-N`: inputs per job, at most.
    pub most: Option<usize>,
    /// Spread the inputs over the job slots when they fit in one job
    /// (`-m`, `-X`; not `--xargs`).
    pub spread_over: Option<u32>,
}

/// Jobs of as many inputs as fit, from a source of one input per job.
pub struct Packed {
    inputs: Box<dyn JobSource>,
    packing: Packing,
    /// A record read but left for the next job.
    left: Option<Job>,
    ready: VecDeque<Job>,
    first: bool,
    ended: bool,
    next_seq: u64,
}

impl Packed {
    /// Packs the jobs of `inputs`, each of one input.
    pub fn new(inputs: Box<dyn JobSource>, packing: Packing) -> Packed {
        Packed {
            inputs,
            packing,
            left: None,
            ready: VecDeque::new(),
            first: true,
            ended: false,
            next_seq: 1,
        }
    }

    /// The length of a command line of `record` alone, and what `record`
    /// adds to a line that has inputs already (with its separator): the
    /// length of a line is linear in its inputs.
    fn lengths(&self, record: &Job) -> (usize, usize) {
        let template = self.packing.template.as_ref();
        let alone = command_for(template, record, 1, None).len();
        let mut twice = record.clone();
        twice.args.extend(record.args.iter().cloned());
        let added = command_for(template, &twice, 1, None).len().saturating_sub(alone);
        (alone, added)
    }

    /// Fills the next job: inputs until the line is full, `-N` is reached
    /// or the inputs end.
    fn fill(&mut self) -> Result<(), InputError> {
        let mut records: Vec<Job> = Vec::new();
        let mut length = 0;
        loop {
            if self.packing.most.is_some_and(|most| records.len() >= most) {
                break;
            }
            let record = match self.left.take() {
                Some(record) => record,
                None => match self.inputs.next_job()? {
                    Some(record) => record,
                    None => {
                        self.ended = true;
                        break;
                    }
                },
            };
            let (alone, added) = self.lengths(&record);
            if records.is_empty() {
                length = alone;
            } else if length + added > LONGEST_COMMAND {
                self.left = Some(record);
                break;
            } else {
                length += added;
            }
            records.push(record);
        }
        let first = std::mem::replace(&mut self.first, false);
        let per_job = match self.packing.spread_over {
            Some(slots) if first && self.ended && records.len() > 1 => {
                records.len().div_ceil(slots.max(1) as usize)
            }
            _ => records.len().max(1),
        };
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let args = records.by_ref().take(per_job).flat_map(|record| record.args).collect();
            let seq = self.next_seq;
            self.next_seq += 1;
            self.ready.push_back(Job { seq, args, stdin: crate::exec::Stdin::Null });
        }
        Ok(())
    }
}

impl JobSource for Packed {
    fn next_job(&mut self) -> Result<Option<Job>, InputError> {
        while self.ready.is_empty() && !self.ended {
            self.fill()?;
        }
        Ok(self.ready.pop_front())
    }
    fn total(&self) -> Option<u64> {
        None
    }
    fn may_wait(&self) -> bool {
        self.inputs.may_wait()
    }
    fn at_hand(&self) -> bool {
        !self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::args::{Source, SourceKind};
    use crate::map::inputs::{Inputs, Parsing};

    fn packed(values: &[&str], template: &str, packing: Packing) -> Vec<String> {
        let words = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        let source = Source { kind: SourceKind::Args(words), linked: false };
        let inputs = Inputs::open(&[source], Parsing::default()).unwrap();
        let template = Template::parse(template);
        let packing = Packing { template: Some(template.clone()), ..packing };
        let mut jobs = Packed::new(Box::new(inputs), packing);
        let mut lines = Vec::new();
        while let Some(job) = jobs.next_job().unwrap() {
            let line = command_for(Some(&template), &job, 1, None);
            lines.push(String::from_utf8(line).unwrap());
        }
        lines
    }

    #[test]
    fn inputs_that_fit_one_job_are_spread_over_the_slots() {
        let values = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
        let packing = Packing { template: None, most: None, spread_over: Some(4) };
        let lines = packed(&values, "echo", packing);
        assert_eq!(lines, ["echo 1 2 3", "echo 4 5 6", "echo 7 8 9", "echo 10"]);
        let xargs = Packing { template: None, most: None, spread_over: None };
        assert_eq!(packed(&values, "echo", xargs), ["echo 1 2 3 4 5 6 7 8 9 10"]);
    }

    #[test]
    fn at_most_n_inputs_per_job() {
        let packing = Packing { template: None, most: Some(2), spread_over: Some(2) };
        assert_eq!(packed(&["a", "b", "c"], "echo {}", packing), ["echo a b", "echo c"]);
    }

    #[test]
    fn a_full_command_line_starts_the_next_job() {
        let values: Vec<String> = (0..30_000).map(|n| format!("{n:05}")).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let packing = Packing { template: None, most: None, spread_over: Some(2) };
        let lines = packed(&values, "echo", packing);
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|line| line.len() <= LONGEST_COMMAND));
        let all: Vec<&str> = lines.iter().flat_map(|l| l.split(' ').skip(1)).collect();
        assert_eq!(all, values);
    }
}
