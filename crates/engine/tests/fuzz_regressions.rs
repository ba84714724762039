//! Inputs the fuzz targets (`fuzz/fuzz_targets/`) once crashed on, kept as tests: each
//! must now be an error.

use negsamp_engine::schema::{Column, ColumnKind, Dtype, Schema};
use negsamp_engine::write::{read_parquet_part, IdColumns};

/// The `parquet_part` target's schema: ids, label, anchor and a history list.
fn schema() -> Schema {
    let column = Column::new;
    let mut history = column("history", ColumnKind::History, Dtype::U32, 4);
    history.list_len = Some("history_len");
    Schema {
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
    }
}

/// Footer metadata whose Thrift `IntType` lacks a required field: the `parquet`
/// crate's decoder unwrapped a `None`.
#[test]
fn parquet_metadata_that_panics_the_decoder_is_an_error() {
    let bytes = include_bytes!("../../../fixtures/fuzz/parquet_part-thrift-unwrap.bin");
    let path = std::path::Path::new("part.parquet");
    let err =
        read_parquet_part(path, bytes.to_vec(), &schema(), &IdColumns::default()).unwrap_err();
    assert!(
        err.to_string().contains("not a readable Parquet file"),
        "{err}"
    );
}
