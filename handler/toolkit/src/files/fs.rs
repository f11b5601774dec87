//! The file system the handler reads: `std::fs` natively; in a component, `wasi:filesystem`
//! itself, through the preopened directories the host gives (looked up at each request).
//! Not `std::fs` there: linking it makes wasi-libc read the preopens in a constructor, which
//! runs during a host's pre-initialisation (`wizer-initialize`), where no import may be
//! called, and pre-initialisation would fail for every component built on the toolkit.

use std::io;
use std::path::Path;
use std::time::SystemTime;

/// What the handler needs of a file's metadata.
#[derive(Debug, Clone, Copy)]
pub(super) struct Meta {
    pub is_dir: bool,
    pub is_file: bool,
    pub len: u64,
    pub modified: Option<SystemTime>,
}

pub(super) use imp::{File, metadata, open};

#[cfg(not(target_os = "wasi"))]
mod imp {
    use std::io::{Read as _, Seek as _, SeekFrom};

    use super::{Meta, Path, io};

    fn meta(m: &std::fs::Metadata) -> Meta {
        Meta {
            is_dir: m.is_dir(),
            is_file: m.is_file(),
            len: m.len(),
            modified: m.modified().ok(),
        }
    }

    /// The metadata of what `path` names, symbolic links followed.
    pub(in super::super) fn metadata(path: &Path) -> io::Result<Meta> {
        std::fs::metadata(path).map(|m| meta(&m))
    }

    /// An open file.
    #[derive(Debug)]
    pub(in super::super) struct File(std::fs::File);

    /// Opens `path` for reading, with the metadata of what was opened.
    pub(in super::super) fn open(path: &Path) -> io::Result<(File, Meta)> {
        let file = std::fs::File::open(path)?;
        let m = file.metadata()?;
        Ok((File(file), meta(&m)))
    }

    impl File {
        /// Up to `len` bytes from `offset` (fewer at the end of the file).
        pub(in super::super) fn read_at(&mut self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
            self.0.seek(SeekFrom::Start(offset))?;
            let mut chunk = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            (&mut self.0).take(len).read_to_end(&mut chunk)?;
            Ok(chunk)
        }
    }
}

#[cfg(target_os = "wasi")]
mod imp {
    use std::time::{Duration, UNIX_EPOCH};

    use wasi::filesystem::preopens::get_directories;
    use wasi::filesystem::types::{
        Descriptor, DescriptorFlags, DescriptorStat, DescriptorType, ErrorCode, OpenFlags,
        PathFlags,
    };

    use super::{Meta, Path, io};

    fn error(code: ErrorCode) -> io::Error {
        let kind = match code {
            ErrorCode::NoEntry | ErrorCode::NotDirectory => io::ErrorKind::NotFound,
            ErrorCode::Access | ErrorCode::NotPermitted => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, format!("{code:?}"))
    }

    fn meta(stat: &DescriptorStat) -> Meta {
        Meta {
            is_dir: stat.type_ == DescriptorType::Directory,
            is_file: stat.type_ == DescriptorType::RegularFile,
            len: stat.size,
            modified: stat
                .data_modification_timestamp
                .map(|at| UNIX_EPOCH + Duration::new(at.seconds, at.nanoseconds)),
        }
    }

    /// The preopened directory `path` is below, and the rest of the path (`.` for the
    /// directory itself): the preopen with the longest guest path that is a prefix of it,
    /// component by component.
    fn resolve(path: &Path) -> io::Result<(Descriptor, String)> {
        let wanted: Vec<_> = path.components().collect();
        let mut best: Option<(usize, Descriptor)> = None;
        for (dir, guest) in get_directories() {
            let prefix: Vec<_> = Path::new(&guest).components().collect();
            let longer = best.as_ref().is_none_or(|(len, _)| prefix.len() > *len);
            if wanted.starts_with(&prefix) && longer {
                best = Some((prefix.len(), dir));
            }
        }
        let Some((len, dir)) = best else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no preopened directory holds it",
            ));
        };
        let rest: Vec<String> = wanted[len..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rest = if rest.is_empty() {
            ".".to_owned()
        } else {
            rest.join("/")
        };
        Ok((dir, rest))
    }

    /// The metadata of what `path` names, symbolic links followed.
    pub(in super::super) fn metadata(path: &Path) -> io::Result<Meta> {
        let (dir, rest) = resolve(path)?;
        dir.stat_at(PathFlags::SYMLINK_FOLLOW, &rest)
            .map(|stat| meta(&stat))
            .map_err(error)
    }

    /// An open file.
    #[derive(Debug)]
    pub(in super::super) struct File(Descriptor);

    /// Opens `path` for reading, with the metadata of what was opened.
    pub(in super::super) fn open(path: &Path) -> io::Result<(File, Meta)> {
        let (dir, rest) = resolve(path)?;
        let file = dir
            .open_at(
                PathFlags::SYMLINK_FOLLOW,
                &rest,
                OpenFlags::empty(),
                DescriptorFlags::READ,
            )
            .map_err(error)?;
        let stat = file.stat().map_err(error)?;
        Ok((File(file), meta(&stat)))
    }

    impl File {
        /// Up to `len` bytes from `offset` (fewer at the end of the file).
        pub(in super::super) fn read_at(&mut self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
            let mut out = Vec::new();
            while (out.len() as u64) < len {
                let at = offset + out.len() as u64;
                let (bytes, end) = self.0.read(len - out.len() as u64, at).map_err(error)?;
                out.extend_from_slice(&bytes);
                if end || bytes.is_empty() {
                    break;
                }
            }
            Ok(out)
        }
    }
}
