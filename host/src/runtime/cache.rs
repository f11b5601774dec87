//! The compiled-code cache: native code for a component, stored once and loaded on later
//! starts instead of compiling again.
//!
//! An entry is named by SHA-256 over the component's bytes, what was done to them beside
//! compiling (pre-initialisation, with the limits it ran under) and the engine's
//! compatibility hash (wasmtime version, target, every code-affecting setting), so a
//! different component, procedure, engine or configuration never matches. The file holds the SHA-256 of its payload followed
//! by the payload; an entry whose digest does not match, or that wasmtime refuses, is
//! rebuilt, never run. Entries are written to a temporary file and renamed into place, so a
//! crash leaves no half-written entry under the final name.
//!
//! The digest catches damage, not malice: whoever can write the directory could plant
//! native code. So the directory is created private (mode 0700), made private again if it
//! is open to others, and on Unix not used at all when it belongs to another user.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where an entry came from, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Loaded from a valid cache entry.
    Hit,
    /// Compiled (no entry, or none was valid) and stored.
    Compiled,
    /// Compiled; caching is off or the entry could not be written.
    Uncached,
}

/// Feeds `Hash` output into SHA-256, so the engine's compatibility hash lands in the key.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        // Only `write` matters here; the key is taken from the digest, not from `finish`.
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn key(engine: &Engine, component: &[u8], variant: &str) -> String {
    let mut hasher = ShaHasher(Sha256::new());
    hasher.write(&Sha256::digest(component));
    hasher.write(variant.as_bytes());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher
        .0
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compiles `bytes`, or loads the native code from `dir` when a valid entry exists.
#[cfg(test)]
pub(crate) fn load_or_compile(
    engine: &Engine,
    bytes: &[u8],
    dir: Option<&Path>,
) -> wasmtime::Result<(Component, Source)> {
    load_or_build(engine, bytes, dir, "", || {
        Component::from_binary(engine, bytes)
    })
}

/// Runs `build` for the component in `bytes`, or loads what it built earlier from `dir`.
/// `variant` names what `build` does beyond compiling `bytes` (pre-initialisation), so
/// that each way of building has entries of its own.
pub(crate) fn load_or_build(
    engine: &Engine,
    bytes: &[u8],
    dir: Option<&Path>,
    variant: &str,
    build: impl FnOnce() -> wasmtime::Result<Component>,
) -> wasmtime::Result<(Component, Source)> {
    let Some(dir) = dir else {
        return Ok((build()?, Source::Uncached));
    };
    if let Err(reason) = prepare_dir(dir) {
        tracing::warn!(dir = %dir.display(), "not using the code cache: {reason}");
        return Ok((build()?, Source::Uncached));
    }
    let path = dir.join(format!("{}.cwasm", key(engine, bytes, variant)));
    if let Some(component) = read_entry(engine, &path) {
        return Ok((component, Source::Hit));
    }
    let component = build()?;
    match component.serialize() {
        Ok(native) => match write_entry(dir, &path, &native) {
            Ok(()) => Ok((component, Source::Compiled)),
            Err(err) => {
                tracing::warn!(path = %path.display(), "cannot write the code cache: {err}");
                Ok((component, Source::Uncached))
            }
        },
        Err(err) => {
            tracing::warn!("cannot serialise compiled code: {err}");
            Ok((component, Source::Uncached))
        }
    }
}

/// A valid entry's component, or `None` (missing, corrupt or incompatible: all rebuilt).
fn read_entry(engine: &Engine, path: &Path) -> Option<Component> {
    let file = match read_own_file(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => {
            tracing::warn!(path = %path.display(), "code cache entry not used ({err}): rebuilding it");
            return None;
        }
    };
    let (digest, payload) = file.split_at_checked(32)?;
    if Sha256::digest(payload).as_slice() != digest {
        tracing::warn!(path = %path.display(), "code cache entry is corrupt: rebuilding it");
        return None;
    }
    match deserialize(engine, payload) {
        Ok(component) => Some(component),
        Err(err) => {
            tracing::warn!(path = %path.display(), "code cache entry rejected ({err}): rebuilding it");
            None
        }
    }
}

/// The bytes of `path`, if it is a regular file of this user's that no one else may write:
/// opened without following a link, and checked on the open handle, so what is checked is
/// what is read.
fn read_own_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options
            .custom_flags(i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(i32::MAX));
    }
    let mut file = options.open(path)?;
    let meta = file.metadata()?;
    let refuse = |why: String| {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            why,
        ))
    };
    if !meta.is_file() {
        return refuse("not a regular file".to_owned());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return refuse(format!(
                "it belongs to user {}, not to this one",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return refuse("others may write it".to_owned());
        }
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[expect(
    unsafe_code,
    reason = "wasmtime runs deserialised native code as is; this is the one place that loads it"
)]
fn deserialize(engine: &Engine, payload: &[u8]) -> wasmtime::Result<Component> {
    // Safety: `payload` is exactly what `Component::serialize` produced for an engine with
    // the same compatibility hash (the file name says so), and its SHA-256, written beside
    // it, has just been checked: it is the code this process's wasmtime compiled, unchanged.
    // wasmtime additionally checks its own header and version before using it.
    unsafe { Component::deserialize(engine, payload) }
}

/// Creates `dir` (private) if needed, and checks that only this user can write it.
fn prepare_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|err| format!("cannot create it: {err}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::metadata(dir).map_err(|err| format!("cannot read it: {err}"))?;
        // The effective user: the owner of the files this process creates. Asked of the
        // kernel, not learnt by creating a probe file in a directory not yet known to be ours.
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(format!(
                "it belongs to user {}, not to this one",
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            // Ours, but open to others (an older cache, a loose umask): close it.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|err| format!("others may write it and chmod failed: {err}"))?;
        }
    }
    Ok(())
}

fn write_entry(dir: &Path, path: &Path, native: &[u8]) -> std::io::Result<()> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp: PathBuf = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    // A new file, never one that is there already (or a link planted in its place).
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // Private whatever the umask: an entry others may write is never loaded.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    let written = file
        .write_all(&Sha256::digest(native))
        .and_then(|()| file.write_all(native))
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&tmp, path)
        });
    if written.is_err() {
        // A full disk, say: leave no half-written file behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: no imports, no exports.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("edge-host-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn second_load_is_a_hit_and_corruption_is_rebuilt() -> wasmtime::Result<()> {
        let engine = Engine::default();
        let dir = temp_dir("roundtrip");
        let (_, first) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(first, Source::Compiled);
        let (_, second) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(second, Source::Hit);

        // Flip one byte of the payload: detected, rebuilt, and valid again afterwards.
        let entry = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "cwasm"))
            .expect("an entry was written");
        let mut bytes = std::fs::read(&entry)?;
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&entry, &bytes)?;
        let (_, third) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(third, Source::Compiled);
        let (_, fourth) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(fourth, Source::Hit);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn each_variant_has_entries_of_its_own_and_a_failed_build_stores_none() -> wasmtime::Result<()>
    {
        let engine = Engine::default();
        let dir = temp_dir("variant");
        let (_, plain) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(plain, Source::Compiled);
        let failed = load_or_build(&engine, EMPTY_COMPONENT, Some(&dir), "pre", || {
            Err(wasmtime::format_err!("the build failed"))
        });
        assert!(failed.is_err());
        let build = || Component::from_binary(&engine, EMPTY_COMPONENT);
        let (_, first) = load_or_build(&engine, EMPTY_COMPONENT, Some(&dir), "pre", build)?;
        assert_eq!(
            first,
            Source::Compiled,
            "not the plain entry, nor a failed one"
        );
        let (_, second) = load_or_build(&engine, EMPTY_COMPONENT, Some(&dir), "pre", build)?;
        assert_eq!(second, Source::Hit);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn a_different_engine_configuration_does_not_match() -> wasmtime::Result<()> {
        let dir = temp_dir("config");
        let plain = Engine::default();
        load_or_compile(&plain, EMPTY_COMPONENT, Some(&dir))?;
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = Engine::new(&config)?;
        let (_, source) = load_or_compile(&other, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(
            source,
            Source::Compiled,
            "stale for this engine: compiled anew"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn a_truncated_entry_is_rebuilt() -> wasmtime::Result<()> {
        let engine = Engine::default();
        let dir = temp_dir("truncated");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.cwasm", key(&engine, EMPTY_COMPONENT, "")));
        std::fs::write(&path, b"short")?;
        let (_, source) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(source, Source::Compiled);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_is_kept_private() -> wasmtime::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let engine = Engine::default();
        let dir = temp_dir("shared");
        let (_, source) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(source, Source::Compiled);
        let mode = std::fs::metadata(&dir)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "created private");
        // Opened to others (an older version, a loose umask): closed again, entry kept.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))?;
        let (_, source) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(source, Source::Hit);
        let mode = std::fs::metadata(&dir)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn an_entry_others_could_have_written_or_a_link_is_not_loaded() -> wasmtime::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let engine = Engine::default();
        let dir = temp_dir("entries");
        let (_, source) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(source, Source::Compiled);
        let path = dir.join(format!("{}.cwasm", key(&engine, EMPTY_COMPONENT, "")));
        assert!(path.is_file());
        // Writable by others: not trusted, compiled anew (and written back private).
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
        let (_, source) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(source, Source::Compiled);
        let (_, source) = load_or_compile(&engine, EMPTY_COMPONENT, Some(&dir))?;
        assert_eq!(source, Source::Hit, "the rewritten entry is ours again");
        // A link in the entry's place, even to a valid entry, is not followed.
        let elsewhere = dir.join("elsewhere.cwasm");
        std::fs::rename(&path, &elsewhere)?;
        std::os::unix::fs::symlink(&elsewhere, &path)?;
        assert!(read_own_file(&path).is_err());
        assert!(read_own_file(&elsewhere).is_ok());
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
