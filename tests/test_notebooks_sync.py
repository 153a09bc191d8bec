"""Notebook hygiene: jupytext pairs in sync, outputs committed, Colab-ready, sane sanitizers.

Every ``notebooks/NN_name.py`` (jupytext percent script, the file to edit and review) must
have a paired ``notebooks/NN_name.ipynb`` (what nbval runs and Colab opens) with the same
cells. Re-pair after editing with ``jupytext --sync notebooks/NN_name.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
REQUIRED = ("01_forward_and_reverse_sdes.py", "02_score_matching_and_pc_sampling.py",
            "03_glow_normalizing_flows.py", "04_dinof_2d.py", "05_dinof_digits_cpu.py",
            "06_cifar10_gpu.py", "07_celebahq256_gpu.py")
MAX_IPYNB_BYTES = 2 * 1024 * 1024
COLAB_URL = "https://colab.research.google.com/github/dinof-lite/dinof_lite/blob/main/notebooks/"
HEADER_CELLS = 4  # the badge and the install cell must come within the first cells


def _found(pattern: str) -> list[Path]:
    if not NB_DIR.is_dir():
        return []
    return sorted(p for p in NB_DIR.rglob(pattern) if ".ipynb_checkpoints" not in p.parts)


PY_NOTEBOOKS = _found("[0-9][0-9]_*.py")
IPYNBS = _found("*.ipynb")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(NB_DIR)) for p in paths]


def _cells(nb) -> list[tuple[str, str]]:
    """(cell_type, source) with trailing whitespace normalised; outputs/metadata ignored."""
    out = []
    for cell in nb.cells:
        lines = [line.rstrip() for line in cell.source.strip().splitlines()]
        out.append((cell.cell_type, "\n".join(lines)))
    return out


def test_required_notebooks_exist():
    missing = [name for name in REQUIRED if not (NB_DIR / name).is_file()]
    assert not missing, f"notebooks/ lacks {missing}"


def test_jupytext_pairs_ipynb_with_percent_scripts():
    from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

    path = find_jupytext_configuration_file(str(NB_DIR))
    assert path, "no jupytext configuration found for notebooks/"
    config = load_jupytext_configuration_file(path)
    formats = str(config.formats).replace(" ", "")
    assert "ipynb" in formats and "py:percent" in formats, formats


@pytest.mark.parametrize("py", PY_NOTEBOOKS, ids=_ids(PY_NOTEBOOKS))
def test_ipynb_matches_its_percent_script(py: Path):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} missing: run `jupytext --sync {py.relative_to(ROOT)}`"
    from_py = _cells(jupytext.read(py))
    from_ipynb = _cells(jupytext.read(ipynb))
    for i, (a, b) in enumerate(zip(from_py, from_ipynb)):
        assert a == b, (
            f"cell {i} differs between {py.name} and {ipynb.name} "
            f"(run `jupytext --sync`):\n--- .py ({a[0]})\n{a[1]}\n--- .ipynb ({b[0]})\n{b[1]}"
        )
    assert len(from_py) == len(from_ipynb), (
        f"{py.name} has {len(from_py)} cells, {ipynb.name} has {len(from_ipynb)}"
    )


@pytest.mark.parametrize("py", PY_NOTEBOOKS, ids=_ids(PY_NOTEBOOKS))
def test_ipynb_has_committed_outputs(py: Path):
    ipynb = py.with_suffix(".ipynb")
    if not ipynb.is_file():
        pytest.fail(f"{ipynb.name} missing")
    nb = jupytext.read(ipynb)
    with_outputs = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")]
    assert with_outputs, f"{ipynb.name} has no outputs: execute it before committing"


@pytest.mark.parametrize("ipynb", IPYNBS, ids=_ids(IPYNBS))
def test_ipynb_is_small(ipynb: Path):
    size = ipynb.stat().st_size
    assert size < MAX_IPYNB_BYTES, f"{ipynb.name} is {size / 2**20:.2f} MiB (limit 2 MiB)"


@pytest.mark.parametrize("py", PY_NOTEBOOKS, ids=_ids(PY_NOTEBOOKS))
def test_notebook_opens_with_colab_badge_and_install_cell(py: Path):
    head = jupytext.read(py).cells[:HEADER_CELLS]
    badge = COLAB_URL + py.with_suffix(".ipynb").relative_to(NB_DIR).as_posix()
    assert any(c.cell_type == "markdown" and badge in c.source for c in head), (
        f"none of the first {HEADER_CELLS} cells of {py.name} is a markdown cell linking {badge}"
    )
    # a Colab-only cell that installs the package from the repository (`pip install` as a magic
    # or through subprocess) and turns on Colab's widget manager
    install = re.compile(r"\bpip\b\W+install\b", re.S)
    needed = ('"google.colab" in sys.modules', "github.com/dinof-lite/dinof_lite",
              "enable_custom_widget_manager")
    assert any(c.cell_type == "code" and install.search(c.source) and all(n in c.source for n in needed)
               for c in head), (
        f"none of the first {HEADER_CELLS} cells of {py.name} is the Colab install cell "
        f"(pip install from the repository, guarded by {needed[0]!r}, enabling the widget manager)"
    )


# --------------------------------------------------------------------------- sanitizers


def _sanitize(text: str) -> str:
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((NB_DIR / "sanitize.cfg").read_text(encoding="utf-8"))
    assert patterns, "sanitize.cfg defines no patterns"
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("<Figure at 0x7f3a2b1c4d90>", "<Figure at 0x55d0aa11b2c0>"),
        (
            "train: 100%|##########| 50/50 [00:01<00:00, 45.21it/s, loss=0.5]\nok",
            "train: 100%|##########| 50/50 [00:03<00:00, 13.02it/s, loss=0.7]\nok",
        ),
        ("sampled in 12.3 s", "sampled in 0.8 s"),
        ("finished 2024-05-01 12:30:11", "finished 2025-11-23 08:01:59"),
        ("saved /tmp/tmpab12cd/ckpt.pt", "saved /tmp/tmpzz99/ckpt.pt"),
        (
            '<div id="1b4e28ba-2fa1-11d2-883f-0016d3cca427">',
            '<div id="0f8fad5b-d9cb-469f-a165-70867728950e">',
        ),
    ],
    ids=["address", "tqdm", "duration", "datetime", "tmp-path", "uuid"],
)
def test_sanitizers_hide_run_dependent_text(first: str, second: str):
    assert _sanitize(first) == _sanitize(second)


@pytest.mark.parametrize(
    "text",
    ["x.shape = torch.Size([512, 2])", "MMD 0.0123, 10 steps, 100 samples", "loss 1.234"],
    ids=["shape", "metrics", "loss"],
)
def test_sanitizers_keep_results(text: str):
    assert _sanitize(text) == text
