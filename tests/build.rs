//! Builds the guest components for wasm32-wasip2 with `scripts/build-guest` (the one place
//! that knows how) into `OUT_DIR`, and writes their paths for the tests to `include!`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_owned();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let script = root.join("scripts/build-guest");

    for path in [
        "handler/toolkit",
        "handler/example",
        "tests/fixtures",
        "tests/spin7",
        "scripts/build-guest",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    for var in [
        "GUEST_TOOLCHAIN",
        "GUEST_NO_INSTALL",
        "GUEST_RUSTUP_TIMEOUT",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let build = |args: &[&str]| -> PathBuf {
        let output = Command::new("bash")
            .arg(&script)
            .arg("--target-dir")
            .arg(out_dir.join("guest"))
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", script.display()));
        if !output.status.success() {
            // Shown by cargo when the build script fails: the guest's compiler output.
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
            panic!("{} {args:?} failed ({})", script.display(), output.status);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("build-guest prints the output dir")
                .trim(),
        )
    };

    // The example as a WASI 0.3 component first: both builds write `example.wasm`, so this
    // one is copied aside (cargo keeps each feature set's artefacts, so neither rebuilds the
    // other).
    let p3_dir = build(&[
        "-p",
        "example",
        "-p",
        "fixtures",
        "--features",
        "example/wasi-p3,fixtures/wasi-p3",
    ]);
    let p3_out = out_dir.join("p3");
    std::fs::create_dir_all(&p3_out).expect("OUT_DIR is writable");
    for name in ["example", "fixtures"] {
        std::fs::copy(
            p3_dir.join(format!("{name}.wasm")),
            p3_out.join(format!("{name}.wasm")),
        )
        .unwrap_or_else(|err| panic!("cannot copy the 0.3 {name}.wasm: {err}"));
    }
    let wasm_dir = build(&["-p", "example", "-p", "fixtures", "-p", "spin7-fixture"]);
    // The fixture again as a plain core module, as Spin's own tests ship them.
    let module_dir = build(&["-p", "fixtures", "--core-module"]);

    let consts = format!(
        "/// The example application's component (WASI 0.2).\npub const EXAMPLE_WASM: &str = {:?};\n\
         /// The misbehaving fixture component (WASI 0.2).\npub const FIXTURES_WASM: &str = {:?};\n\
         /// The example application built as a WASI 0.3 component.\npub const EXAMPLE_P3_WASM: &str = {:?};\n\
         /// The misbehaving fixture built as a WASI 0.3 component.\npub const FIXTURES_P3_WASM: &str = {:?};\n\
         /// A component built with spin-sdk 7 (WASI 0.3, Spin's 3.0 interfaces).\npub const SPIN7_WASM: &str = {:?};\n\
         /// The misbehaving fixture as a plain core module with component-type metadata.\npub const FIXTURES_MODULE_WASM: &str = {:?};\n",
        wasm_dir.join("example.wasm"),
        wasm_dir.join("fixtures.wasm"),
        p3_out.join("example.wasm"),
        p3_out.join("fixtures.wasm"),
        wasm_dir.join("spin7_fixture.wasm"),
        module_dir.join("fixtures.wasm"),
    );
    std::fs::write(out_dir.join("components.rs"), consts).expect("OUT_DIR is writable");
}
