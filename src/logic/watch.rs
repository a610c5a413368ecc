//! Whether a watch keeps up with the API server, for readiness.

/// Errors in a row, with nothing delivered between them, after which a watch counts as failing.
/// One error is routine (an expired resource version, a dropped connection: the watch lists
/// again); three in a row, which the watch's backoff spreads over a few seconds, are not.
pub const FAILING_AFTER: u32 = 3;

/// The errors of one watch since it last delivered something.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WatchState {
    errors: u32,
}

/// A change of a watch's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Failing,
    Recovered,
}

impl WatchState {
    /// Records an error (`delivered: false`) or something the API server delivered (a listed
    /// page, the end of a list, an event); returns the change it makes, if any.
    pub fn record(&mut self, delivered: bool) -> Option<Change> {
        let was = self.failing();
        self.errors = if delivered {
            0
        } else {
            self.errors.saturating_add(1)
        };
        match (was, self.failing()) {
            (false, true) => Some(Change::Failing),
            (true, false) => Some(Change::Recovered),
            _ => None,
        }
    }

    pub fn failing(&self) -> bool {
        self.errors >= FAILING_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_fails_after_three_errors_in_a_row_and_recovers_on_a_delivery() {
        let mut w = WatchState::default();
        assert_eq!(w.record(false), None);
        assert_eq!(w.record(true), None, "one error is routine");
        assert_eq!((w.record(false), w.record(false)), (None, None));
        assert!(!w.failing());
        assert_eq!(w.record(false), Some(Change::Failing));
        assert_eq!(w.record(false), None, "announced once");
        assert!(w.failing());
        assert_eq!(w.record(true), Some(Change::Recovered));
        assert!(!w.failing());
        assert_eq!(w.record(true), None);
    }
}
