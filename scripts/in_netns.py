"""Run a command in a private network namespace where only loopback is up.

Why: Ray binds every interface, and tests must listen on 127.0.0.1 only; inside a namespace of
its own the whole test run (Ray included) can reach nothing but itself. Needs root (or user
namespaces); without it the command runs as is, and the suites that need the namespace say so.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP = 0x1
MARK = "KEEPWARM_PRIVATE_NETWORK"


def private_network() -> bool:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))
    return True


def main() -> None:
    if private_network():
        os.environ[MARK] = "1"
    else:
        print("in_netns: no private network namespace (needs root); running as is", file=sys.stderr)
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
