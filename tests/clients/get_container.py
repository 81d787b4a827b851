#!/usr/bin/env python3
"""Get one container from a podmon pod with the Python varlink package (PyPI "varlink").

    python3 tests/clients/get_container.py unix:/run/podmon/NAME.sock ID

The client introspects io.podmon.Pod (so the server's IDL must parse with
the Python implementation), calls GetContainer and prints the reply as JSON.
On a varlink error it prints {"error": NAME, "parameters": {...}} and exits 3.
"""
import json
import sys

import varlink


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    address, cid = sys.argv[1], sys.argv[2]
    with varlink.Client(address=address) as client:
        with client.open("io.podmon.Pod", namespaced=False) as pod:
            try:
                reply = pod.GetContainer(cid)
            except varlink.VarlinkError as e:
                print(json.dumps({"error": e.error(), "parameters": e.parameters()}))
                return 3
    print(json.dumps(reply, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
