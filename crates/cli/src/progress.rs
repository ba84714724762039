//! Progress bars on stderr, only when stderr is a terminal and the output is text, and
//! numbers for people.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A bar of `total` units; hidden when stderr is not a terminal.
pub fn bar(total: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() || !crate::output::text() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!("{{elapsed_precise}} [{{wide_bar}}] {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, eta {{eta}})");
    bar.set_style(ProgressStyle::with_template(&template).expect("valid template"));
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
