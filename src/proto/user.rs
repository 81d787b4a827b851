//! The `user` parameter of ExecSync and Exec: "uid" or "uid:gid", numbers
//! only, because the monitor hands them to the runtime as ids and a name
//! would fail only later and less clearly.

/// A parsed `user` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    /// The uid.
    pub uid: u32,
    /// The gid, when given.
    pub gid: Option<u32>,
}

/// The text is not "uid" or "uid:gid"; it carries the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not \"uid\" or \"uid:gid\" (numbers)")]
pub struct UserError(pub String);

/// Parses the `user` parameter; the server and the CLI both use it, so the
/// CLI refuses exactly what the server would.
pub fn parse_user(text: &str) -> Result<User, UserError> {
    let bad = || UserError(text.to_owned());
    let (u, g) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    let uid = u.parse().map_err(|_| bad())?;
    let gid = g.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok(User { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_and_uid_gid() {
        assert_eq!(
            parse_user("1000"),
            Ok(User {
                uid: 1000,
                gid: None
            })
        );
        assert_eq!(
            parse_user("0:5"),
            Ok(User {
                uid: 0,
                gid: Some(5)
            })
        );
        for bad in ["", "root", "1:", ":1", "1:2:3", "-1", "1:x"] {
            assert!(parse_user(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_user("x").unwrap_err().to_string(),
            "\"x\" is not \"uid\" or \"uid:gid\" (numbers)"
        );
    }
}
