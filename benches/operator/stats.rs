//! Rounding and percentiles of the figures.

pub use test_kit::procfs::round3;

/// Nearest-rank percentile of ascending `sorted`; NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// The median (of an even count, the lower middle); NaN when empty.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut sorted: Vec<f64> = values.into_iter().collect();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, 50.0)
}

/// Timing samples in the order they were taken (the report lists them so), and sorted.
#[derive(Clone, Debug)]
pub struct Samples {
    taken: Vec<f64>,
    sorted: Vec<f64>,
}

impl Samples {
    pub fn new(taken: Vec<f64>) -> Self {
        let mut sorted = taken.clone();
        sorted.sort_by(f64::total_cmp);
        Samples { taken, sorted }
    }

    pub fn len(&self) -> usize {
        self.taken.len()
    }

    pub fn percentile(&self, p: f64) -> f64 {
        percentile(&self.sorted, p)
    }

    pub fn min(&self) -> f64 {
        self.sorted[0]
    }

    pub fn max(&self) -> f64 {
        self.sorted[self.sorted.len() - 1]
    }

    /// The samples in the order taken, rounded as reported.
    pub fn rounded(&self) -> Vec<f64> {
        self.taken.iter().map(|x| round3(*x)).collect()
    }
}
