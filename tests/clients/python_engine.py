#!/usr/bin/env python3
"""Drives a real podmon with the Python package clients/python/podmon, as
an engine would:

    PYTHONPATH=clients/python python3 tests/clients/python_engine.py PODMON RUNTIME ROOTFS RUNDIR

podmon.new starts `podmon serve` (and finds it again), then: create from a
bundle, typed errors, events, start, ExecSync with the exact bytes, a
streaming exec, stats, attach (upgraded, with stdin), wait, list, delete,
shutdown. Prints "ok" at the end; any failed check raises (non-zero exit,
with the reason). PODMON_REACTOR in the environment reaches the monitor.
"""
import json
import os
import sys
import time

import podmon


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def write_bundle(path, rootfs, args):
    os.makedirs(path, exist_ok=True)
    config = {
        "ociVersion": "1.0.2",
        "process": {"args": args, "cwd": "/", "user": {"uid": 0, "gid": 0},
                    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "root": {"path": rootfs, "readonly": True},
        "hostname": "pyclient",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"namespaces": [{"type": t} for t in ("mount", "uts", "ipc", "pid")]},
    }
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)


def start(server, runtime, run):
    env = {"PODMON_REACTOR": os.environ["PODMON_REACTOR"]} if os.environ.get("PODMON_REACTOR") else {}
    with open(os.path.join(run, "server.log"), "a") as log:
        return podmon.new("pyengine", run, server_path=server, runtime=runtime, env=env, output=log)


def main(server, runtime, rootfs, run):
    pod = start(server, runtime, run)
    pid = pod.get_pod()["monitor"]["pid"]
    again = start(server, runtime, run)
    check(again.get_pod()["monitor"]["pid"] == pid, "a second new() started another monitor")
    again.close()

    bundle = os.path.join(run, "bundles", "p1")
    write_bundle(bundle, rootfs, ["sh", "-c", 'read line; echo "got $line"; echo oops >&2; exit 3'])
    created = pod.create_container("p1", bundle=bundle, stdin=True)
    check(created["container"]["status"] == "created", created)

    try:
        pod.create_container("p1", bundle=bundle)
        raise AssertionError("a second create succeeded")
    except podmon.ContainerExists as e:
        check(e.id == "p1" and e.name == "io.podmon.Pod.ContainerExists", vars(e))
    try:
        pod.get_container("nope")
        raise AssertionError("GetContainer(nope) succeeded")
    except podmon.NoSuchContainer as e:
        check(e.id == "nope", vars(e))
    try:
        pod.exec_sync("p1", ["true"], encoding="hex")
        raise AssertionError("encoding hex accepted")
    except podmon.InvalidValue as e:
        check(e.parameter == "encoding", vars(e))

    events = pod.watch_events_more(id="p1")
    first = next(events)
    check([c["id"] for c in first["containers"]] == ["p1"], first)

    pod.start_container("p1")
    r = podmon.exec_sync_bytes(pod, "p1", ["sh", "-c", r"printf 'a\000b\377'; printf '\376' >&2; exit 5"])
    check(r["exitCode"] == 5 and r["stdout"] == b"a\0b\xff" and r["stderr"] == b"\xfe", r)

    reply, up = pod.exec_upgrade("p1", ["sh", "-c", "cat; echo done >&2; exit 7"], interactive=True)
    check(reply.get("execId") and reply.get("pid"), reply)
    up.write_stdin(b"ping\n")
    up.close_stdin()
    code, out, err = up.collect()
    up.close()
    check((code, out, err) == (7, b"ping\n", b"done\n"), (code, out, err))

    st = pod.stats(id="p1")
    check(st["stats"]["id"] == "p1" and st["monitor"]["pid"] > 0, st)
    check(st["stats"]["pids"].get("current", 0) >= 1, st)

    reply, up = pod.attach_upgrade("p1", stdin=True)
    check(reply.get("stdin") is True, reply)
    up.write_stdin(b"hello\n")
    code, out, err = up.collect()
    up.close()
    check((code, out, err) == (3, b"got hello\n", b"oops\n"), (code, out, err))

    w = pod.wait_container("p1")
    check(w["exitCode"] == 3 and w["reason"] == "Error", w)
    ids = [r["container"]["id"] for r in pod.list_containers_more() if r.get("container")]
    check(ids == ["p1"], ids)
    pod.delete_container("p1")

    kinds = []
    for e in events:
        kinds.append(e["event"]["kind"])
        if kinds[-1] == "exited":
            check(e["event"].get("exitCode") == 3, e)
        if kinds[-1] == "deleted":
            break
    for want in ("started", "execStarted", "execExited", "exited", "deleted"):
        check(want in kinds, (want, kinds))
    events.close()
    pod.shutdown(kill_containers=True, timeout=1)
    for _ in range(100):
        try:
            pod.get_pod()
        except OSError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the monitor still answers after Shutdown")
    pod.close()
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:5])
