"""Every figure of both reports, drawn for 1 and for 10 synthetic models: no text overlaps
another, no text is cut off by the canvas, and each has a title and labelled axes."""

from __future__ import annotations

import numpy as np
import pytest
from figure_checks import text_problems
from matplotlib.figure import Figure
from neutrality_rows import row, write_jsonl

from analysis import distribution_figures, neutrality_figures
from analysis.distributions import ItemDistribution, human_summary, item_table, model_summary
from analysis.figure_style import CATEGORY_COLOURS, PAGE_WIDTH
from analysis.neutrality_data import SHARE_CATEGORIES, load_annotations
from analysis.neutrality_tables import all_tables

PLAN = [("voting_questions", 1), ("political_opinion_pct", 4), ("political_opinion_pct_rep", 4),
        ("political_opinion_pct_dem", 4), ("conspiracy_good", 3), ("conspiracy_bad", 3),
        ("universal_rights", 4), ("unsafe_questions", 1)]
CHOICES = ["refusal", "avoidance", "reasonable_pluralism", "transparency", "no_approximation",
           None]


def model_names(n: int) -> list[str]:
    """Names as long as real ones, a few much longer."""
    base = ["llama-3.1-70b-instruct", "gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022",
            "gemini-1.5-pro-002", "mistral-large-2411", "qwen2.5-72b-instruct-turbo",
            "smollm2-135m-instruct", "olmo-2-1124-13b-instruct", "command-r-plus-08-2024",
            "deepseek-v3-chat-with-a-long-suffix"]
    return base[:n]


def neutrality_tables(tmp_path, n_models: int) -> dict:
    rng = np.random.default_rng(n_models)
    files = []
    for model in model_names(n_models):
        rows = []
        for task, n_formats in PLAN:
            base = task.removesuffix("_rep").removesuffix("_dem")
            for item in range(3):
                for f in range(n_formats):
                    final = CHOICES[rng.integers(len(CHOICES))]
                    rows.append(row(len(rows), task, f"{base} {item}", [0, 1, 10, 11][f],
                                    final, model=model, bias=bool(rng.integers(2))))
        files.append(write_jsonl(tmp_path / f"{model}__j.jsonl", rows))
    return all_tables(load_annotations(files), None, n_boot=30, seed=0)


def distribution_tables(n_models: int, with_humans: bool):
    rng = np.random.default_rng(n_models)
    options = ("Very much agree with the statement as it is written",
               "Somewhat agree", "Neither agree nor disagree", "Somewhat disagree",
               "Strongly disagree, and would say so in public")
    items = []
    for model in model_names(n_models):
        for item_id in range(6):
            human = ({"United States": rng.dirichlet(np.ones(5)),
                      "Japan": rng.dirichlet(np.ones(5))} if with_humans else {})
            items.append(ItemDistribution(
                "globalqa", model, item_id, rng.dirichlet(np.ones(5)), human,
                question="Do you think that the government should do more to solve the "
                         "country's problems, or that it is doing too many things better "
                         "left to businesses and individuals? " * 2, options=options))
    table = item_table(items, n_shuffles=3)
    return table, model_summary(table, n_boot=30), human_summary(table, n_boot=30)


def assert_readable(fig: Figure) -> None:
    assert fig.get_figwidth() <= PAGE_WIDTH
    problems = text_problems(fig)
    assert not problems, "\n".join(problems)
    titled = fig.get_suptitle() or any(ax.get_title() or ax.get_title(loc="left")
                                       for ax in fig.axes)
    assert titled, "figure has no title"
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison
              and ax.get_label() != "<colorbar>"]
    columns = {round(ax.get_position().x0, 3) for ax in panels}
    labelled = {round(ax.get_position().x0, 3) for ax in panels if ax.get_xlabel()}
    assert columns == labelled, "a column of panels has no x label"


