//! The bundle a new container runs from: the caller's, checked, or one
//! podmon writes from a rootfs and a command.

use std::path::{Path, PathBuf};

use super::request::{CreateRequest, Source};
use super::{Field, Pod, PodError};
use crate::oci::spec;
use crate::sys::error::SysError;

/// Whether the bundle's config.json asks for a terminal.
pub(super) fn wants_terminal(bundle: &Path) -> Result<bool, PodError> {
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|e| SysError::at("reading", &path, &e))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| PodError::invalid(Field::Bundle, format!("{}: {e}", path.display())))?;
    Ok(v.pointer("/process/terminal")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false))
}

/// Prepares the bundle in the container's directory `dir`; returns its path.
pub(super) fn prepare(pod: &Pod, dir: &Path, req: &CreateRequest) -> Result<PathBuf, PodError> {
    match &req.source {
        Source::Bundle(b) => {
            let b = std::fs::canonicalize(b)
                .map_err(|e| PodError::invalid(Field::Bundle, format!("{}: {e}", b.display())))?;
            if !b.join("config.json").is_file() {
                return Err(PodError::invalid(
                    Field::Bundle,
                    format!("{} has no config.json", b.display()),
                ));
            }
            if !req.join_pod {
                return Ok(b);
            }
            let Some(sb) = pod.sandbox() else {
                return Err(PodError::invalid(
                    Field::JoinPod,
                    "the pod shares no namespaces (serve --namespaces)",
                ));
            };
            let own = &req.own_namespaces;
            super::sandbox::join_bundle(&b, dir, &sb.joins(own), sb.id_maps(own))?;
            Ok(dir.to_owned())
        }
        Source::Rootfs { .. } => {
            let built = spec::build_spec(&simple_spec(pod, req)?).map_err(spec_error)?;
            spec::write_config(dir, &built).map_err(|e| match e {
                spec::SpecError::Io { op, path, source } => SysError::at(op, &path, &source),
                other => SysError::other("writing config.json", other).with_path(dir),
            })?;
            Ok(dir.to_owned())
        }
    }
}

/// What podmon puts in the config.json of a rootfs container.
fn simple_spec(pod: &Pod, req: &CreateRequest) -> Result<spec::SimpleSpec, PodError> {
    let Source::Rootfs {
        rootfs,
        command,
        env,
        cwd,
        hostname,
        memory_max,
        pids_max,
    } = &req.source
    else {
        unreachable!("simple_spec is for rootfs containers");
    };
    let rootfs = std::fs::canonicalize(rootfs)
        .map_err(|e| PodError::invalid(Field::Rootfs, format!("{}: {e}", rootfs.display())))?;
    if !rootfs.is_dir() {
        return Err(PodError::invalid(
            Field::Rootfs,
            format!("{} is not a directory", rootfs.display()),
        ));
    }
    Ok(spec::SimpleSpec {
        rootfs,
        args: command.clone(),
        env: env.clone(),
        cwd: cwd.clone(),
        hostname: hostname.clone(),
        memory_max: *memory_max,
        pids_max: *pids_max,
        cgroups_path: format!("{}/{}", pod.config.cgroup_parent, req.id),
        terminal: req.terminal,
        console_size: req.console_size,
        joins: pod
            .sandbox()
            .map(|sb| sb.joins(&req.own_namespaces))
            .unwrap_or_default(),
        id_maps: pod
            .sandbox()
            .and_then(|sb| sb.id_maps(&req.own_namespaces).cloned()),
    })
}

/// Which value a spec error is about.
fn spec_error(e: spec::SpecError) -> PodError {
    let field = match &e {
        spec::SpecError::EmptyArgs => Field::Command,
        spec::SpecError::CwdNotAbsolute(_) => Field::Cwd,
        spec::SpecError::RootfsNotAbsolute(_) => Field::Rootfs,
        spec::SpecError::BadEnv(_) => Field::Env,
        spec::SpecError::BadLimit { what, .. } if *what == "pids" => Field::PidsMax,
        spec::SpecError::BadLimit { .. } => Field::MemoryMax,
        _ => return SysError::other("building the OCI config", e).into(),
    };
    PodError::invalid(field, e)
}
