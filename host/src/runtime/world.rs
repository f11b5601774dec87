//! Which `wasi:http` world a component targets, read from its exports.

use wasmtime::component::Component;

/// The `wasi:http` world a component exports, which decides how its instances are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum World {
    /// WASI 0.2: `wasi:http/proxy`, exporting `wasi:http/incoming-handler@0.2.x`. Each
    /// instance serves one request at a time.
    Proxy02,
    /// WASI 0.3: `wasi:http/service`, exporting `wasi:http/handler@0.3.x`. An instance may
    /// serve several requests at once.
    Service03,
}

impl World {
    /// The interface the world exports, without its patch version.
    pub fn export(self) -> &'static str {
        match self {
            Self::Proxy02 => "wasi:http/incoming-handler@0.2",
            Self::Service03 => "wasi:http/handler@0.3",
        }
    }

    /// The world's name, with the WASI version it belongs to.
    pub fn name(self) -> &'static str {
        match self {
            Self::Proxy02 => "wasi:http/proxy@0.2",
            Self::Service03 => "wasi:http/service@0.3",
        }
    }
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (exports {})", self.name(), self.export())
    }
}

/// The world of `component`, from the interfaces it exports; `Err` lists those exports when
/// it exports neither handler. A component exporting both is served as 0.3.
pub(super) fn detect(
    component: &Component,
    engine: &wasmtime::Engine,
) -> Result<World, Vec<String>> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports_one = |prefix: &str| {
        exports
            .iter()
            .any(|name| name.starts_with(prefix) && name[prefix.len()..].starts_with('.'))
    };
    if exports_one(World::Service03.export()) {
        Ok(World::Service03)
    } else if exports_one(World::Proxy02.export()) {
        Ok(World::Proxy02)
    } else {
        Err(exports)
    }
}
