//! What a command line asks for, as the library crates' types: `ingest` options
//! as [`IngestOptions`], a `sample` request as [`SampleConfig`]. The binary, a build
//! config and the Python package all go through here.

use crate::cli::{
    BaseArg, CandidatesArg, IngestArgs, MetricArg, PickArg, RequestArgs, SampleArgs, StrategyArg,
};
use negsamp_engine::config::{Candidates, Metric};
use negsamp_engine::{Amount, EngineError, Hard, SampleConfig, Strategy};
use negsamp_kernel::uniform::Replacement;
use negsamp_store::ingest::{IngestOptions, TimeColumn};

impl RequestArgs {
    /// `--ratio R` / `--per-user N` (default 1:1).
    pub fn amount(&self) -> Amount {
        match (self.ratio, self.per_user) {
            (_, Some(n)) => Amount::PerUser(n),
            (r, None) => Amount::Ratio(r.unwrap_or(1)),
        }
    }

    /// `--with-replacement` (default: distinct negatives).
    pub fn replacement(&self) -> Replacement {
        if self.with_replacement {
            Replacement::With
        } else {
            Replacement::Without
        }
    }
}

/// The ingest options an `ingest` command line asks for (also a build's `[ingest]`).
pub fn ingest_options(a: &IngestArgs) -> IngestOptions {
    let positional = |name: &str, position: &str| {
        if a.no_header {
            position.to_owned()
        } else {
            name.to_owned()
        }
    };
    IngestOptions {
        user_col: a
            .user_col
            .clone()
            .unwrap_or_else(|| positional("user", "0")),
        item_col: a
            .item_col
            .clone()
            .unwrap_or_else(|| positional("item", "1")),
        delimiter: a.delimiter,
        time_format: a.time_format,
        header: !a.no_header,
        time_col: match (&a.time_col, a.no_time) {
            (_, true) => TimeColumn::Ignore,
            (Some(name), false) => TimeColumn::Required(name.clone()),
            (None, false) if a.no_header => TimeColumn::Ignore,
            (None, false) => TimeColumn::IfPresent("timestamp".into()),
        },
        items_file: a.items.clone(),
        keep: a.keep.clone(),
        skip_bad_rows: a.skip_bad_rows,
        overwrite: a.overwrite,
        fsync: a.fsync,
        write_mode: a.write_mode.into(),
        ..Default::default()
    }
}

/// The sampling request a `sample` command line makes (also a build's `[sample]`).
pub fn sample_config(a: &SampleArgs) -> Result<SampleConfig, EngineError> {
    let config_error = |m: &str| Err(EngineError::Config(m.into()));
    let hard = matches!(a.strategy, StrategyArg::Hard);
    // Hard negatives' candidates come from the base strategy.
    let popularity = match (a.strategy, a.base) {
        (StrategyArg::Hard, base) => matches!(base, Some(BaseArg::Popularity)),
        (_, Some(_)) => return config_error("--base applies to --strategy hard"),
        (strategy, None) => matches!(strategy, StrategyArg::Popularity),
    };
    if a.alpha.is_some() && !popularity {
        return config_error(
            "--alpha weighs items by popularity; it applies to --strategy popularity (or --base popularity)",
        );
    }
    let queries = a.user_emb.is_some() || a.query_emb.is_some();
    let hard =
        match (hard, queries, &a.item_emb, a.candidates) {
            (true, true, Some(item_emb), Some(candidates)) => Some(Hard {
                user_emb: a.user_emb.clone(),
                query_emb: a.query_emb.clone(),
                item_emb: item_emb.clone(),
                candidates: match (candidates, a.skip_top) {
                    (CandidatesArg::Draws(m), None) => Candidates::Draws(m),
                    (CandidatesArg::All, skip) => Candidates::All {
                        skip_top: skip.unwrap_or(0),
                    },
                    (CandidatesArg::Draws(_), Some(_)) => {
                        return config_error("--skip-top applies to --candidates all")
                    }
                },
                temperature: match (a.pick, a.temperature) {
                    (Some(PickArg::Softmax), Some(t)) => Some(t),
                    (Some(PickArg::Softmax), None) => {
                        return config_error("--pick softmax needs --temperature")
                    }
                    (_, Some(_)) => return config_error("--temperature applies to --pick softmax"),
                    (_, None) => None,
                },
                user_ids: a.user_emb_ids.clone(),
                item_ids: a.item_emb_ids.clone(),
                metric: match a.metric {
                    Some(MetricArg::Cosine) => Metric::Cosine,
                    Some(MetricArg::Dot) | None => Metric::Dot,
                },
                fraction: a.hard_fraction,
            }),
            (true, ..) => return config_error(
                "--strategy hard needs --user-emb (or --query-emb), --item-emb and --candidates",
            ),
            (false, false, None, None)
                if a.skip_top.is_none()
                    && a.pick.is_none()
                    && a.temperature.is_none()
                    && a.metric.is_none()
                    && a.hard_fraction.is_none() =>
            {
                None
            }
            (false, ..) => {
                return config_error(
                    "--user-emb, --query-emb, --item-emb and --candidates apply to --strategy hard",
                )
            }
        };
    Ok(SampleConfig {
        strategy: match popularity {
            false => Strategy::Uniform,
            true => Strategy::Popularity {
                alpha: a.alpha.unwrap_or(1.0),
            },
        },
        hard,
        weights: a.weights.clone(),
        exclude: a.exclude.clone(),
        skip_unknown: a.skip_unknown,
        log_q: a.log_q,
        carry: a.carry.clone(),
        history: a.history,
        history_order: a.history_order.into(),
        layout: a.layout.into(),
        anchor_dtype: a.anchor_dtype.into(),
        format: a.format.into(),
        original_ids: a.original_ids,
        split: None,
        amount: a.request.amount(),
        replacement: a.request.replacement(),
        kernel: a.kernel,
        negatives_only: a.negatives_only,
        seed: a.request.seed,
        shards: a.shards,
        overwrite: a.overwrite,
        fsync: a.fsync,
        write_mode: a.write_mode.into(),
        ..Default::default()
    })
}
