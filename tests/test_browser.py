"""Notebooks 04 and 05 in a real browser: JupyterLab + headless Chromium, driven by Playwright.

Starts JupyterLab on a free loopback port (``tests/_jupyterlab.py``: temporary Jupyter dirs,
token auth, kernels with ``DINOF_SMOKE=1``) serving a temporary copy of ``notebooks/``, then

* opens ``04_dinof_2d.ipynb``, runs all cells from the *Run* menu, checks the saved notebook has
  every code cell executed and no error output, and moves the ``T_m`` slider of
  :meth:`~dinof_lite.viz.widgets.TmExplorer.widget` with the keyboard (focus the handle, press
  ← / →) to ``T_m`` = 0.2, 0.6 and 1.0. At each value it asserts that the slider's readout and
  the label show it (``T_m = 0.6 · reverse SDE: 600 steps``, ``round(N T_m)`` steps with
  ``N = 1000``), that the image changed from the previous value, and — through a cell typed into
  the notebook — that the kernel's ``explorer.current`` is that value and that the image the
  browser shows is byte for byte the kernel's ``explorer.png``; it saves a screenshot of the
  widget per value;
* opens ``05_dinof_digits_cpu.ipynb``, runs all cells and does the same on the slider of its
  :class:`~dinof_lite.viz.widgets.DigitsTmExplorer` (``digits_explorer``: grid 0.2 … 1.0,
  ``round(100 T_m)`` steps since it uses ``n_steps_full=100``);
* opens each core notebook (01–05) as committed, its outputs trusted, and plays its opening
  animation (:mod:`dinof_lite.viz.animation`) with ▶ to the last frame — no kernel involved;
* opens the jupytext script ``04_dinof_2d.py`` with *Open With → Jupytext Notebook* and checks
  it shows as a notebook with the script's cells.

Chromium is Debian's ``/usr/bin/chromium`` (``$DINOF_CHROMIUM`` overrides), never a Playwright
download. Screenshots go to ``test-results/browser/`` (``$DINOF_TEST_RESULTS`` overrides), e.g.
``browser_journey_tm06.png`` and ``browser_digits_tm06.png``. Without Chromium or the
``playwright`` package the tests skip — except under CI (``$CI`` set), where that is a failure.
One retry per test is allowed for a cold-start stall (a Playwright timeout), from fresh kernels.
Deselect with ``-m "not browser"``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dinof_lite.viz.animation import META
from tests._animation import animation_state
from tests._jupyterlab import LabServer

try:
    from playwright.sync_api import Locator, Page, expect, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # pragma: no cover - handled by the `browser` fixture
    sync_playwright = None

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(720)]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "04_dinof_2d"
DIGITS_NOTEBOOK = "05_dinof_digits_cpu"
CHROMIUM = Path(os.environ.get("DINOF_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULTS = Path(os.environ.get("DINOF_TEST_RESULTS") or ROOT / "test-results") / "browser"
RUN_ALL_TIMEOUT_MS = 240_000  # notebook 04 takes ~1 min in smoke mode; other jobs share the CPU
UI_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1600, "height": 1000}  # wide enough for the 1040-px 2D figure at scale 1
VISITS = (0.2, 0.6, 1.0)  # the T_m values each slider is moved to, in this order
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Slider:
    """One notebook's ``T_m`` slider: where it is and what its label must say."""

    notebook: str  # file stem under notebooks/
    explorer: str  # the explorer's variable in the notebook
    step: float  # the slider step (the grid spacing)
    n_steps_full: int  # reverse-SDE steps at T_m = 1: the label says round(n_steps_full · T_m)
    shots: str  # screenshot prefix: <shots>_tm02.png, …


