"""The frontier's results as one JSON record per dataset, and the table and curves drawn from it.

``bench frontier --json PATH`` writes, for each dataset, the record of :func:`frontier_record`::

    {"metric": "kde_kl", "lower_is_better": true, "two_sided": false, "floor": 0.004,
     "seeds": [0, 1, 2], "n": 2000,
     "reference": {"method": "plain", "nfe": 1000, "mean": 0.039, "se": 0.002},
     "methods": {"dpm_solver_pp_2m_sde @0.3": {"start": "T_m=0.3", "stochastic": true,
                 "nfe": [10, 20, 40], "mean": [...], "se": [...], "first_match": 20}, ...}}

``first_match`` is the first NFE within the tolerance of the reference (the rule of
:func:`~dinof_lite.evaluation.frontier.summarize`: ``max(floor, 2·√(se_ref² + se²))``), or
null. The README's table (:func:`markdown_table`) and the curves (:func:`plot_record`, one
colour per sampler, one line style per start) are made from the file, not from a new run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dinof_lite.evaluation.frontier import plot_frontier, summarize
from dinof_lite.sampling.solvers import SOLVERS

__all__ = ["frontier_record", "record_rows", "markdown_table", "plot_record"]


def _start(method: str) -> str:
    """``"p_T"`` or ``"T_m=0.6"`` for a method label of :mod:`~dinof_lite.evaluation.frontier`."""
    if method.startswith("dinof "):
        return f"T_m={method.split()[1]}"
    _, _, tm = method.partition(" @")
    return f"T_m={tm}" if tm else "p_T"


def _stochastic(method: str) -> bool:
    """The PC samplers (``plain``, ``dinof``) and the stochastic solvers draw noise."""
    name = method.split(" @")[0]
    return name == "plain" or name.startswith("dinof ") or SOLVERS[name].stochastic


def frontier_record(
    rows: Sequence[Mapping],
    metric: str,
    floor: float,
    seeds: Sequence[int],
    n: int,
    two_sided: bool = False,
) -> dict:
    """The JSON record of one dataset's frontier ``rows`` judged by ``metric`` (see module)."""
    ref = max((r for r in rows if r["method"] == "plain"), key=lambda r: r["nfe"])
    first = {
        s["method"]: s["first match NFE"] for s in summarize(rows, metric, floor, (), two_sided)
    }
    methods = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["nfe"])
        methods[method] = {
            "start": _start(method),
            "stochastic": _stochastic(method),
            "nfe": [r["nfe"] for r in mine],
            "mean": [r[metric] for r in mine],
            "se": [r[f"{metric}_se"] for r in mine],
            "first_match": first[method],
        }
    return {
        "metric": metric,
        "two_sided": two_sided,
        "floor": floor,
        "seeds": list(seeds),
        "n": n,
        "reference": {
            "method": "plain",
            "nfe": ref["nfe"],
            "mean": ref[metric],
            "se": ref[f"{metric}_se"],
        },
        "methods": methods,
    }


def record_rows(record: Mapping) -> list[dict]:
    """The record back as frontier rows (``method``, ``nfe``, ``<metric>``, ``<metric>_se``)."""
    m = record["metric"]
    return [
        {"method": name, "nfe": k, m: v, f"{m}_se": se}
        for name, d in record["methods"].items()
        for k, v, se in zip(d["nfe"], d["mean"], d["se"])
    ]


def markdown_table(records: Mapping[str, Mapping], methods: Sequence[str] | None = None) -> str:
    """A Markdown table, one row per method and one column per dataset: the first NFE that
    matches the reference (``> max`` with the value at the largest NFE when none does)."""
    names = (
        list(methods)
        if methods is not None
        else list(dict.fromkeys(m for rec in records.values() for m in rec["methods"]))
    )
    head = ["method", "start", "stochastic"]
    for ds, rec in records.items():
        r = rec["reference"]
        head.append(
            f"{ds}: first NFE matching {rec['metric']} {r['mean']:.4g} ± {r['se']:.2g} at {r['nfe']}"
        )
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in names:
        d0 = next(rec["methods"][name] for rec in records.values() if name in rec["methods"])
        cells = [f"`{name}`", d0["start"], "yes" if d0["stochastic"] else "no"]
        for rec in records.values():
            d = rec["methods"].get(name)
            if d is None:
                cells.append("—")
            elif d["first_match"] is not None:
                k = d["nfe"].index(d["first_match"])
                cells.append(f"**{d['first_match']}** ({d['mean'][k]:.3g} ± {d['se'][k]:.2g})")
            else:
                cells.append(f"> {d['nfe'][-1]} ({d['mean'][-1]:.3g} ± {d['se'][-1]:.2g})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_record(record: Mapping, ax=None, ideal: tuple[float, str] | None = None):
    """The record's curves (:func:`~dinof_lite.evaluation.frontier.plot_frontier`: one colour
    per sampler, one line style per start), with the reference level and its floor band."""
    return plot_frontier(
        record_rows(record), record["metric"], record["floor"] or None, ax=ax, ideal=ideal
    )
