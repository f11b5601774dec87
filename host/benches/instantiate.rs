//! In-process cost of one request: instantiate the example component, handle
//! `GET /api/health`, collect the response. No sockets.
//!
//! The component is built with `scripts/build-guest` (cached) unless `HANDLER_WASM` names one.

use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use host::{Harness, RuntimeConfig};

// The allocator the `edge-host` binary runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn handler_wasm() -> PathBuf {
    if let Some(path) = std::env::var_os("HANDLER_WASM") {
        return PathBuf::from(path);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/build-guest"))
        .args(["-p", "example"])
        .output()
        .expect("scripts/build-guest runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(dir.lines().last().expect("the output dir").trim()).join("example.wasm")
}

fn bench(c: &mut Criterion) {
    let wasm = handler_wasm();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // What `#[tokio::test]` gives a handler's tests: no hand-off between threads around the
    // guest's task, so this measures the instance and the guest alone.
    let local = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut group = c.benchmark_group("health");
    for (runtime, rt) in [("", &multi), ("_current_thread", &local)] {
        for (name, reuse) in [("fresh_instance", 0), ("instance_reuse_1000", 1000)] {
            let config = RuntimeConfig {
                instance_reuse: reuse,
                ..RuntimeConfig::default()
            };
            let harness = Harness::load_with(&wasm, config).expect("component loads");
            group.bench_function(format!("{name}{runtime}"), |b| {
                b.to_async(rt).iter(|| async {
                    let req = http::Request::get("/api/health")
                        .body("")
                        .expect("valid request");
                    let res = harness.send(req).await.expect("answered");
                    assert_eq!(res.status(), 200);
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
