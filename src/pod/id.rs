//! Container and pod id validation.
//!
//! Ids end up as file names (log files, bundle dirs) and as runtime ids
//! passed on the runc/crun command line, so they must never be able to
//! escape a directory, look like an option, or collide with `.`/`..`.

use thiserror::Error;

/// Longest id we accept; keeps file names and runtime state paths short.
pub const MAX_ID_LEN: usize = 64;

/// Why an id was refused; the Display text is shown to API clients as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// An empty id would name the parent directory.
    #[error("id is empty")]
    Empty,
    /// Too long to be a safe file name / runtime id.
    #[error("id is longer than {MAX_ID_LEN} characters ({0})")]
    TooLong(usize),
    /// Leading '.', '-' or '_' would make hidden files, options or `..`.
    #[error("id must start with a letter or digit")]
    BadStart,
    /// A character outside [A-Za-z0-9_.-], e.g. '/' which would escape the directory.
    #[error("id contains {0:?}; only letters, digits, '_', '.' and '-' are allowed")]
    BadChar(char),
}

/// Accepts only `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}` so an id is always a safe
/// single path component and a valid runc/crun container id.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    let mut chars = id.chars();
    let first = chars.next().ok_or(IdError::Empty)?;
    // Report a bad character before the length: it is the more useful hint.
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(IdError::BadChar(bad));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(IdError::BadStart);
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong(id.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_ids() {
        for id in ["a", "0", "abc", "a.b", "a-b_c.d", "Z9", "a..b", "a-"] {
            assert_eq!(validate_id(id), Ok(()), "{id}");
        }
        let max = "a".repeat(64);
        assert_eq!(validate_id(&max), Ok(()));
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(validate_id(""), Err(IdError::Empty));
    }

    #[test]
    fn rejects_too_long() {
        let long = "a".repeat(65);
        assert_eq!(validate_id(&long), Err(IdError::TooLong(65)));
        assert!(
            validate_id(&long)
                .unwrap_err()
                .to_string()
                .contains("longer than 64")
        );
    }

    #[test]
    fn rejects_path_tricks() {
        assert_eq!(validate_id("../x"), Err(IdError::BadChar('/')));
        assert_eq!(validate_id("a/b"), Err(IdError::BadChar('/')));
        assert_eq!(validate_id(".x"), Err(IdError::BadStart));
        assert_eq!(validate_id("."), Err(IdError::BadStart));
        assert_eq!(validate_id(".."), Err(IdError::BadStart));
        assert_eq!(validate_id("-rf"), Err(IdError::BadStart));
        assert_eq!(validate_id("_a"), Err(IdError::BadStart));
        assert!(validate_id("a/b").unwrap_err().to_string().contains("'/'"));
        assert!(
            validate_id(".x")
                .unwrap_err()
                .to_string()
                .contains("must start with a letter or digit")
        );
    }

    #[test]
    fn rejects_other_chars() {
        assert_eq!(validate_id("a b"), Err(IdError::BadChar(' ')));
        assert_eq!(validate_id("a\0"), Err(IdError::BadChar('\0')));
        assert_eq!(validate_id("a\n"), Err(IdError::BadChar('\n')));
        assert_eq!(validate_id("é"), Err(IdError::BadChar('é')));
        assert_eq!(validate_id("a:b"), Err(IdError::BadChar(':')));
    }
}
