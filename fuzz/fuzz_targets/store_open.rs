//! Any bytes as `store.bin`: opening, reading every user (with its time order) and
//! kept column, and the full verify return errors, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use negsamp_store::{order, Store};

fuzz_target!(|data: &[u8]| {
    let Ok(store) = Store::from_bytes(data) else {
        return;
    };
    let _ = store.verify();
    let (mut anchors, mut keys) = (Vec::new(), Vec::new());
    for u in 0..store.n_users().min(1000) {
        if let Ok(view) = store.user(u) {
            let _ = order::of_user(&view, true, &mut anchors, &mut keys);
        }
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