JOURNEY = Slider(NOTEBOOK, "explorer", 0.1, 1000, "browser_journey")
DIGITS = Slider(DIGITS_NOTEBOOK, "digits_explorer", 0.2, 100, "browser_digits")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(why: str) -> None:
    if _in_ci():
        pytest.fail(f"{why} (CI must run the browser test: .ci/run installs chromium)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[LabServer]:
    """JupyterLab serving a temporary copy of ``notebooks/``."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "notebooks"
    shutil.copytree(
        ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    )
    env = {"DINOF_SMOKE": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with LabServer(root, tmp, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.is_file():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _with_one_retry(browser, lab: LabServer, name: str, scenario: Callable[[Page], None]) -> None:
    """Run ``scenario`` in a fresh page; after a Playwright timeout (a cold-start stall), once more.

    Every attempt starts without kernels (the previous test's are shut down: on a shared CPU an
    idle notebook kernel still holds its memory)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        lab.shutdown_kernels()
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            scenario(page)
            return
        except PlaywrightTimeout:
            page.screenshot(path=str(RESULTS / f"{name}_timeout_attempt{attempt}.png"))
            if attempt == 2:
                raise
        finally:
            page.close()


def _panel(page: Page) -> Locator:
    """The notebook panel of the current tab."""
    return page.locator(".jp-NotebookPanel:visible")


def _open(page: Page, lab: LabServer, path: str) -> None:
    """Open ``path`` alone (``?reset``: no tabs restored) and wait until its kernel is idle."""
    page.goto(lab.url(f"lab/tree/{path}?reset"))
    _panel(page).locator(".jp-Cell").first.wait_for(timeout=120_000)
    expect(page.locator("#jp-main-statusbar")).to_contain_text(
        "(ipykernel) | Idle", timeout=120_000
    )


def _menu(page: Page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-item", has_text=re.compile(f"^{re.escape(item)}")).first.click()


def _run_all(page: Page, lab: LabServer, notebook: str) -> None:
    """Run every cell, save, and check the saved notebook: all executed, no error outputs."""
    panel = _panel(page)
    n_code = panel.locator(".jp-CodeCell").count()
    _menu(page, "Run", "Run All Cells")
    expect(panel.locator(".jp-InputArea-prompt", has_text="[*]").first).to_be_visible()
    state = page.wait_for_function(
        """([panel, n]) => {
            const out = [...panel.querySelectorAll('.jp-OutputArea-output')];
            const err = out.find(e => e.textContent.includes('Traceback (most recent call last)'));
            if (err) return 'error: ' + err.textContent.slice(0, 3000);
            const p = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return p.length === n && p.every(e => /^\\[\\d+\\]:$/.test(e.textContent.trim()))
                && 'done';
        }""",
        arg=[panel.element_handle(), n_code],
        timeout=RUN_ALL_TIMEOUT_MS,
    ).json_value()
    assert state == "done", f"a cell of {notebook} failed in JupyterLab:\n{state}"
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    expect(page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(0)
    cells = json.loads((lab.root / f"{notebook}.ipynb").read_text())["cells"]
    counts = [c["execution_count"] for c in cells if c["cell_type"] == "code"]
    assert counts == list(range(1, n_code + 1)), counts
    errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"cells raised: {[(e['ename'], e['evalue']) for e in errors]}"


def _image_bytes(widget: Locator) -> bytes:
    """The PNG the explorer's ``ipywidgets.Image`` shows (fetched from its blob URL)."""
    b64 = widget.locator("img.widget-image").evaluate(
        """async (img) => {
            const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            let s = ""; for (const b of buf) s += String.fromCharCode(b);
            return btoa(s);
        }"""
    )
    return base64.b64decode(b64)


def _kernel_report(page: Page, explorer: str, tag: str) -> dict:
    """Type a cell at the end of the notebook asking the kernel what its explorer shows; run it.

    ``tag`` makes the printed line unique, so an earlier report is never read for this one."""
    panel = _panel(page)
    panel.locator(".jp-Notebook .jp-Cell").last.locator(".jp-Cell-inputWrapper").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # insert a code cell below, selected
    page.keyboard.press("Enter")  # edit it
    page.keyboard.insert_text(
        "import hashlib, json\n"
        f"print('REPORT-{tag}:', json.dumps({{'current': {explorer}.current,"
        f" 'sha256': hashlib.sha256({explorer}.png).hexdigest()}}))"
    )
    page.keyboard.press("Shift+Enter")
    out = panel.locator(".jp-OutputArea-output", has_text=f"REPORT-{tag}:").last
    out.wait_for(timeout=UI_TIMEOUT_MS)
    return json.loads(out.inner_text().split(f"REPORT-{tag}:", 1)[1])


def _label_text(s: Slider, T_m: float) -> str:
    # the label is "<b>T_m = {T_m:g}</b> · reverse SDE: {n} steps, {n} score evals · …"
    return f"T_m = {T_m:g} · reverse SDE: {round(s.n_steps_full * T_m)} steps"


def _slide(page: Page, s: Slider) -> None:
    """Move the slider of ``s`` to each of VISITS with the arrow keys and check each value."""
    panel = _panel(page)
    widget = panel.locator(".jp-OutputArea-output .widget-vbox").filter(
        has=page.locator(".widget-slider")
    )
    expect(widget).to_have_count(1)
    label, readout = widget.locator(".widget-html-content"), widget.locator(".widget-readout")
    handle = widget.locator(".noUi-handle")
    lo, hi = (float(handle.get_attribute(a)) for a in ("aria-valuemin", "aria-valuemax"))

    def press(key: str, n: int, T_m: float) -> None:
        """Press ``key`` ``n`` times, one grid step each, waiting for the kernel after each:
        keys pressed faster can be undone by the kernel snapping an earlier value to the grid
        (0.2 + 0.1 is 0.30000000000000004 in the browser) and sending it back."""
        sign = 1 if key == "ArrowRight" else -1
        for k in range(1, n + 1):
            t = round(T_m - sign * (n - k) * s.step, 6)
            handle.focus()
            page.keyboard.press(key)
            expect(readout).to_have_text(f"{t:.2f}", timeout=UI_TIMEOUT_MS)
            # the kernel sets the image, then the label: a new label means the new image is shown
            expect(label).to_contain_text(_label_text(s, t), timeout=UI_TIMEOUT_MS)

    for T_m in VISITS:
        shown = float(readout.inner_text())
        if abs(shown - T_m) < s.step / 2:  # already there (the notebook's own update): step off
            away = shown + s.step if shown + s.step <= hi + 1e-9 else shown - s.step
            press("ArrowRight" if away > shown else "ArrowLeft", 1, round(away, 6))
            shown = away
        previous = _image_bytes(widget)
        n = round((T_m - shown) / s.step)
        assert n != 0 and lo - 1e-9 <= T_m <= hi + 1e-9, (shown, T_m, lo, hi)
        press("ArrowRight" if n > 0 else "ArrowLeft", abs(n), T_m)
        image = _image_bytes(widget)
        assert image[:8] == PNG_MAGIC and image != previous, f"the figure did not change at {T_m}"
        widget.screenshot(path=str(RESULTS / f"{s.shots}_tm{round(10 * T_m):02d}.png"))
        report = _kernel_report(page, s.explorer, f"{round(10 * T_m):02d}")
        assert report["current"] == pytest.approx(T_m), report
        assert report["sha256"] == hashlib.sha256(image).hexdigest(), (
            f"at T_m = {T_m} the browser shows another image than the kernel's {s.explorer}.png"
        )


def test_tm_slider_redraws_the_figure_in_jupyterlab(browser, lab):
    def scenario(page: Page) -> None:
        _open(page, lab, f"{NOTEBOOK}.ipynb")
        _run_all(page, lab, NOTEBOOK)
        _slide(page, JOURNEY)

    _with_one_retry(browser, lab, "slider", scenario)


def test_digits_tm_slider_redraws_the_figure_in_jupyterlab(browser, lab):
    def scenario(page: Page) -> None:
        _open(page, lab, f"{DIGITS_NOTEBOOK}.ipynb")
        _run_all(page, lab, DIGITS_NOTEBOOK)
        _slide(page, DIGITS)

    _with_one_retry(browser, lab, "digits_slider", scenario)


def test_jupytext_script_opens_as_a_notebook(browser, lab):
    import jupytext

    n_cells = len(jupytext.read(lab.root / f"{NOTEBOOK}.py").cells)

    def scenario(page: Page) -> None:
        page.goto(lab.url("lab?reset"))
        item = page.locator(".jp-DirListing-item", has_text=re.compile(rf"^{NOTEBOOK}\.py"))
        item.click(button="right")
        page.locator(".lm-Menu-item", has_text=re.compile("^Open With")).hover()
        page.locator(".lm-Menu-item", has_text=re.compile("^Jupytext Notebook")).click()
        panel = _panel(page)
        expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(f"{NOTEBOOK}.py")
        expect(panel.locator(".jp-Cell")).to_have_count(n_cells, timeout=UI_TIMEOUT_MS)
        expect(panel.locator(".jp-MarkdownCell h1").first).to_contain_text("DiNof end to end")
        expect(panel.locator(".jp-CodeCell").first).to_contain_text("google.colab")
        page.screenshot(path=str(RESULTS / f"{NOTEBOOK}_py_as_notebook.png"))

    _with_one_retry(browser, lab, "jupytext", scenario)


CORE_PATH = (  # docs/syllabus.md: each opens with a kernel-free animation (viz.animation)
    "01_forward_and_reverse_sdes",
    "02_score_matching_and_pc_sampling",
    "03_glow_normalizing_flows",
    "04_dinof_2d",
    "05_dinof_digits_cpu",
)
_ANIMATION = animation_state(".jp-NotebookPanel:not(.lm-mod-hidden)")


def test_core_notebooks_opening_animations_play_in_jupyterlab(browser, lab):
    """Each core notebook, opened as committed (its outputs trusted, as after a run), shows its
    opening animation; ▶ runs it to the last frame with no kernel involved."""
    env = {**os.environ, "JUPYTER_DATA_DIR": str(lab.tmp / "data")}
    for stem in CORE_PATH:  # as committed (other tests run and save their own copies)
        copy = lab.root / f"as_committed_{stem}.ipynb"
        shutil.copyfile(ROOT / "notebooks" / f"{stem}.ipynb", copy)
        subprocess.run(  # trusted outputs render with their own renderer (plotly's)
            [sys.executable, "-m", "jupyter", "trust", str(copy)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip

    def scenario(page: Page) -> None:
        page.goto(lab.url("lab?reset"))  # one load of JupyterLab; the notebooks open from its
        for stem in CORE_PATH:  # file browser, each closed (and its kernel shut down) after
            name = f"as_committed_{stem}.ipynb"
            page.locator(".jp-DirListing-item", has_text=re.compile(f"^{name}")).dblclick()
            expect(page.locator(".lm-TabBar-tab.jp-mod-current")).to_contain_text(name)
            page.wait_for_function(f"({_ANIMATION})() !== null", timeout=120_000)
            start = page.evaluate(_ANIMATION)
            assert start["active"] == 0 and start["n"] >= 2 and start["shown"], (stem, start)
            figure = (
                _panel(page)
                .locator(".js-plotly-plot")
                .filter(has=page.locator("g.updatemenu-button"))
            )
            figure = next(f for f in figure.all() if f.evaluate("d => d.layout.meta") == META)
            figure.scroll_into_view_if_needed()
            figure.locator("g.updatemenu-button").first.click()  # ▶
            page.wait_for_function(
                f"n => ({_ANIMATION})().active === n - 1", arg=start["n"], timeout=UI_TIMEOUT_MS
            )
            page.wait_for_timeout(500)
            assert page.evaluate(_ANIMATION)["shown"], stem
            figure.screenshot(path=str(RESULTS / f"lab_animation_{stem[:2]}.png"))
            _menu(page, "File", "Close Tab")
            with contextlib.suppress(PlaywrightTimeout):  # closed without asking
                # plotly's rendering marks the notebook changed: keep the file as committed
                page.locator(".jp-Dialog button", has_text="Discard").click(timeout=5_000)
            expect(page.locator(".lm-TabBar-tab", has_text=name)).to_have_count(0)
            lab.shutdown_kernels()

    _with_one_retry(browser, lab, "animations", scenario)
