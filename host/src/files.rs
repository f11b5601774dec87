//! Files that hold secrets or data (TLS private keys, key-value and SQLite databases)
//! should be readable by their owner alone: the host says so when one is not, and goes on
//! (refusing would stop a server over a deployment's umask; the warning names the fix).

use std::path::Path;

/// Warns when `path` may be read or written by its group or by others.
pub(crate) fn warn_if_shared(path: &Path, what: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the {what} is open to other users: `chmod 600` it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what);
}

/// Creates `path`, readable and writable by its owner alone, unless it exists: the file a
/// database is then opened on (SQLite gives its journal files the same mode).
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}
