//! Seeded synthetic interaction CSVs of any size.
//!
//! Users get log-normal degrees (mean [`SynthOptions::mean_degree`], log-scale spread
//! [`SynthOptions::degree_sigma`]); each interaction picks an item from a Zipf law
//! over popularity ranks (exponent [`SynthOptions::zipf_exponent`]), and ranks are
//! scattered over item ids by a fixed affine permutation so that popularity does not
//! follow id order. Repeated picks make duplicate rows, as real logs have. Users are
//! generated in parallel batches written in order, each user from its own stream, so
//! the output is identical at any thread count and memory stays bounded.

use negsamp_kernel::bounded::below;
use negsamp_kernel::stream::{user_rng, UserRng};
use rand_distr::{Distribution, LogNormal, Zipf};
use rayon::prelude::*;
use std::io::Write;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub users: u64,
    pub items: u64,
    pub mean_degree: f64,
    pub degree_sigma: f64,
    pub zipf_exponent: f64,
    pub seed: u64,
    /// `u17`/`i42` ids instead of integers.
    pub string_ids: bool,
    pub timestamps: bool,
    /// Timestamps are drawn uniformly from `[start_time, start_time + time_span)`.
    pub start_time: i64,
    pub time_span: u64,
    /// Add feature columns for `ingest --keep`: `price` (f64, the item's), `rating`
    /// (i64 1–5, drawn per row), `category` (str, the item's) and `device` (str, drawn
    /// per row).
    pub features: bool,
}

/// The shapes of public datasets users tune on, as generator settings (measured after
/// ingest — duplicates of Zipf draws are dropped, so the settings ask for more):
///
/// | shape | users × items | density | median / max degree | the dataset |
/// |---|---|---|---|---|
/// | `MovieLens1M` | 6 040 × 3 706 | 4.8% | 114 / 1 603 | 4.5%, 96 / 2 314 |
/// | `Gowalla` | 29 858 × 40 981 | 0.087% | 21 / 1 495 | 0.08%, 20 / 1 014 |
/// | `Ciao` | 7 375 × 105 114 | 0.048% | 19 / 937 | a 105 114-item catalog |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    MovieLens1M,
    Gowalla,
    Ciao,
}

impl Shape {
    /// The generator settings of this shape (seed, ids, timestamps and features left at
    /// their defaults).
    pub fn options(self) -> SynthOptions {
        let (users, items, mean_degree, degree_sigma, zipf_exponent) = match self {
            Shape::MovieLens1M => (6_040, 3_706, 260.0, 1.15, 0.8),
            Shape::Gowalla => (29_858, 40_981, 40.0, 1.1, 0.9),
            Shape::Ciao => (7_375, 105_114, 40.0, 1.2, 0.7),
        };
        SynthOptions {
            users,
            items,
            mean_degree,
            degree_sigma,
            zipf_exponent,
            ..Default::default()
        }
    }
}

/// The values of the synthetic `category` column.
const CATEGORIES: [&str; 8] = [
    "books", "music", "toys", "garden", "food", "sports", "home", "games",
];
/// The values of the synthetic `device` column.
const DEVICES: [&str; 3] = ["web", "ios", "android"];

impl Default for SynthOptions {
    fn default() -> Self {
        Self {
            users: 10_000,
            items: 5_000,
            mean_degree: 20.0,
            degree_sigma: 1.0,
            zipf_exponent: 1.0,
            seed: 0,
            string_ids: false,
            timestamps: true,
            features: false,
            start_time: 1_600_000_000,
            time_span: 100_000_000,
        }
    }
}

