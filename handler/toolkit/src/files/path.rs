//! From the route parameter to a path under the root: segments decoded one by one, and
//! refused when they could name anything outside it.

use super::FileError;

/// The file names a route parameter (percent-encoded, as the router passes it) names under
/// the root, in order: split on `/`, each segment percent-decoded, empty and `.` segments
/// skipped. A segment that is `..`, that is not UTF-8 once decoded, or that holds a `/` (an
/// encoded slash), a `\` or a NUL is refused: none of those can name a file in one
/// directory, and each could name one elsewhere on some system.
pub(super) fn segments(raw: &str) -> Result<Vec<String>, FileError> {
    let mut names = Vec::new();
    for segment in raw.split('/') {
        let decoded = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| FileError::PathNotAllowed {
                reason: "a segment is not valid percent-encoded UTF-8",
            })?;
        if decoded.is_empty() || decoded == "." {
            continue;
        }
        check_name(&decoded)?;
        names.push(decoded.into_owned());
    }
    Ok(names)
}

/// Refuses what is not the name of one entry of a directory.
pub(super) fn check_name(name: &str) -> Result<(), FileError> {
    let reason = if name == ".." {
        "it has a `..` segment"
    } else if name.contains('/') {
        "a segment holds an encoded `/`"
    } else if name.contains('\\') {
        "a segment holds a `\\`"
    } else if name.contains('\0') {
        "a segment holds a NUL"
    } else if cfg!(windows) && name.contains(':') {
        // A drive (`C:`) or an alternate data stream (`file:stream`).
        "a segment holds a `:`"
    } else {
        return Ok(());
    };
    Err(FileError::PathNotAllowed { reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_table() {
        // (parameter, names)
        let allowed: [(&str, &[&str]); 10] = [
            ("", &[]),
            ("a.txt", &["a.txt"]),
            ("dir/a.txt", &["dir", "a.txt"]),
            ("./dir//./a.txt/", &["dir", "a.txt"]),
            ("%2e/a", &["a"]),
            ("hello%20world.txt", &["hello world.txt"]),
            ("caf%C3%A9", &["café"]),
            ("...", &["..."]),
            ("..a", &["..a"]),
            (".hidden", &[".hidden"]),
        ];
        for (raw, names) in allowed {
            let got = segments(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
            assert_eq!(got, names, "{raw:?}");
        }
        // (parameter, reason)
        let refused = [
            ("..", "`..`"),
            ("a/../b", "`..`"),
            ("%2e%2e/secret", "`..`"),
            ("%2E%2E", "`..`"),
            (".%2e", "`..`"),
            ("a%2Fb", "encoded `/`"),
            ("%2f..%2fsecret", "encoded `/`"),
            ("..\\secret", "`\\`"),
            ("a%5Cb", "`\\`"),
            ("a%00.txt", "NUL"),
            ("%FF", "UTF-8"),
        ];
        for (raw, reason) in refused {
            let err = segments(raw).expect_err(raw);
            assert!(matches!(err, FileError::PathNotAllowed { .. }), "{raw:?}");
            assert!(err.to_string().contains(reason), "{raw:?}: {err}");
        }
    }
}
