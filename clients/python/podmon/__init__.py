"""A Python client of podmon's Varlink interface io.podmon.Pod.

    import podmon
    pod = podmon.new("web", "/run/engine/web", runtime="/usr/sbin/runc")  # or podmon.Client(SOCKET)
    pod.create_container("c1", bundle="/path/to/bundle")
    pod.start_container("c1")
    r = pod.exec_sync("c1", ["sh", "-c", "printf 'a\\\\0b'"], encoding="base64")

The typed calls and error classes are generated from the IDL
(scripts/gen-clients writes _generated.py); client.py is the transport on
the PyPI `varlink` package.
"""

from ._generated import *  # noqa: F401,F403
from ._generated import ERRORS, INTERFACE, PodmonError
from .client import Client, Upgraded, StreamError, exec_sync_bytes
from .engine import new

__all__ = ["Client", "Upgraded", "StreamError", "PodmonError", "ERRORS", "INTERFACE",
           "exec_sync_bytes", "new"]
__all__ += [e.__name__ for e in ERRORS.values()]
