//! Statistical helpers shared by the kernel's tests.

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Pearson's chi-square goodness of fit of `observed` counts against `expected`
/// probabilities; panics when the p-value is below `alpha`. Seeds are fixed, so a
/// failure is reproducible, and with `alpha = 1e-4` a correct kernel fails about once
/// in ten thousand seeds while a biased one fails by orders of magnitude.
pub fn chi_square(observed: &[u64], expected: &[f64], alpha: f64) -> f64 {
    assert_eq!(observed.len(), expected.len());
    let total: u64 = observed.iter().sum();
    let mut statistic = 0.0;
    let mut categories = 0usize;
    for (&o, &p) in observed.iter().zip(expected) {
        if p == 0.0 {
            assert_eq!(o, 0, "a category of probability 0 was observed");
            continue;
        }
        let e = p * total as f64;
        assert!(e >= 5.0, "expected count {e} too small for chi-square");
        statistic += (o as f64 - e).powi(2) / e;
        categories += 1;
    }
    let dist = ChiSquared::new((categories - 1) as f64).unwrap();
    let p_value = 1.0 - dist.cdf(statistic);
    assert!(
        p_value >= alpha,
        "chi-square {statistic:.1} on {} dof: p = {p_value:.2e} < {alpha}",
        categories - 1
    );
    p_value
}

/// Chi-square against the uniform distribution over the non-zero categories' count.
pub fn chi_square_uniform(observed: &[u64], alpha: f64) -> f64 {
    let p = 1.0 / observed.len() as f64;
    chi_square(observed, &vec![p; observed.len()], alpha)
}
