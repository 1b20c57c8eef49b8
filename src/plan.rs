//! The scheduler, with no I/O: which instance starts next, given what has
//! finished. Ready instances start longest-remaining-path first; job slots
//! and named resources are pools taken all at once or not at all, so nothing
//! is ever held partially and no two instances can deadlock on them.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use foldhash::HashMap;
use std::time::Duration;

use crate::graph::Graph;

/// Where one instance stands, as far as the scheduler knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not part of this run (not selected).
    Excluded,
    /// Waiting for this many deps.
    Waiting(u32),
    /// Deps done; waiting for slots and resources.
    Ready,
    /// Started and not finished.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished and failed (after its retries).
    Failed,
    /// Not run because a dep failed or was not run.
    DepFailed,
    /// Not run because the run stopped first (fail-fast or interrupt).
    Cancelled,
}

/// Why an instance that is not finished cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// It needs more job slots than there are.
    Slots {
        /// The slots it needs.
        needs: u32,
        /// The slots there are.
        total: u32,
    },
    /// It needs more units of a resource than there are.
    Units {
        /// The resource's index.
        resource: usize,
        /// The units it needs.
        needs: u32,
        /// The resource's capacity.
        capacity: u32,
    },
    /// It waits for deps that have not finished.
    Deps,
}

/// What a started instance holds until it finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The instance.
    pub instance: usize,
    /// Job slot ids, from 1, lowest first.
    pub slots: Vec<u32>,
    /// For each resource the instance uses: (resource index, unit ids from 0).
    pub units: Vec<(usize, Vec<u32>)>,
}

/// Units of one capacity, handed out lowest id first.
#[derive(Debug, Clone)]
struct Pool {
    free: BTreeSet<u32>,
    /// Units in all, free or not.
    size: u32,
}

impl Pool {
    fn new(ids: impl Iterator<Item = u32>) -> Pool {
        let free: BTreeSet<u32> = ids.collect();
        Pool { size: free.len() as u32, free }
    }

    fn has(&self, amount: u32) -> bool {
        self.free.len() >= amount as usize
    }

    fn take(&mut self, amount: u32) -> Vec<u32> {
        (0..amount).filter_map(|_| self.free.pop_first()).collect()
    }

    fn give_back(&mut self, ids: &[u32]) {
        self.free.extend(ids);
    }
}

/// Ready instances with the same demand (slots and resources) in one heap,
/// so that finding the best instance that fits looks at one head per demand
/// instead of every ready instance.
type Demand = (u32, Box<[(usize, u32)]>);

/// Scheduling state of one run.
#[derive(Debug)]
pub struct Plan<'g> {
    graph: &'g Graph,
    standing: Vec<Standing>,
    priority: Vec<Duration>,
    /// Per join, its selected members yet to succeed.
    join_waiting: Vec<u32>,
    /// Per settings (in `Graph::settings`), the demand of its instances.
    demand_of: Vec<usize>,
    demands: Vec<Demand>,
    ready: Vec<BinaryHeap<(Duration, Reverse<usize>)>>,
    slots: Pool,
    units: Vec<Pool>,
    held: HashMap<usize, Grant>,
    keep_going: bool,
    stopped: bool,
    unfinished: usize,
}