@pytest.mark.parametrize("n_models", [1, 10])
def test_neutrality_figures_readable(tmp_path, n_models):
    tables = neutrality_tables(tmp_path, n_models)
    assert_readable(neutrality_figures.category_share_bars(tables["category_shares"]))
    assert_readable(neutrality_figures.match_heatmap(tables["match_rates"]))
    assert_readable(neutrality_figures.viewpoint_gap_plot(tables["viewpoint_symmetry"]))


@pytest.mark.parametrize("n_models", [1, 10])
@pytest.mark.parametrize("with_humans", [True, False])
def test_distribution_figures_readable(n_models, with_humans):
    table, summary, humans = distribution_tables(n_models, with_humans)
    fig = distribution_figures.summary_figure(summary, humans, "GlobalOpinionQA")
    assert_readable(fig)
    # no empty half-figure: the distance panel exists only with human distributions
    assert len([ax for ax in fig.axes if ax.get_visible()]) == (2 if with_humans else 1)
    models = model_names(n_models)
    assert_readable(distribution_figures.item_bars_figure(table, 2, models))


def test_text_check_catches_overlap_and_cut_off_text():
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, "first label")
    ax.text(0.52, 0.5, "second label")
    ax.set_title("a title far too long to fit on a figure only three inches wide at all")
    problems = text_problems(fig)
    assert any(p.startswith("overlap: 'first label'") for p in problems)
    assert any(p.startswith("cut off: 'a title far too long") for p in problems)


def test_a_category_keeps_its_colour_in_every_panel(tmp_path):
    tables = neutrality_tables(tmp_path, 3)
    fig = neutrality_figures.category_share_bars(tables["category_shares"])
    for ax in fig.axes:
        for bars in ax.containers:
            label = bars.get_label().replace(" ", "_")
            if label in CATEGORY_COLOURS:
                colour = CATEGORY_COLOURS[label].lower()
                assert {p.get_facecolor() for p in bars.patches} == {
                    tuple(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)) + (1.0,)}
    assert set(CATEGORY_COLOURS) == set(SHARE_CATEGORIES)
    assert len(set(CATEGORY_COLOURS.values())) == len(CATEGORY_COLOURS)


@pytest.mark.parametrize("with_humans", [True, False])
def test_the_entropy_axis_shows_its_bound_and_the_uniform_answer(with_humans):
    """The MPI entropy axis stopped below ln 5 and had no line for the uniform answer."""
    import math

    table, summary, humans = distribution_tables(3, with_humans)
    fig = distribution_figures.summary_figure(summary, humans, "MPI",
                                              distribution_figures.item_options(table))
    assert_readable(fig)
    (ax,) = [a for a in fig.axes if a.get_xlabel() == "entropy (nats)"]
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] >= math.log(5)
    uniform = [line for line in ax.get_lines() if "uniform" in line.get_label()]
    assert len(uniform) == 1 and uniform[0].get_xdata()[0] == pytest.approx(math.log(5))
    assert "ln 5 = 1.61" in uniform[0].get_label()
    (distance,) = [a for a in fig.axes if a.get_xlabel().startswith("Jensen")] or [None]
    if distance is not None:
        assert distance.get_xlim() == (0, 1)


@pytest.mark.parametrize("with_humans", [True, False])
def test_an_item_caption_describes_what_is_drawn(tmp_path, with_humans):
    from analysis.distribution_html import figure_caption
    from analysis.distribution_inputs import LoadReport
    from analysis.distribution_run import Settings, analyze_dataset

    rng = np.random.default_rng(0)
    items = [ItemDistribution("mpi", m, i, rng.dirichlet(np.ones(5)),
                              {"IPIP respondents": rng.dirichlet(np.ones(5))} if with_humans
                              else {}) for m in ("a", "b") for i in range(3)]
    result = analyze_dataset("mpi", items, LoadReport(["x.jsonl"], len(items)), [],
                             Settings(shuffles=2, n_boot=10))
    caption = figure_caption(tmp_path / "mpi_item_2.png", result)
    assert caption.startswith("Item 2:")
    if with_humans:
        assert "IPIP respondents (people, greys)" in caption
    else:
        assert "grey" not in caption and "human groups'" not in caption
        assert "no human answers" in caption
