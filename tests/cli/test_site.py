"""The course site: ``python -m dinof_lite site build`` and the pages it writes.

The site is built once for this file (``site`` fixture, the CLI in a subprocess, strict: any
Sphinx warning fails it), then

* every notebook and assignment has its page, in course order in the navigation, with its
  "Open in Colab" and "Download notebook" links (the download is the committed notebook, byte
  for byte); the README, the design document and an API page per module are there; a
  docstring's reST maths reaches the page as maths (``dinof_lite.data.quantize``);
* no page loads a script, style sheet or image from another host;
* the same configuration fails a build with a broken link, a page missing from the toctree and
  a docstring whose reference points at nothing;
* in headless Chromium (Debian's ``/usr/bin/chromium`` through Playwright; no browser
  download), with every request to a host other than the loopback server aborted: the home
  page's and notebook 04's maths is typeset by MathJax, and the kernel-free ``T_m`` figure of
  notebook 04 plays (▶ runs it to the last frame) and follows its slider (a click at the
  ``0.6`` mark shows that frame: its title and its traces' data). Screenshots:
  ``test-results/site/site_home.png`` and ``site_notebook04.png`` (copies in ``docs/figures/``);
  the opening animation of each core notebook plays to its last frame (▶), its traces showing
  that frame (``site_animation_NN.png``).

Without Chromium or Playwright the browser tests skip, except under CI, where that fails.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dinof_lite.cli.site import sphinx_argv
from dinof_lite.cli.site_sources import NOTEBOOK_GLOBS, api_modules
from dinof_lite.viz.animation import META
from tests._animation import animation_state

pytestmark = pytest.mark.slow  # builds the whole site (Sphinx) in a subprocess

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("DINOF_CHROMIUM", "/usr/bin/chromium"))
RESULTS = Path(os.environ.get("DINOF_TEST_RESULTS") or ROOT / "test-results") / "site"
CORE_PATH = [  # docs/syllabus.md: each opens with a kernel-free animation
    "01_forward_and_reverse_sdes",
    "02_score_matching_and_pc_sampling",
    "03_glow_normalizing_flows",
    "04_dinof_2d",
    "05_dinof_digits_cpu",
]
COURSE = [  # the navigation: the core path (each assignment after its notebook), going further
    "notebooks/01_forward_and_reverse_sdes",
    "notebooks/assignments/student/A1_forward_sde",
    "notebooks/02_score_matching_and_pc_sampling",
    "notebooks/assignments/student/A2_score_matching_and_pc_step",
    "notebooks/03_glow_normalizing_flows",
    "notebooks/assignments/student/A3_glow_coupling",
    "notebooks/04_dinof_2d",
    "notebooks/assignments/student/A4_dinof_sampling",
    "notebooks/assignments/student/A5_dinof_likelihood",
    "notebooks/assignments/student/A6_tm_tradeoff",
    "notebooks/05_dinof_digits_cpu",
    "notebooks/01b_paths_likelihoods_and_start_times",  # going further
    "notebooks/02b_langevin_steps_and_ode_likelihood",
    "notebooks/03b_glow_trajectories_and_images",
    "notebooks/04b_frontier_and_fast_solvers",
    "notebooks/05b_digits_likelihood_and_fast_solvers",
    "notebooks/06_dinof_diffflow_diffenc",
    "notebooks/07_cifar10_gpu",
    "notebooks/08_celebahq256_gpu",
]
COLAB = "https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/"
REMOTE_ASSET = re.compile(
    r"<(?:script|img|link|iframe|source|video|audio)\b[^>]*\s(?:src|href)=[\"'](?:https?:)?//", re.I
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built site's HTML folder (the CLI, as a user runs it)."""
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [sys.executable, "-m", "dinof_lite", "site", "build", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"site build failed:\n{run.stdout}\n{run.stderr[-6000:]}"
    n = sum(len(list(ROOT.glob(g))) for g in NOTEBOOK_GLOBS)  # 25: 13 + 6 solutions + 6 hand-outs
    assert re.search(rf"site: .*index\.html \({n} notebooks, [\d.]+ MiB", run.stdout), run.stdout
    return out / "html"


def _notebooks() -> list[str]:
    found = (p.relative_to(ROOT) for pattern in NOTEBOOK_GLOBS for p in ROOT.glob(pattern))
    return sorted(str(p.with_suffix("")) for p in found)


def test_every_notebook_has_its_page_in_course_order(site):
    notebooks = _notebooks()
    assert len(notebooks) == 25 and set(COURSE) < set(notebooks)
    home = (site / "index.html").read_text(encoding="utf-8")
    start = home.index('class="sidebar-tree"')
    nav = home[start : home.index("</div>", start)]
    order = [re.sub(r"\.html$", "", h) for h in re.findall(r'href="([^"#]+)"', nav)]
    solutions = [n for n in notebooks if n.endswith("_solution")]
    reference = ["README", "docs/syllabus", "docs/notation", "docs/design", "api/index"]
    expected = [*COURSE, *solutions, *reference]
    assert order[: len(expected)] == expected, order
    for name in notebooks:
        page = (site / f"{name}.html").read_text(encoding="utf-8")
        stem = Path(name).name
        assert f'class="dinof-colab" href="{COLAB}{name}.ipynb"' in page, name
        assert f'class="dinof-download" href="{stem}.ipynb" download="{stem}.ipynb"' in page
        assert (site / f"{name}.ipynb").read_bytes() == (ROOT / f"{name}.ipynb").read_bytes()


def test_readme_design_and_api_pages(site):
    pages = ("README", "docs/syllabus", "docs/notation", "docs/design", "api/index")
    for page in (f"{p}.html" for p in pages):
        assert (site / page).is_file(), page
    tops = {".".join(m.__name__.split(".")[:2]) for m in api_modules()}
    assert {"dinof_lite.sde", "dinof_lite.dinof", "dinof_lite.viz"} <= tops
    for top in tops:
        assert (site / "api" / f"{top}.html").is_file(), top
    # a docstring's reST maths is left for MathJax: the dequantisation bound of data.quantize
    data = (site / "api" / "dinof_lite.data.html").read_text(encoding="utf-8")
    assert re.search(r'<div class="math[^"]*">\s*\\\[\s*-\\log_2 P\(k\)', data), "no maths"
    assert '<span class="math notranslate nohighlight">\\(u \\sim U[0, 1)^D\\)' in data
    dinof = (site / "api" / "dinof_lite.dinof.html").read_text(encoding="utf-8")
    assert re.search(r'<div class="math[^"]*">\s*\\\[\s*\\mathcal\{L\}\(\\theta, \\phi\)', dinof)
    sde = (site / "api" / "dinof_lite.sde.html").read_text(encoding="utf-8")
    assert 'id="dinof_lite.sde.VPSDE"' in sde and "marginal_prob" in sde


def test_no_page_loads_anything_from_another_host(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 40
    remote = {str(p.relative_to(site)): REMOTE_ASSET.findall(p.read_text("utf-8")) for p in pages}
    assert not {k: v for k, v in remote.items() if v}
    assert (site / "_static" / "plotly.min.js").stat().st_size > 3_000_000
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    nb04 = (site / "notebooks" / "04_dinof_2d.html").read_text(encoding="utf-8")
    assert nb04.count('class="dinof-plotly"') >= 1 and "_static/plotly.min.js" in nb04
    assert "widget-state+json" not in nb04 and "dinof-widget-image" in nb04
    assert "_static/plotly.min.js" not in (site / "index.html").read_text(encoding="utf-8")


def test_site_command_refuses_bad_options_before_building(tmp_path, capsys):
    from dinof_lite.cli import main
    from dinof_lite.cli.site import build_site

    out = tmp_path / "site"
    with pytest.raises(SystemExit) as exit_:
        main(["site", "build", "--jobs", "0", "--out", str(out)])
    assert exit_.value.code != 0 and "--jobs" in str(exit_.value.code), exit_.value.code
    assert str(exit_.value.code).startswith("error:")  # printed to stderr, exit status 1
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        build_site(out, jobs=0)
    assert not out.exists()


def test_the_configuration_fails_a_broken_build(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.md").write_text(
        "# Home\n\nSee [a page that is not there](nowhere.md).\n\n"
        ":::{toctree}\napi\nmissing_page\n:::\n",
        encoding="utf-8",
    )
    (src / "orphan.md").write_text("# In no toctree\n", encoding="utf-8")
    (src / "api.rst").write_text("API\n===\n\n.. autofunction:: brokenmod.f\n", encoding="utf-8")
    (tmp_path / "brokenmod.py").write_text(
        'def f():\n    """Calls :func:`no_such_function`."""\n', encoding="utf-8"
    )
    argv = sphinx_argv(src, tmp_path / "html", tmp_path / "doctrees")
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert run.returncode != 0
    for expected in (
        "nowhere.md",  # a broken link
        "nonexisting document 'missing_page'",  # a page missing
        "document isn't included in any toctree",  # a page outside the navigation
        "reference target not found: no_such_function",  # a docstring pointing at nothing
    ):
        assert expected in run.stderr, f"{expected!r} not reported:\n{run.stderr}"


# --------------------------------------------------------------------------- in a browser
@pytest.fixture(scope="module")
def server(site) -> Iterator[str]:
    """The site on a free loopback port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture
def page(server):
    """A Chromium page that may reach the loopback server only; it records the rest."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    why = "no playwright" if sync_playwright is None else f"no Chromium at {CHROMIUM}"
    if sync_playwright is None or not CHROMIUM.is_file():
        if _in_ci():
            pytest.fail(f"{why} (CI must run the browser tests: .ci/run installs chromium)")
        pytest.skip(why)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        page.offsite, page.bad = [], []

        def route(r):
            if r.request.url.startswith(server):
                r.continue_()
            else:
                page.offsite.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("response", lambda r: r.status >= 400 and page.bad.append((r.status, r.url)))
        page.on("requestfailed", lambda r: page.bad.append(("failed", r.url)))
        page.base = server
        yield page
        browser.close()
    assert not page.offsite, f"requests to other hosts: {page.offsite}"
    assert not page.bad, f"failed requests: {page.bad}"


def _open(page, path: str, min_formulas: int) -> None:
    page.goto(page.base + path)
    page.wait_for_function(
        "n => document.querySelectorAll('mjx-container').length >= n", arg=min_formulas
    )
    assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
    for part in ("article", ".sidebar-tree"):  # the navigation's titles have maths too
        text = page.locator(part).inner_text()
        assert "\\(" not in text and "\\nabla" not in text, f"TeX source left in {part}"


def test_home_page_typesets_its_maths(page):
    RESULTS.mkdir(parents=True, exist_ok=True)
    _open(page, "index.html", min_formulas=10)
    sde = page.locator('mjx-container[display="true"]').first
    assert sde.bounding_box()["width"] > 300  # the forward and reverse SDEs, typeset
    assert page.locator("img[src$='demo.png']").evaluate("i => i.naturalWidth") > 1000
    page.screenshot(path=str(RESULTS / "site_home.png"))


_META = "d => JSON.parse(d.querySelector('script').textContent).layout.meta || ''"
_STATE = """div => {
    const gd = div, fig = JSON.parse(div.querySelector('script').textContent);
    const active = gd._fullLayout.sliders[0].active, frame = fig.frames[active];
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    const shown = frame.traces.every((t, j) =>
        ['x', 'y', 'z'].every(k => !(k in frame.data[j]) || same(gd.data[t][k], frame.data[j][k])));
    return {active, name: frame.name, shown, n: fig.frames.length,
            title: gd._fullLayout.title.text};
}"""


def test_notebook_04_tm_figure_plays_and_follows_its_slider(page):
    RESULTS.mkdir(parents=True, exist_ok=True)
    _open(page, "notebooks/04_dinof_2d.html", min_formulas=50)
    figure = next(  # the T_m journey, TmExplorer.plotly(): not the opening animation
        f for f in page.locator("div.dinof-plotly").all() if f.evaluate(_META) != META
    )
    figure.locator(".main-svg").first.wait_for()
    figure.scroll_into_view_if_needed()
    start = figure.evaluate(_STATE)
    assert start["active"] == 0 and start["n"] == 5 and start["shown"], start
    assert "T_m = 0.2 ·" in start["title"]

    figure.locator("g.updatemenu-button").first.click()  # ▶
    page.wait_for_function(f"d => ({_STATE})(d).active === 4", arg=figure.element_handle())
    played = figure.evaluate(_STATE)
    assert played["shown"] and "T_m = 1 ·" in played["title"], played
    page.wait_for_timeout(700)  # let the last frame's duration pass

    label = figure.locator("text.slider-label", has_text=re.compile(r"^0\.6$")).bounding_box()
    rail = figure.locator("rect.slider-rail-touch-rect").bounding_box()
    page.mouse.click(label["x"] + label["width"] / 2, rail["y"] + rail["height"] / 2)
    page.wait_for_function(f"d => ({_STATE})(d).active === 2", arg=figure.element_handle())
    moved = figure.evaluate(_STATE)
    assert moved["name"] == "0.6" and moved["shown"], moved
    assert "T_m = 0.6 ·" in moved["title"] and "600 steps" in moved["title"]
    assert page.locator(".gtitle").first.text_content().count("T_m = 0.6") == 1  # as drawn
    page.screenshot(path=str(RESULTS / "site_notebook04.png"))


#: the opening animation of a page (dinof_lite.viz.animation): its slider position, its frame
#: count and whether the traces show that frame's data
_ANIMATION = animation_state()


def test_core_notebooks_opening_animations_play(page):
    """▶ on each core notebook's opening animation runs it to its last frame (kernel-free,
    offline), its traces showing that frame; one browser for the five pages."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for stem in CORE_PATH:
        page.goto(page.base + f"notebooks/{stem}.html")
        page.wait_for_function(f"({_ANIMATION})() !== null")
        start = page.evaluate(_ANIMATION)
        assert start["active"] == 0 and start["n"] >= 2 and start["shown"], (stem, start)
        figure = page.locator(".js-plotly-plot").filter(has=page.locator("g.updatemenu-button"))
        figure = next(f for f in figure.all() if f.evaluate("d => d.layout.meta") == META)
        figure.scroll_into_view_if_needed()
        figure.locator("g.updatemenu-button").first.click()  # ▶
        page.wait_for_function(f"n => ({_ANIMATION})().active === n - 1", arg=start["n"])
        page.wait_for_timeout(500)  # the last frame's duration
        end = page.evaluate(_ANIMATION)
        assert end["shown"], (stem, end)
        figure.screenshot(path=str(RESULTS / f"site_animation_{stem[:2]}.png"))