/// Why generation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    #[error("invalid generator setting: {0}")]
    Invalid(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

const USERS_PER_TASK: u64 = 2048;
const TASKS_PER_BATCH: u64 = 64;

/// Writes the CSV (header `user,item[,timestamp]`) to `out`; returns the row count.
/// `progress` receives the number of users written so far.
pub fn generate<W: Write>(
    options: &SynthOptions,
    mut out: W,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, SynthError> {
    let model = Model::new(options)?;
    out.write_all(b"user,item")?;
    if options.timestamps {
        out.write_all(b",timestamp")?;
    }
    if options.features {
        out.write_all(b",price,rating,category,device")?;
    }
    out.write_all(b"\n")?;
    let mut rows = 0u64;
    let batch_users = USERS_PER_TASK * TASKS_PER_BATCH;
    let mut buffers: Vec<Vec<u8>> = (0..TASKS_PER_BATCH).map(|_| Vec::new()).collect();
    let mut first = 0;
    while first < options.users {
        let batch_end = (first + batch_users).min(options.users);
        rows += buffers
            .par_iter_mut()
            .enumerate()
            .map(|(t, buf)| {
                buf.clear();
                let lo = (first + t as u64 * USERS_PER_TASK).min(batch_end);
                let hi = (lo + USERS_PER_TASK).min(batch_end);
                (lo..hi).map(|u| model.write_user(u, buf)).sum::<u64>()
            })
            .sum::<u64>();
        for buf in &buffers {
            out.write_all(buf)?;
        }
        progress(batch_end);
        first = batch_end;
    }
    out.flush()?;
    Ok(rows)
}

struct Model<'a> {
    options: &'a SynthOptions,
    degree: LogNormal<f64>,
    zipf: Zipf<f64>,
    multiplier: u64,
    offset: u64,
}

impl<'a> Model<'a> {
    fn new(options: &'a SynthOptions) -> Result<Self, SynthError> {
        let invalid = |m: &str| SynthError::Invalid(m.into());
        if options.users == 0 || options.items == 0 {
            return Err(invalid("users and items must be positive"));
        }
        if options.items > u64::from(u32::MAX) {
            return Err(invalid("at most u32::MAX items"));
        }
        if !(options.mean_degree >= 1.0 && options.mean_degree.is_finite()) {
            return Err(invalid("mean degree must be at least 1"));
        }
        let sigma = options.degree_sigma;
        let mu = options.mean_degree.ln() - sigma * sigma / 2.0;
        let degree = LogNormal::new(mu, sigma)
            .map_err(|e| SynthError::Invalid(format!("degree spread: {e}")))?;
        let zipf = Zipf::new(options.items as f64, options.zipf_exponent)
            .map_err(|e| SynthError::Invalid(format!("zipf exponent: {e}")))?;
        let mut multiplier = 2_654_435_761 % options.items;
        while gcd(multiplier, options.items) != 1 {
            multiplier += 1;
        }
        Ok(Self {
            options,
            degree,
            zipf,
            multiplier,
            offset: 12_345 % options.items,
        })
    }

    /// Appends user `u`'s rows to `buf`; returns how many.
    fn write_user(&self, u: u64, buf: &mut Vec<u8>) -> u64 {
        let o = self.options;
        let mut rng: UserRng = user_rng(o.seed, u);
        let d = (self.degree.sample(&mut rng).round() as u64).clamp(1, o.items);
        let prefix = |buf: &mut Vec<u8>, tag: &[u8]| {
            if o.string_ids {
                buf.extend_from_slice(tag);
            }
        };
        let mut num = itoa::Buffer::new();
        for _ in 0..d {
            let rank = self.zipf.sample(&mut rng) as u64 - 1;
            let item = (rank.min(o.items - 1) * self.multiplier + self.offset) % o.items;
            prefix(buf, b"u");
            buf.extend_from_slice(num.format(u).as_bytes());
            buf.push(b',');
            prefix(buf, b"i");
            buf.extend_from_slice(num.format(item).as_bytes());
            if o.timestamps {
                buf.push(b',');
                let t = o.start_time + below(&mut rng, o.time_span.max(1)) as i64;
                buf.extend_from_slice(num.format(t).as_bytes());
            }
            if o.features {
                let cents = item.wrapping_mul(2_654_435_761) % 100_000;
                buf.push(b',');
                buf.extend_from_slice(num.format(cents / 100).as_bytes());
                buf.push(b'.');
                let fraction = cents % 100;
                buf.push(b'0' + (fraction / 10) as u8);
                buf.push(b'0' + (fraction % 10) as u8);
                buf.push(b',');
                buf.push(b'1' + below(&mut rng, 5) as u8);
                buf.push(b',');
                buf.extend_from_slice(CATEGORIES[(item % 8) as usize].as_bytes());
                buf.push(b',');
                buf.extend_from_slice(DEVICES[below(&mut rng, 3) as usize].as_bytes());
            }
            buf.push(b'\n');
        }
        d
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_counts_rows() {
        let options = SynthOptions {
            users: 5000,
            items: 300,
            mean_degree: 5.0,
            seed: 9,
            ..Default::default()
        };
        let mut a = Vec::new();
        let rows = generate(&options, &mut a, &|_| {}).unwrap();
        let mut b = Vec::new();
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| generate(&options, &mut b, &|_| {}))
            .unwrap();
        assert_eq!(a, b);
        let text = String::from_utf8(a).unwrap();
        assert_eq!(text.lines().count() as u64, rows + 1);
        assert!(
            (rows as f64 / 5000.0 - 5.0).abs() < 0.5,
            "mean degree {}",
            rows as f64 / 5000.0
        );
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 3);
            assert!(f[1].parse::<u64>().unwrap() < 300);
        }
    }

    #[test]
    fn popularity_is_skewed() {
        let options = SynthOptions {
            users: 2000,
            items: 1000,
            mean_degree: 10.0,
            zipf_exponent: 1.2,
            ..Default::default()
        };
        let mut out = Vec::new();
        generate(&options, &mut out, &|_| {}).unwrap();
        let mut counts = vec![0u64; 1000];
        for line in String::from_utf8(out).unwrap().lines().skip(1) {
            counts[line.split(',').nth(1).unwrap().parse::<usize>().unwrap()] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let total: u64 = counts.iter().sum();
        assert!(
            counts[..10].iter().sum::<u64>() as f64 > 0.3 * total as f64,
            "top 1% of items should be heavy"
        );
    }

    #[test]
    fn rejects_nonsense() {
        let bad = SynthOptions {
            users: 0,
            ..Default::default()
        };
        assert!(matches!(
            generate(&bad, Vec::new(), &|_| {}),
            Err(SynthError::Invalid(_))
        ));
    }
}
