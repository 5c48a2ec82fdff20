"""Economics and carbon of a plan against a baseline on the same days.

Baseline: no storage, every EV uncontrolled (charging at full power on arrival), the planned charger
capacity kept (without chargers no EV could charge at all). Both are operated by the same day model.

Benefits [EUR/year] = baseline − plan for each operating part (energy purchase, carbon cost, penalties,
balance index), plus the deferred grid upgrade = max(0, peak import_baseline − peak import_plan) [MW] ×
`economics.upgrade_cost_eur_per_mw_year`. Net benefit = Σ benefits − annualised investment; return on
investment = net benefit / investment. The parts add up to the total by construction (a test checks it).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..formulations.master import DAYS_PER_YEAR
from ..formulations.operation import DaySolution, build_operation, solve_day
from ..instance import Instance, build_instance
from ..result import PlanResult
from ..scenarios import build_days, year_of_days

PARTS = ("energy", "carbon", "penalty", "balance")


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


def yearly(inst: Instance, solutions: list[DaySolution]) -> dict:
    """Yearly figures of a set of day solutions (365 · Σ_s π_s ·), shared by results.json and the economics."""
    w = np.array([d.weight for d in inst.days]) * DAYS_PER_YEAR
    parts = {k: float(w @ [s.parts_eur.get(k, 0.0) for s in solutions]) for k in PARTS}
    pv_avail = float(w @ [s.pv_available_mwh for s in solutions])
    return {
        "operation_eur": parts,
        "carbon_t_per_year": float(w @ [s.carbon_t for s in solutions]),
        "carbon_t_per_day": [s.carbon_t for s in solutions],
        "pv_utilisation": float(w @ [s.pv_used_mwh for s in solutions]) / pv_avail if pv_avail > 0 else None,
        "peak_import_mw": float(max(s.dispatch["import_mw"].max() for s in solutions)),
        "peak_line_loading": float(max(s.dispatch["loading"].max() for s in solutions))
        if "loading" in solutions[0].dispatch else None,
        "min_voltage_pu": float(min(s.dispatch["v_pu"].min() for s in solutions)),
        "ev_unmet_mwh_per_year": float(w @ [s.ev_unmet_mwh for s in solutions]),
        "load_shed_mwh_per_year": float(w @ [s.shed_mwh for s in solutions]),
    }


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


def summary_markdown(case_name: str, doc: dict, econ: dict) -> str:
    """A short human-readable summary of the plan and its economics."""
    b, p = econ["baseline"], econ["plan"]
    lines = [f"# {case_name}: plan summary", "",
             f"Expected total cost **{doc['objective']['total']:,.0f} EUR/year** "
             f"(investment {doc['objective']['investment']:,.0f}, operation {doc['objective']['operation']:,.0f}, "
             f"penalties {doc['objective']['penalty']:,.2f}), {len(doc['scenarios'])} representative days.", "",
             "## Built", ""]
    lines += [f"- storage at bus {s['bus']}: {s['energy_mwh']:.3f} MWh, {s['power_mw']:.3f} MW" for s in doc["storage"]]
    lines += [f"- chargers at bus {c['bus']}: {c['capacity_mw']:.3f} MW" for c in doc["chargers"]]
    lines += ["", f"## Against the baseline ({econ['baseline_definition']})", "",
              "| EUR/year | value |", "| --- | ---: |"]
    lines += [f"| investment: {k.replace('_', ' ')} | {v:,.0f} |" for k, v in econ["investment"].items()]
    lines += [f"| benefit: {k.replace('_', ' ')} | {v:,.0f} |" for k, v in econ["benefits"].items()]
    roi = econ["return_on_investment"]
    lines += [f"| **net benefit** | **{econ['net_benefit']:,.0f}** |",
              f"| return on investment | {roi:.2f} |" if roi is not None else "| return on investment | – |",
              "", "| | baseline | plan |", "| --- | ---: | ---: |",
              f"| carbon [t/year] | {b['carbon_t_per_year']:,.1f} | {p['carbon_t_per_year']:,.1f} "
              f"({-econ['carbon_reduction_percent']:+.1f} %) |",
              f"| PV utilisation | {_pct(b['pv_utilisation'])} | {_pct(p['pv_utilisation'])} |",
              f"| peak import [MW] | {b['peak_import_mw']:.3f} | {p['peak_import_mw']:.3f} |",
              f"| peak line loading | {_pct(b['peak_line_loading'])} | {_pct(p['peak_line_loading'])} |",
              f"| min voltage [pu] | {b['min_voltage_pu']:.4f} | {p['min_voltage_pu']:.4f} |",
              f"| EV energy not delivered [MWh/year] | {b['ev_unmet_mwh_per_year']:,.2f} | "
              f"{p['ev_unmet_mwh_per_year']:,.2f} |"]
    m = doc["metrics"]
    if "ac_max_voltage_diff_pu" in m:
        dv = m["ac_max_voltage_diff_pu"]
        lines += ["", f"AC check ({m['ac_steps']} steps, pandapower): max |V_ac − V_model| "
                      f"{'–' if dv is None else f'{dv:.2e} pu'}, {m['ac_violations']} limit violations, "
                      f"{m['ac_nonconverged_steps']} steps not converged."]
    return "\n".join(lines) + "\n"


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"
