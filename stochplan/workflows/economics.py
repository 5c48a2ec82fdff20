"""Economics and carbon of a plan against a baseline on the same days.

Baseline: no storage, every EV uncontrolled (charging at full power on
arrival), the planned charger capacity kept (without chargers no EV could charge at all). Both are operated by
the same day model.

Benefits [EUR/year] = baseline − plan for each operating part (energy purchase, carbon cost, penalties,
balance index), plus the deferred grid upgrade = max(0, peak import_baseline − peak import_plan) [MW] ×
`economics.upgrade_cost_eur_per_mw_year`. Net benefit = Σ benefits − annualised investment; return on
investment = net benefit / investment. The parts add up to the total by construction (a test checks it).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..formulations.operation import build_operation, solve_day
from ..instance import Instance, build_instance
from ..result import PARTS, DaySolution, PlanResult, yearly
from ..scenarios import build_days, year_of_days


def baseline_solutions(inst: Instance, res: PlanResult) -> list[DaySolution]:
    """The plan's days re-run with no storage and uncontrolled EVs (same sessions: same seeds)."""
    case = inst.case
    base_case = replace(case, ev=replace(case.ev, controllable_share=0.0))
    if case.scenarios.source == "year":
        by_day = {d.day: d for d in year_of_days(base_case, inst.ref).days}
        days = [replace(by_day[d.day], weight=d.weight) for d in inst.days]
    else:
        days = build_days(base_case, inst.ref)
    base = build_instance(base_case, days=days)
    fs = inst.first
    e, p, c = fs.split(res.x)
    x0 = np.concatenate([np.zeros_like(e), np.zeros_like(p), c])
    return [solve_day(build_operation(base, day), x0) for day in base.days]


def economics(inst: Instance, res: PlanResult, baseline: list[DaySolution]) -> dict:
    fs = inst.first
    k = fs.n_storage
    plan, base = yearly(inst, res.solutions), yearly(inst, baseline)
    investment = {"storage_energy": float(fs.cost_x[:k] @ res.x[:k]),
                  "storage_power": float(fs.cost_x[k:2 * k] @ res.x[k:2 * k]),
                  "storage_sites": float(fs.cost_y @ res.y) if k else 0.0,
                  "chargers": float(fs.cost_x[2 * k:] @ res.x[2 * k:])}
    benefits = {f"{part}_reduction": base["operation_eur"][part] - plan["operation_eur"][part] for part in PARTS}
    benefits["deferred_upgrade"] = max(0.0, base["peak_import_mw"] - plan["peak_import_mw"]) \
        * inst.case.economics.upgrade_cost_eur_per_mw_year
    total_investment = sum(investment.values())
    total_benefit = sum(benefits.values())
    net = total_benefit - total_investment
    carbon_cut = (base["carbon_t_per_year"] - plan["carbon_t_per_year"]) / base["carbon_t_per_year"] \
        if base["carbon_t_per_year"] > 0 else 0.0
    return {"currency": "EUR/year", "investment": investment, "investment_total": total_investment,
            "benefits": benefits, "benefit_total": total_benefit, "net_benefit": net,
            "return_on_investment": net / total_investment if total_investment > 0 else None,
            "carbon_reduction_percent": 100.0 * carbon_cut,
            "baseline": base, "plan": plan,
            "baseline_definition": "no storage, all EVs uncontrolled, planned charger capacity"}
