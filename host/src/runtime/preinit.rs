//! Pre-initialisation: a component that exports `wizer-initialize` (a function without
//! parameters or results) has it run once at load, and the instance's state (memories and
//! globals) snapshotted into a new component with [`wasmtime_wizer`]. Every instance made
//! from the snapshot starts where the initialisation left off: a toolkit guest starts with
//! its route table built instead of building it in each fresh instance.
//!
//! The initialisation runs with every import defined as a trap: what it does cannot depend
//! on the host, the request or the time, which is what makes the snapshot valid for every
//! instance. It runs under a fuel budget and the memory limit, so a looping or greedy
//! initialiser fails the pre-initialisation, never the load: the component is then served
//! as it is and initialises itself in each instance, as it does under hosts that do not
//! pre-initialise.

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wizer::Wizer;

/// The export a component offers to be pre-initialised through (Wizer's convention).
pub(crate) const INIT_EXPORT: &str = "wizer-initialize";

/// Instructions the initialisation may run (about a second at most): a thousand times what
/// building the example's route table takes, short enough that a looping initialiser
/// cannot stall the start for long.
pub(crate) const FUEL: u64 = 1_000_000_000;

/// What pre-initialised code is cached under, beside the component's bytes: everything
/// that shapes the snapshot, so that a change of limits or of the procedure never loads a
/// snapshot made under others.
pub(crate) fn cache_variant(max_memory_bytes: usize, fuel: u64) -> String {
    format!("{INIT_EXPORT};max-memory={max_memory_bytes};fuel={fuel};wasmtime-wizer-48;v1")
}

