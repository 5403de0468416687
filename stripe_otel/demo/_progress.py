"""A one-line progress bar on stderr: plain text and ``\\r``, no dependency.

A bar only makes sense on a terminal; written to a file or a CI log, the carriage returns
would pile up into one enormous line, so there we print the final line only.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 28
#: Redraws at most this often: drawing costs a write per call, and 8 workers finishing
#: transactions could otherwise ask for hundreds a second.
_MIN_INTERVAL_S = 0.1


class Progress:
    """Shows ``done / total`` with the outcome counts; :meth:`finish` prints the last line."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        *,
        enabled: bool = True,
        label: str = "checkout",
    ) -> None:
        self._total = max(total, 1)
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = enabled
        self._bar = enabled and _isatty(self._stream)
        self._label = label
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn_width = 0

    def _line(self, done: int, ok: int, declined: int, failed: int) -> str:
        elapsed = time.monotonic() - self._start
        counts = f"ok {ok}  declined {declined}  failed {failed}  {elapsed:5.1f} s"
        if not self._bar:
            return f"{self._label}: {done}/{self._total} transactions  {counts}"
        filled = _WIDTH * min(done, self._total) // self._total  # full only when done
        bar = "#" * filled + "-" * (_WIDTH - filled)
        return f"{self._label} [{bar}] {done}/{self._total}  {counts}"

    def update(self, done: int, ok: int, declined: int, failed: int) -> None:
        if not self._bar:
            return
        now = time.monotonic()
        if now - self._last_draw < _MIN_INTERVAL_S and done < self._total:
            return
        self._last_draw = now
        self._draw(self._line(done, ok, declined, failed))

    def _draw(self, line: str) -> None:
        # "\r" moves the cursor without erasing: pad, or a shorter line would leave the
        # tail of the previous one on screen.
        pad = " " * max(0, self._drawn_width - len(line))
        self._stream.write("\r" + line + pad)
        self._stream.flush()
        self._drawn_width = len(line)

    def finish(self, done: int, ok: int, declined: int, failed: int, note: str = "") -> None:
        if not self._enabled:
            return
        line = self._line(done, ok, declined, failed) + (f"  {note}" if note else "")
        if self._bar:
            self._draw(line)
            self._stream.write("\n")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def interrupt(self, message: str) -> None:
        """End the bar's line (if one is on screen) and say why the run stops."""
        start = "\n" if self._bar and self._drawn_width else ""
        self._stream.write(f"{start}{message}\n")
        self._stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False
