//! How a fleet run proceeds: a few units in flight at once, each finished unit reported, and a stop signal
//! that keeps new units from starting while the ones in flight finish (an interrupted unit would be left
//! half done; a unit never started is simply done by the next run).

use std::future::Future;

use futures::{StreamExt, future, stream};
use tokio_util::sync::CancellationToken;

/// Told of each finished unit: how many are done, of how many, and a one-line outcome.
pub type Progress<'a> = dyn Fn(usize, usize, &str) + Sync + 'a;

/// The pace of a fleet run.
pub struct Pace<'a> {
    /// Units in flight at once (at least 1).
    pub concurrency: usize,
    /// Hears of each finished unit.
    pub progress: &'a Progress<'a>,
    /// Once cancelled, no further unit starts.
    pub stop: CancellationToken,
}

impl<'a> Pace<'a> {
    /// `concurrency` units at a time, telling `progress`, stopped by `stop`.
    pub fn new(concurrency: usize, progress: &'a Progress<'a>, stop: CancellationToken) -> Self {
        Self {
            concurrency: concurrency.max(1),
            progress,
            stop,
        }
    }
}

/// The result of running every item: one result per item, in the items' order, and whether the run was
/// stopped (items never started got `not_started`'s result).
pub(super) struct Ran<T> {
    /// One result per item.
    pub results: Vec<T>,
    /// Whether the stop signal kept some items from starting.
    pub stopped: bool,
}

/// Run `work` on each item at the given pace, the first `lead` items one by one before the others start
/// (the first unit creates what every unit shares, such as the policy, instead of all racing to); `line`
/// describes a finished item for `progress`.
pub(super) async fn each<'i, I, T, Fut>(
    items: &'i [I],
    lead: usize,
    pace: &Pace<'_>,
    work: impl Fn(&'i I) -> Fut,
    line: impl Fn(&T) -> String,
    not_started: impl Fn(&I) -> T,
) -> Ran<T>
where
    Fut: Future<Output = T>,
{
    let total = items.len();
    let lead = lead.min(total);
    let report = |finished: usize, (index, result): (usize, T)| {
        (pace.progress)(finished, total, &line(&result));
        (index, result)
    };
    let mut done: Vec<(usize, T)> = Vec::with_capacity(total);
    for (index, item) in items.iter().enumerate().take(lead) {
        if pace.stop.is_cancelled() {
            break;
        }
        let result = work(item).await;
        done.push(report(index + 1, (index, result)));
    }
    let already = done.len();
    // Indexes, not references, go through the stream: closures over borrowed items are not general
    // enough for the `Send` futures the MCP server spawns.
    let rest: Vec<(usize, T)> = stream::iter(already..total)
        .take_while(|_| future::ready(!pace.stop.is_cancelled()))
        .map(|index| {
            let run = work(&items[index]);
            async move { (index, run.await) }
        })
        .buffer_unordered(pace.concurrency)
        .enumerate()
        .map(|(finished, done)| report(already + finished + 1, done))
        .collect()
        .await;
    done.extend(rest);
    let stopped = done.len() < total;
    done.sort_by_key(|(index, _)| *index);
    let mut done = done.into_iter().peekable();
    let results = items
        .iter()
        .enumerate()
        .map(|(index, item)| match done.next_if(|(i, _)| *i == index) {
            Some((_, result)) => result,
            None => not_started(item),
        })
        .collect();
    Ran { results, stopped }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_stop_lets_the_units_in_flight_finish_and_starts_no_more() {
        let stop = CancellationToken::new();
        let heard = AtomicUsize::new(0);
        // Stopped as the first unit is reported: unit 1 is in flight then, unit 2 not yet started.
        let progress = |_: usize, _: usize, _: &str| {
            heard.fetch_add(1, Ordering::SeqCst);
            stop.cancel();
        };
        let pace = Pace::new(2, &progress, stop.clone());
        let items: Vec<usize> = (0..10).collect();
        let work = |&i: &usize| async move {
            tokio::task::yield_now().await;
            Some(i)
        };
        let ran = each(&items, 0, &pace, work, |r| format!("{r:?}"), |_| None).await;
        assert!(ran.stopped);
        let finished: Vec<usize> = ran.results.iter().flatten().copied().collect();
        assert_eq!(finished, [0, 1], "unit 1 was in flight and finished");
        assert!(ran.results[2..].iter().all(Option::is_none));
        assert_eq!(heard.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn without_a_stop_every_item_runs_in_order() {
        let pace = Pace::new(3, &|_, _, _| {}, CancellationToken::new());
        let items: Vec<usize> = (0..7).collect();
        let ran = each(
            &items,
            1,
            &pace,
            |&i| async move { i * 2 },
            |r| r.to_string(),
            |_| 0,
        )
        .await;
        assert!(!ran.stopped);
        assert_eq!(ran.results, [0, 2, 4, 6, 8, 10, 12]);
    }
}
