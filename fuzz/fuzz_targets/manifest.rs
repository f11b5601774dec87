//! The spin.toml reader: any text is a manifest or a list of problems with their places,
//! never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = |name: &str| (name == "SPIN_VARIABLE_TOKEN").then(|| "t".to_owned());
    if let Err(err) =
        host::spin::manifest::parse_unbuilt(text, Path::new("/nonexistent/spin.toml"), &env)
    {
        // Every problem renders.
        let _ = err.to_string();
    }
});
