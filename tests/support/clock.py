"""A server clock the test sets by hand (ServerThread(clock=...) calls it for "now", in ms since the epoch)."""


class ManualClock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms
