//! The built component's interface: what any wasi:http host needs from it.

use wasmparser::{Parser, Payload};

use crate::support::{EXAMPLE_P3_WASM, EXAMPLE_WASM};

/// Top-level imports and exports of a component, by name.
fn interface(bytes: &[u8]) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(section) if depth == 0 => {
                for import in section {
                    imports.push(import?.name.0.to_owned());
                }
            }
            Payload::ComponentExportSection(section) if depth == 0 => {
                for export in section {
                    exports.push(export?.name.0.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok((imports, exports))
}

/// What Spin provides beside WASI 0.2, as spin-sdk 5.2 imports it; the example uses all of
/// it but `batch`.
const SPIN_IMPORTS: [&str; 5] = [
    "fermyon:spin/key-value@2.0.0",
    "fermyon:spin/variables@2.0.0",
    "wasi:keyvalue/store@0.2.0-draft2",
    "wasi:keyvalue/atomics@0.2.0-draft2",
    "wasi:keyvalue/batch@0.2.0-draft2",
];

#[test]
fn handler_exports_incoming_handler_and_imports_only_what_spin_provides() -> anyhow::Result<()> {
    let bytes = std::fs::read(EXAMPLE_WASM)?;
    assert!(
        wasmparser::Parser::is_component(&bytes),
        "{EXAMPLE_WASM} is a component"
    );
    let (imports, exports) = interface(&bytes)?;

    assert!(
        exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")),
        "exports: {exports:?}"
    );
    assert!(!imports.is_empty(), "a std guest imports at least wasi:cli");
    for import in &imports {
        assert!(
            (import.starts_with("wasi:") && import.contains("@0.2."))
                || SPIN_IMPORTS.contains(&import.as_str()),
            "unexpected import {import} (all: {imports:?})"
        );
    }
    for spin in &SPIN_IMPORTS[..4] {
        assert!(imports.iter().any(|i| i == spin), "{spin} in {imports:?}");
    }
    Ok(())
}

#[test]
fn the_wasi_p3_build_exports_the_0_3_handler_and_not_the_0_2_one() -> anyhow::Result<()> {
    let bytes = std::fs::read(EXAMPLE_P3_WASM)?;
    let (imports, exports) = interface(&bytes)?;
    assert!(
        exports
            .iter()
            .any(|e| e.starts_with("wasi:http/handler@0.3.")),
        "exports: {exports:?}"
    );
    assert!(
        !exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@")),
        "exports: {exports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/types@0.3.")),
        "imports: {imports:?}"
    );
    Ok(())
}
