//! Any bytes as a dataset's `manifest.json` (the run's parameters included): parsed and
//! validated or refused, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = serde_json::from_slice::<negsamp_engine::manifest::Manifest>(data) {
        let _ = manifest.parameters.validate();
        let _ = serde_json::to_vec(&manifest);
    }
    if let Ok(config) = serde_json::from_slice::<negsamp_engine::SampleConfig>(data) {
        let _ = config.validate();
    }
});
