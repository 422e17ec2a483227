"""Offscreen Kivy for the test suite: environment, the shared window, screenshots.

How UI tests get a window
-------------------------
* tests/conftest.py calls :func:`configure_environment` when pytest loads it,
  before any test module can import kivy: Kivy reads most of its settings from
  the environment once, at ``import kivy``.
* Rendering uses SDL's *offscreen* video driver with Mesa's EGL and llvmpipe
  (software GL): no X server, no Xvfb, no GPU, no /dev/dri. We tried
  ``xvfb-run`` too; it works as well, but costs an extra package and process,
  and makes a desktop developer's run differ from CI's. Offscreen is the same
  everywhere, so it is the default. ``FLOREYN_TEST_SHOW=1`` keeps your real
  display instead, to watch a test.
* Kivy can open only ONE window per process, and SDL's offscreen driver gives
  it a drawing surface that never grows after creation (a resize beyond it is
  cut off, with garbage outside). So the window is created once at
  :data:`MAX_SIZE` and every test *shrinks* it to the size it wants
  (:data:`SIZES`: the 7" 800x480 and 1024x600 panels); everything draws into the
  bottom-left corner of the surface, which is what a screenshot reads.
  Whoever creates the window first wins, so do not import
  ``kivy.core.window`` at module level in a test: go through
  :func:`get_window` (or the ``kivy_window`` fixture, or
  :class:`support.kivy_testcase.FloreynGraphicTest`).
* Between tests the window is emptied, not closed (``Window.close`` is a no-op
  under test, as in Kivy's own GraphicUnitTest), so UI test modules share it.
  A whole ``App`` may ``run()`` and ``stop()`` inside a test, several times per
  process (schedule the checks and the stop with ``Clock.schedule_once``).

Screenshots go to :func:`artifacts_dir` (``$FLOREYN_ARTIFACTS`` or
tests/artifacts/, gitignored); :func:`assert_not_blank` checks one shows
something. This module imports kivy and Pillow only inside functions, so that
importing it (as conftest does) never starts Kivy.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

SIZES = {"800x480": (800, 480), "1024x600": (1024, 600)}
# The offscreen surface is fixed at creation; every size a test asks for must fit.
MAX_SIZE = (1280, 800)

_created_size: tuple[int, int] | None = None


def configure_environment() -> None:
    """Set Kivy/SDL environment defaults. Must run before ``import kivy``."""
    env = os.environ
    env["KIVY_NO_ARGS"] = "1"  # else Kivy parses pytest's command line
    env.setdefault("KIVY_LOG_MODE", "PYTHON")  # don't hijack sys.stderr; logs go to logging, pytest captures them
    env.setdefault("KIVY_NO_CONSOLELOG", "1")
    env.setdefault("KIVY_NO_FILELOG", "1")
    env.setdefault("KIVY_USE_DEFAULTCONFIG", "1")  # never read or write a config.ini
    if "KIVY_HOME" not in env:  # not the user's ~/.kivy; removed when pytest exits
        env["KIVY_HOME"] = tempfile.mkdtemp(prefix="floreyn-kivy-home-")
        atexit.register(shutil.rmtree, env["KIVY_HOME"], ignore_errors=True)
    env.setdefault("KIVY_WINDOW", "sdl2")  # no silent fall back to another window provider
    env.setdefault("KIVY_METRICS_DENSITY", "1")  # 1 dp = 1 px, as on the terminals' panels
    env.setdefault("KCFG_GRAPHICS_WIDTH", str(MAX_SIZE[0]))  # see module doc: create big, shrink
    env.setdefault("KCFG_GRAPHICS_HEIGHT", str(MAX_SIZE[1]))
    env.setdefault("KCFG_KIVY_EXIT_ON_ESCAPE", "0")
    env.setdefault("SDL_AUDIODRIVER", "dummy")  # CI has no sound card; beeps go nowhere
    if env.get("FLOREYN_TEST_SHOW") != "1":
        env.setdefault("SDL_VIDEODRIVER", "offscreen")
        # llvmpipe even where a GPU exists: same pixels on every machine.
        env.setdefault("LIBGL_ALWAYS_SOFTWARE", "1")


def artifacts_dir() -> Path:
    path = Path(os.environ.get("FLOREYN_ARTIFACTS") or Path(__file__).resolve().parents[1] / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_window(size: tuple[int, int] = SIZES["800x480"]):
    """Return Kivy's one Window, emptied and sized to ``size`` (w, h).

    Raises RuntimeError when Kivy cannot open a real GL window, so that a
    broken graphics stack fails the UI tests instead of skipping them.
    """
    global _created_size
    configure_environment()
    from kivy.config import Config

    for option in Config.options("input"):  # no real touchscreens or mice: tests send UnitTestTouch
        Config.remove_option("input", option)
    from kivy.core.window import Window
    from kivy.graphics.cgl import cgl_get_backend_name

    if Window is None:
        raise RuntimeError("Kivy could not create a window: see the Kivy log records above "
                           "(missing libEGL/libGL/Mesa? run `make test` to install them)")
    if cgl_get_backend_name() == "mock":
        raise RuntimeError("Kivy uses the 'mock' GL backend: nothing would be rendered")
    if _created_size is None:
        _created_size = tuple(Window.size)
    if size[0] > _created_size[0] or size[1] > _created_size[1]:
        raise RuntimeError(f"window size {size} exceeds the {_created_size} surface it was created with; "
                           "create it through tests/support/kivy_env.get_window first")
    Window.close = lambda *args: None  # an App.stop() must not end the shared window
    clear_window(Window)
    set_size(Window, size)
    return Window


def clear_window(window) -> None:
    from kivy.base import EventLoop

    for child in window.children[:]:
        window.remove_widget(child)
    window.canvas.before.clear()
    window.canvas.clear()
    window.canvas.after.clear()
    EventLoop.touches.clear()


def set_size(window, size: tuple[int, int]) -> None:
    from kivy.base import EventLoop

    window.size = size
    EventLoop.ensure_window()
    for _ in range(3):  # let the resize reach the layout before anything measures
        EventLoop.idle()
    if tuple(window.size) != tuple(size):
        raise RuntimeError(f"window is {tuple(window.size)} after asking for {size}")


def save_screenshot(name: str, window=None) -> Path:
    """Draw one frame and save it as ``<artifacts>/<name>.png``; return the path.

    Pixels are read after drawing and *before* the buffer swap: after a swap
    the back buffer is undefined (black under Xvfb), which is why this does
    not use ``Window.screenshot``.
    """
    from kivy.base import EventLoop
    from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glPixelStorei, glReadPixels, GL_PACK_ALIGNMENT
    from PIL import Image

    window = window or EventLoop.window
    EventLoop.idle()  # run pending clock callbacks and layouts first
    window.dispatch("on_draw")
    width, height = window.size
    glPixelStorei(GL_PACK_ALIGNMENT, 1)  # rows of odd widths come back unpadded
    data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
    window.dispatch("on_flip")
    path = artifacts_dir() / f"{name}.png"
    Image.frombytes("RGB", (width, height), data).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(path)
    return path


def image_stats(path: Path) -> tuple[int, float]:
    """(distinct colours, share of pixels having the most common colour)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        colours = im.getcolors(maxcolors=im.width * im.height)
    top = max(count for count, _ in colours)
    return len(colours), top / (im.width * im.height)


def assert_not_blank(path: Path, min_colours: int = 8, max_dominant: float = 0.995) -> None:
    """Fail unless the PNG has at least ``min_colours`` colours and no single
    colour covers more than ``max_dominant`` of it (a flat or empty frame)."""
    colours, dominant = image_stats(path)
    assert colours >= min_colours and dominant <= max_dominant, (
        f"{path} looks blank: {colours} colours, {dominant:.1%} of pixels one colour")
