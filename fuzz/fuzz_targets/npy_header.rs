//! Any bytes as a `.npy` header: parsed or refused, and no size derived from it
//! overflows.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = negsamp_engine::npy::parse_header(data) {
        for size in [1, 4, 8] {
            let _ = info.data_bytes(size);
        }
    }
});
