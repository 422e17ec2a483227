"""The panel's backlight, where Linux lets us set it (the Pi 7" touchscreen does).

The app dims with an overlay everywhere; on a Pi it also turns the real
backlight down, which is what saves battery. Writing needs permission (a udev
rule or the `video` group, see README); without it this does nothing and
says so, and the overlay alone still dims.
"""

from __future__ import annotations

from pathlib import Path

SYS_BACKLIGHT = Path("/sys/class/backlight")


def set_backlight(fraction: float, root: Path = SYS_BACKLIGHT) -> bool:
    """Set every writable backlight to `fraction` (0..1) of its maximum; True if any was set."""
    fraction = min(1.0, max(0.0, fraction))
    done = False
    try:
        devices = sorted(root.iterdir())
    except OSError:
        return False
    for dev in devices:
        try:
            maximum = int((dev / "max_brightness").read_text().strip())
            # Never fully off: a black panel looks like a dead till.
            value = max(1, round(maximum * fraction)) if maximum > 0 else 0
            (dev / "brightness").write_text(f"{value}\n")
            done = True
        except (OSError, ValueError):
            continue
    return done
