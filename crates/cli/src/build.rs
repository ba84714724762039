//! `negsamp build CONFIG`: the config read ([`crate::config`]), the engine's build run,
//! its events printed as lines or JSON.

use crate::cli::BuildArgs;
use crate::{config, output, progress};
use anyhow::Result;
use negsamp::request::{ingest_options, sample_config};
use negsamp_engine::build::{build, plan, BuildEvent, BuildOutcome, BuildSpec, Stage};

pub fn build_cmd(a: &BuildArgs) -> Result<()> {
    let config = config::load(&a.config)?;
    let spec = BuildSpec {
        ingest: ingest_options(&config.ingest),
        sample: sample_config(&config.sample)?,
        split_at: config.sample.split_at,
        input: config.input,
        root: config.root,
        keep: config.keep,
        settings: config.settings,
    };
    if a.dry_run {
        let plan = plan(&spec)?;
        say!("build {} of {}", plan.id, plan.input.path);
        say!(
            "  input: {} files, {}B, xxh3 {}",
            plan.input.files,
            progress::human(plan.input.bytes as f64),
            plan.input.xxh3
        );
        if plan.up_to_date {
            say!(
                "  up to date: {}/current is this build",
                spec.root.display()
            );
        } else {
            say!(
                "  would run: ingest ({}), sample ({}), verify, publish",
                reuse_word(plan.reusable.contains(&Stage::Ingest)),
                reuse_word(plan.reusable.contains(&Stage::Sample))
            );
            say!("  would prune: {}", list_or_none(&plan.would_prune));
        }
        let mut event = serde_json::to_value(&plan)?;
        event["event"] = "plan".into();
        return output::emit(&event);
    }
    let outcome = build(&spec, &|event| {
        // A log line that cannot be written must not fail the build.
        let _ = report(event);
    })?;
    match outcome {
        BuildOutcome::UpToDate { id } => {
            say!("up to date: build {id} is current; nothing to do");
        }
        BuildOutcome::Built(manifest) => {
            let c = &manifest.counts;
            say!(
                "built {} → {}/current: {} users, {} interactions → {} rows ({} negatives, shortfall {})",
                manifest.id,
                spec.root.display(),
                c.users,
                c.interactions,
                c.rows,
                c.negatives,
                c.shortfall
            );
        }
    }
    Ok(())
}

/// One build event, as a line or a JSON object.
fn report(event: &BuildEvent) -> Result<()> {
    output::emit(event)?;
    match event {
        BuildEvent::Planned { id, input, seconds } => say!(
            "input {} ({} files, {}B) hashed in {:.2} s → build {id}",
            input.path,
            input.files,
            progress::human(input.bytes as f64),
            seconds
        ),
        BuildEvent::UpToDate { .. } | BuildEvent::StageStarted { .. } => {}
        BuildEvent::RemovedStale { path } => {
            say!(
                "removed {} (an unfinished build of another input or config)",
                path.display()
            )
        }
        BuildEvent::StageRedone { stage, reason } => {
            say!("{stage:?}: the reused result failed verification ({reason}); redoing it")
        }
        BuildEvent::StageFinished(record) => say!(
            "{:<11} {:>8.2} s  peak RSS {}B{}",
            format!("{:?}", record.stage).to_lowercase(),
            record.seconds,
            record
                .peak_rss_bytes
                .map_or("?".into(), |b| progress::human(b as f64)),
            if record.reused {
                "  (reused from an interrupted build)"
            } else {
                ""
            }
        ),
        BuildEvent::Published { id, path } => say!("published {id} at {}", path.display()),
        BuildEvent::Pruned { id } => say!("pruned old build {id}"),
        BuildEvent::PruneSkipped { id } => {
            say!("kept old build {id} past `keep`: a process has it open")
        }
    }
    Ok(())
}

fn reuse_word(reusable: bool) -> &'static str {
    if reusable {
        "reused from an interrupted build"
    } else {
        "to do"
    }
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "nothing".into()
    } else {
        ids.join(", ")
    }
}
