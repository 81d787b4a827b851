//! User-namespace id mappings: `--uid-map C:H:N` as typed, checked as the
//! kernel would check `/proc/PID/uid_map`, written there for the pod's
//! init, and handed to the runtime as an OCI config's `uidMappings`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::sys::error::SysError;

/// Most lines a `uid_map` may have (the kernel's limit since 4.15).
pub const MAX_LINES: usize = 340;

/// One line of a mapping: ids `container..container+size` inside are
/// `host..host+size` outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMap {
    /// The first id inside the namespace.
    pub container_id: u32,
    /// The id it is outside.
    pub host_id: u32,
    /// How many ids follow.
    pub size: u32,
}

/// The uid and gid mappings of the pod's user namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMaps {
    /// `--uid-map` lines.
    pub uid: Vec<IdMap>,
    /// `--gid-map` lines.
    pub gid: Vec<IdMap>,
}

/// Why a mapping was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdMapError {
    /// Not `C:H:N` with three decimal numbers.
    #[error("--{which}-map {value:?}: give CONTAINER:HOST:SIZE, three decimal ids")]
    Syntax {
        /// "uid" or "gid".
        which: &'static str,
        /// As typed.
        value: String,
    },
    /// A zero size, or a range past 2^32 - 1.
    #[error(
        "--{which}-map {value:?}: the size must be more than 0 and the range end before 4294967295"
    )]
    Range {
        /// "uid" or "gid".
        which: &'static str,
        /// As typed.
        value: String,
    },
    /// Two lines overlap, inside or outside (the kernel refuses that).
    #[error("--{which}-map: the ranges {a} and {b} overlap")]
    Overlap {
        /// "uid" or "gid".
        which: &'static str,
        /// One line.
        a: String,
        /// The other.
        b: String,
    },
    /// More lines than the kernel takes.
    #[error("--{which}-map: at most {MAX_LINES} mappings")]
    TooMany {
        /// "uid" or "gid".
        which: &'static str,
    },
}

impl IdMap {
    /// Parses `C:H:N`; `which` ("uid" or "gid") names the option in errors.
    pub fn parse(which: &'static str, s: &str) -> Result<IdMap, IdMapError> {
        let syntax = || IdMapError::Syntax {
            which,
            value: s.into(),
        };
        let mut parts = s.trim().split(':').map(|p| {
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<u32>().ok())
                .flatten()
        });
        let (Some(Some(c)), Some(Some(h)), Some(Some(n)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(syntax());
        };
        // The last id, start + n - 1, must be below 2^32 - 1 (which is -1).
        let fits = |start: u32| start.checked_add(n).is_some();
        if n == 0 || !fits(c) || !fits(h) {
            return Err(IdMapError::Range {
                which,
                value: s.into(),
            });
        }
        Ok(IdMap {
            container_id: c,
            host_id: h,
            size: n,
        })
    }

    fn overlaps(&self, o: &IdMap) -> bool {
        let cross = |a: u32, b: u32| {
            let (a, b) = (u64::from(a), u64::from(b));
            a < b + u64::from(o.size) && b < a + u64::from(self.size)
        };
        cross(self.container_id, o.container_id) || cross(self.host_id, o.host_id)
    }
}

impl std::fmt::Display for IdMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.container_id, self.host_id, self.size)
    }
}

/// Parses every `--uid-map` (or `--gid-map`) given and checks them as a
/// set: no overlap, at most [`MAX_LINES`].
pub fn parse_all(which: &'static str, values: &[String]) -> Result<Vec<IdMap>, IdMapError> {
    let maps: Vec<IdMap> = values
        .iter()
        .map(|v| IdMap::parse(which, v))
        .collect::<Result<_, _>>()?;
    if maps.len() > MAX_LINES {
        return Err(IdMapError::TooMany { which });
    }
    for (i, a) in maps.iter().enumerate() {
        if let Some(b) = maps[i + 1..].iter().find(|b| a.overlaps(b)) {
            return Err(IdMapError::Overlap {
                which,
                a: a.to_string(),
                b: b.to_string(),
            });
        }
    }
    Ok(maps)
}

/// The text of `/proc/PID/uid_map` for `maps`: one `C H N` line each.
pub fn proc_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

/// Writes both mappings of the user namespace `pid` was cloned into; the
/// kernel takes each file once, in one write.
pub fn write_maps(pid: i32, maps: &IdMaps) -> Result<(), SysError> {
    for (file, lines) in [("uid_map", &maps.uid), ("gid_map", &maps.gid)] {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, proc_text(lines)).map_err(|e| SysError::at("writing", &path, &e))?;
    }
    Ok(())
}

/// Whether `maps` map container id 0 (the container's root), which the
/// pod's init must be to hold its namespaces' capabilities.
pub fn maps_root(maps: &[IdMap]) -> bool {
    maps.iter().any(|m| m.container_id == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_and_checks() {
        assert_eq!(
            IdMap::parse("uid", "0:100000:65536").unwrap(),
            IdMap {
                container_id: 0,
                host_id: 100000,
                size: 65536
            }
        );
        for bad in ["", "0:1", "0:1:2:3", "a:1:2", "-1:0:1", "0: 1:2", "0:1:+2"] {
            assert!(
                matches!(IdMap::parse("uid", bad), Err(IdMapError::Syntax { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            IdMap::parse("gid", "0:1:0"),
            Err(IdMapError::Range { which: "gid", .. })
        ));
        assert!(IdMap::parse("uid", "4294967294:0:1").is_ok());
        assert!(IdMap::parse("uid", "4294967295:0:1").is_err());
        let e = parse_all("uid", &strs(&["0:100000:10", "5:200000:10"])).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        assert!(parse_all("uid", &strs(&["0:100000:10", "10:100005:1"])).is_err());
        assert_eq!(
            parse_all("uid", &strs(&["0:100000:10", "10:200000:1"]))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn proc_text_lines() {
        let m = parse_all("uid", &strs(&["0:100000:65536", "65536:1:1"])).unwrap();
        assert_eq!(proc_text(&m), "0 100000 65536\n65536 1 1\n");
        assert!(maps_root(&m));
        assert!(!maps_root(&m[1..]));
    }
}
