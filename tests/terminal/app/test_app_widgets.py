"""A button's outline is two filled rounded rectangles, not a Line wider than one pixel (issue 19 goal 5).

Kivy builds a Line wider than 1 px from hundreds of triangles (a round joint at each of a rounded
rectangle's corner segments); without a GPU (Mesa llvmpipe, the benchmark's renderer) each button's
outline cost about half a MB of C heap from its first frame on: the sign-in and idle screens' first
frames took 24 MB where a one-label app's takes 3. The outline keeps its pixels: a band 1.2 px out of
and 1.2 px into the button's edge, as the Line of width 1.2 drew it.
"""
import pytest
from kivy.graphics import Line, RoundedRectangle

from till_ui import TillUITest

pytestmark = pytest.mark.ui

BAND_PX = 1.2  # the old Line's width: how far the outline reaches out of and into the edge (theme.BUTTON_BORDER_PX)


class TestButtonOutline(TillUITest):
    def test_every_button_on_the_sign_in_screen_is_outlined_by_filled_shapes(self):
        self.wait_screen("signin")
        buttons = [b for b in self.buttons(self.screen()) if b.width > 0]
        assert len(buttons) >= 13  # the keypad's 12 keys and "Aanmelden"
        band = BAND_PX
        for b in buttons:
            drawn = b.canvas.before.children
            assert not [i for i in drawn if isinstance(i, Line) and i.width > 1], b.text
            outer, face = [i for i in drawn if isinstance(i, RoundedRectangle)]
            assert tuple(outer.pos) == pytest.approx((b.x - band, b.y - band))
            assert tuple(outer.size) == pytest.approx((b.width + 2 * band, b.height + 2 * band))
            assert tuple(face.pos) == pytest.approx((b.x + band, b.y + band))
            assert tuple(face.size) == pytest.approx((b.width - 2 * band, b.height - 2 * band))