/// Whether the outermost component exports [`INIT_EXPORT`]. Bytes that do not parse are
/// left to the compiler to report.
pub(crate) fn exports_init(bytes: &[u8]) -> bool {
    use wasmparser::{Parser, Payload};
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ModuleSection { .. } | Payload::ComponentSection { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentExportSection(exports)) if depth == 0 => {
                for export in exports.into_iter().flatten() {
                    if export.name.0 == INIT_EXPORT {
                        return true;
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// The component in `bytes` with [`INIT_EXPORT`] run and its state snapshotted. The export
/// is kept, so the result can be pre-initialised again. `max_memory_bytes` bounds each
/// memory the initialisation grows, `fuel` the instructions it runs.
///
/// It runs on a thread of its own: whatever the caller's executor, and should the
/// initialiser or the snapshot panic, that is an error here, not a crash of the load.
pub(crate) fn preinitialize(
    bytes: &[u8],
    max_memory_bytes: usize,
    fuel: u64,
) -> wasmtime::Result<Vec<u8>> {
    let bytes = bytes.to_vec();
    let thread = std::thread::Builder::new()
        .name("edge-host-preinit".to_owned())
        .spawn(move || snapshot(&bytes, max_memory_bytes, fuel))
        .map_err(|err| wasmtime::format_err!("cannot start a thread for it: {err}"))?;
    match thread.join() {
        Ok(result) => result,
        Err(_) => Err(wasmtime::format_err!("it panicked")),
    }
}

fn snapshot(bytes: &[u8], max_memory_bytes: usize, fuel: u64) -> wasmtime::Result<Vec<u8>> {
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config)?;
    let mut store = Store::new(
        &engine,
        StoreLimitsBuilder::new()
            .memory_size(max_memory_bytes)
            .build(),
    );
    store.limiter(|limits: &mut StoreLimits| limits);
    store.set_fuel(fuel)?;
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_EXPORT).keep_init_func(true);
    let run = wizer.run_component(&mut store, bytes, async |store, component: &Component| {
        let mut linker = Linker::new(store.engine());
        linker.define_unknown_imports_as_traps(component)?;
        linker.instantiate_async(store, component).await
    });
    // Nothing in the initialisation waits on I/O (every import traps): polling it to the
    // end on this thread is all it takes, inside or outside an async runtime.
    let (snapshot, _results) = futures::executor::block_on(run)?;
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::Linker;

    /// A component whose `get` answers what `wizer-initialize` stored in memory and a
    /// global, or 0 for either when it has not run; `call-host` calls an import.
    const COMPONENT: &str = r#"
        (component
          (import "host-fn" (func $host))
          (core func $host_lowered (canon lower (func $host)))
          (core module $m
            (import "" "host" (func $host))
            (memory (export "memory") 1)
            (global $g (mut i32) (i32.const 0))
            (func (export "init")
              (i32.store (i32.const 16) (i32.const 42))
              (global.set $g (i32.const 7)))
            (func (export "get") (result i32)
              (i32.add (i32.load (i32.const 16)) (global.get $g)))
            (func (export "call-host") (call $host))
            (func (export "spin") (loop (br 0))))
          (core instance $i (instantiate $m
            (with "" (instance (export "host" (func $host_lowered))))))
          (func (export "wizer-initialize") (canon lift (core func $i "init")))
          (func (export "get") (result u32) (canon lift (core func $i "get")))
          (func (export "call-host") (canon lift (core func $i "call-host")))
        )
    "#;

    fn get(bytes: &[u8]) -> wasmtime::Result<u32> {
        let engine = Engine::default();
        let component = Component::new(&engine, bytes)?;
        let mut linker = Linker::<()>::new(&engine);
        linker.root().func_wrap("host-fn", |_, (): ()| Ok(()))?;
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate(&mut store, &component)?;
        let get = instance.get_typed_func::<(), (u32,)>(&mut store, "get")?;
        Ok(get.call(&mut store, ())?.0)
    }

    #[test]
    fn the_snapshot_starts_initialised_and_keeps_the_export() -> wasmtime::Result<()> {
        let bytes = wat::parse_str(COMPONENT)?;
        assert!(exports_init(&bytes));
        assert_eq!(get(&bytes)?, 0, "without pre-initialisation nothing ran");
        let snapshot = preinitialize(&bytes, 1 << 20, FUEL)?;
        assert_eq!(get(&snapshot)?, 49, "memory (42) and global (7) restored");
        assert!(exports_init(&snapshot));
        Ok(())
    }

    #[test]
    fn an_initialiser_calling_the_host_fails() -> wasmtime::Result<()> {
        let bytes = wat::parse_str(COMPONENT.replace(
            r#"(canon lift (core func $i "init"))"#,
            r#"(canon lift (core func $i "call-host"))"#,
        ))?;
        let err = preinitialize(&bytes, 1 << 20, FUEL).expect_err("imports trap");
        assert!(format!("{err:?}").contains("trap"), "{err:?}");
        Ok(())
    }

    #[test]
    fn a_looping_initialiser_runs_out_of_fuel() -> wasmtime::Result<()> {
        let bytes = wat::parse_str(COMPONENT.replace(
            r#"(func (export "wizer-initialize") (canon lift (core func $i "init")))"#,
            r#"(func (export "wizer-initialize") (canon lift (core func $i "spin")))"#,
        ))?;
        let err = preinitialize(&bytes, 1 << 20, 1_000_000).expect_err("out of fuel");
        assert!(format!("{err:?}").contains("fuel"), "{err:?}");
        Ok(())
    }

    #[test]
    fn the_memory_limit_holds_during_the_initialisation() -> wasmtime::Result<()> {
        // `memory.grow` answers -1 when refused: the initialiser traps on it.
        let bytes = wat::parse_str(COMPONENT.replace(
            "(i32.store (i32.const 16) (i32.const 42))",
            "(if (i32.eq (memory.grow (i32.const 32)) (i32.const -1)) (then unreachable))",
        ))?;
        let err = preinitialize(&bytes, 1 << 20, FUEL).expect_err("2 MiB is over 1 MiB");
        assert!(format!("{err:?}").contains("unreachable"), "{err:?}");
        let snapshot = preinitialize(&bytes, 4 << 20, FUEL)?;
        assert_eq!(get(&snapshot)?, 7, "grown under a larger limit");
        Ok(())
    }

    #[test]
    fn only_the_outermost_component_s_export_counts() -> wasmtime::Result<()> {
        let nested = wat::parse_str(
            r#"
            (component
              (component
                (core module $m (func (export "f")))
                (core instance $i (instantiate $m))
                (func (export "wizer-initialize") (canon lift (core func $i "f")))))
            "#,
        )?;
        assert!(!exports_init(&nested));
        Ok(())
    }

    #[test]
    fn the_cache_variant_names_the_limits() {
        assert_ne!(cache_variant(1 << 20, FUEL), cache_variant(2 << 20, FUEL));
        assert_ne!(
            cache_variant(1 << 20, FUEL),
            cache_variant(1 << 20, FUEL + 1)
        );
        assert!(cache_variant(1 << 20, FUEL).starts_with(INIT_EXPORT));
    }

    #[test]
    fn components_without_the_export_are_not_candidates() -> wasmtime::Result<()> {
        let bytes = wat::parse_str(COMPONENT.replace("wizer-initialize", "other-name"))?;
        assert!(!exports_init(&bytes));
        assert!(!exports_init(b"not wasm"));
        Ok(())
    }
}
