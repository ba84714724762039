//! `negsamp bench`: times the uniform kernels on a store (negsamp_engine::bench does
//! the measuring) and reports a table, `results.csv` and `throughput.png`.

use crate::cli::BenchArgs;
use crate::commands::write_csv;
use crate::progress;
use anyhow::{bail, Context, Result};
use negsamp_engine::bench::{degree_buckets, measure, BenchOptions, Cell, DegreeBucket};
use negsamp_kernel::uniform::Kernel;
use negsamp_store::ingest::{ingest, IngestOptions};
use negsamp_store::synth::SynthOptions;
use negsamp_store::Store;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// The baseline of the speed-up column: the article's first, naive variant.
const NAIVE: Kernel = Kernel::GuessLinear;

/// One kernel at one thread count, over every bucket.
struct Row {
    kernel: Kernel,
    threads: usize,
    cells: Vec<Cell>,
}

pub fn bench_cmd(a: &BenchArgs, threads: &[usize]) -> Result<()> {
    let kernels = parse_kernels(&a.kernels)?;
    let threads: Vec<usize> = if threads.is_empty() {
        vec![rayon::current_num_threads()]
    } else {
        threads.to_vec()
    };
    if threads.contains(&0) {
        bail!("--threads must be at least 1");
    }
    // Like ingest and sample: an earlier report is kept unless --overwrite.
    let earlier = ["results.csv", "throughput.png"].map(|f| a.out.join(f));
    if !a.overwrite {
        if let Some(found) = earlier.iter().find(|p| p.exists()) {
            return Err(negsamp_engine::EngineError::Config(format!(
                "{} already holds a report ({}); pass --overwrite to replace it or choose another --out",
                a.out.display(),
                found.display()
            ))
            .into());
        }
    }
    let temp;
    let store_dir = match &a.store {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir()?;
            generated_store(temp.path(), a.users)?
        }
    };
    let store = Store::open(&store_dir)?;
    let options = BenchOptions {
        amount: a.request.amount(),
        replacement: a.request.replacement(),
        seed: a.request.seed,
        users_per_bucket: a.users_per_bucket.max(1),
        repeats: a.repeats.max(1),
        budget: Duration::from_secs_f64(a.budget.max(0.001)),
    };
    negsamp_engine::bench::check_request_fits(&store, &options)?;
    let buckets = degree_buckets(&store, &options);
    if buckets.is_empty() {
        bail!(
            "{} has no user with positives to sample for",
            store_dir.display()
        );
    }
    note(format_args!(
        "bench: {} kernels × {} thread counts × {} degree buckets ({} users each at most), {} items",
        kernels.len(),
        threads.len(),
        buckets.len(),
        options.users_per_bucket,
        store.n_items()
    ));
    let bar = progress::bar(
        (kernels.len() * threads.len() * buckets.len()) as u64,
        "cells",
    );
    let mut rows = Vec::new();
    for &n in &threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("starting the thread pool")?;
        // Bucket by bucket, every kernel measured in turn (engine::bench::measure
        // interleaves their passes), then one row per kernel.
        let by_bucket = pool.install(|| {
            buckets
                .iter()
                .map(|bucket| {
                    let cells = measure(&store, bucket, &kernels, &options);
                    bar.inc(kernels.len() as u64);
                    cells
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        bar.suspend(|| note(format_args!("  {n} thread(s): done")));
        for (k, &kernel) in kernels.iter().enumerate() {
            rows.push(Row {
                kernel,
                threads: n,
                cells: by_bucket.iter().map(|cells| cells[k]).collect(),
            });
        }
    }
    bar.finish_and_clear();

    if crate::output::text() {
        print!("{}", table(&rows, &buckets));
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let csv = a.out.join("results.csv");
    write_atomically(&csv, results_csv(&rows, &buckets).as_bytes())?;
    let png = a.out.join("throughput.png");
    plot::throughput(&rows, &buckets, &png)?;
    say!("wrote {} and {}", csv.display(), png.display());
    crate::output::emit(&serde_json::json!({
        "event": "bench",
        "results": csv,
        "plot": png,
        "kernels": kernels.len(),
        "threads": threads,
        "degree_buckets": buckets.len(),
    }))
}

/// A progress note on stderr, in the text output format only.
fn note(text: std::fmt::Arguments) {
    if crate::output::text() {
        eprintln!("{text}");
    }
}

fn parse_kernels(list: &str) -> Result<Vec<Kernel>> {
    if list == "all" {
        return Ok(Kernel::ALL.to_vec());
    }
    let kernels: Vec<Kernel> = list
        .split(',')
        .map(|name| name.trim().parse::<Kernel>())
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    Ok(kernels)
}

/// A synthetic store shaped like real interaction data, in `dir`.
fn generated_store(dir: &Path, users: u64) -> Result<std::path::PathBuf> {
    let csv = dir.join("interactions.csv");
    let store = dir.join("bench.store");
    let options = SynthOptions {
        users,
        items: 100_000,
        mean_degree: 30.0,
        degree_sigma: 1.5,
        seed: 7,
        ..Default::default()
    };
    note(format_args!(
        "bench: generating {users} users over 100000 items (Zipf popularity, log-normal degrees)"
    ));
    write_csv(&options, &csv)?;
    ingest(&csv, &store, &IngestOptions::default(), &|_| {})?;
    std::fs::remove_file(&csv)?;
    Ok(store)
}

/// Nanoseconds per sample over the whole store: each bucket's measured cost weighted
/// by the negatives the whole bucket requests.
fn store_ns_per_sample(cells: &[Cell], buckets: &[DegreeBucket]) -> f64 {
    let (mut nanos, mut samples) = (0.0, 0.0);
    for (cell, bucket) in cells.iter().zip(buckets) {
        let ns = cell.ns_per_sample();
        if ns.is_finite() {
            let produced_share = cell.produced as f64 / cell.requested.max(1) as f64;
            let bucket_samples = bucket.requested as f64 * produced_share;
            nanos += ns * bucket_samples;
            samples += bucket_samples;
        }
    }
    nanos / samples
}

fn naive_of(rows: &[Row], threads: usize) -> Option<&Row> {
    rows.iter()
        .find(|r| r.kernel == NAIVE && r.threads == threads)
}

/// The negatives the whole bucket would miss in `sample`, not the timed users' (one
/// saturated user timed a thousand times read as a quarter of the store missing): an
/// exact kernel's is the bucket's closed form; a kernel that may fall short is
/// measured, as a fraction of what the timed users asked, applied to the bucket.
fn bucket_shortfall(kernel: Kernel, cell: &Cell, bucket: &DegreeBucket) -> u64 {
    if kernel.may_fall_short() {
        let fraction = cell.shortfall as f64 / cell.requested.max(1) as f64;
        (fraction * bucket.requested as f64).round() as u64
    } else {
        bucket.shortfall
    }
}

fn table(rows: &[Row], buckets: &[DegreeBucket]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<17} {:>7} {:>10} {:>12} {:>10} {:>9} {:>12}",
        "kernel", "threads", "ns/sample", "samples/s", "shortfall", "vs naive", "store time"
    );
    for row in rows {
        let ns = store_ns_per_sample(&row.cells, buckets);
        let requested: u64 = buckets.iter().map(|b| b.requested).sum();
        let short: u64 = row
            .cells
            .iter()
            .zip(buckets)
            .map(|(c, b)| bucket_shortfall(row.kernel, c, b))
            .sum();
        let speedup = naive_of(rows, row.threads)
            .map(|naive| format!("{:.1}×", store_ns_per_sample(&naive.cells, buckets) / ns))
            .unwrap_or_else(|| "-".into());
        let complete = row.cells.iter().all(|c| c.complete);
        let store_samples: u64 = buckets.iter().map(|b| b.requested).sum();
        let _ = writeln!(
            out,
            "{:<17} {:>7} {:>10.2} {:>12} {:>9.3}% {:>9} {:>11.2}s{}",
            row.kernel.name(),
            row.threads,
            ns,
            crate::progress::human(1e9 / ns),
            100.0 * short as f64 / requested.max(1) as f64,
            speedup,
            ns * store_samples as f64 * 1e-9,
            if complete {
                ""
            } else {
                "  (budget hit: partial)"
            }
        );
    }
    out
}

fn results_csv(rows: &[Row], buckets: &[DegreeBucket]) -> String {
    let mut out = String::from(
        "kernel,family,threads,degree_low,degree_high,store_users,measured_users,\
         requested,produced,shortfall,ns_per_sample,samples_per_s,speedup_vs_naive,complete\n",
    );
    for row in rows {
        let naive = naive_of(rows, row.threads);
        for (b, (cell, bucket)) in row.cells.iter().zip(buckets).enumerate() {
            let ns = cell.ns_per_sample();
            let speedup = naive
                .map(|n| format!("{:.4}", n.cells[b].ns_per_sample() / ns))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{:.4},{:.0},{},{}",
                row.kernel.name(),
                row.kernel.family(),
                row.threads,
                bucket.low,
                bucket.high,
                bucket.users,
                cell.users,
                cell.requested,
                cell.produced,
                bucket_shortfall(row.kernel, cell, bucket),
                ns,
                1e9 / ns,
                speedup,
                cell.complete
            );
        }
    }
    out
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let staging = negsamp_store::publish::staging_path(path);
    std::fs::write(&staging, bytes).with_context(|| format!("writing {}", staging.display()))?;
    std::fs::rename(&staging, path).with_context(|| format!("renaming into {}", path.display()))
}

