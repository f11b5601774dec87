//! Link settings for the component: 8 MiB of initial linear memory (the 1 MiB stack, the
//! data, the rest heap), so that a fresh instance does not grow its memory on every request.

const INITIAL_MEMORY: u64 = 8 << 20;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-link-arg-cdylib=--initial-memory={INITIAL_MEMORY}");
    }
}
