//! Any bytes as a Parquet part: verify's reader returns rows or an error, never
//! panics — whatever the file claims about its columns, lists and dictionaries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use negsamp_engine::schema::{Column, ColumnKind, Dtype, Schema};
use negsamp_engine::write::{read_parquet_part, IdColumns};

fuzz_target!(|data: &[u8]| {
    // negsamp catches the parquet crate's panics on malformed files by design (an
    // error, not a crash); libFuzzer's hook would abort on those caught panics too.
    // A panic that escapes is still caught by the harness and reported.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let column = Column::new;
    let mut history = column("history", ColumnKind::History, Dtype::U32, 4);
    history.list_len = Some("history_len");
    let schema = Schema {
        columns: vec![
            column("user", ColumnKind::User, Dtype::U32, 1),
            column("item", ColumnKind::Item, Dtype::U32, 1),
            column("label", ColumnKind::Label, Dtype::U8, 1),
            column("anchor", ColumnKind::Anchor, Dtype::U64, 1),
            history,
            column("history_len", ColumnKind::HistoryLen, Dtype::U32, 1),
        ],
        pad: 9,
        layout: negsamp_engine::Layout::Long,
    };
    let path = std::path::Path::new("part.parquet");
    let _ = read_parquet_part(path, data.to_vec(), &schema, &IdColumns::default());
});