mod plot {
    //! throughput.png: ns/sample against user degree, one line per kernel, one panel
    //! per thread count (plotters, text drawn with a system TrueType font). A point's
    //! area is its bucket's share of the store's negatives, and each bucket is labelled
    //! with its users, so a bucket of one saturated user timed many times is seen as
    //! the speck it is in the store's total.

    use super::Row;
    use anyhow::{anyhow, Context, Result};
    use negsamp_engine::bench::DegreeBucket;
    use negsamp_kernel::uniform::Kernel;
    use plotters::prelude::*;
    use std::path::Path;

    /// Fonts tried in order; the plot needs one for its labels.
    const FONTS: [&str; 3] = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
    ];

    fn register_font() -> Result<()> {
        let bytes = FONTS
            .iter()
            .find_map(|path| std::fs::read(path).ok())
            .ok_or_else(|| {
                anyhow!(
                    "no TrueType font found for the plot (tried {}); install fonts-dejavu-core",
                    FONTS.join(", ")
                )
            })?;
        // plotters keeps fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| anyhow!("the font file is not a usable TrueType font"))
    }

    /// A fixed, distinguishable colour per kernel; `auto` in black, thicker.
    fn color_of(kernel: Kernel) -> ShapeStyle {
        let index = Kernel::ALL.iter().position(|&k| k == kernel).unwrap_or(0);
        let colors = [
            RGBColor(228, 26, 28),
            RGBColor(77, 175, 74),
            RGBColor(255, 127, 0),
            RGBColor(152, 78, 163),
            RGBColor(166, 86, 40),
            RGBColor(55, 126, 184),
            RGBColor(153, 153, 153),
            RGBColor(247, 129, 191),
            RGBColor(0, 0, 0),
        ];
        let width = if kernel == Kernel::Auto { 3 } else { 2 };
        colors[index % colors.len()].stroke_width(width)
    }

    pub fn throughput(rows: &[Row], buckets: &[DegreeBucket], path: &Path) -> Result<()> {
        register_font()?;
        let staging = negsamp_store::publish::staging_path(path).with_extension("png");
        draw(rows, buckets, &staging).map_err(|e| anyhow!("drawing the plot: {e}"))?;
        std::fs::rename(&staging, path).with_context(|| format!("renaming into {}", path.display()))
    }

    fn draw(
        rows: &[Row],
        buckets: &[DegreeBucket],
        path: &Path,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let mut threads: Vec<usize> = rows.iter().map(|r| r.threads).collect();
        threads.dedup();
        let width = 900 * threads.len() as u32;
        let root = BitMapBackend::new(path, (width, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let degree = |b: &DegreeBucket| ((b.low * b.high) as f64).sqrt();
        let x_range = degree(&buckets[0]) * 0.7..degree(&buckets[buckets.len() - 1]) * 1.4;
        let finite = rows
            .iter()
            .flat_map(|r| r.cells.iter().map(|c| c.ns_per_sample()))
            .filter(|v| v.is_finite() && *v > 0.0);
        let (lo, hi) = finite.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let y_range = lo * 0.7..hi * 1.4;
        let requested: u64 = buckets.iter().map(|b| b.requested).sum();
        let radius = |b: &DegreeBucket| marker_radius(b.requested, requested);
        for (panel, &n) in root.split_evenly((1, threads.len())).iter().zip(&threads) {
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("uniform kernels, {n} thread(s): ns per negative by user degree"),
                    ("sans-serif", 20),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(x_range.clone().log_scale(), y_range.clone().log_scale())?;
            chart
                .configure_mesh()
                .x_desc("user degree (positives); point area: share of the store's negatives")
                .y_desc("ns / sample (log)")
                .x_label_formatter(&|v| tick_label(*v))
                .y_label_formatter(&|v| tick_label(*v))
                .draw()?;
            // Each bucket's users, along the bottom of the panel.
            chart.draw_series(buckets.iter().map(|b| {
                Text::new(
                    format!("{} users", tick_label(b.users as f64)),
                    (degree(b), y_range.start * 1.05),
                    ("sans-serif", 11).into_font().color(&RGBColor(90, 90, 90)),
                )
            }))?;
            for row in rows.iter().filter(|r| r.threads == n) {
                let color = color_of(row.kernel);
                let points: Vec<(f64, f64, u32)> = row
                    .cells
                    .iter()
                    .zip(buckets)
                    .map(|(c, b)| (degree(b), c.ns_per_sample(), radius(b)))
                    .filter(|(_, ns, _)| ns.is_finite())
                    .collect();
                chart
                    .draw_series(LineSeries::new(
                        points.iter().map(|&(x, y, _)| (x, y)),
                        color,
                    ))?
                    .label(row.kernel.name())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
                chart.draw_series(
                    points
                        .into_iter()
                        .map(|(x, y, r)| Circle::new((x, y), r, color.filled())),
                )?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
        root.present()?;
        Ok(())
    }

    /// A point's radius in pixels: area proportional to the bucket's share of the
    /// store's negatives, from 2 (a speck) to 12 (the whole store).
    pub(super) fn marker_radius(bucket: u64, store: u64) -> u32 {
        let share = (bucket as f64 / store.max(1) as f64).min(1.0);
        (2.0 + 10.0 * share.sqrt()).round() as u32
    }

    /// An axis or count label for people: `3`, `12`, `512`, `2.5k`, `40k`, `1.2M`.
    pub(super) fn tick_label(v: f64) -> String {
        let short = |x: f64, unit: &str| {
            let text = if x < 10.0 {
                format!("{x:.1}")
            } else {
                format!("{x:.0}")
            };
            format!("{}{unit}", text.trim_end_matches(".0"))
        };
        match v.abs() {
            a if a >= 1e6 => short(v / 1e6, "M"),
            a if a >= 1e3 => short(v / 1e3, "k"),
            a if a >= 10.0 || a == a.trunc() => format!("{v:.0}"),
            _ => short(v, ""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plot::{marker_radius, tick_label};

    #[test]
    fn tick_labels_read_as_people_write_numbers() {
        let cases = [
            (3.0, "3"),
            (2.5, "2.5"),
            (0.5, "0.5"),
            (10.0, "10"),
            (100.0, "100"),
            (512.0, "512"),
            (2500.0, "2.5k"),
            (40_000.0, "40k"),
            (1e6, "1M"),
            (1.2e6, "1.2M"),
        ];
        for (value, label) in cases {
            assert_eq!(tick_label(value), label, "{value}");
        }
    }

    #[test]
    fn a_bucket_s_marker_grows_with_its_share_of_the_store() {
        assert_eq!(marker_radius(0, 1000), 2);
        assert_eq!(marker_radius(1, 1_000_000), 2); // one saturated user: a speck
        assert_eq!(marker_radius(250, 1000), 7);
        assert_eq!(marker_radius(1000, 1000), 12);
        assert_eq!(marker_radius(5, 0), 12); // an empty store does not divide by zero
    }
}
