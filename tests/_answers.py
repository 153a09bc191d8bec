"""A1 submissions for the grading tests: correct answers written in several ways, the tricks that
try to forge a grade, and answers that break the grader's process.

Each entry maps a solution cell (``vp_marginal``, ``ve_marginal``, ``forward_sample``) to the
code a student would type there; :data:`CELL_EDITS` also replaces locked cells. :data:`WHAT`
says in one line what each submission does (the teacher's guide prints it in its table of
attacks, with the points before and after grading moved out of the kernel).
"""

VP = "def vp_marginal(x0, t, beta_min=0.1, beta_max=20.0):\n"
VE = "def ve_marginal(x0, t, sigma_min=0.01, sigma_max=50.0):\n"
FS = "def forward_sample(x0, t, z, sde):\n"
ZEROS = {
    "vp_marginal": VP + "    return torch.zeros_like(x0), torch.zeros_like(t)\n",
    "ve_marginal": VE + "    return torch.zeros_like(x0), torch.zeros_like(t)\n",
    "forward_sample": FS + "    return torch.zeros_like(x0)\n",
}
FULL = 4  # A1's points: (a.1) 2, (a.2) 1, (a.3) 1

#: variant → answers; each scores full marks
CORRECT = {
    "plain": {
        "vp_marginal": VP
        + "    log_a = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min\n"
        "    return torch.exp(log_a)[:, None] * x0, torch.sqrt(1.0 - torch.exp(2.0 * log_a))\n",
        "ve_marginal": VE + "    sigma = sigma_min * (sigma_max / sigma_min) ** t\n"
        "    return x0, torch.sqrt(sigma**2 - sigma_min**2)\n",
        "forward_sample": FS + "    mean, std = sde.marginal_prob(x0, t)\n"
        "    return mean + std[:, None] * z\n",
    },
    "prints_and_warns": {
        "vp_marginal": "import warnings\n\n" + VP + "    print('t =', t)\n"
        "    t = torch.tensor(t)  # copy-constructing a tensor: torch warns on stderr\n"
        "    warnings.warn('my own warning')\n"
        "    log_a = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min\n"
        "    return torch.exp(log_a)[:, None] * x0, torch.sqrt(1.0 - torch.exp(2.0 * log_a))\n",
        "ve_marginal": VE
        + "    print('hello')\n    sigma = sigma_min * (sigma_max / sigma_min) ** t\n"
        "    return x0.clone(), (sigma**2 - sigma_min**2).sqrt()\n",
        "forward_sample": FS + "    mean, std = sde.marginal_prob(x0, t)\n    print(mean.shape)\n"
        "    return mean + std[:, None] * z\n",
    },
    "float64": {
        "vp_marginal": VP + "    t = t.double()\n"
        "    log_a = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min\n"
        "    return torch.exp(log_a)[:, None] * x0.double(), torch.sqrt(-torch.expm1(2 * log_a))\n",
        "ve_marginal": VE + "    t = t.double()\n"
        "    sigma = sigma_min * torch.exp(t * math.log(sigma_max / sigma_min))\n"
        "    return x0.double(), torch.sqrt(sigma**2 - sigma_min**2)\n",
        "forward_sample": FS + "    mean, std = sde.marginal_prob(x0, t)\n"
        "    return mean.double() + std.double()[:, None] * z.double()\n",
    },
    "numpy": {
        "vp_marginal": "import numpy as np\n\n" + VP + "    x0, t = np.asarray(x0), np.asarray(t)\n"
        "    log_a = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min\n"
        "    mean = torch.from_numpy(np.exp(log_a)[:, None] * x0)\n"
        "    return mean, torch.from_numpy(np.sqrt(1 - np.exp(2 * log_a)))\n",
        "ve_marginal": "import numpy as np\n\n" + VE + "    t = np.asarray(t)\n"
        "    sigma = sigma_min * (sigma_max / sigma_min) ** t\n"
        "    return x0, torch.from_numpy(np.sqrt(sigma**2 - sigma_min**2))\n",
        "forward_sample": "import numpy as np\n\n"
        + FS
        + "    mean, std = sde.marginal_prob(x0, t)\n"
        "    x_t = np.asarray(mean) + np.asarray(std)[:, None] * np.asarray(z)\n"
        "    return torch.from_numpy(x_t)\n",
    },
    "row_loop": {
        "vp_marginal": VP + "    means, stds = [], []\n    for x_i, t_i in zip(x0, t):\n"
        "        integral = beta_min * float(t_i) + 0.5 * float(t_i) ** 2 * (beta_max - beta_min)\n"
        "        a = math.exp(-0.5 * integral)\n"
        "        means.append(a * x_i)\n        stds.append(math.sqrt(1 - a * a))\n"
        "    return torch.stack(means), torch.tensor(stds)\n",
        "ve_marginal": VE + "    stds = []\n    for t_i in t.tolist():\n"
        "        s = sigma_min * (sigma_max / sigma_min) ** t_i\n"
        "        stds.append(math.sqrt(s * s - sigma_min * sigma_min))\n"
        "    return x0, torch.tensor(stds, dtype=torch.float64)\n",
        "forward_sample": FS + "    rows = []\n    for i in range(x0.shape[0]):\n"
        "        mean, std = sde.marginal_prob(x0[i : i + 1], t[i : i + 1])\n"
        "        rows.append(mean[0] + std[0] * z[i])\n    return torch.stack(rows)\n",
    },
    "other_formula": {
        "vp_marginal": VP + "    beta_t = beta_min + t * (beta_max - beta_min)\n"
        "    integral = 0.5 * t * (beta_min + beta_t)  # trapezoid: exact for a linear β\n"
        "    a = torch.exp(-0.5 * integral)\n"
        "    return x0 * a.unsqueeze(1), (1 - a**2).sqrt()\n",
        "ve_marginal": VE
        + "    log_sigma = math.log(sigma_min) + t * math.log(sigma_max / sigma_min)\n"
        "    var = torch.exp(2 * log_sigma) - sigma_min**2\n"
        "    return 1.0 * x0, var.sqrt()\n",
        "forward_sample": FS + "    a, s = sde.marginal_coeffs(t)\n"
        "    return torch.einsum('b,bd->bd', a, x0) + torch.einsum('b,bd->bd', s, z)\n",
    },
}

