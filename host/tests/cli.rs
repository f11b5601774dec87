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

#[test]
fn huge_durations_are_usage_errors_not_panics() {
    for flag in [
        "--header-read-timeout",
        "--deadline",
        "--idle-timeout",
        "--send-timeout",
        "--shutdown-grace",
        "--outbound-connect-timeout",
        "--breaker-reset",
    ] {
        let out = edge_host(&["serve", "x.wasm", flag, "18446744073709551615s"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("must be at most 365d"), "{flag}: {stderr}");
    }
}

/// A manifest in a fresh temp directory; returns the directory.
fn app_dir(name: &str, manifest: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("edge-host-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    std::fs::write(dir.join("spin.toml"), manifest).expect("write the manifest");
    dir
}

/// `edge-host up -f MANIFEST` on a free port, without `SPIN_VARIABLE_TOKEN`.
fn up(manifest: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edge-host"))
        .args(["up", "-f", manifest.to_str().expect("utf-8 path")])
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("SPIN_VARIABLE_TOKEN")
        .output()
        .expect("the binary runs")
}

#[test]
fn manifest_errors_name_the_file_and_key_and_nothing_starts() {
    let dir = app_dir(
        "bad",
        r#"spin_manifest_version = 2

[application]
name = "bad"

[variables]
token = { required = true, secret = true }

[[trigger.http]]
route = "/..."
component = "api"

[[trigger.http]]
route = "/..."
component = "api"

[component.api]
source = "missing.wasm"
sorce = "typo.wasm"
allowed_outbound_hosts = ["{{ nope }}"]
"#,
    );
    let manifest = dir.join("spin.toml");
    let out = up(&manifest);
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = manifest.display().to_string();
    for (key, fragment) in [
        ("variables.token", "SPIN_VARIABLE_TOKEN"),
        ("trigger.http[1].route", "duplicate route `/...`"),
        ("component.api.source", "missing.wasm"),
        ("component.api.sorce", "unknown key"),
        ("component.api.allowed_outbound_hosts[0]", "nope"),
    ] {
        let line = stderr
            .lines()
            .find(|line| line.contains(&format!("`{key}`")))
            .unwrap_or_else(|| panic!("no problem at {key} in:\n{stderr}"));
        assert!(line.contains(&file), "{line}");
        assert!(line.contains(fragment), "{line}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Serving"), "{stderr}");
}

#[test]
fn a_missing_manifest_is_one_clear_error() {
    let out = edge_host(&["up", "-f", "/no/such/spin.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/no/such/spin.toml"), "{stderr}");
    assert!(stderr.contains("cannot read the manifest"), "{stderr}");
}

#[test]
fn zero_or_out_of_range_limits_are_refused_before_anything_starts() {
    for (flag, value, says) in [
        ("--idle-timeout", "0s", "must be above zero"),
        ("--send-timeout", "0ms", "must be above zero"),
        ("--deadline", "0s", "must be above zero"),
        ("--max-connections", "0", "must be at least 1"),
        ("--max-in-flight", "0", "must be at least 1"),
        ("--workers", "1025", "must be at most 1024"),
    ] {
        let out = edge_host(&["serve", "/no/such/app.wasm", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag) && stderr.contains(says), "{stderr}");
    }
}

#[test]
fn manifest_errors_give_the_line_and_column() {
    let dir = app_dir(
        "positions",
        "spin_manifest_version = 2\n\n[application]\nname = \"p\"\n\n[[trigger.http]]\nroute = 5\ncomponent = \"api\"\n\n[component.api]\nsource = \"api.wasm\"\n  sorce = \"typo.wasm\"\n",
    );
    let manifest = dir.join("spin.toml");
    let out = up(&manifest);
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = manifest.display().to_string();
    assert!(
        stderr.contains(&format!("{file}:7:9: `trigger.http[0].route`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:12:3: `component.api.sorce`: unknown key")),
        "{stderr}"
    );
}
