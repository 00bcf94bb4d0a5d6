//! [`Gate`]: a go-ahead decided elsewhere. A deploy given one prepares its release on
//! every host (upload, unpack, verify, smoke test) while the decision is pending, and
//! makes the release and the switch only once it is given: `deploy-local-build` prepares
//! the deploy while the tests run, and a failed test leaves every host as it was.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A decision to go on or not, made once by whoever holds the gate and awaited by every
/// host of a deploy.
#[derive(Debug)]
pub struct Gate {
    /// What it waits for, as progress shows it: "the tests".
    what: String,
    decision: Mutex<Option<Result<(), String>>>,
    decided: Condvar,
}

impl Gate {
    /// A gate waiting for `what` ("the tests").
    pub fn new(what: &str) -> Gate {
        Gate { what: what.to_owned(), decision: Mutex::new(None), decided: Condvar::new() }
    }

    /// What the gate waits for.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Lets every host go on. A gate decided before keeps its first decision.
    pub fn open(&self) {
        self.decide(Ok(()));
    }

    /// Stops every host before it makes its release, because of `reason`; what the
    /// hosts prepared is removed. A gate decided before keeps its first decision.
    pub fn refuse(&self, reason: &str) {
        self.decide(Err(reason.to_owned()));
    }

    fn decide(&self, decision: Result<(), String>) {
        let mut slot = self.decision.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(decision);
            self.decided.notify_all();
        }
    }

    /// The reason it was refused, if it was (without waiting).
    pub(crate) fn refused(&self) -> Option<String> {
        match &*self.decision.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(Err(reason)) => Some(reason.clone()),
            _ => None,
        }
    }

    /// Waits for the decision, calling `tick` every `every` meanwhile (a host renews its
    /// lock so a long test run does not make it look stale).
    pub(crate) fn wait(&self, every: Duration, mut tick: impl FnMut()) -> Result<(), String> {
        let mut slot = self.decision.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(decision) = &*slot {
                return decision.clone();
            }
            let (next, _) = self.decided.wait_timeout(slot, every).unwrap_or_else(|e| e.into_inner());
            slot = next;
            if slot.is_none() {
                drop(slot);
                tick();
                slot = self.decision.lock().unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn every_waiter_gets_the_first_decision_and_ticks_while_it_waits() {
        let gate = Gate::new("the tests");
        let ticks = AtomicUsize::new(0);
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let waiters: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        gate.wait(Duration::from_millis(5), || {
                            ticks.fetch_add(1, Ordering::SeqCst);
                        })
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(60));
            assert_eq!(gate.refused(), None);
            gate.refuse("2 tests failed");
            gate.open();
            waiters.into_iter().map(|w| w.join().unwrap()).collect()
        });
        assert_eq!(results, vec![Err("2 tests failed".to_owned()); 3]);
        assert!(ticks.load(Ordering::SeqCst) >= 3, "each waiter ticked while it waited");
        assert_eq!(gate.refused().as_deref(), Some("2 tests failed"));
        // Decided: no wait, no tick.
        assert_eq!(gate.wait(Duration::from_secs(60), || panic!("no tick once decided")), Err("2 tests failed".into()));
    }
}
