"""The transport under the generated calls: plain calls share one
connection of the `varlink` package, each 'more' call gets its own (so a
long stream never blocks other calls), and upgraded calls (Exec, Attach,
PortForward) use a plain socket, since after the reply the connection is no
longer Varlink."""

import base64
import json
import socket
import struct
import threading

import varlink

from ._generated import ERRORS, INTERFACE, Methods, PodmonError

FRAME_STDIN, FRAME_STDOUT, FRAME_STDERR, FRAME_EXIT, FRAME_RESIZE, FRAME_ERROR = range(6)
# Largest frame accepted from the monitor (it sends at most 64 KiB at once).
MAX_FRAME = 16 << 20


def _typed(e):
    """The generated exception for a varlink.VarlinkError."""
    name = e.error()
    params = e.parameters() or {}
    return ERRORS.get(name, PodmonError)(name, params)


class Client(Methods):
    """Calls the monitor at `address` ("unix:/path" or a socket path)."""

    def __init__(self, address):
        if ":" not in address:
            address = "unix:" + address
        self.address = address
        self._varlink = varlink.Client(address=address)
        self._lock = threading.Lock()
        self._iface = None

    def close(self):
        with self._lock:
            if self._iface is not None:
                self._iface.close()
                self._iface = None
        self._varlink.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, params):
        with self._lock:
            if self._iface is None:
                self._iface = self._varlink.open(INTERFACE, namespaced=False)
            try:
                return getattr(self._iface, method)(**params) or {}
            except varlink.VarlinkError as e:
                raise _typed(e) from None
            except (OSError, StopIteration, ValueError):
                # A broken connection (the monitor restarted): dial anew next time.
                self._iface.close()
                self._iface = None
                raise

    def _call_more(self, method, params):
        iface = self._varlink.open(INTERFACE, namespaced=False)

        def replies():
            try:
                for reply in getattr(iface, method)(_more=True, **params):
                    yield reply or {}
            except varlink.VarlinkError as e:
                raise _typed(e) from None
            finally:
                iface.close()

        return replies()

    def _call_upgrade(self, method, params):
        path = self.address[len("unix:"):].split(";")[0]
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            msg = {"method": INTERFACE + "." + method, "parameters": params, "upgrade": True}
            sock.sendall(json.dumps(msg).encode() + b"\0")
            buf = b""
            while b"\0" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the monitor closed the connection before replying")
                buf += chunk
            line, _, rest = buf.partition(b"\0")
            reply = json.loads(line)
        except BaseException:
            sock.close()
            raise
        if reply.get("error"):
            sock.close()
            name = reply["error"]
            raise ERRORS.get(name, PodmonError)(name, reply.get("parameters") or {})
        return reply.get("parameters") or {}, Upgraded(sock, rest)


class StreamError(Exception):
    """An error frame: the monitor ended the session."""


class Upgraded:
    """An upgraded connection: frames for Exec and Attach, raw bytes for
    PortForward (then use .sock and .leftover)."""

    def __init__(self, sock, leftover):
        self.sock = sock
        self.leftover = leftover
        self._wlock = threading.Lock()

    def _read_exact(self, n):
        while len(self.leftover) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed mid-frame")
            self.leftover += chunk
        out, self.leftover = self.leftover[:n], self.leftover[n:]
        return out

    def read_frame(self):
        """The next frame as (kind, payload)."""
        kind, n = struct.unpack(">BI", self._read_exact(5))
        if n > MAX_FRAME:
            raise ValueError("frame of %d bytes" % n)
        return kind, self._read_exact(n)

    def write_frame(self, kind, payload=b""):
        with self._wlock:
            self.sock.sendall(struct.pack(">BI", kind, len(payload)) + payload)

    def write_stdin(self, data):
        for i in range(0, len(data), 65536):
            self.write_frame(FRAME_STDIN, data[i : i + 65536])

    def close_stdin(self):
        self.write_frame(FRAME_STDIN, b"")

    def resize(self, width, height):
        self.write_frame(FRAME_RESIZE, struct.pack(">HH", width, height))

    def collect(self):
        """Reads to the exit frame: (exit code, stdout bytes, stderr bytes)."""
        out, err = bytearray(), bytearray()
        while True:
            kind, payload = self.read_frame()
            if kind == FRAME_STDOUT:
                out += payload
            elif kind == FRAME_STDERR:
                err += payload
            elif kind == FRAME_EXIT:
                return struct.unpack(">i", payload)[0], bytes(out), bytes(err)
            elif kind == FRAME_ERROR:
                raise StreamError(payload.decode("utf-8", "replace"))

    def close(self):
        self.sock.close()


def exec_sync_bytes(client, id, command, **kw):
    """ExecSync with the exact bytes: the reply with stdout and stderr as
    bytes (asked for as base64)."""
    r = client.exec_sync(id, command, encoding="base64", **kw)
    r["stdout"] = base64.b64decode(r["stdout"])
    r["stderr"] = base64.b64decode(r["stderr"])
    return r
