"""The engine's entry point, as the Go client's New: connect to the pod's
monitor when one answers on its socket (an engine that restarted finds its
pods again), or start `podmon serve` for the pod in a session of its own so
it outlives the engine."""

import os
import subprocess
import time

from .client import Client


def socket_path(server_run_dir):
    """Where the monitor of a pod run from `server_run_dir` listens."""
    return os.path.join(server_run_dir, "podmon.sock")


def serve_args(pod, server_run_dir, runtime=None, log_dir=None, namespaces=None):
    """The `podmon serve` arguments for a pod: the same layout as the Go
    client's (socket, state/, logs/, exits/, oom/ under server_run_dir)."""
    args = ["serve", "--pod", pod, "--socket", socket_path(server_run_dir),
            "--state-dir", os.path.join(server_run_dir, "state"),
            "--log-dir", log_dir or os.path.join(server_run_dir, "logs"),
            "--exit-dir", os.path.join(server_run_dir, "exits"),
            "--oom-dir", os.path.join(server_run_dir, "oom")]
    if runtime:
        args += ["--runtime", runtime]
    if namespaces:
        args += ["--namespaces", ",".join(namespaces)]
    return args


def new(pod, server_run_dir, server_path="podmon", runtime=None, log_dir=None,
        namespaces=None, env=None, output=None, start_timeout=10.0):
    """A Client of the pod's monitor, started first when none answers.
    `env` is added to the monitor's environment, `output` (a file) gets its
    own output."""
    client = Client(socket_path(server_run_dir))
    try:
        info = client.get_pod()
    except OSError:
        info = None
    if info is not None:
        if info["name"] != pod:
            raise RuntimeError("%s serves pod %r, not %r" % (client.address, info["name"], pod))
        return client
    os.makedirs(server_run_dir, mode=0o700, exist_ok=True)
    proc = subprocess.Popen(
        [server_path] + serve_args(pod, server_run_dir, runtime, log_dir, namespaces),
        env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL,
        stdout=output or subprocess.DEVNULL, stderr=output or subprocess.DEVNULL,
        start_new_session=True)
    deadline = time.monotonic() + start_timeout
    while True:
        try:
            client.get_pod()
            return client
        except OSError as e:
            if proc.poll() is not None:
                raise RuntimeError("podmon serve exited (%s) before it answered" % proc.returncode)
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("podmon serve did not answer within %ss: %s" % (start_timeout, e))
            time.sleep(0.02)
