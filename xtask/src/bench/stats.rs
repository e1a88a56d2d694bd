//! Statistics for benchmark samples: medians, spread and ratios.

use serde::Serialize;

/// Median, min and max of a sample set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

/// The median (mean of the two middle values for an even count); None for
/// no samples or any NaN.
pub fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() || xs.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

pub fn summarize(xs: &[f64]) -> Option<Summary> {
    let median = median(xs)?;
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(Summary {
        median,
        min,
        max,
        n: xs.len(),
    })
}

/// The ratio of each pair `with[i] / without[i]` (samples taken back to
/// back in one repetition); pairs without a valid ratio are left out.
pub fn paired_ratios(with: &[f64], without: &[f64]) -> Vec<f64> {
    with.iter()
        .zip(without)
        .filter_map(|(&w, &b)| ratio(w, b))
        .collect()
}

/// `with / without`; None when `without` is not a positive number.
pub fn ratio(with: f64, without: f64) -> Option<f64> {
    (without > 0.0 && with.is_finite()).then(|| with / without)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[1.0, f64::NAN]), None);
        // One outlier does not move it.
        assert_eq!(median(&[200.0, 201.0, 199.0, 5000.0, 202.0]), Some(201.0));
    }

    #[test]
    fn summaries_and_ratios() {
        let s = summarize(&[2.0, 9.0, 4.0]).unwrap();
        assert_eq!(
            s,
            Summary {
                median: 4.0,
                min: 2.0,
                max: 9.0,
                n: 3
            }
        );
        assert_eq!(ratio(248.0, 200.0), Some(1.24));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(f64::INFINITY, 1.0), None);
        assert_eq!(
            paired_ratios(&[2.0, 3.0, 4.0], &[1.0, 0.0, 2.0]),
            vec![2.0, 2.0]
        );
    }
}
