//! What `podmon --version` says: the version, and the OCI runtime
//! `podmon serve` would drive here (found as serve finds it: crun, then
//! runc, on $PATH), so a bug report names both.

use crate::oci::runtime::{Runtime, SEARCH_ORDER};

/// `0.1.0` and, on the next line, `runtime: PATH`, or that none was found.
pub fn text() -> String {
    let found = Runtime::locate(None, Default::default()).ok();
    line(found.as_ref().map(|r| r.path.display().to_string()))
}

fn line(runtime: Option<String>) -> String {
    let runtime = runtime.unwrap_or_else(|| {
        format!(
            "no runtime found (looked for {} on $PATH)",
            SEARCH_ORDER.join(", ")
        )
    });
    format!("{}\nruntime: {runtime}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_runtime_or_its_absence() {
        assert_eq!(
            line(Some("/usr/sbin/runc".into())),
            format!("{}\nruntime: /usr/sbin/runc", env!("CARGO_PKG_VERSION"))
        );
        assert!(line(None).ends_with("runtime: no runtime found (looked for crun, runc on $PATH)"));
    }
}
