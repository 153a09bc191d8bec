"""A1 answers for the grading tests: correct ones written in several ways, and the tricks that
tried to forge a grade (each solution cell's code, as a student would type it)."""

VP = "def vp_marginal(x0, t, beta_min=0.1, beta_max=20.0):\n"
VE = "def ve_marginal(x0, t, sigma_min=0.01, sigma_max=50.0):\n"
FS = "def forward_sample(x0, t, z, sde):\n"
ZEROS = {
    "vp_marginal": VP + "    return torch.zeros_like(x0), torch.zeros_like(t)\n",
    "ve_marginal": VE + "    return torch.zeros_like(x0), torch.zeros_like(t)\n",
    "forward_sample": FS + "    return torch.zeros_like(x0)\n",
}

#: variant → answers; each scores full marks
CORRECT = {
    "plain": {
        "vp_marginal": VP + "    log_a = -0.25 * t**2 * (beta_max - beta_min) - 0.5 * t * beta_min\n"
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
        "ve_marginal": VE + "    print('hello')\n    sigma = sigma_min * (sigma_max / sigma_min) ** t\n"
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
        "    return np.exp(log_a)[:, None] * x0, np.sqrt(1 - np.exp(2 * log_a))\n",
        "ve_marginal": "import numpy as np\n\n" + VE + "    t = np.asarray(t)\n"
        "    sigma = sigma_min * (sigma_max / sigma_min) ** t\n"
        "    return np.asarray(x0), np.sqrt(sigma**2 - sigma_min**2)\n",
        "forward_sample": "import numpy as np\n\n" + FS + "    mean, std = sde.marginal_prob(x0, t)\n"
        "    return np.asarray(mean) + np.asarray(std)[:, None] * np.asarray(z)\n",
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
        "ve_marginal": VE + "    log_sigma = math.log(sigma_min) + t * math.log(sigma_max / sigma_min)\n"
        "    var = torch.exp(2 * log_sigma) - sigma_min**2\n"
        "    return 1.0 * x0, var.sqrt()\n",
        "forward_sample": FS + "    a, s = sde.marginal_coeffs(t)\n"
        "    return torch.einsum('b,bd->bd', a, x0) + torch.einsum('b,bd->bd', s, z)\n",
    },
}

_PATCHES = {
    # the tricks of the report: all scored full marks with the kernel's verdict
    "environ_pop": "import os\nos.environ.pop('NBGRADER_EXECUTION', None)\n",
    "require_lambda": "grading.require = lambda r: None\n",
    "rebind_grading": "class Always:\n    def require(self, result):\n        pass\n\n"
    "grading = Always()\n",
    "passed_property": "from dinof_lite.coursework.checks import CheckResult\n"
    "CheckResult.passed = property(lambda s: True)\n",
    "stub_checks": "for name in ('vp_marginal', 've_marginal', 'forward_sample'):\n"
    "    setattr(checks, 'check_' + name, lambda f, *a: checks.CheckResult(name, 'passed', ''))\n",
    "patch_close": "import dinof_lite.coursework.checks._core as core\n"
    "core.close = lambda *a, **k: True\ntorch.allclose = lambda *a, **k: True\n",
    "exec_course_source": "import json\n"
    "nb = json.load(open('../../../source/A1/A1_forward_sde.ipynb'))\n"
    "for c in nb['cells']:\n    if c['cell_type'] == 'code':\n        exec(''.join(c['source']))\n",
    "exec_repo_solution": "import pathlib, dinof_lite\n"
    "exec(pathlib.Path(dinof_lite.__file__).parents[1].joinpath("
    "'notebooks/assignments/A1_forward_sde_solution.py').read_text())\n",
    # the same families, not in the report
    "builtins_exec": "__builtins__['exec']('import os')\n",
    "torch_allclose_only": "torch.allclose = lambda *a, **k: True\ntorch.isclose = torch.eq\n",
    "checks_global_stub": "checks = None\ngrading = None\n",
    "importlib": "import importlib\nsde_lib = importlib.import_module('dinof_lite.sde')\n",
    "string_built_name": "lib = vars(torch)['s' + 'ys'].modules['dinof_' + 'lite.sde']\n",
    "eval_exec": "eval(compile('import os', 'x', 'exec'))\n",
    "torch_sys": "lib = torch.sys.modules\n",
}
#: trick → answers; each scores zero for every exercise it fakes
TRICKS = {name: {k: patch + "\n" + v for k, v in ZEROS.items()} for name, patch in _PATCHES.items()}
TRICKS["library_function"] = {
    "vp_marginal": VP + "    return VPSDE(beta_min, beta_max).marginal_prob(x0, t)\n",
    "ve_marginal": VE + "    return VESDE(sigma_min, sigma_max).marginal_prob(x0, t)\n",
    "forward_sample": FS + "    return sde.perturb(x0, t, z)\n",
}
TRICKS["library_by_other_paths"] = {
    "vp_marginal": "from dinof_lite.sde import VPSDE as Schedule\n\n" + VP
    + "    return Schedule(beta_min, beta_max).marginal_prob(x0, t)\n",
    "ve_marginal": VE + "    return getattr(torch, 'sys').modules['dinof_lite'].VESDE(sigma_min,"
    " sigma_max).marginal_prob(x0, t)\n",
    "forward_sample": FS + "    return type(sde).perturb(sde, x0, t, z)\n",
}
TRICKS["ignores_arguments"] = {
    "vp_marginal": VP + "    log_a = -0.25 * t**2 * 19.9 - 0.5 * t * 0.1\n"
    "    return torch.exp(log_a)[:, None] * x0, torch.sqrt(1.0 - torch.exp(2.0 * log_a))\n",
    "ve_marginal": VE + "    sigma = 0.01 * 5000.0 ** t\n"
    "    return x0, torch.sqrt(sigma**2 - 0.01**2)\n",
    "forward_sample": FS + "    mean, std = type(sde)().marginal_prob(x0, t)\n"
    "    return mean + std[:, None] * z\n",
}

#: answers that break the grader's process: (answers, points of the rest)
BREAKERS = {
    "hangs_in_ve": ({**CORRECT["plain"], "ve_marginal": VE + "    while True:\n        pass\n"}, 3),
    "os_exit_in_vp": (
        {**CORRECT["plain"], "vp_marginal": "import os\n\n" + VP + "    os._exit(0)\n"},
        2,
    ),
}
