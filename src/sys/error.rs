//! The one shape of "the system said no": which operation, on which path,
//! with which errno. Every layer that touches files, pipes or processes
//! reports failures this way, so a client can tell ENOSPC from EACCES
//! without parsing a sentence.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A failed system call or file operation, with what is known about it.
/// Displayed as "reading /x/config.json: No such file or directory (os error 2)".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}{}: {detail}", PathSuffix(path.as_deref()))]
pub struct SysError {
    /// What podmon was doing ("reading", "pidfd_open", "pipe").
    pub operation: Cow<'static, str>,
    /// The file it was doing it to, when there is one.
    pub path: Option<PathBuf>,
    /// The OS error number, when the failure came from the kernel.
    pub errno: Option<i32>,
    /// The underlying error's own text.
    pub detail: String,
}

impl SysError {
    /// A failed I/O operation without a path (a pipe, a dup).
    pub fn io(operation: impl Into<Cow<'static, str>>, e: &io::Error) -> SysError {
        SysError {
            operation: operation.into(),
            path: None,
            errno: e.raw_os_error(),
            detail: e.to_string(),
        }
    }

    /// A failed I/O operation on `path`.
    pub fn at(operation: impl Into<Cow<'static, str>>, path: &Path, e: &io::Error) -> SysError {
        SysError {
            path: Some(path.to_owned()),
            ..SysError::io(operation, e)
        }
    }

    /// A failure that is not an errno (a file with unexpected contents, a
    /// peer that never answered).
    pub fn other(operation: impl Into<Cow<'static, str>>, detail: impl fmt::Display) -> SysError {
        SysError {
            operation: operation.into(),
            path: None,
            errno: None,
            detail: detail.to_string(),
        }
    }

    /// The same error, naming the file it concerns.
    pub fn with_path(mut self, path: &Path) -> SysError {
        self.path = Some(path.to_owned());
        self
    }
}

/// " /the/path", or nothing.
struct PathSuffix<'a>(Option<&'a Path>);

impl fmt::Display for PathSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, " {}", p.display()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_text() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        let s = SysError::at("reading", Path::new("/b/config.json"), &e);
        assert_eq!(s.errno, Some(libc::ENOENT));
        assert_eq!(s.path.as_deref(), Some(Path::new("/b/config.json")));
        assert!(s.to_string().starts_with("reading /b/config.json: "), "{s}");
        let o = SysError::other("receiving the pty", "nothing arrived within 5 s");
        assert_eq!(o.errno, None);
        assert_eq!(
            o.to_string(),
            "receiving the pty: nothing arrived within 5 s"
        );
        assert_eq!(SysError::io("pipe", &e).path, None);
    }
}
