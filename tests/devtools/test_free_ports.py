"""Ports chosen for processes that bind them later must all differ: the kernel hands a
closed socket's port out again, and a stack once got one port for two of its servers."""

from __future__ import annotations

import socket

from devtools.stack import free_port, free_ports


def test_ports_chosen_together_all_differ_and_are_free() -> None:
    # 500 ports chosen one socket at a time repeat with near certainty (birthday bound over
    # the ephemeral range); held together they cannot
    ports = free_ports(500)
    assert len(set(ports)) == 500
    for port in ports[:20]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_chosen_alone_is_none_of_those_to_avoid() -> None:
    taken = set(free_ports(300))
    for _ in range(300):
        assert free_port(avoid=taken) not in taken
