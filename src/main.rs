//! The podmon binary: a thin edge over the library.

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some("serve") {
        anyhow::bail!("temporary binary: only serve POD SOCKET");
    }
    let pod = args.get(2).cloned().unwrap_or_else(|| "demo".into());
    let socket = std::path::PathBuf::from(args.get(3).cloned().unwrap_or_else(|| "/tmp/pm.sock".into()));
    let state = std::path::PathBuf::from(format!("/run/podmon/{pod}"));
    podmon::server::serve(podmon::server::ServeConfig {
        pod,
        socket,
        runtime: Some("/usr/sbin/runc".into()),
        log_dir: state.join("logs"),
        state_dir: state,
        exit_dir: Some("/tmp/pm-exit".into()),
    })?;
    Ok(())
}
