//! The podmon binary: a thin edge over the library. `podmon serve` runs a
//! pod's monitor; every other subcommand is a client of a running one.

use podmon::cli::{self, Command};

fn main() {
    // The pod's init (cloned into the pod's namespaces by the monitor):
    // not a subcommand of the help, never typed by a user.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(podmon::server::POD_INIT_ARG) {
        std::process::exit(podmon::server::run_pod_init(&args[1..]));
    }
    // Completions and man pages for scripts/install: not a subcommand either.
    if args.first().map(String::as_str) == Some(cli::generate::GENERATE_ARG) {
        std::process::exit(cli::generate::run(&args[1..]));
    }
    let cli = cli::parse();
    let code = match cli.command {
        Command::Serve(ref a) => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                .init();
            let cfg = podmon::server::ServeConfig {
                pod: a.pod.clone(),
                socket: a.socket_path(cli.socket.as_deref()),
                runtime: a.runtime.clone(),
                runtime_timeout: std::time::Duration::from_secs(a.runtime_timeout),
                runtime_concurrency: usize::from(a.runtime_concurrency),
                state_dir: a.state_dir(),
                log_dir: a.log_dir(),
                journal_socket: a.journal_socket.clone(),
                exit_dir: a.exit_dir.clone(),
                oom_dir: a.oom_dir.clone(),
                access: podmon::server::access::AccessConfig {
                    allow_uids: a.access.allow_uid.clone(),
                    allow_gids: a.access.allow_gid.clone(),
                    read_only_uids: a.access.read_only_uid.clone(),
                    read_only_gids: a.access.read_only_gid.clone(),
                },
                kill_on_exit: a.kill_on_exit,
                sandbox: podmon::server::SandboxOptions {
                    namespaces: a.namespaces.clone(),
                    sysctls: a.sysctl.clone(),
                    hostname: a.hostname.clone(),
                    base: a.ns_base.clone(),
                    uid_maps: a.uid_map.clone(),
                    gid_maps: a.gid_map.clone(),
                },
                netns: a.netns.clone(),
            };
            match podmon::server::serve(cfg) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("podmon: {e}");
                    1
                }
            }
        }
        Command::Client(ref cmd) => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
                .init();
            cli::client_main(&cli, cmd)
        }
    };
    std::process::exit(code);
}
