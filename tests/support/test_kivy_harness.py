"""Proof that the offscreen Kivy harness works: a press lands and pixels are drawn.

Fails (does not skip) when Kivy cannot open its window.
"""
import pytest

from support import kivy_env
from support.kivy_testcase import FloreynGraphicTest, UnitTestTouch

pytestmark = pytest.mark.ui


def _button_tree(pressed):
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label

    root = BoxLayout(orientation="vertical", padding=20, spacing=20)
    root.add_widget(Label(text="Saldo 12,50 €", font_size=40))
    button = Button(text="Bezahlen", font_size=40, background_color=(0.1, 0.6, 0.2, 1))
    button.bind(on_press=lambda *_: pressed.append(button.text))
    root.add_widget(button)
    return root, button


class TestHarness(FloreynGraphicTest):
    def test_press_and_screenshot(self):
        pressed = []
        root, button = _button_tree(pressed)
        self.render(root)
        assert tuple(self.Window.size) == self.window_size
        touch = UnitTestTouch(*button.center)
        touch.touch_down()
        touch.touch_up()
        self.advance_frames(1)
        assert pressed == ["Bezahlen"]
        self.assert_not_blank(self.screenshot("harness-unittest-{}x{}".format(*self.window_size)))


class TestHarness1024(TestHarness):
    """The same on the 1024x600 panel: the shared window shrinks and grows between tests."""
    window_size = kivy_env.SIZES["1024x600"]


@pytest.mark.parametrize("kivy_window", list(kivy_env.SIZES.values()), indirect=True,
                         ids=list(kivy_env.SIZES))
def test_fixture_window_sizes(kivy_window):
    pressed = []
    root, button = _button_tree(pressed)
    kivy_window.add_widget(root)
    path = kivy_env.save_screenshot(f"harness-fixture-{kivy_window.width}x{kivy_window.height}")
    assert root.size == list(kivy_window.size)
    touch = UnitTestTouch(*button.center)
    touch.touch_down()
    touch.touch_up()
    assert pressed == ["Bezahlen"]
    from PIL import Image
    with Image.open(path) as im:
        assert im.size == tuple(kivy_window.size)
    kivy_env.assert_not_blank(path)


def test_blank_check_catches_a_flat_image(tmp_path):
    from PIL import Image
    flat = tmp_path / "flat.png"
    Image.new("RGB", (80, 48), (0, 0, 0)).save(flat)
    with pytest.raises(AssertionError):
        kivy_env.assert_not_blank(flat)
