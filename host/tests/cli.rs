//! The `edge-host` binary's answers to bad input: one clear line and a non-zero exit.

use std::process::Command;

fn edge_host(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edge-host"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn a_missing_component_is_one_clear_line_and_exit_1() {
    let out = edge_host(&["serve", "/no/such/app.wasm", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot read component /no/such/app.wasm: "),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_file_that_is_not_a_component_is_one_clear_line_and_exit_1() {
    let path = std::env::temp_dir().join(format!("edge-host-cli-{}.wasm", std::process::id()));
    std::fs::write(&path, b"this is not wasm").expect("temp dir is writable");
    let out = edge_host(&["serve", path.to_str().expect("utf-8 path")]);
    std::fs::remove_file(&path).expect("remove temp file");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("is not a WebAssembly component"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = edge_host(&["serve", "x.wasm", "--max-body", "12Q"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown size unit"), "{stderr}");
}
