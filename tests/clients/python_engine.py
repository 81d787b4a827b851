#!/usr/bin/env python3
"""Drives a real podmon with the Python package clients/python/podmon:

    PYTHONPATH=clients/python python3 tests/clients/python_engine.py unix:SOCKET ROOTFS

create, start, ExecSync with the exact bytes, a streaming exec, stats,
attach (upgraded), events, wait, typed errors, delete. Prints "ok" at the
end; any failed check raises (non-zero exit, with the reason).
"""
import sys

import podmon


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def main(address, rootfs):
    pod = podmon.Client(address)
    script = 'read line; echo "got $line"; echo oops >&2; exit 3'
    created = pod.create_container("p1", rootfs=rootfs, command=["sh", "-c", script], stdin=True)
    check(created["container"]["status"] == "created", created)

    try:
        pod.create_container("p1", rootfs=rootfs, command=["true"])
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
    pod.close()
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
