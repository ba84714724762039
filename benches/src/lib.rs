//! Benchmarks live in `benches/`; run `cargo bench -p negsamp-benches`.
