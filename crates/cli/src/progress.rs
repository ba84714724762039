//! Progress bars on stderr, only when stderr is a terminal and the output is text, and
//! numbers for people.

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use negsamp_store::ingest::IngestProgress;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// A bar of `total` units; hidden when stderr is not a terminal.
pub fn bar(total: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() || !crate::output::text() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!("{{elapsed_precise}} [{{wide_bar}}] {{human_pos}}/{{human_len}} {unit} ({{rate}} {unit}/s, eta {{eta}})");
    // indicatif's own `{per_sec}` prints four decimals (`239,103.8376/s`).
    let rate = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = w.write_str(&human(state.per_sec()));
    };
    bar.set_style(
        ProgressStyle::with_template(&template)
            .expect("valid template")
            .with_key("rate", rate),
    );
    bar
}

/// A bar over bytes; a spinner counting bytes when the total is unknown (0).
pub fn byte_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() || !crate::output::text() {
        return ProgressBar::hidden();
    }
    if total == 0 {
        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} {spinner} {bytes} read ({bytes_per_sec})",
            )
            .expect("valid template"),
        );
        return spinner;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .expect("valid template"),
    );
    bar
}

/// A rate or count for people: `534.1k`, `12.3M`, `1.25G`.
pub fn human(value: f64) -> String {
    match value {
        x if x >= 1e9 => format!("{:.2}G", x / 1e9),
        x if x >= 1e6 => format!("{:.1}M", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

/// An ingest's display, one stage after another so it never sits at 100% while work
/// goes on: the input's bytes read (a bar, or a spinner counting bytes when the size is
/// unknown), a spinner while the rows are built into each user's list, then the store
/// file's bytes written.
pub struct IngestDisplay {
    bar: ProgressBar,
    /// The stage shown: 0 reading, 1 building, 2 writing.
    stage: AtomicU8,
}

impl IngestDisplay {
    /// A display for an input of `size` bytes (0: unknown).
    pub fn new(size: u64) -> Self {
        Self::on(byte_bar(size))
    }

    fn on(bar: ProgressBar) -> Self {
        IngestDisplay {
            bar,
            stage: AtomicU8::new(0),
        }
    }

    /// Shows `step`.
    pub fn show(&self, step: IngestProgress) {
        match step {
            IngestProgress::Read(bytes) => self.bar.set_position(bytes),
            IngestProgress::Building => {
                if self.enter(1) {
                    self.bar.set_style(
                        ProgressStyle::with_template(
                            "{elapsed_precise} {spinner} building the store: rows placed per user, sorted, duplicates dropped",
                        )
                        .expect("valid template"),
                    );
                    self.bar.enable_steady_tick(Duration::from_millis(100));
                }
            }
            IngestProgress::Writing { written, total } => {
                if self.enter(2) {
                    self.bar.disable_steady_tick();
                    // The input's count and rate must not show against the store's size.
                    self.bar.set_length(total);
                    self.bar.set_position(written);
                    self.bar.reset_eta();
                    self.bar.set_style(
                        ProgressStyle::with_template(
                            "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} of the store written ({bytes_per_sec})",
                        )
                        .expect("valid template"),
                    );
                }
                self.bar.set_position(written);
            }
        }
    }

    /// Moves to `stage` if it is later than the one shown; whether it did.
    fn enter(&self, stage: u8) -> bool {
        self.stage.fetch_max(stage, Ordering::Relaxed) < stage
    }

    /// Clears the display once the ingest is over.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ingest_display_moves_from_the_input_to_the_store() {
        let display = IngestDisplay::on(ProgressBar::hidden());
        display.bar.set_length(1000);
        display.show(IngestProgress::Read(400));
        display.show(IngestProgress::Read(1000));
        assert_eq!(display.bar.position(), 1000);
        display.show(IngestProgress::Building);
        assert_eq!(display.stage.load(Ordering::Relaxed), 1);
        display.show(IngestProgress::Writing {
            written: 64,
            total: 5000,
        });
        // The bar now counts the store's bytes, not the input's.
        assert_eq!(display.bar.length(), Some(5000));
        assert_eq!(display.bar.position(), 64);
        display.show(IngestProgress::Writing {
            written: 5000,
            total: 5000,
        });
        assert_eq!(display.bar.position(), 5000);
        // A late report of an earlier stage does not move the display back.
        display.show(IngestProgress::Building);
        assert_eq!(display.stage.load(Ordering::Relaxed), 2);
        assert_eq!(display.bar.length(), Some(5000));
    }
}
