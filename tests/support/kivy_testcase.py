"""Kivy's GraphicUnitTest, adapted to the shared offscreen window (see kivy_env).

Usage::

    from support.kivy_testcase import FloreynGraphicTest, UnitTestTouch

    class TestPayScreen(FloreynGraphicTest):
        window_size = (1024, 600)          # default 800x480

        def test_pay(self):
            self.render(root)              # Kivy: draw until the first frame is shown
            touch = UnitTestTouch(*button.center)
            touch.touch_down(); touch.touch_up()
            self.advance_frames(1)
            self.assert_not_blank(self.screenshot("pay"))

pytest runs these unittest classes as they are. Importing this module imports
kivy, so only UI test modules should do it.
"""
from __future__ import annotations

import unittest

from . import kivy_env

kivy_env.configure_environment()

from kivy.tests.common import GraphicUnitTest, UnitTestTouch  # noqa: E402  (after the environment)

# kivy.tests.common silently turns GraphicUnitTest into a plain object (so pytest
# would collect nothing) when the GL backend is 'mock': make that loud instead.
if not issubclass(GraphicUnitTest, unittest.TestCase):
    raise RuntimeError("kivy.tests.common.GraphicUnitTest is not a TestCase: KIVY_GL_BACKEND is 'mock'?")

__all__ = ["FloreynGraphicTest", "UnitTestTouch"]


class FloreynGraphicTest(GraphicUnitTest):
    window_size: tuple[int, int] = kivy_env.SIZES["800x480"]

    def setUp(self):
        # Create (or take) the shared window first: GraphicUnitTest.setUp would
        # otherwise create it at 320x240, too small for our panels.
        kivy_env.get_window(self.window_size)
        super().setUp()
        kivy_env.set_size(self.Window, self.window_size)

    def screenshot(self, name: str):
        """Save the current frame to the artifacts folder; return the Path."""
        return kivy_env.save_screenshot(name, self.Window)

    assert_not_blank = staticmethod(kivy_env.assert_not_blank)
