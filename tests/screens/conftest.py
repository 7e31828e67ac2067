"""A real shell on the (offscreen) Kivy window, with demo settings in a temporary data directory."""
from __future__ import annotations

import pytest


class ShellHarness:
    """Builds the shell once per module and pumps Kivy's event loop."""

    def __init__(self, ctx) -> None:
        from kivy.base import EventLoop
        from kivy.core.window import Window

        from kiosk.app import register_font
        from screens import SCREENS
        from screens.shell import Shell

        EventLoop.ensure_window()
        self.window = Window
        Window.size = (1280, 800)
        register_font()
        self.ctx = ctx
        self.exited = False
        self.shell = Shell(ctx, SCREENS, on_exit=self._exit)
        for child in list(Window.children):
            Window.remove_widget(child)
        Window.add_widget(self.shell)
        self.shell.go("home")
        self.frames(3)

    def _exit(self) -> None:
        self.exited = True

    def frames(self, n: int = 2) -> None:
        """Run ``n`` frames of the event loop (layout, clock, drawing)."""
        from kivy.base import EventLoop
        for _ in range(n):
            EventLoop.idle()

    def screen(self, name: str):
        return self.shell.manager.get_screen(name)

    def close(self) -> None:
        self.shell.close()
        self.window.remove_widget(self.shell)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    from kiosk.context import build_context
    from kiosk.settings import load_settings

    data = tmp_path_factory.mktemp("kiosk-data")
    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data)})
    ctx = build_context(settings)
    h = ShellHarness(ctx)
    yield h
    h.close()
    ctx.close()