impl<'g> Plan<'g> {
    /// A plan for the `selected` instances of `graph`, with `jobs` slots.
    /// `priority` is each instance's longest remaining path.
    pub fn new(
        graph: &'g Graph,
        selected: &[bool],
        jobs: u32,
        priority: Vec<Duration>,
        keep_going: bool,
    ) -> Plan<'g> {
        let n = graph.instances.len();
        let mut demands: Vec<Demand> = Vec::new();
        let mut demand_index: HashMap<Demand, usize> = HashMap::default();
        let mut demand_of = Vec::with_capacity(graph.settings.len());
        for settings in &graph.settings {
            let demand = (settings.slots, settings.resources.clone());
            let next = demands.len();
            let index = *demand_index.entry(demand.clone()).or_insert_with(|| {
                demands.push(demand);
                next
            });
            demand_of.push(index);
        }
        // More slots than every selected instance could hold at once are
        // never taken: not made either (`-j 4294967295` is not 4 billion).
        let most_used: u64 =
            (0..n).filter(|&i| selected[i]).map(|i| u64::from(graph.settings_of(i).slots)).sum();
        let slots = u32::try_from(most_used).unwrap_or(u32::MAX).min(jobs);
        let join_waiting = graph
            .joins
            .iter()
            .map(|join| join.members.clone().filter(|&m| selected[m]).count() as u32)
            .collect();
        let mut plan = Plan {
            graph,
            standing: vec![Standing::Excluded; n],
            priority,
            join_waiting,
            demand_of,
            ready: vec![BinaryHeap::new(); demands.len()],
            demands,
            slots: Pool::new(1..=slots),
            units: graph.resources.iter().map(|r| Pool::new(0..r.capacity)).collect(),
            held: HashMap::default(),
            keep_going,
            stopped: false,
            unfinished: 0,
        };
        for (i, instance) in graph.instances.iter().enumerate() {
            if !selected[i] {
                continue;
            }
            plan.unfinished += 1;
            let waiting = instance.deps.iter().filter(|&&d| selected[d]).count()
                + instance.joins.iter().filter(|&&j| plan.join_waiting[j] > 0).count();
            let waiting = waiting as u32;
            plan.standing[i] = Standing::Waiting(waiting);
            if waiting == 0 {
                plan.make_ready(i);
            }
        }
        plan
    }

    fn make_ready(&mut self, i: usize) {
        self.standing[i] = Standing::Ready;
        let demand = self.demand_of[self.graph.task_of(i).settings as usize];
        self.ready[demand].push((self.priority[i], Reverse(i)));
    }

    /// The next instance to start now, with what it holds; `None` when
    /// nothing more can start until something finishes.
    pub fn next_start(&mut self) -> Option<Grant> {
        if self.stopped || self.slots.free.is_empty() {
            return None;
        }
        // The best head among the demands that fit right now.
        let best = (0..self.ready.len())
            .filter(|&d| self.fits(d))
            .filter_map(|d| self.ready[d].peek().map(|&head| (head, d)))
            .max()?;
        let (_, Reverse(instance)) = self.ready[best.1].pop()?;
        let (cpus, resources) = &self.demands[best.1];
        let grant = Grant {
            instance,
            slots: self.slots.take(*cpus),
            units: resources.iter().map(|&(r, amount)| (r, self.units[r].take(amount))).collect(),
        };
        self.standing[instance] = Standing::Running;
        self.held.insert(instance, grant.clone());
        Some(grant)
    }

    /// The ready instance that starts next if whatever it needs frees up:
    /// the best head over every demand, fitting now or not.
    pub fn peek_next(&self) -> Option<usize> {
        let (_, Reverse(instance)) = self.ready.iter().filter_map(|heap| heap.peek()).max()?;
        Some(*instance)
    }

    fn fits(&self, demand: usize) -> bool {
        let (cpus, resources) = &self.demands[demand];
        self.slots.has(*cpus) && resources.iter().all(|&(r, amount)| self.units[r].has(amount))
    }

    /// Records that a running instance finished. Returns the instances that
    /// will now never run because of it (dep failed or run stopped).
    pub fn finish(&mut self, instance: usize, succeeded: bool) -> Vec<usize> {
        if let Some(grant) = self.held.remove(&instance) {
            self.slots.give_back(&grant.slots);
            for (r, ids) in &grant.units {
                self.units[*r].give_back(ids);
            }
        }
        self.unfinished -= 1;
        if succeeded {
            self.standing[instance] = Standing::Succeeded;
            let graph = self.graph;
            graph.dependents.of(instance).for_each(|d| self.one_dep_done(d));
            if let Some(join) = graph.join_of(instance) {
                self.join_waiting[join] -= 1;
                if self.join_waiting[join] == 0 {
                    graph.joins[join].dependents.iter().for_each(|&d| self.one_dep_done(d));
                }
            }
            return Vec::new();
        }
        self.standing[instance] = Standing::Failed;
        if self.keep_going { self.abandon_dependents_of(instance) } else { self.stop() }
    }

    fn one_dep_done(&mut self, instance: usize) {
        if let Standing::Waiting(n) = self.standing[instance] {
            if n == 1 {
                self.make_ready(instance);
            } else {
                self.standing[instance] = Standing::Waiting(n - 1);
            }
        }
    }

    /// Marks every instance downstream of `failed` as not runnable.
    fn abandon_dependents_of(&mut self, failed: usize) -> Vec<usize> {
        let graph = self.graph;
        let mut abandoned = Vec::new();
        // A join a member of which will never succeed is abandoned once.
        let mut joins_abandoned = vec![false; graph.joins.len()];
        let mut stack = vec![failed];
        while let Some(i) = stack.pop() {
            if i != failed {
                if !matches!(self.standing[i], Standing::Waiting(_)) {
                    continue;
                }
                self.standing[i] = Standing::DepFailed;
                self.unfinished -= 1;
                abandoned.push(i);
            }
            stack.extend(graph.dependents.of(i));
            if let Some(join) = graph.join_of(i)
                && !std::mem::replace(&mut joins_abandoned[join], true)
            {
                stack.extend(&graph.joins[join].dependents);
            }
        }
        abandoned.sort_unstable();
        abandoned
    }

    /// Starts nothing more: every instance not yet started is cancelled.
    /// Running ones are still waited for. Returns the cancelled instances.
    pub fn stop(&mut self) -> Vec<usize> {
        self.stopped = true;
        for heap in &mut self.ready {
            heap.clear();
        }
        let mut cancelled = Vec::new();
        for (i, standing) in self.standing.iter_mut().enumerate() {
            if matches!(standing, Standing::Waiting(_) | Standing::Ready) {
                *standing = Standing::Cancelled;
                cancelled.push(i);
            }
        }
        self.unfinished -= cancelled.len();
        cancelled
    }

    /// Whether every selected instance has an outcome.
    pub fn is_done(&self) -> bool {
        self.unfinished == 0
    }

    /// When nothing runs but unfinished instances remain (checked flows
    /// cannot get here: reported, not hung), the first one that could start
    /// but never fits, or else the first one waiting, and why.
    pub fn stuck(&self) -> Option<(usize, Blocked)> {
        if self.is_done() || !self.held.is_empty() {
            return None;
        }
        let never_fits = self.ready.iter().flat_map(|heap| heap.iter()).map(|&(_, Reverse(i))| i);
        if let Some(instance) = never_fits.min() {
            let demand = self.demand_of[self.graph.task_of(instance).settings as usize];
            let (cpus, resources) = &self.demands[demand];
            let blocked = resources
                .iter()
                .find(|&&(r, amount)| amount > self.units[r].size)
                .map(|&(resource, needs)| Blocked::Units {
                    resource,
                    needs,
                    capacity: self.units[resource].size,
                })
                .unwrap_or(Blocked::Slots { needs: *cpus, total: self.slots.size });
            return Some((instance, blocked));
        }
        let waiting = self.standing.iter().position(|s| matches!(s, Standing::Waiting(_)))?;
        Some((waiting, Blocked::Deps))
    }

    /// Where each instance stands.
    pub fn standings(&self) -> &[Standing] {
        &self.standing
    }

    /// Where each instance stands at the end, the rest of the plan let go.
    pub fn into_standings(self) -> Vec<Standing> {
        self.standing
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Dependents, Graph, Resource};
    use std::path::Path;

    fn graph(stages: &[&[&str]]) -> Graph {
        let stages: Vec<Vec<String>> =
            stages.iter().map(|s| s.iter().map(|c| c.to_string()).collect()).collect();
        Graph::from_stages(&stages, Path::new("."))
    }

    fn plan(g: &Graph, jobs: u32, keep_going: bool) -> Plan<'_> {
        let priority = g.remaining_path(|_| Duration::from_secs(1));
        Plan::new(g, &vec![true; g.instances.len()], jobs, priority, keep_going)
    }

    fn drain(p: &mut Plan) -> Vec<usize> {
        std::iter::from_fn(|| p.next_start()).map(|g| g.instance).collect()
    }

    #[test]
    fn starts_up_to_jobs_and_follows_stages() {
        let g = graph(&[&["a", "b", "c"], &["d"]]);
        let mut p = plan(&g, 2, false);
        assert_eq!(drain(&mut p), vec![0, 1]);
        p.finish(0, true);
        assert_eq!(drain(&mut p), vec![2]);
        p.finish(1, true);
        p.finish(2, true);
        assert_eq!(drain(&mut p), vec![3]);
        p.finish(3, true);
        assert!(p.is_done());
    }

    #[test]
    fn longest_remaining_path_goes_first() {
        // 3 has a dependent, so its path is longer than 0..2.
        let mut g = graph(&[&["a", "b", "c", "long"], &["after"]]);
        g.instances[4].deps = Box::new([3]);
        g.instances[4].joins = Box::default();
        g.joins.clear();
        g.tasks[0].join = None;
        g.dependents = Dependents::from_deps(&g.instances);
        let mut p = plan(&g, 1, false);
        assert_eq!(drain(&mut p), vec![3]);
    }

    #[test]
    fn fail_fast_cancels_the_rest_and_keep_going_only_downstream() {
        let g = graph(&[&["a", "b", "c"], &["d"]]);
        let mut p = plan(&g, 1, false);
        assert_eq!(drain(&mut p), vec![0]);
        assert_eq!(p.finish(0, false), vec![1, 2, 3]);
        assert!(p.is_done());

        let mut p = plan(&g, 1, true);
        drain(&mut p);
        assert_eq!(p.finish(0, false), vec![3]);
        assert_eq!(drain(&mut p), vec![1]);
        p.finish(1, true);
        assert_eq!(drain(&mut p), vec![2]);
        p.finish(2, true);
        assert!(p.is_done());
        assert_eq!(p.standings()[3], Standing::DepFailed);
    }

    #[test]
    fn resources_are_taken_whole_with_stable_lowest_ids() {
        let mut g = graph(&[&["a", "b", "c"]]);
        g.resources = vec![Resource { name: "gpu".into(), capacity: 3 }];
        g.own_settings(0).resources = Box::new([(0, 2)]);
        g.own_settings(1).resources = Box::new([(0, 2)]);
        g.own_settings(2).slots = 2;
        let mut p = plan(&g, 3, false);
        let first = p.next_start().unwrap();
        assert_eq!(first.units, vec![(0, vec![0, 1])]);
        // b needs 2 gpus but only 1 is free; c needs 2 slots and 2 are free.
        let second = p.next_start().unwrap();
        assert_eq!((second.instance, second.slots.clone()), (2, vec![2, 3]));
        assert!(p.next_start().is_none());
        p.finish(0, true);
        assert_eq!(p.next_start().unwrap().units, vec![(0, vec![0, 1])]);
    }

    #[test]
    fn peek_next_names_what_starts_next_once_it_fits() {
        let mut g = graph(&[&["a", "b", "c"]]);
        g.resources = vec![Resource { name: "gpu".into(), capacity: 1 }];
        g.own_settings(0).resources = Box::new([(0, 1)]);
        g.own_settings(1).resources = Box::new([(0, 1)]);
        let mut p = plan(&g, 3, false);
        assert_eq!(drain(&mut p), vec![0, 2]);
        // b waits for the gpu, and is still what starts next.
        assert_eq!(p.peek_next(), Some(1));
        p.finish(0, true);
        assert_eq!(p.next_start().map(|g| g.instance), Some(1));
        assert_eq!(p.peek_next(), None);

        let mut p = plan(&g, 1, false);
        assert_eq!(drain(&mut p), vec![0]);
        assert_eq!(p.peek_next(), Some(1));
        p.finish(0, false);
        assert_eq!(p.peek_next(), None, "a failure stops the run: nothing is next");
    }

    #[test]
    fn many_ready_instances_schedule_in_order() {
        let names: Vec<String> = (0..5000).map(|i| i.to_string()).collect();
        let g = Graph::from_stages(&[names], Path::new("."));
        let mut p = plan(&g, 2, false);
        let mut order = Vec::new();
        while !p.is_done() {
            let started = drain(&mut p);
            for &i in &started {
                p.finish(i, true);
            }
            order.extend(started);
        }
        assert_eq!(order, (0..5000).collect::<Vec<_>>());
    }
}
