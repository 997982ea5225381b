"""Text-layout checks of a matplotlib figure from the extents matplotlib reports.

A figure is drawn once while every Text artist that really draws itself is recorded (ticks
outside the view, hidden axes and empty strings never draw); then each drawn text's window
extent is checked against the canvas (cut off) and against every other text (overlap).
"""

from __future__ import annotations

from itertools import combinations
from unittest import mock

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

TOLERANCE_PX = 1.0


def drawn_texts(fig: Figure) -> list[Text]:
    """The texts the figure shows, in drawing order."""
    FigureCanvasAgg(fig)
    seen: list[Text] = []
    original = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            seen.append(self)
        return original(self, renderer)

    with mock.patch.object(Text, "draw", record):
        fig.canvas.draw()
    return list(dict.fromkeys(seen))


def text_problems(fig: Figure) -> list[str]:
    """One line per text cut off by the canvas edge and per pair of texts that overlap."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    problems = []
    for text, box in boxes:
        if (box.x0 < canvas.x0 - TOLERANCE_PX or box.y0 < canvas.y0 - TOLERANCE_PX
                or box.x1 > canvas.x1 + TOLERANCE_PX or box.y1 > canvas.y1 + TOLERANCE_PX):
            problems.append(f"cut off: {text.get_text()!r} at {box.bounds} in {canvas.bounds}")
    for (t1, b1), (t2, b2) in combinations(boxes, 2):
        width = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
        height = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
        if width > TOLERANCE_PX and height > TOLERANCE_PX:
            problems.append(f"overlap: {t1.get_text()!r} and {t2.get_text()!r}")
    return problems
