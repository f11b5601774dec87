//! Link settings for the component.
//!
//! A fresh instance starts from the linker's initial memory: the stack, the data and no
//! heap, so the first allocations of every request grow linear memory, and a host with a
//! pooling allocator pays two `mprotect` calls (with cross-core TLB shootdowns) per
//! request for that: one to grow, one to shrink the slot back for the next instance.
//! Starting with room for the heap avoids both; pages never touched cost nothing.
//!
//! Nothing here is specific to this application: a crate of your own copies this file
//! (cargo runs a `build.rs` beside `Cargo.toml` by itself).

/// Initial linear memory of the component: 8 MiB (the 1 MiB stack, the data, the rest heap).
const INITIAL_MEMORY: u64 = 8 << 20;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-link-arg-cdylib=--initial-memory={INITIAL_MEMORY}");
    }
}
