"""Network helpers for tests that start servers on loopback."""
import random
import socket
from pathlib import Path
from typing import Final

# The kernel's range of ephemeral ports (Linux's default when the file cannot be read). A port the OS picks
# with bind(("", 0)) comes from it, and so does the local port of every outgoing connection: between a test
# taking such a port and its server binding it, any connect() on the machine (PostgreSQL's clients, requests,
# another test run) may be given the same port and the server fails to start. Ports below the range are never
# handed out that way, so only another server could take one, and the bind below checks that none holds it.
EPHEMERAL_RANGE_FILE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_LOW: Final = 32_768
LOWEST_TEST_PORT: Final = 10_000  # clear of the well-known and the commonly configured ports below it
MAX_PORT_TRIES: Final = 50


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_LOW


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that no socket holds now, from below the ephemeral range (see above); the OS's own
    pick when the range leaves no room below it."""
    low = _ephemeral_low()
    for _ in range(MAX_PORT_TRIES if low > LOWEST_TEST_PORT else 0):
        port = random.randrange(LOWEST_TEST_PORT, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue  # held by a server of another test (or anything else): try another
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