_PATCHES = {
    # the tricks of the report: each scored full marks with the kernel's verdict
    "environ_pop": "import os\nos.environ.pop('NBGRADER_EXECUTION', None)\n",
    "require_lambda": "grading.require = lambda r: None\n",
    "rebind_grading": "class Always:\n    def require(self, result):\n        pass\n\n"
    "grading = Always()\n",
    "passed_property": "from dinof_lite.coursework.checks import CheckResult\n"
    "CheckResult.passed = property(lambda s: True)\n",
    "stub_checks": "for name in ('vp_marginal', 've_marginal', 'forward_sample'):\n"
    "    setattr(checks, 'check_' + name, lambda f, *a: checks.CheckResult(name, 'passed', ''))\n",
    "patch_close": "import dinof_lite.coursework.checks.forward as check_module\n"
    "check_module.close = lambda *a, **k: True\ncheck_module.diagnose = lambda *a, **k: None\n"
    "torch.allclose = lambda *a, **k: True\n",
    "exec_course_source": "import json\n"
    "nb = json.load(open('../../../source/A1/A1_forward_sde.ipynb'))\n"
    "for c in nb['cells']:\n    if c['cell_type'] == 'code' and c['metadata'].get('nbgrader', {})"
    ".get('solution'):\n        exec(''.join(c['source']))\n",
    "exec_repo_solution": "import pathlib, dinof_lite\n"
    "exec(pathlib.Path(dinof_lite.__file__).parents[1].joinpath("
    "'notebooks/assignments/A1_forward_sde_solution.py').read_text())\n",
    # the same families, not in the report
    "builtins_exec": "b = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)\n"
    "b['exec']('grading.require = print')\n",
    "torch_allclose_only": "torch.allclose = lambda *a, **k: True\ntorch.isclose = torch.eq\n",
    "checks_namespace_swap": "import types\nfrom dinof_lite.coursework.checks import CheckResult\n"
    "checks = types.SimpleNamespace(**{f'check_{n}': (lambda n: lambda f, *a: CheckResult(n, "
    "'passed', ''))(n) for n in ('vp_marginal', 've_marginal', 'forward_sample')})\n",
    "eval_exec": "eval(compile('grading.require = print', 'x', 'exec'))\n",
    "swallow_errors": "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
    "run_async, run = ip.run_cell_async, ip.run_cell\n\n"
    "async def quiet_async(*a, **k):\n    result = await run_async(*a, **k)\n"
    "    result.error_in_exec = None\n    return result\n\n"
    "def quiet(*a, **k):\n    result = run(*a, **k)\n    result.error_in_exec = None\n"
    "    return result\n\nip.run_cell_async, ip.run_cell = quiet_async, quiet\n",
    "gradebook_write": "import sqlite3\ndb = sqlite3.connect('../../../gradebook.db')\n"
    'db.execute("update grade set manual_score = (select max_score from grade_cells where '
    "grade_cells.id = grade.cell_id) where notebook_id in (select submitted_notebook.id from "
    "submitted_notebook join submitted_assignment on submitted_notebook.assignment_id = "
    "submitted_assignment.id where submitted_assignment.student_id = 'trick-gradebook_write')\")\n"
    "db.commit()\n",
    "fake_passed_print": "print('✅ vp_marginal: passed. mean and std match VPSDE.marginal_prob')\n"
    "print('✅ ve_marginal: passed.')\nprint('✅ forward_sample: passed.')\n",
    "liar_tensor": "class Liar(torch.Tensor):\n    @classmethod\n"
    "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
    "        out = super().__torch_function__(func, types, args, kwargs or {})\n"
    "        return True if getattr(func, '__name__', '') in ('all', 'allclose') else out\n",
}
#: trick → answers; each scores zero for every exercise it fakes
TRICKS = {name: {k: v + "\n" + patch for k, v in ZEROS.items()} for name, patch in _PATCHES.items()}
_LIAR = ".as_subclass(Liar)"
TRICKS["liar_tensor"] = {
    "vp_marginal": VP + f"    return torch.zeros_like(x0){_LIAR}, torch.zeros_like(t){_LIAR}\n",
    "ve_marginal": VE + f"    return torch.zeros_like(x0){_LIAR}, torch.zeros_like(t){_LIAR}\n",
    "forward_sample": FS + f"    return torch.zeros_like(x0){_LIAR}\n",
}
TRICKS["liar_tensor"] = {
    k: _PATCHES["liar_tensor"] + "\n" + v for k, v in TRICKS["liar_tensor"].items()
}
TRICKS["library_function"] = {
    "vp_marginal": VP + "    return VPSDE(beta_min, beta_max).marginal_prob(x0, t)\n",
    "ve_marginal": VE + "    return VESDE(sigma_min, sigma_max).marginal_prob(x0, t)\n",
    "forward_sample": FS + "    return sde.perturb(x0, t, z)\n",
}
TRICKS["library_by_other_paths"] = {
    "vp_marginal": "from dinof_lite.sde import VPSDE as Schedule\n\n"
    + VP
    + "    return Schedule(beta_min, beta_max).marginal_prob(x0, t)\n",
    "ve_marginal": VE + "    return getattr(torch, 'sys').modules['dinof_lite'].VESDE(sigma_min,"
    " sigma_max).marginal_prob(x0, t)\n",
    "forward_sample": FS + "    return type(sde).perturb(sde, x0, t, z)\n",
}
TRICKS["library_by_import_machinery"] = {
    "vp_marginal": "import importlib\n\n"
    + VP
    + "    lib = importlib.import_module('dinof_lite.sde')\n"
    "    return lib.VPSDE(beta_min, beta_max).marginal_prob(x0, t)\n",
    "ve_marginal": VE + "    lib = vars(torch)['s' + 'ys'].modules['dinof_' + 'lite.sde']\n"
    "    return lib.VESDE(sigma_min, sigma_max).marginal_prob(x0, t)\n",
    "forward_sample": FS + "    lib = torch.sys.modules['dinof_lite.sde']\n"
    "    return lib.SDE.perturb(sde, x0, t, z)\n",
}
TRICKS["ignores_arguments"] = {
    "vp_marginal": VP + "    log_a = -0.25 * t**2 * 19.9 - 0.5 * t * 0.1\n"
    "    return torch.exp(log_a)[:, None] * x0, torch.sqrt(1.0 - torch.exp(2.0 * log_a))\n",
    "ve_marginal": VE + "    sigma = 0.01 * 5000.0 ** t\n"
    "    return x0, torch.sqrt(sigma**2 - 0.01**2)\n",
    "forward_sample": FS + "    mean, std = type(sde)().marginal_prob(x0, t)\n"
    "    return mean + std[:, None] * z\n",
}
#: tricks that also edit locked cells: cell grade id → its new source
CELL_EDITS = {
    "edit_test_cells": {
        "check_vp_marginal": "print('✅ vp_marginal: passed.')",
        "check_ve_marginal": "pass",
        "check_forward_sample": "pass",
    },
}
TRICKS["edit_test_cells"] = dict(ZEROS)

