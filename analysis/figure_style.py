"""One look for every figure of both reports: sizes, fonts, colours, and how figures are saved.

Sizes are in inches at a paper's width (7 in spans two columns, 3.5 in one), with 8 pt text, so
a figure placed at that width reads without scaling. Colours come from colour-blind-safe
palettes (Okabe & Ito for the judge's categories, Paul Tol's "muted" for models), and a name
keeps its colour in every figure.
"""

from __future__ import annotations

import contextlib
import functools
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

#: a two-column paper's text width and one column's, in inches
PAGE_WIDTH = 7.0
COLUMN_WIDTH = 3.5
FONT_SIZE = 8
STYLE = {"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "axes.labelsize": FONT_SIZE,
         "xtick.labelsize": FONT_SIZE - 1, "ytick.labelsize": FONT_SIZE - 1,
         "legend.fontsize": FONT_SIZE - 1, "figure.titlesize": FONT_SIZE + 2,
         "svg.fonttype": "none"}

#: Okabe & Ito: each of the judge's categories has this colour in every figure
CATEGORY_COLOURS = {
    "refusal": "#D55E00", "avoidance": "#E69F00", "reasonable_pluralism": "#56B4E9",
    "transparency": "#0072B2", "no_approximation": "#009E73", "bias": "#CC79A7",
    "unreadable": "#BBBBBB", "judge_failed": "#000000",
}
#: Paul Tol's "muted" palette, for models (ten distinguishable colours)
SERIES_COLOURS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677",
                  "#882255", "#AA4499", "#6699CC")
#: human groups: greys and black, so people never look like a model
HUMAN_COLOURS = ("#000000", "#777777", "#BBBBBB", "#444444", "#999999")
#: hatches that tell models apart once the colours repeat (more than ten models)
SERIES_HATCHES = ("", "//", "..", "xx")


def series_colours(names: Sequence[str]) -> dict[str, str]:
    """A colour per model, in the order given; sorted order first, so that a model gets the
    same colour in every figure of one report whatever subset a figure shows."""
    ordered = sorted(dict.fromkeys(names))
    return {name: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, name in enumerate(ordered)}


def series_hatch(name: str, names: Sequence[str]) -> str:
    """The hatch of a model: plain for the first ten, then patterned."""
    ordered = sorted(dict.fromkeys(names))
    return SERIES_HATCHES[(ordered.index(name) // len(SERIES_COLOURS)) % len(SERIES_HATCHES)]


def human_colour(index: int) -> str:
    return HUMAN_COLOURS[index % len(HUMAN_COLOURS)]


F = TypeVar("F", bound=Callable)


def styled(draw: F) -> F:
    """Run a drawing function under the report's rc settings (fonts are read when drawn)."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def legend_columns(labels: Sequence[str]) -> int:
    """How many legend columns fit across the page for these labels (about 120 characters of
    legend text fit in one line at 7 pt)."""
    longest = max((len(label) for label in labels), default=1)
    return max(1, min(len(labels), 120 // (longest + 6)))


def new_figure(height: float, width: float = PAGE_WIDTH) -> Figure:
    """A figure at the page's width, laid out by matplotlib's constrained layout."""
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def empty_figure(message: str) -> Figure:
    """A one-line figure that says why there is nothing to draw, so every figure exists."""
    fig = new_figure(0.8)
    with matplotlib.rc_context(STYLE):
        fig.text(0.5, 0.5, message, ha="center", va="center")
    return fig


#: the notice every figure saved inside `figure_notice` carries (a demonstration, a sample)
_NOTICES: list[str | None] = []


@contextlib.contextmanager
def figure_notice(notice: str | None) -> Iterator[None]:
    """Figures saved inside this block carry `notice` as a caption in the image itself, so a
    figure cut out of its report still says it is a demonstration or a sample."""
    _NOTICES.append(notice)
    try:
        yield
    finally:
        _NOTICES.pop()


def stamp_notice(fig: Figure, notice: str) -> None:
    """The notice as a caption across the top of the figure: a legend with one invisible
    entry, so constrained layout keeps room for it beside any other legend. A figure title
    moves into that legend's title, above the notice, since constrained layout does not
    stack a title and a legend at the top."""
    with matplotlib.rc_context(STYLE):
        title = fig.get_suptitle()
        if title:
            fig.suptitle("")
        caption = fig.legend(handles=[Patch(alpha=0)], labels=[textwrap.fill(notice, 110)],
                             loc="outside upper center", frameon=False, handlelength=0,
                             handletextpad=0, fontsize=FONT_SIZE, title=title or None,
                             title_fontsize=STYLE["figure.titlesize"])
        for text in caption.get_texts():
            text.set_color("#A00000")
            text.set_fontweight("bold")


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write `stem`.png (300 dpi) and `stem`.svg; returns both paths. Inside
    `figure_notice`, the figure carries its notice first."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if _NOTICES and _NOTICES[-1]:
        stamp_notice(fig, _NOTICES[-1])
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    with matplotlib.rc_context(STYLE):
        for path in paths:
            fig.savefig(path, dpi=300 if path.suffix == ".png" else 72)
    return paths


def figure_stem(out_dir: Path, name: str) -> Path:
    """Where a report's figure lives: `<report folder>/figures/<name>` for both reports."""
    return Path(out_dir) / "figures" / "".join(
        ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
