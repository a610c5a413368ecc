//! The resync period a read budget allows. When a budget's resources cannot all be read within
//! the configured interval, their reads are spread over a longer period instead of coming due
//! together and queueing for the budget in bursts.

use std::time::Duration;

/// The share of a read budget routine resync reads may plan for; the rest is left for reads a
/// user is waiting on (a new resource in Observe mode, an on-demand request, an adoption).
pub const ROUTINE_SHARE: f64 = 0.9;

/// The period in which `resources` sharing one read budget of `reads_per_second` (0: unlimited)
/// are each read once: the configured interval, or longer when the budget cannot keep up.
pub fn period(configured: Duration, resources: usize, reads_per_second: f64) -> Duration {
    if reads_per_second <= 0.0 {
        return configured;
    }
    let needed = Duration::from_secs_f64(resources as f64 / (reads_per_second * ROUTINE_SHARE));
    configured.max(needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_MIN: Duration = Duration::from_secs(600);

    #[test]
    fn within_budget_the_configured_interval_holds() {
        assert_eq!(period(TEN_MIN, 0, 8.0), TEN_MIN);
        // 4,320 resources at 8 reads/s, 90% of it: exactly 600 s.
        assert_eq!(period(TEN_MIN, 4_320, 8.0), TEN_MIN);
        assert_eq!(period(TEN_MIN, 1, -1.0), TEN_MIN, "no budget: unlimited");
        assert_eq!(period(TEN_MIN, 1_000_000, 0.0), TEN_MIN, "unlimited");
    }

    #[test]
    fn beyond_it_reads_are_spread_at_nine_tenths_of_the_budget() {
        // 10,000 pools at 8 reads/s: 1,389 s, about 23 minutes.
        let p = period(TEN_MIN, 10_000, 8.0);
        assert_eq!(p.as_millis(), 1_388_888);
        // One more than 4,320: just over the interval, at 7.2 reads/s.
        assert_eq!(
            period(TEN_MIN, 4_321, 8.0),
            Duration::from_secs_f64(4_321.0 / 7.2)
        );
        assert!(period(TEN_MIN, 4_321, 8.0) > TEN_MIN);
        assert_eq!(
            period(Duration::from_secs(2), 10, 2.0),
            Duration::from_secs_f64(10.0 / 1.8)
        );
    }
}
