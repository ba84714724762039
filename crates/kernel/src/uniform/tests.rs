use super::*;
use crate::stream::user_rng;
use crate::testutil::{chi_square, chi_square_uniform};
use proptest::prelude::*;
use rand_core::RngCore;
use std::collections::HashSet;

/// The plain reference: enumerate the complement by membership test.
fn naive_candidates(positives: &[u32], n_items: u32) -> Vec<u32> {
    let set: HashSet<u32> = positives.iter().copied().collect();
    (0..n_items).filter(|i| !set.contains(i)).collect()
}

fn positives_strategy() -> impl Strategy<Value = (Vec<u32>, u32)> {
    (1u32..400).prop_flat_map(|n_items| {
        (
            proptest::collection::btree_set(0..n_items, 0..n_items as usize),
            Just(n_items),
        )
            .prop_map(|(set, n)| (set.into_iter().collect::<Vec<u32>>(), n))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every rank maps to exactly the reference's candidate of that rank, through the
    /// single-rank search and the interleaved search (full groups and remainders).
    #[test]
    fn rank_mapping_agrees_with_reference((positives, n_items) in positives_strategy()) {
        let cands = Candidates::new(&positives, n_items).unwrap();
        let reference = naive_candidates(&positives, n_items);
        prop_assert_eq!(cands.count() as usize, reference.len());
        let mut ranks: Vec<u32> = (0..cands.count()).collect();
        cands.map_ranks(&mut ranks);
        prop_assert_eq!(&ranks, &reference);
        for (rank, &item) in reference.iter().enumerate() {
            prop_assert_eq!(cands.item_at(rank as u32), item);
        }
        let adjusted: Vec<u32> = positives.iter().enumerate().map(|(j, &p)| p - j as u32).collect();
        if !adjusted.is_empty() {
            let mut interleaved: Vec<u32> = (0..cands.count()).collect();
            map_interleaved(&adjusted, &mut interleaved);
            prop_assert_eq!(&interleaved, &reference);
        }
        // Appends after what the buffer holds, ending exactly at the last candidate.
        let mut enumerated = vec![u32::MAX; 3];
        cands.enumerate_into(&mut enumerated);
        prop_assert_eq!(&enumerated[..3], &[u32::MAX; 3]);
        prop_assert_eq!(&enumerated[3..], &reference);
    }

    /// Every kernel: never a positive, exact counts (`guess-vectorized`: at most the
    /// request, the rest reported as shortfall), distinctness without replacement; and
    /// kernels of one family write identical output from the same stream.
    #[test]
    fn sample_invariants_and_family_agreement((positives, n_items) in positives_strategy(), request in 0u64..600, seed in any::<u64>(), with in any::<bool>()) {
        let replacement = if with { Replacement::With } else { Replacement::Without };
        let m = u64::from(n_items) - positives.len() as u64;
        let expected = match replacement {
            _ if m == 0 => 0,
            Replacement::With => request,
            Replacement::Without => request.min(m),
        };
        let pos: HashSet<u32> = positives.iter().copied().collect();
        let mut by_family: std::collections::HashMap<&str, (Kernel, Vec<u32>)> = Default::default();
        for kernel in Kernel::ALL {
            let mut sampler = UniformSampler::new(kernel);
            let mut rng = user_rng(seed, 9);
            let mut out = vec![7];
            let drawn = sampler.sample(&mut rng, &positives, n_items, request, replacement, &mut out).unwrap();
            prop_assert_eq!(drawn.candidates as u64, m);
            if kernel.may_fall_short() {
                prop_assert!(out.len() as u64 <= expected);
            } else {
                prop_assert_eq!(out.len() as u64, expected, "{}", kernel);
            }
            prop_assert_eq!(drawn.shortfall, request - out.len() as u64);
            for &item in &out {
                prop_assert!(item < n_items);
                prop_assert!(!pos.contains(&item), "{}: negative {} is a positive", kernel, item);
            }
            if replacement == Replacement::Without {
                let distinct: HashSet<u32> = out.iter().copied().collect();
                prop_assert_eq!(distinct.len(), out.len(), "{}", kernel);
            }
            match by_family.get(kernel.family()) {
                Some((first, output)) => prop_assert_eq!(output, &out, "{} differs from {}", kernel, first),
                None => { by_family.insert(kernel.family(), (kernel, out)); }
            }
        }
    }
}

/// The kernels that must give every user exactly what they ask for.
fn exact_kernels() -> impl Iterator<Item = Kernel> {
    Kernel::ALL.into_iter().filter(|k| !k.may_fall_short())
}

/// Every kernel refuses positives that break the store's invariants.
#[test]
fn every_kernel_rejects_bad_positives() {
    let mut rng = user_rng(1, 1);
    let mut out = Vec::new();
    for kernel in Kernel::ALL {
        let mut sampler = UniformSampler::new(kernel);
        for (positives, replacement) in [
            (&[3u32, 2][..], Replacement::With),
            (&[1, 10], Replacement::Without),
        ] {
            assert!(
                sampler
                    .sample(&mut rng, positives, 10, 4, replacement, &mut out)
                    .is_err(),
                "{kernel} accepted {positives:?}"
            );
        }
    }
}

/// `guess-vectorized` reports a short batch instead of padding it, and its shortfall
/// is what the positives and repeats took out of the batch.
#[test]
fn vectorized_reports_short_batches() {
    let mut sampler = UniformSampler::new(Kernel::GuessVectorized);
    let positives: Vec<u32> = (0..50).collect();
    let mut out = Vec::new();
    let (mut short_users, mut produced) = (0, 0u64);
    for user in 0..1000 {
        let mut rng = user_rng(3, user);
        let drawn = sampler
            .sample(
                &mut rng,
                &positives,
                100,
                10,
                Replacement::Without,
                &mut out,
            )
            .unwrap();
        assert_eq!(drawn.shortfall + out.len() as u64, 10);
        short_users += u32::from(drawn.shortfall > 0);
        produced += out.len() as u64;
    }
    // Half the catalog is positive: about 5 of 10 draws survive.
    assert!(short_users > 990, "{short_users}");
    assert!((4000..6000).contains(&produced), "{produced}");
}

#[test]
fn rejects_unsorted_duplicate_and_out_of_range_positives() {
    assert!(matches!(
        Candidates::new(&[3, 2], 10),
        Err(KernelError::PositivesNotAscending {
            position: 1,
            previous: 3,
            next: 2
        })
    ));
    assert!(matches!(
        Candidates::new(&[2, 2], 10),
        Err(KernelError::PositivesNotAscending { .. })
    ));
    assert_eq!(
        Candidates::new(&[1, 10], 10).unwrap_err(),
        KernelError::PositiveOutOfRange {
            item: 10,
            n_items: 10
        }
    );
}

#[test]
fn the_articles_example_maps_every_rank() {
    let cands = Candidates::new(&[3, 7], 10).unwrap();
    let mut ranks: Vec<u32> = (0..8).collect();
    cands.map_ranks(&mut ranks);
    assert_eq!(ranks, [0, 1, 2, 4, 5, 6, 8, 9]);
}

#[test]
fn a_user_with_every_item_gets_nothing() {
    let mut sampler = UniformSampler::default();
    let mut rng = user_rng(1, 1);
    let mut out = vec![99];
    for replacement in [Replacement::With, Replacement::Without] {
        let drawn = sampler
            .sample(&mut rng, &[0, 1, 2], 3, 5, replacement, &mut out)
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(
            drawn,
            Drawn {
                shortfall: 5,
                candidates: 0
            }
        );
    }
}

/// Positives spread over a catalog, deterministic.
fn spread_positives(k: u32, n_items: u32) -> Vec<u32> {
    (0..k).map(|j| j * (n_items / k) + (j % 3)).collect()
}

/// Counts how often each item is drawn over `reps` users with the same positives.
fn item_frequencies(
    kernel: Kernel,
    positives: &[u32],
    n_items: u32,
    request: u64,
    replacement: Replacement,
    reps: u64,
) -> Vec<u64> {
    let mut sampler = UniformSampler::new(kernel);
    let mut out = Vec::new();
    let mut counts = vec![0u64; n_items as usize];
    for user in 0..reps {
        let mut rng = user_rng(2024, user);
        sampler
            .sample(&mut rng, positives, n_items, request, replacement, &mut out)
            .unwrap();
        for &item in &out {
            counts[item as usize] += 1;
        }
    }
    counts
}

/// With replacement every draw is uniform over the candidates: a plain multinomial.
/// Every kernel, including `guess-vectorized` (what it keeps is uniform).
#[test]
fn with_replacement_is_uniform_over_candidates() {
    for (kernel, k) in Kernel::ALL
        .into_iter()
        .flat_map(|kernel| [(kernel, 1u32), (kernel, 20), (kernel, 100)])
    {
        let n_items = 300;
        let positives = spread_positives(k, n_items);
        let counts = item_frequencies(kernel, &positives, n_items, 8, Replacement::With, 20_000);
        let m = f64::from(n_items - k);
        let expected: Vec<f64> = (0..n_items)
            .map(|i| if positives.contains(&i) { 0.0 } else { 1.0 / m })
            .collect();
        chi_square(&counts, &expected, 1e-4);
    }
}

/// Without replacement each candidate is included with probability s/m. Item counts
/// over repeated users are then binomial with variance `reps·p·(1−p)` instead of the
/// multinomial's, so the Pearson statistic is scaled by `(1 − 1/m)/(1 − s/m)` to stay
/// exact; each branch of the kernel (Floyd with a scan, Floyd with a bitmap, the dense
/// enumeration) is driven by its own request size.
#[test]
fn without_replacement_includes_every_candidate_equally() {
    let n_items = 1000;
    let positives = spread_positives(90, n_items);
    let m = u64::from(n_items) - 90;
    for (kernel, request) in
        exact_kernels().flat_map(|kernel| [(kernel, 5u64), (kernel, 100), (kernel, 600)])
    {
        let reps = 4000;
        let counts = item_frequencies(
            kernel,
            &positives,
            n_items,
            request,
            Replacement::Without,
            reps,
        );
        let p = request as f64 / m as f64;
        let e = reps as f64 * p;
        let statistic: f64 = (0..n_items as usize)
            .filter(|i| !positives.contains(&(*i as u32)))
            .map(|i| (counts[i] as f64 - e).powi(2) / (e * (1.0 - p)))
            .sum();
        use statrs::distribution::{ChiSquared, ContinuousCDF};
        let p_value = 1.0 - ChiSquared::new((m - 1) as f64).unwrap().cdf(statistic);
        assert!(
            p_value > 1e-4,
            "{kernel} request {request}: statistic {statistic:.1}, p {p_value:.2e}"
        );
        for &pos in &positives {
            assert_eq!(counts[pos as usize], 0);
        }
    }
}

/// The joint distribution of the first two draws must be uniform over ordered pairs of
/// distinct candidates — this catches order bias that marginal counts cannot.
#[test]
fn without_replacement_orders_are_uniform() {
    // 7 of 9 candidates: the dense path (enumerate + partial Fisher–Yates);
    // 12 of 45: Floyd's algorithm followed by a shuffle.
    let cases = [(9u32, vec![2u32, 5]), (45, (0..33).collect())];
    for (kernel, (n_items, positives)) in
        exact_kernels().flat_map(|k| cases.clone().map(|c| (k, c)))
    {
        let m = (n_items as usize) - positives.len();
        let cands = Candidates::new(&positives, n_items).unwrap();
        let mut rank_of = vec![usize::MAX; n_items as usize];
        for r in 0..m {
            rank_of[cands.item_at(r as u32) as usize] = r;
        }
        let mut sampler = UniformSampler::new(kernel);
        let mut out = Vec::new();
        let mut counts = vec![0u64; m * m];
        for user in 0..60_000 {
            let mut rng = user_rng(77, user);
            sampler
                .sample(
                    &mut rng,
                    &positives,
                    n_items,
                    2,
                    Replacement::Without,
                    &mut out,
                )
                .unwrap();
            counts[rank_of[out[0] as usize] * m + rank_of[out[1] as usize]] += 1;
        }
        let expected: Vec<f64> = (0..m * m)
            .map(|c| {
                if c / m == c % m {
                    0.0
                } else {
                    1.0 / (m * (m - 1)) as f64
                }
            })
            .collect();
        chi_square(&counts, &expected, 1e-4);
    }
}

#[test]
fn first_draw_is_uniform_on_every_path() {
    let n_items = 2000;
    let positives = spread_positives(200, n_items);
    let m = (n_items - 200) as usize;
    for (kernel, request) in Kernel::ALL
        .into_iter()
        .flat_map(|k| [(k, 3u64), (k, 50), (k, 1000)])
    {
        let mut sampler = UniformSampler::new(kernel);
        let mut out = Vec::new();
        let mut counts = vec![0u64; m];
        let cands = Candidates::new(&positives, n_items).unwrap();
        let mut rank_of = vec![0usize; n_items as usize];
        for r in 0..m {
            rank_of[cands.item_at(r as u32) as usize] = r;
        }
        for user in 0..30_000 {
            let mut rng = user_rng(5, user);
            sampler
                .sample(
                    &mut rng,
                    &positives,
                    n_items,
                    request,
                    Replacement::Without,
                    &mut out,
                )
                .unwrap();
            if let Some(&first) = out.first() {
                counts[rank_of[first as usize]] += 1;
            }
        }
        chi_square_uniform(&counts, 1e-4);
    }
}

/// Every map `auto` can pick is reachable — and the agreement proptest above, whose
/// users span all of these regimes, checks each gives the default's bytes.
#[test]
fn auto_reaches_every_map() {
    use super::AutoChoice::*;
    let cases = [
        ((1, 999_999, 1), OnTheFly),
        ((1, 999_999, 10_000), BranchFree),
        ((100, 900, 10_000), Complement),
        ((100_000, 900_000, 100), OnTheFly),
        ((100, 999_900, 10_000), Bucketed),
        ((10_000, 990_000, 10_000), Bucketed),
        ((100_000, 900_000, 100_000), BranchFree),
        ((100, 999_900, 100), BranchFree),
    ];
    for ((k, m, ranks), expected) in cases {
        assert_eq!(
            Auto::choose(k, m, ranks),
            expected,
            "k {k}, m {m}, ranks {ranks}"
        );
    }
}

/// `auto` answers a one-negative user without the batch paths; the bytes (and the
/// stream left behind) must be those of `branch-free`, in both modes and on the dense
/// path.
#[test]
fn auto_single_negative_matches_branch_free() {
    let (mut auto, mut branch_free) = (
        UniformSampler::new(Kernel::Auto),
        UniformSampler::new(Kernel::BranchFree),
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (n_items, positives) in [
        (1000u32, spread_positives(30, 1000)),
        (5, vec![1, 3]),
        (7, vec![]),
    ] {
        for replacement in [Replacement::With, Replacement::Without] {
            for user in 0..500 {
                let (mut ra, mut rb) = (user_rng(8, user), user_rng(8, user));
                auto.sample(&mut ra, &positives, n_items, 1, replacement, &mut a)
                    .unwrap();
                branch_free
                    .sample(&mut rb, &positives, n_items, 1, replacement, &mut b)
                    .unwrap();
                assert_eq!(a, b, "n {n_items}, {replacement:?}, user {user}");
                assert_eq!(ra.next_u64(), rb.next_u64());
            }
        }
    }
}
