"""Packaging consistency: pyproject.toml, environment.yml, README, .ci/run, version."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
TORCH_VERSION = "2.13.0"  # the build every install command pins first

# conda-forge name -> PyPI name, for packages whose names differ
CONDA_TO_PYPI = {"pytorch": "torch"}
# entries of environment.yml that are not dependencies of the package itself
CONDA_TOOLING = {"python", "pip"}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    """PEP 503 normalisation (case-, '-', '_', '.'-insensitive), then conda aliases."""
    name = re.sub(r"[-_.]+", "-", name).lower()
    return CONDA_TO_PYPI.get(name, name)


def req_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    assert match, f"cannot parse a package name from {requirement!r}"
    return normalize(match.group(1))


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


@pytest.fixture(scope="module")
def environment() -> dict:
    with open(ROOT / "environment.yml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def pyproject_requirements(pyproject: dict) -> list[str]:
    project = pyproject["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return reqs


def environment_requirements(environment: dict) -> list[str]:
    reqs: list[str] = []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):  # the `pip:` sub-list
            reqs.extend(r for r in entry.get("pip", []) if not r.startswith("-"))
        else:
            reqs.append(entry)
    return [r for r in reqs if req_name(r) not in CONDA_TOOLING]


def test_project_metadata(pyproject):
    project = pyproject["project"]
    assert project["name"] == "dinof_lite"
    assert project["version"] == "0.3.0"
    assert SpecifierSet(project["requires-python"]).contains("3.10")
    assert set(project["optional-dependencies"]) >= {"dev", "fid"}


@pytest.mark.parametrize(
    "old", ["dinof_lite.metrics", "dinof_lite.configs", "dinof_lite.checks", "dinof_lite.nets.glow"]
)
def test_the_02_aliases_are_gone(old):
    """0.3 removed 0.2's deprecated aliases (README §Changelog names the new homes). Looked up
    without importing, and only in this checkout (an editable install of another checkout on
    the path may still serve an old copy)."""
    import importlib.util

    spec = importlib.util.find_spec(old)
    assert spec is None or ROOT not in Path(spec.origin).parents, spec.origin


def test_torch_requirement_admits_the_pinned_build(pyproject):
    """Every torch requirement must be satisfied by 2.13.0, or pip would swap torch."""
    torch_reqs = [r for r in pyproject_requirements(pyproject) if req_name(r) == "torch"]
    assert torch_reqs, "torch must be a runtime dependency"
    for req in torch_reqs:
        spec = SpecifierSet(req[len(_NAME.match(req).group(0)) :].strip())
        assert spec.contains(TORCH_VERSION), f"{req!r} does not admit torch {TORCH_VERSION}"


def test_no_cuda_pulling_companions_in_default_installs(pyproject):
    """torchvision/torchaudio have no CPU build on PyPI: never in runtime or dev deps."""
    project = pyproject["project"]
    names = {req_name(r) for r in project["dependencies"]}
    names |= {req_name(r) for r in project["optional-dependencies"]["dev"]}
    assert not names & {"torchvision", "torchaudio"}


def test_environment_yml_matches_pyproject(pyproject, environment):
    """Adding a dependency to one list and not the other must fail here."""
    in_pyproject = {req_name(r) for r in pyproject_requirements(pyproject)}
    in_env = {req_name(r) for r in environment_requirements(environment)}
    only_pyproject = sorted(in_pyproject - in_env)
    only_env = sorted(in_env - in_pyproject)
    assert not only_pyproject and not only_env, (
        f"dependency lists disagree: only in pyproject.toml: {only_pyproject}; "
        f"only in environment.yml: {only_env}"
    )


def test_environment_yml_installs_the_package(environment):
    pip_entries = [e for e in environment["dependencies"] if isinstance(e, dict)]
    assert pip_entries, "environment.yml needs a `pip:` section"
    assert "-e ." in pip_entries[0]["pip"]
    pythons = [e for e in environment["dependencies"] if str(e).startswith("python")]
    assert pythons == ["python>=3.10"]


def test_req_name_normalisation():
    assert req_name("POT>=0.9") == req_name("pot>=0.9") == "pot"
    assert req_name("pytorch>=2.1") == req_name("torch>=2.1") == "torch"
    assert req_name("scikit_learn") == req_name("Scikit-Learn>=1") == "scikit-learn"
    assert req_name("torch-fidelity>=0.3") == req_name("torch_fidelity") == "torch-fidelity"


def test_package_imports_with_matching_version(pyproject):
    import dinof_lite

    assert dinof_lite.__version__ == pyproject["project"]["version"]
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return
    try:
        installed = version("dinof_lite")
    except PackageNotFoundError:
        return  # imported from a source checkout on sys.path, not installed
    assert installed == pyproject["project"]["version"]


def test_pytest_collects_notebooks_but_not_their_jupytext_twins(pyproject):
    opts = pyproject["tool"]["pytest"]["ini_options"]
    assert "notebooks" in opts["testpaths"] and "tests" in opts["testpaths"]
    addopts = " ".join(opts["addopts"])
    assert "--nbval" in addopts and "notebooks/sanitize.cfg" in addopts
    assert (ROOT / "notebooks" / "sanitize.cfg").is_file()
    for pattern in opts.get("python_files", ["test_*.py", "*_test.py"]):
        for name in ("01_forward_and_reverse_sdes.py", "02_score_matching_and_pc_sampling.py"):
            assert not fnmatch.fnmatch(name, pattern), f"{pattern!r} would collect {name}"


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```(?:bash|sh|shell)?\n(.*?)```", text, flags=re.S)


def test_readme_documents_the_two_commands():
    blocks = "\n".join(_readme_blocks())
    assert (
        f"pip install torch=={TORCH_VERSION} && pip install -e . && "
        "python -m dinof_lite demo --out runs/demo"
    ) in blocks
    assert f'pip install torch=={TORCH_VERSION} && pip install -e ".[dev]" && python -m pytest' in (
        blocks
    )


def test_readme_first_screen_starts_the_course(pyproject):
    """A student reads, near the top of the README, one line that installs the `notebooks` extra
    and opens notebook 01 in JupyterLab; that extra really brings JupyterLab and a kernel."""
    notebooks = {req_name(r) for r in pyproject["project"]["optional-dependencies"]["notebooks"]}
    assert {"jupyterlab", "ipykernel", "jupytext"} <= notebooks
    runtime = {req_name(r) for r in pyproject["project"]["dependencies"]}
    assert {"ipywidgets", "plotly", "matplotlib"} <= runtime  # the notebooks' widgets and figures
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:40])
    lines = [
        ln
        for b in re.findall(r"```bash\n(.*?)```", first_screen, flags=re.S)
        for ln in b.splitlines()
    ]
    start = [ln for ln in lines if 'pip install -e ".[notebooks]"' in ln]
    assert len(start) == 1, (
        'the README\'s first 40 lines need one `pip install -e ".[notebooks]"` line'
    )
    assert f"pip install torch=={TORCH_VERSION} && pip install -e" in start[0]
    opened = re.search(r"jupyter lab (notebooks/\S+\.ipynb)", start[0])
    assert opened and (ROOT / opened.group(1)).is_file(), start[0]


def test_ci_script_runs_the_readme_test_command():
    ci = ROOT / ".ci" / "run"
    text = ci.read_text(encoding="utf-8")
    assert os.access(ci, os.X_OK), ".ci/run must be executable"
    assert "set -euo pipefail" in text
    torch_at = re.search(rf"pip_?install\b[^\n]*\btorch=={re.escape(TORCH_VERSION)}", text)
    dev_at = re.search(r'pip_?install\b[^\n]*-e "\.\[dev\]"', text)
    assert torch_at and dev_at, ".ci/run must pip install torch==2.13.0 and -e .[dev]"
    assert torch_at.start() < dev_at.start(), "torch must be installed first"
    readme_cmd = re.search(r"python -m pytest[^\n&]*", "\n".join(_readme_blocks()))
    assert readme_cmd, "README has no `python -m pytest` command"
    assert readme_cmd.group(0).strip() in text
    assert "/work/venv" not in text


def test_gitignore_covers_local_artifacts():
    lines = set((ROOT / ".gitignore").read_text(encoding="utf-8").split())
    for entry in (".venv/", "__pycache__/", "*.egg-info/", "runs/", ".ipynb_checkpoints/"):
        assert entry in lines, f".gitignore lacks {entry}"
