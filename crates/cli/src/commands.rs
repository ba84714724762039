//! One function per subcommand.

use crate::bench;
use crate::progress;
use anyhow::{bail, Context, Result};
use negsamp::cli::{
    Args, Command, DemoArgs, GenerateArgs, InfoArgs, IngestArgs, RequestArgs, SampleArgs,
    StrategyArg, VerifyArgs,
};
use negsamp::request::{ingest_options, sample_config};
use negsamp::{output, report};
use negsamp_engine::manifest::{Manifest, MANIFEST_FILE};
use negsamp_engine::verify::{verify_output_with_progress, RowCheck};
use negsamp_engine::{
    sample_split, sample_to_dir, Amount, EngineError, RunSummary, SampleConfig, Strategy,
};
use negsamp_kernel::uniform::{Kernel, Replacement};
use negsamp_store::ingest::ingest;
use negsamp_store::output::{OutputFile, WriteMode};
use negsamp_store::publish::staging_path;
use negsamp_store::stats::{describe, StoreInfo};
use negsamp_store::synth::{generate, SynthOptions};
use negsamp_store::{Store, StoreError, STORE_FILE};
use std::path::Path;

/// More worker threads than this is a typo, not a request (starting 10 000 threads
/// took a minute to fail).
const MAX_THREADS: usize = 1024;