#: answers that break the grader's process: (answers, points of the rest)
BREAKERS = {
    "hangs_in_ve": ({**CORRECT["plain"], "ve_marginal": VE + "    while True:\n        pass\n"}, 3),
    "hangs_at_definition": (
        {
            **CORRECT["plain"],
            "forward_sample": "while True:\n    pass\n\n" + ZEROS["forward_sample"],
        },
        3,
    ),
    "hangs_ignoring_interrupts": (
        {
            **CORRECT["plain"],
            "ve_marginal": VE + "    while True:\n        try:\n            while True:\n"
            "                pass\n        except KeyboardInterrupt:\n            pass\n",
        },
        3,
    ),
    "os_exit_in_vp": (
        {**CORRECT["plain"], "vp_marginal": "import os\n\n" + VP + "    os._exit(0)\n"},
        2,
    ),
    "memory_bomb_in_vp": (
        {**CORRECT["plain"], "vp_marginal": VP + "    return torch.ones(1 << 40), t\n"},
        2,
    ),
}

#: submission → what it does, in one line (the guide's table)
WHAT = {
    "correct-plain": "correct, as in the solution",
    "correct-prints_and_warns": "correct; prints, warns, torch warns on stderr",
    "correct-float64": "correct, in float64",
    "correct-numpy": "correct, computed with NumPy",
    "correct-row_loop": "correct, a Python loop over rows with `math`",
    "correct-other_formula": "correct, another formula (trapezoid, log σ, einsum)",
    "trick-environ_pop": "zeros + `os.environ.pop('NBGRADER_EXECUTION')`",
    "trick-require_lambda": "zeros + `grading.require = lambda r: None`",
    "trick-rebind_grading": "zeros + rebinds the name `grading`",
    "trick-passed_property": "zeros + `CheckResult.passed = property(lambda s: True)`",
    "trick-stub_checks": "zeros + `checks.check_*` replaced by stubs that pass",
    "trick-patch_close": "zeros + patches the check module's `close`, `diagnose`, `torch.allclose`",
    "trick-exec_course_source": "zeros + `exec` of the solutions read from `source/A1`",
    "trick-exec_repo_solution": "zeros + `exec` of the editable install's solution file",
    "trick-library_function": "returns the library's `marginal_prob` / `perturb`",
    "trick-library_by_other_paths": "the library reached by alias, `getattr`, `type(sde)`",
    "trick-ignores_arguments": "right only at the default β's / σ's (hard-coded)",
    "trick-builtins_exec": "zeros + `exec` from `__builtins__` patches `grading`",
    "trick-torch_allclose_only": "zeros + patches `torch.allclose` / `isclose`",
    "trick-checks_namespace_swap": "zeros + `checks` rebound to a namespace of stubs",
    "trick-library_by_import_machinery": "the library via `importlib`, `vars(torch)['s' + 'ys']`, "
    "`torch.sys.modules`",
    "trick-eval_exec": "zeros + `eval(compile(…))` patches `grading`",
    "trick-swallow_errors": "zeros + IPython's `run_cell` and `showtraceback` drop errors",
    "trick-gradebook_write": "zeros + writes full `manual_score`s into `gradebook.db`",
    "trick-fake_passed_print": "zeros + prints fake '✅ … passed' lines",
    "trick-liar_tensor": "zeros as a tensor subclass whose `all()` is always True",
    "trick-edit_test_cells": "zeros + test cells edited to print '✅ passed' / `pass`",
    "breaks-hangs_in_ve": "correct, but (a.2) loops forever",
    "breaks-hangs_at_definition": "correct, but (a.3)'s cell loops forever when run",
    "breaks-hangs_ignoring_interrupts": "correct, but (a.2) loops forever, catching interrupts",
    "breaks-os_exit_in_vp": "correct, but (a.1) calls `os._exit(0)`",
    "breaks-memory_bomb_in_vp": "correct, but (a.1) allocates 4 TiB",
}
