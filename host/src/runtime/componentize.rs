//! Plain core modules, as Spin takes them: a module built with wit-bindgen (for
//! `wasm32-wasip1`, or linked without `wasm-component-ld`'s last step) carries its
//! component type in a custom section, and is turned into a component at load, with the
//! WASI preview-1 adapter (wasmtime's, of this wasmtime version) where it imports
//! `wasi_snapshot_preview1`. The compiled result is cached under the module's own bytes,
//! so a later start neither converts nor compiles it again.

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
    WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wasmparser::{Parser, Payload};

/// Whether `bytes` are a core module rather than a component.
pub(super) fn is_core_module(bytes: &[u8]) -> bool {
    Parser::is_core_wasm(bytes)
}

/// What the module imports and exports that decides its adapter.
struct Shape {
    imports_preview1: bool,
    has_component_type: bool,
    is_command: bool,
}

fn shape(module: &[u8]) -> Result<Shape, String> {
    let mut shape = Shape {
        imports_preview1: false,
        has_component_type: false,
        is_command: false,
    };
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(|err| format!("not a valid module: {err}"))? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    let import = import.map_err(|err| format!("not a valid module: {err}"))?;
                    shape.imports_preview1 |= import.module == WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME;
                }
            }
            Payload::ExportSection(exports) => {
                for export in exports {
                    let export = export.map_err(|err| format!("not a valid module: {err}"))?;
                    shape.is_command |= export.name == "_start";
                }
            }
            Payload::CustomSection(section) => {
                shape.has_component_type |= section.name().starts_with("component-type");
            }
            _ => {}
        }
    }
    Ok(shape)
}

/// The component made of `module`, or why there is none.
pub(super) fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    let shape = shape(module)?;
    if !shape.has_component_type {
        return Err(
            "it is a core module without component-type metadata: build it with wit-bindgen \
             (spin-sdk does), or make it a component first (`wasm-tools component new`)"
                .to_owned(),
        );
    }
    let mut encoder = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .map_err(|err| format!("{err:#}"))?;
    if shape.imports_preview1 {
        let adapter = if shape.is_command {
            WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER
        } else {
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER
        };
        encoder = encoder
            .adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, adapter)
            .map_err(|err| format!("{err:#}"))?;
    }
    encoder.encode().map_err(|err| format!("{err:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_without_component_type_is_named_as_such() {
        // (module) — the smallest valid module.
        let empty = b"\0asm\x01\0\0\0";
        assert!(is_core_module(empty));
        let err = componentize(empty).expect_err("no metadata");
        assert!(err.contains("without component-type metadata"), "{err}");
        assert!(
            componentize(b"\0asm\x01\0\0\0\x01").is_err(),
            "a truncated module"
        );
    }
}
