"""Fallback network guard: run a program with socket creation disabled.

    python -I socket_guard.py program.py

Used only when the sandbox cannot give the program an empty network namespace (not root).
It is a guard, not a wall: code that calls libc through ctypes can still open sockets, which is
why the sandbox records ``net: socket-guard`` in every result it produces this way.
"""

import _socket
import runpy
import socket
import sys


def _refuse(*args, **kwargs):
    raise PermissionError("network access is disabled in the tgrd sandbox")


class _NoSocket(_socket.socket):
    def __init__(self, *args, **kwargs):
        _refuse()


if __name__ == "__main__":
    # Replace every public constructor so `import socket` and `import _socket` both fail.
    _socket.socket = socket.socket = socket.SocketType = _NoSocket
    _socket.socketpair = socket.socketpair = _refuse
    socket.create_connection = socket.create_server = socket.fromfd = _refuse
    _socket.getaddrinfo = socket.getaddrinfo = _refuse
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
