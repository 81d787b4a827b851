#!/usr/bin/env python3
"""Descriptors over podmon's Varlink socket from Python (socket.send_fds / recv_fds).

    python3 tests/clients/fdpass.py SOCKET_PATH ROOTFS

Passes a pipe into a container with preserveFds (the container writes to
its fd 3), has the monitor hold one with holdFds until the container exits,
receives a terminal container's pty master with OpenConsole, through
which the shell is told to exit 3, and runs an Exec with `fds`, writing
and reading its pipes itself. Prints "fdpass ok" when all holds.
"""
import json
import os
import socket
import sys
import time


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(path)
        self.buf = b""

    def call(self, method, params, fds=(), more=False):
        call = {"method": "io.podmon.Pod." + method, "parameters": params}
        if more:
            call["more"] = True
        msg = json.dumps(call).encode() + b"\0"
        socket.send_fds(self.sock, [msg], list(fds))
        return self.recv(method)

    def recv(self, method):
        got = []
        while b"\0" not in self.buf:
            data, more, _flags, _addr = socket.recv_fds(self.sock, 65536, 4)
            if not data:
                raise RuntimeError("connection closed")
            self.buf += data
            got += more
        msg, self.buf = self.buf.split(b"\0", 1)
        reply = json.loads(msg)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply}")
        return reply.get("parameters", {}), got


def writer_open(r):
    os.set_blocking(r, False)
    try:
        os.read(r, 1)
        return False
    except BlockingIOError:
        return True


def read_all(r):
    os.set_blocking(r, True)
    out = b""
    while True:
        b = os.read(r, 4096)
        if not b:
            return out
        out += b


def main():
    path, rootfs = sys.argv[1], sys.argv[2]
    c = Conn(path)

    def create(cid, command, fds=(), **extra):
        params = {"id": cid, "rootfs": rootfs, "command": command, **extra}
        return c.call("CreateContainer", params, fds)

    # preserveFds: the pipe's write end is the container's fd 3.
    r, w = os.pipe()
    create("py1", ["sh", "-c", "echo from-python >&3"], [w], preserveFds=[0])
    os.close(w)
    c.call("StartContainer", {"id": "py1"})
    assert read_all(r) == b"from-python\n"
    os.close(r)
    assert c.call("WaitContainer", {"id": "py1"})[0]["exitCode"] == 0

    # holdFds: open while the container lives, closed after.
    r, w = os.pipe()
    create("py2", ["sleep", "1"], [w], holdFds=[0])
    os.close(w)
    assert writer_open(r), "not held"
    c.call("StartContainer", {"id": "py2"})
    c.call("WaitContainer", {"id": "py2"})
    deadline = time.time() + 5
    while writer_open(r) and time.time() < deadline:
        time.sleep(0.05)
    assert not writer_open(r), "still held after the exit"
    os.close(r)

    # OpenConsole: talk to a shell through the received master.
    create("py3", ["sh"], terminal=True)
    c.call("StartContainer", {"id": "py3"})
    reply, fds = c.call("OpenConsole", {"id": "py3"})
    assert reply == {"ptyFileDescriptor": 0} and len(fds) == 1, (reply, fds)
    master = fds[0]
    assert os.isatty(master)
    os.write(master, b"exit 3\n")
    assert c.call("WaitContainer", {"id": "py3"})[0]["exitCode"] == 3
    os.close(master)

    # Exec with fds: our own I/O on the exec's pipes, the exit from podmon.
    create("py4", ["sleep", "30"])
    c.call("StartContainer", {"id": "py4"})
    first, fds = c.call("Exec", {"id": "py4", "command": ["sh", "-c", "read x; echo py-$x; exit 6"],
                                 "fds": True}, more=True)
    assert len(fds) == 3 and first["stdinFileDescriptor"] == 0, (first, fds)
    stdin, stdout, stderr = fds
    os.write(stdin, b"exec\n")
    os.close(stdin)
    assert read_all(stdout) == b"py-exec\n"
    assert read_all(stderr) == b""
    os.close(stdout)
    os.close(stderr)
    last, _ = c.recv("Exec")
    assert last == {"exitCode": 6}, last
    c.call("KillContainer", {"id": "py4", "signal": "KILL"})
    c.call("WaitContainer", {"id": "py4"})

    for cid in ("py1", "py2", "py3", "py4"):
        c.call("DeleteContainer", {"id": cid})
    print("fdpass ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