pub fn run(args: Args) -> Result<()> {
    if let Command::Bench(a) = &args.command {
        return bench::bench_cmd(a, &args.threads);
    }
    let threads = match args.threads[..] {
        [] => 0,
        [n] => n,
        _ => bail!("--threads takes one number here; only `bench` measures a list"),
    };
    if threads > MAX_THREADS {
        return Err(EngineError::Config(format!(
            "--threads {threads}: at most {MAX_THREADS} (this machine has {} cores)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        ))
        .into());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the thread pool")?;
    pool.install(|| match args.command {
        Command::Ingest(a) => ingest_cmd(&a),
        Command::Info(a) => info_cmd(&a),
        Command::Verify(a) => verify_cmd(&a),
        Command::Sample(a) => sample_cmd(&a),
        Command::Build(a) => crate::build::build_cmd(&a),
        Command::Generate(a) => generate_cmd(&a),
        Command::Demo(a) => demo_cmd(&a),
        Command::Bench(_) => unreachable!("handled above"),
    })
}

fn ingest_cmd(a: &IngestArgs) -> Result<()> {
    let options = ingest_options(a);
    // Standard input has no size to show progress against: a spinner counts bytes.
    let size = if negsamp_store::source::is_stdin(&a.csv) || a.csv.is_dir() {
        0
    } else {
        std::fs::metadata(&a.csv)
            .with_context(|| format!("reading {}", a.csv.display()))?
            .len()
    };
    let display = progress::IngestDisplay::new(size);
    let summary = ingest(&a.csv, &a.out, &options, &|step| display.show(step));
    display.finish();
    let summary = summary?;
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    say!("ingested {} → {}", a.csv.display(), a.out.display());
    say!(
        "  rows {} (bad rows skipped: {}), duplicate rows dropped: {}",
        summary.rows,
        summary.bad_rows,
        summary.duplicates
    );
    say!(
        "  users {}, items {}, interactions {}",
        summary.users,
        summary.items,
        summary.interactions,
    );
    say!(
        "  timestamps: {}",
        timestamps_line(summary.time_range, summary.time_unit)
    );
    for note in &summary.notes {
        say!("  note: {note}");
    }
    if !summary.kept.is_empty() {
        let kept: Vec<String> = summary
            .kept
            .iter()
            .map(|(n, t)| format!("{n} ({t})"))
            .collect();
        say!("  kept columns: {}", kept.join(", "));
    }
    say!(
        "  {}B in {:.2} s: {}B/s, {} rows/s",
        progress::human(summary.bytes as f64),
        secs,
        progress::human(summary.bytes as f64 / secs),
        progress::human(summary.rows as f64 / secs)
    );
    output::emit(&report::event(
        "ingested",
        report::ingest(&a.csv, &a.out, &summary),
    ))
}

fn info_cmd(a: &InfoArgs) -> Result<()> {
    let store = Store::open(&a.store)?;
    let info = describe(&store)?;
    if output::json() {
        output::emit(&report::event("info", serde_json::to_value(&info)?))?;
    } else if a.json {
        say!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print_info(&a.store, &info)?;
    }
    Ok(())
}

fn print_info(path: &Path, info: &StoreInfo) -> Result<()> {
    say!(
        "store {} (fingerprint {})",
        path.display(),
        info.fingerprint
    );
    say!(
        "  users {}, items {} ({} never touched), interactions {}",
        info.users,
        info.items,
        info.untouched_items,
        info.interactions
    );
    say!("  density {:.3e}", info.density);
    if let Some(d) = &info.user_degree {
        say!(
            "  interactions per user: min {} / median {} / mean {:.2} / p99 {} / max {}",
            d.min,
            d.median,
            d.mean,
            d.p99,
            d.max
        );
    }
    if let Some(d) = &info.item_popularity {
        say!(
            "  interactions per item: min {} / median {} / mean {:.2} / p99 {} / max {}",
            d.min,
            d.median,
            d.mean,
            d.p99,
            d.max
        );
    }
    say!(
        "  top 1% of items hold {:.1}% of interactions",
        info.top_1pct_items_share * 100.0
    );
    say!(
        "  timestamps: {}",
        timestamps_line(info.time_range, info.time_unit)
    );
    if !info.kept.is_empty() {
        say!("  kept columns: {}", info.kept.join(", "));
    }
    say!("  format: {}", format_line(info));
    Ok(())
}

/// The store's format version and what it means for sampling speed.
fn format_line(info: &StoreInfo) -> String {
    let version = info.format_version;
    if version < negsamp_store::format::VERSION {
        format!("version {version}; `negsamp ingest` again to store each user's anchors in order (sample and verify then skip a sort per user)")
    } else if info.time_order_stored {
        format!("version {version}, each user's anchors in (timestamp, row) order stored")
    } else {
        format!("version {version}, every user's interactions in (timestamp, row) order already")
    }
}

fn verify_cmd(a: &VerifyArgs) -> Result<()> {
    if a.path.join(STORE_FILE).exists() {
        let store = Store::open(&a.path)?;
        store.verify()?;
        say!(
            "ok: store {} ({} users, {} items, {} interactions)",
            a.path.display(),
            store.n_users(),
            store.n_items(),
            store.n_interactions()
        );
        return output::emit(&serde_json::json!({
            "event": "verified",
            "store": a.path,
            "users": store.n_users(),
            "items": store.n_items(),
            "interactions": store.n_interactions(),
        }));
    }
    // A build (`negsamp build`): its store, then its datasets against that store.
    if let Some(manifest) = negsamp_engine::build::read_manifest(&a.path) {
        let store = a.path.join(negsamp_engine::build::root::STORE_DIR);
        verify_cmd(&VerifyArgs {
            path: store.clone(),
            ..a.clone()
        })?;
        for dataset in &manifest.datasets {
            verify_cmd(&VerifyArgs {
                path: a.path.join(dataset),
                store: (!a.quick).then(|| store.clone()),
                ..a.clone()
            })?;
        }
        return Ok(());
    }
    let sides = ["train", "test"].map(|side| a.path.join(side));
    if !Manifest::exists(&a.path) && sides.iter().all(|d| Manifest::exists(d)) {
        for side in sides {
            verify_cmd(&VerifyArgs {
                path: side,
                ..a.clone()
            })?;
        }
        return Ok(());
    }
    if !Manifest::exists(&a.path) {
        bail!(
            "{} is neither a store (no {STORE_FILE}) nor a sampled dataset (no {MANIFEST_FILE})",
            a.path.display()
        );
    }
    let manifest = Manifest::read(&a.path)?;
    let store_path = a.store.clone().or_else(|| {
        let recorded = Path::new(&manifest.store.path);
        (!a.quick && !manifest.store.path.is_empty() && recorded.join(STORE_FILE).exists())
            .then(|| recorded.to_path_buf())
    });
    let store = store_path.as_deref().map(Store::open).transpose()?;
    let started = std::time::Instant::now();
    let bar = progress::bar(manifest.totals.tally.rows, "rows");
    let row_check = if a.every_row {
        RowCheck::EveryRow
    } else {
        RowCheck::Recompute
    };
    let report = verify_output_with_progress(&a.path, store.as_ref(), row_check, &|done| {
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    match store_path {
        Some(p) => say!(
            "ok: {} rows in {} parts, every row checked against {}: every part recomputed, {} ({:.1} s, {} rows/s)",
            report.rows,
            report.parts,
            p.display(),
            if a.every_row {
                "every row walked against the contract"
            } else {
                "its draws held to the sampling law"
            },
            secs,
            progress::human(report.rows as f64 / secs)
        ),
        None if a.quick => say!(
            "ok: {} rows in {} parts match the manifest (--quick: rows not checked)",
            report.rows, report.parts
        ),
        None => say!(
            "ok: {} rows in {} parts match the manifest (store {} not found: rows not checked; pass --store)",
            report.rows, report.parts, manifest.store.path
        ),
    }
    output::emit(&serde_json::json!({
        "event": "verified",
        "dataset": a.path,
        "rows": report.rows,
        "parts": report.parts,
        "checked_against_store": report.checked_against_store,
    }))
}

fn sample_cmd(a: &SampleArgs) -> Result<()> {
    let config = sample_config(a)?;
    let store = Store::open(&a.store)?;
    let bar = progress::bar(u64::from(store.n_users()), "users");
    let progress = |done| bar.set_position(done);
    let result = match a.split_at {
        None => sample_to_dir(&store, &a.out, &config, &progress)
            .map(|summary| vec![(a.out.clone(), summary)]),
        Some(at) => sample_split(&store, &a.out, &config, at, &progress)
            .map(|[train, test]| vec![(a.out.join("train"), train), (a.out.join("test"), test)]),
    };
    let runs: Vec<(std::path::PathBuf, RunSummary)> = match result {
        Ok(runs) => runs,
        // Say what a failed run left: its finished parts, kept for a rerun.
        Err(e)
            if staging_path(&a.out).exists()
                && !matches!(e, EngineError::Store(StoreError::Busy { .. })) =>
        {
            bar.finish_and_clear();
            return Err(anyhow::Error::new(e).context(format!(
                "finished parts are kept in {} for a rerun of the same command; delete it to reclaim the space",
                staging_path(&a.out).display()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    bar.finish_and_clear();
    for (out, summary) in runs {
        print_run(&a.store, &out, &config, &summary)?;
    }
    Ok(())
}

fn print_run(store: &Path, out: &Path, config: &SampleConfig, summary: &RunSummary) -> Result<()> {
    let t = summary.manifest.totals.tally;
    let secs = summary.elapsed.as_secs_f64().max(1e-9);
    say!(
        "sampled {} → {} ({})",
        store.display(),
        out.display(),
        describe_config(config)
    );
    say!(
        "  rows {}: {} positives, {} negatives",
        t.rows,
        t.positives,
        t.negatives
    );
    if let (Some(split), Some(unit)) = (
        summary.manifest.parameters.split,
        summary.manifest.store.time_unit,
    ) {
        say!(
            "  anchors {} {} ({} Unix {})",
            match split.side {
                negsamp_engine::Side::Train => "before",
                negsamp_engine::Side::Test => "at or after",
            },
            unit.to_iso(split.at),
            split.at,
            unit.words()
        );
    }
    if config.exclude.is_some() {
        say!(
            "  --exclude pairs applied: {} (skipped: {})",
            summary.manifest.totals.exclusions_applied,
            summary.manifest.totals.exclusions_skipped
        );
    }
    say!(
        "  users short of candidates: {} (negatives missing in total: {})",
        t.users_short,
        t.shortfall
    );
    say!(
        "  {} parts{} in {:.2} s: {} rows/s, {} negatives/s",
        summary.manifest.parts.len(),
        if summary.resumed_parts > 0 {
            format!(" ({} resumed)", summary.resumed_parts)
        } else {
            String::new()
        },
        secs,
        progress::human(t.rows as f64 / secs),
        progress::human(t.negatives as f64 / secs)
    );
    output::emit(&report::event(
        "sampled",
        report::sample(store, out, summary),
    ))
}

fn describe_config(c: &SampleConfig) -> String {
    let amount = match c.amount {
        Amount::Ratio(r) => format!("{r} per positive"),
        Amount::PerUser(n) => format!("{n} per user"),
    };
    let replacement = match c.replacement {
        Replacement::With => "with replacement",
        Replacement::Without => "distinct",
    };
    let strategy = match c.strategy {
        Strategy::Uniform => "uniform".to_string(),
        Strategy::Popularity { .. } if c.weights.is_some() => "weights file".to_string(),
        Strategy::Popularity { alpha } => format!("popularity^{alpha}"),
    };
    format!("{strategy}, {amount}, {replacement}, seed {}", c.seed)
}

fn synth_options(a: &GenerateArgs) -> SynthOptions {
    let shape = match a.shape {
        Some(shape) => negsamp_store::synth::Shape::from(shape).options(),
        None => SynthOptions {
            users: a.rows.map_or(a.users, |rows| {
                ((rows as f64 / a.mean_degree).ceil() as u64).max(1)
            }),
            items: a.items,
            mean_degree: a.mean_degree,
            degree_sigma: a.degree_sigma,
            zipf_exponent: a.zipf,
            ..Default::default()
        },
    };
    SynthOptions {
        seed: a.seed,
        string_ids: a.string_ids,
        timestamps: !a.no_timestamps,
        features: a.features,
        ..shape
    }
}

fn generate_cmd(a: &GenerateArgs) -> Result<()> {
    let options = synth_options(a);
    let start = std::time::Instant::now();
    let rows = write_csv(&options, &a.out)?;
    say!(
        "wrote {} rows ({} users, {} items) to {} in {:.1} s",
        rows,
        options.users,
        options.items,
        a.out.display(),
        start.elapsed().as_secs_f64()
    );
    output::emit(&serde_json::json!({
        "event": "generated",
        "out": a.out,
        "rows": rows,
        "users": options.users,
        "items": options.items,
        "seconds": start.elapsed().as_secs_f64(),
    }))
}

/// Generates into a hidden sibling and renames, so the CSV is never half-written.
pub fn write_csv(options: &SynthOptions, out: &Path) -> Result<u64> {
    let staging = staging_path(out);
    let creating = || format!("creating {}", staging.display());
    let mut file = OutputFile::create(&staging, WriteMode::Direct).with_context(creating)?;
    let bar = progress::bar(options.users, "users");
    let rows = generate(options, &mut file, &|done| bar.set_position(done));
    bar.finish_and_clear();
    let finished = rows
        .map_err(anyhow::Error::from)
        .and_then(|rows| Ok((rows, file.into_file().with_context(creating)?)));
    let (rows, _) = finished.inspect_err(|_| {
        let _ = std::fs::remove_file(&staging);
    })?;
    std::fs::rename(&staging, out).with_context(|| format!("renaming into {}", out.display()))?;
    Ok(rows)
}

fn demo_cmd(a: &DemoArgs) -> Result<()> {
    let temp;
    let dir = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let csv = dir.join("interactions.csv");
    let store = dir.join("data.store");
    let train = dir.join("train");
    say!(
        "== generate: {} users, Zipf item popularity, log-normal degrees",
        a.users
    );
    let options = SynthOptions {
        users: a.users,
        items: 5_000,
        mean_degree: 20.0,
        seed: 42,
        features: true,
        ..Default::default()
    };
    let rows = write_csv(&options, &csv)?;
    say!("wrote {rows} rows to {}", csv.display());
    say!("\n== ingest");
    ingest_cmd(&IngestArgs {
        csv: csv.clone(),
        out: store.clone(),
        user_col: None,
        item_col: None,
        delimiter: b',',
        no_header: false,
        time_format: Default::default(),
        time_col: None,
        no_time: false,
        items: None,
        keep: ["price", "category", "device"]
            .map(|k| k.parse().expect("valid names"))
            .to_vec(),
        skip_bad_rows: false,
        overwrite: true,
        fsync: false,
        write_mode: crate::cli::WriteModeArg::Direct,
        json: false,
    })?;
    say!("\n== info");
    info_cmd(&InfoArgs {
        store: store.clone(),
        json: false,
    })?;
    say!("\n== sample (1:1, distinct negatives, seed 42, carrying price and category, history of 5, Parquet)");
    let sample = SampleArgs {
        store: store.clone(),
        out: train.clone(),
        request: RequestArgs {
            seed: 42,
            ratio: Some(1),
            per_user: None,
            with_replacement: false,
        },
        negatives_only: false,
        shards: Some(2),
        strategy: StrategyArg::Uniform,
        base: None,
        candidates: None,
        skip_top: None,
        pick: None,
        temperature: None,
        hard_fraction: None,
        metric: None,
        user_emb: None,
        query_emb: None,
        item_emb: None,
        user_emb_ids: None,
        item_emb_ids: None,
        alpha: None,
        weights: None,
        exclude: None,
        skip_unknown: false,
        log_q: false,
        split_at: None,
        kernel: Kernel::Auto,
        carry: vec!["price".into(), "category".into()],
        history: 5,
        history_order: crate::cli::HistoryOrderArg::Time,
        layout: crate::cli::LayoutArg::Long,
        anchor_dtype: crate::cli::AnchorDtypeArg::U64,
        format: crate::cli::FormatArg::Parquet,
        original_ids: true,
        overwrite: true,
        fsync: false,
        write_mode: crate::cli::WriteModeArg::Direct,
        json: false,
    };
    sample_cmd(&sample)?;
    say!("\n== verify");
    verify_cmd(&VerifyArgs {
        path: store.clone(),
        store: None,
        quick: false,
        every_row: false,
    })?;
    verify_cmd(&VerifyArgs {
        path: train.clone(),
        store: None,
        quick: false,
        every_row: false,
    })?;
    match &a.dir {
        Some(_) => say!(
            "\nload it: pandas.read_parquet(\"{}\")  # user, item, label, anchor, timestamp, price, category, history, …",
            train.display()
        ),
        None => say!(
            "\n(the demo ran in a temporary directory, now removed; pass --dir DIR to keep it and load it with pandas.read_parquet(\"DIR/train\"))"
        ),
    }
    Ok(())
}

/// A store's timestamps for people: their range as dates and numbers, and the unit.
fn timestamps_line(
    range: Option<(i64, i64)>,
    unit: Option<negsamp_store::time::TimeUnit>,
) -> String {
    match (range, unit) {
        (Some(range), Some(unit)) => negsamp_store::time::describe_range(range, unit),
        _ => "no".into(),
    }
}
