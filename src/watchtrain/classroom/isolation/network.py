"""Keep a graded submission's network on this machine: servers bind to loopback, connections
elsewhere are refused with a message that says why.

Installed in every Python process of a graded submission by the sandbox's `sitecustomize`. It
guards against accidents (W&B left in online mode, a server on 0.0.0.0 reachable from the
network), not against code written to get around it; see the instructor's guide.
"""
from __future__ import annotations

import ipaddress
import socket

_INET = (socket.AF_INET, socket.AF_INET6)
_LOOPBACK = {socket.AF_INET: "127.0.0.1", socket.AF_INET6: "::1"}


class NetworkConfined(PermissionError):
    pass


def confine_to_loopback() -> None:
    if getattr(socket.socket, "_watchtrain_confined", False):
        return
    original_bind, original_connect = socket.socket.bind, socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def bind(self, address):
        return original_bind(self, _loopback_address(self, address))

    def connect(self, address):
        _refuse_remote(self, address)
        return original_connect(self, address)

    def connect_ex(self, address):
        _refuse_remote(self, address)
        return original_connect_ex(self, address)

    socket.socket.bind, socket.socket.connect, socket.socket.connect_ex = bind, connect, connect_ex
    socket.socket._watchtrain_confined = True


def _loopback_address(sock: socket.socket, address):
    """Any address to listen on (0.0.0.0, '', ::, a network card's) becomes this machine's loopback."""
    if sock.family not in _INET or not isinstance(address, tuple) or _is_loopback(address[0]):
        return address
    return (_LOOPBACK[sock.family], *address[1:])


def _refuse_remote(sock: socket.socket, address) -> None:
    if sock.family in _INET and isinstance(address, tuple) and not _is_loopback(address[0]):
        raise NetworkConfined(
            f"connecting to {address[0]}:{address[1]} was refused: while grading, nothing may leave this "
            f"machine. The course's tools all work offline (W&B with mode='offline'; servers on 127.0.0.1).")


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:  # a host name: loopback only if every address it resolves to is
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%", 1)[0]).is_loopback for info in infos)
