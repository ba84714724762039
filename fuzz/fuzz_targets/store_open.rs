//! Any bytes as `store.bin`: opening, reading every user and kept column, and the
//! full verify return errors, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use negsamp_store::Store;

fuzz_target!(|data: &[u8]| {
    let Ok(store) = Store::from_bytes(data) else {
        return;
    };
    let _ = store.verify();
    for u in 0..store.n_users().min(1000) {
        let _ = store.user(u);
    }
    for c in 0..store.kept_columns().len() {
        let _ = store.kept_values(c);
        if let Ok(Some(d)) = store.dictionary(c) {
            for code in 0..d.len().min(100) as u32 {
                let _ = d.get(code);
            }
        }
    }
});
