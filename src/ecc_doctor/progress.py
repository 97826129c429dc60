"""Live progress of a run on a terminal (stderr): which checks are running, how many done."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.text import Text

from ecc_doctor.runner import RunEvent


class LiveProgress:
    """A one-line live display fed by runner events; silent when stderr is not a terminal."""

    def __init__(self, total: int, console: Console) -> None:
        self.total = total
        self.console = console
        self.running: dict[str, float] = {}
        self.done = 0
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        if self.console.is_terminal:
            # Live repaints 8 times a second from __rich__, so the timers advance between events
            self._live = Live(self, console=self.console, transient=True, refresh_per_second=8)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def __rich__(self) -> Text:
        return self._render()

    def _render(self) -> Text:
        now = time.monotonic()
        names = ", ".join(f"{cid} {now - t0:.0f}s" for cid, t0 in sorted(self.running.items())[:4])
        more = f" +{len(self.running) - 4}" if len(self.running) > 4 else ""
        return Text(f"[{self.done}/{self.total}] running: {names}{more}", style="dim")

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "started":
            self.running[event.check_id] = time.monotonic()
        else:
            if self.running.pop(event.check_id, None) is not None:
                self.done += 1
        if self._live is not None:
            self._live.refresh()
