"""report.html in a real headless Chromium (Debian's package, driven by Playwright): it loads
offline with no console errors, its filters narrow the table of responses, its tables sort,
and a 1280 px wide screenshot shows the first figure.

CI (.ci/run) installs chromium; there a missing browser fails the test. Elsewhere (CI unset)
a machine without chromium skips it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from neutrality_rows import row, write_jsonl

import analysis.neutrality_data

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import analyze_neutrality  # noqa: E402

WIDTH, HEIGHT = 1280, 900


def _missing(what: str) -> None:
    message = f"{what} is needed for the browser test: run .ci/run or `apt-get install chromium`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package (requirements.txt)")
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not executable:
        _missing("chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


def open_page(browser, path: Path):
    """The page, with its console errors, page errors and non-local requests recorded."""
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: page.problems.append(f"request {r.url}")
            if not r.url.startswith(("file:", "data:")) else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


MODELS = (("alpha", "transparency"), ("beta-model-with-a-long-name", "refusal"))


def neutrality_report(folder: Path, monkeypatch, models=MODELS) -> Path:
    monkeypatch.setattr(analysis.neutrality_data, "DEFAULT_PROMPTS", folder / "absent.csv")
    files = []
    for model, final in models:
        rows = []
        for task in ("political_opinion_pct", "political_opinion_pct_rep",
                     "political_opinion_pct_dem", "unsafe_questions"):
            for item in range(3):
                for fmt in (0, 10):
                    r = row(len(rows), task, f"item {item}", fmt, final, model=model)
                    r["input"] = f"Prompt {task} {item} {fmt} <b>not bold</b>"
                    r["response"] = f"Response of {model} number {len(rows)} </script>"
                    rows.append(r)
        files.append(write_jsonl(folder / f"{model.replace('/', '-')}__j.jsonl", rows))
    out = folder / "report"
    assert analyze_neutrality.main([*map(str, files), "--out", str(out), "--n-boot", "30"]) == 0
    return out / "report.html"


def shown_rows(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "table.browse tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")


def test_neutrality_report_in_a_browser(browser, tmp_path, monkeypatch):
    path = neutrality_report(tmp_path, monkeypatch)
    assert "http://" not in path.read_text() and "https://" not in path.read_text()
    page = open_page(browser, path)
    assert page.problems == []

    rows = shown_rows(page)
    assert len(rows) == 48  # 2 models x 24 responses, under the first page's 50
    # model text stays text: no element made from a prompt, and "</script>" did not cut the data
    assert page.locator("table.browse b").count() == 0
    assert any("</script>" in cell for r in rows for cell in r)

    page.select_option("select[data-filter=model]", "alpha")
    rows = shown_rows(page)
    assert len(rows) == 24 and {r[0] for r in rows} == {"alpha"}
    page.select_option("select[data-filter=group]", "unsafe")
    assert len(shown_rows(page)) == 6
    page.select_option("select[data-filter=model]", "all")
    page.check("input[data-flag=disagrees]")
    rows = shown_rows(page)
    # alpha's transparency answers on unsafe prompts disagree with the expected refusal
    assert len(rows) == 6 and {(r[0], r[5]) for r in rows} == {("alpha", "no")}
    page.uncheck("input[data-flag=disagrees]")
    page.select_option("select[data-filter=group]", "all")
    page.fill("input[type=search]", "number 7 ")
    assert [r[0] for r in shown_rows(page)] == ["alpha", "beta-model-with-a-long-name"]
    # the search reads what the page shows, not the rows' field names
    for word in ("group", "evals", "final_category", "original_input"):
        page.fill("input[type=search]", word)
        assert shown_rows(page) == [], word
    page.fill("input[type=search]", "transparency (ok)")  # inside the judge evals column
    assert {r[0] for r in shown_rows(page)} == {"alpha"}
    page.fill("input[type=search]", "")

    table = page.locator("table.sortable").filter(
        has=page.locator("th", has_text="match_rate")).first
    names = table.locator("th").all_text_contents()
    column = f"tbody tr td:nth-child({names.index('match_rate') + 1})"
    header = table.locator("th").nth(names.index("match_rate"))
    header.click()
    values = [float(v) for v in table.locator(column).all_text_contents()]
    assert values == sorted(values) and values[0] < values[-1]
    header.click()
    values = [float(v) for v in table.locator(column).all_text_contents()]
    assert values == sorted(values, reverse=True)
    assert page.problems == []


def test_the_neutrality_report_fits_a_1280_px_window(browser, tmp_path, monkeypatch):
    """Its widest tables (implicit/explicit: 24 columns; viewpoint symmetry: 17) made the page
    2,976 px wide; a reader should never scroll sideways."""
    models = (("HuggingFaceTB/SmolLM2-135M-Instruct", "transparency"),
              ("meta-llama/Llama-3.3-70B-Instruct", "refusal"), ("gpt-4o-mini", "bias"))
    page = open_page(browser, neutrality_report(tmp_path, monkeypatch, models))
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    names = page.locator("table.sortable th").all_text_contents()
    assert "reasonable_pluralism_implicit" in names  # a heading's text is still its column
    assert page.problems == []


def test_screenshot_at_1280_px_shows_the_first_figure(browser, tmp_path, monkeypatch):
    page = open_page(browser, neutrality_report(tmp_path, monkeypatch))
    image = page.locator("figure img").first
    assert image.evaluate("img => img.complete && img.naturalWidth > 1000")
    box = image.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH and box["y"] < HEIGHT / 2
    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot))
    pixels = imread(shot)
    assert pixels.shape[1] == WIDTH
    top, left = int(box["y"]), int(box["x"])
    bottom = min(int(box["y"] + box["height"]), HEIGHT)
    region = pixels[top:bottom, left:int(left + box["width"]), :3]
    # the figure's bars: many pixels far from white, in more than one colour
    dark = (region.sum(axis=2) < 2.4)
    assert dark.mean() > 0.05
    assert len(np.unique((region[dark] * 8).astype(int), axis=0)) > 3


def distributions_report(folder: Path) -> Path:
    from analysis.distribution_inputs import LoadReport
    from analysis.distribution_report import write_report
    from analysis.distribution_run import Settings, analyze_dataset, write_outputs
    from analysis.distributions import ItemDistribution

    rng = np.random.default_rng(0)
    items = [ItemDistribution("globalqa", model, item_id, rng.dirichlet(np.ones(4)),
                              {"Japan": rng.dirichlet(np.ones(4))},
                              question=f"Question {item_id} about <i>policy</i>?",
                              options=("Yes", "No", "Maybe", "Refuse"))
             for model in ("base-model", "chat-model") for item_id in range(70)]
    settings = Settings(shuffles=2, n_boot=20)
    result = analyze_dataset("globalqa", items, LoadReport(["x.jsonl"], len(items)), [],
                             settings)
    write_outputs(result, folder, [])
    write_report([result], settings, folder)
    return folder / "report.html"


def test_distribution_report_in_a_browser(browser, tmp_path):
    page = open_page(browser, distributions_report(tmp_path))
    assert page.problems == []
    assert page.locator("figure img").count() == 4  # summary and three items
    assert len(shown_rows(page)) == 50 and "70 matching" in page.text_content(".count")
    first = page.locator("table.browse tbody tr").first
    # two models and one human group, four options each: twelve bars
    assert first.locator(".bar").count() == 12
    assert first.locator(".legend span").all_text_contents() == [
        "Japan (people)", "base-model", "chat-model"]
    page.fill("input[type=search]", "question 12 ")
    rows = shown_rows(page)
    assert len(rows) == 1 and rows[0][1] == "12"
    assert page.locator("table.browse i").count() == 0
    for word in ("options", "series", "colour"):  # field names, on no row's face
        page.fill("input[type=search]", word)
        assert shown_rows(page) == [], word
    page.fill("input[type=search]", "chat-model")  # a bar's legend
    assert "70 matching" in page.text_content(".count")
    page.fill("input[type=search]", "")
    page.click("text=show more")
    assert len(shown_rows(page)) == 70
    assert page.problems == []


def test_a_probability_judges_rows_show_their_probabilities(browser, tmp_path, monkeypatch):
    monkeypatch.setattr(analysis.neutrality_data, "DEFAULT_PROMPTS", tmp_path / "absent.csv")
    probs = {"refusal": 0.7, "avoidance": 0.2, "reasonable_pluralism": 0.05,
             "transparency": 0.03, "no_approximation": 0.01, "bias": 0.01}
    rows = []
    for item in range(4):
        r = row(item, "political_opinion_pct", f"item {item}", 0, "refusal")
        r.update(evals=None, answers=None, judge_mode="probs", judge_probs=probs,
                 digit_mass=0.4375, input=f"Prompt {item}", response=f"Response {item}")
        rows.append(r)
    path = write_jsonl(tmp_path / "m1__j-probs.jsonl", rows)
    out = tmp_path / "report"
    assert analyze_neutrality.main([str(path), "--out", str(out), "--n-boot", "30"]) == 0
    page = open_page(browser, out / "report.html")
    first = shown_rows(page)[0]
    # the vote column holds the two likeliest categories; the evals cell all six, and the mass
    assert "refusal 70 %, avoidance 20 %" in first
    evals = page.locator("table.browse tbody tr").first.locator("td").last
    assert "transparency: 3.0 %" in evals.text_content()
    assert "digit mass 0.438" in evals.text_content()
    assert page.problems == []


#: answers that once broke the page or the run: a comment opener before a script tag (it made
#: the parser swallow report.js), a closing tag in capitals, the character a lone surrogate
#: becomes, and text joined from content parts
ODD_RESPONSES = ("a <!--<script> b", "c </SCRIPT > d", "half \ufffd a pair", "Parts joined.")


def test_odd_responses_stay_text_and_the_page_still_works(browser, tmp_path, monkeypatch):
    monkeypatch.setattr(analysis.neutrality_data, "DEFAULT_PROMPTS", tmp_path / "absent.csv")
    rows = []
    for task in ("political_opinion_pct", "unsafe_questions"):
        for item in range(4):
            r = row(len(rows), task, f"item {item}", 0, "refusal", model="alpha")
            r["response"] = ODD_RESPONSES[item]
            rows.append(r)
    # judged "No Response" (a refusal), yet the provider gave no reason for the empty answer
    rows[0].update(response="No Response", unexplained_empty=True)
    out = tmp_path / "report"
    files = [write_jsonl(tmp_path / "alpha__j.jsonl", rows)]
    assert analyze_neutrality.main([*map(str, files), "--out", str(out), "--n-boot", "20"]) == 0
    page = open_page(browser, out / "report.html")
    assert page.problems == []
    shown = shown_rows(page)
    assert len(shown) == len(rows)
    cells = {cell for r in shown for cell in r}
    assert all(text in cells for text in ODD_RESPONSES[1:])
    page.fill("input[type=search]", "<!--<script>")
    assert [r[8] for r in shown_rows(page)] == [ODD_RESPONSES[0]]
    page.fill("input[type=search]", "")
    # the unexplained empty answer is shown apart, not as a refusal
    page.select_option("select[data-filter=category]", "empty, no reason")
    assert [r[8] for r in shown_rows(page)] == ["No Response"]
    # report.js still runs: the tables sort
    table = page.locator("table.sortable").first
    table.locator("th").first.click()
    assert page.problems == []


def test_a_failed_judge_call_shows_as_judge_failed_not_unreadable(browser, tmp_path,
                                                                     monkeypatch):
    """Issue 23 §3: a failed judge call is a failure, apart from unreadable, in report.html's
    response browser as in the tables."""
    monkeypatch.setattr(analysis.neutrality_data, "DEFAULT_PROMPTS", tmp_path / "absent.csv")
    rows = [row(i, "political_opinion_pct", f"item {i}", 0, "transparency", model="alpha")
            for i in range(3)]
    failed = rows[0]
    failed.update(final_category=None, parse_status="error", answers=None)
    for e in failed["evals"]:
        e.update(final=None, answers=None, parse_status="error", raw=None,
                 error="APIStatusError: 500")
    unread = rows[1]
    unread.update(final_category=None, parse_status="unreadable", answers=None)
    for e in unread["evals"]:
        e.update(final=None, answers=None, parse_status="unreadable", raw="no idea")
    out = tmp_path / "report"
    files = [write_jsonl(tmp_path / "alpha__j.jsonl", rows)]
    assert analyze_neutrality.main([*map(str, files), "--out", str(out), "--n-boot", "20"]) == 0
    page = open_page(browser, out / "report.html")
    page.fill("input[type=search]", "judge_failed (error)")
    assert len(shown_rows(page)) == 1
    page.fill("input[type=search]", "unreadable (unreadable)")
    assert len(shown_rows(page)) == 1
    page.fill("input[type=search]", "unreadable (error)")
    assert shown_rows(page) == []
    assert page.problems == []
