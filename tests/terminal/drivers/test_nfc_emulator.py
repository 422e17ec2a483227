"""The emulator's own plumbing: the ports its cards listen on (the cards' answers are tested through the reader)."""
import socket

from floreyn.terminal.drivers import nfc_emulator
from floreyn.terminal.drivers.nfc_emulator import EmulatedType3Tag, ephemeral_port_range, free_udp_port

PICKS = 1_000


def test_card_ports_lie_outside_the_kernels_ephemeral_range():
    # A reader's unbound socket gets its port from that range when it first sends, so a card port chosen
    # there could be taken between the pick and the card's bind by a reader in another test process.
    low, high = ephemeral_port_range()
    ports = [free_udp_port() for _ in range(PICKS)]
    assert all(nfc_emulator.FIRST_CHOSEN_PORT <= p <= nfc_emulator.LAST_PORT for p in ports)
    assert not [p for p in ports if low <= p <= high]
    assert len(set(ports)) > PICKS * 0.9  # random picks, not one port over and over


def test_card_ports_have_no_service_name_that_nfcpy_would_read_instead_of_the_number():
    # nfcpy's udp driver passes the port through getnameinfo, which names a port /etc/services knows.
    # With Debian's /etc/services, 129 of the ports picked from are named: PICKS random picks without the check
    # hit one in some 97 % of runs.
    ports = {free_udp_port() for _ in range(PICKS)}
    assert all(socket.getnameinfo(("127.0.0.1", p), socket.NI_NUMERICHOST)[1].isdigit() for p in ports)
    for port in sorted(ports)[:20]:
        with EmulatedType3Tag(b"", port=port) as tag:  # nfcpy opens it as a number
            assert not tag.gone


def test_a_taken_port_is_passed_over(monkeypatch):
    low, high = ephemeral_port_range()
    spare = free_udp_port()

    def offset_of(port: int) -> int:  # the inverse of free_udp_port's skip over the ephemeral range
        return port - nfc_emulator.FIRST_CHOSEN_PORT - (high - low + 1 if port > high else 0)

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("0.0.0.0", free_udp_port()))
        offsets = iter([offset_of(held.getsockname()[1]), offset_of(spare)])
        monkeypatch.setattr(nfc_emulator.random, "randrange", lambda _count: next(offsets))
        assert free_udp_port() == spare


def test_a_card_on_a_picked_port_starts_and_stops():
    with EmulatedType3Tag(b"") as tag:
        assert not tag.gone
        low, high = ephemeral_port_range()
        assert not low <= tag.port <= high
    assert tag.gone
