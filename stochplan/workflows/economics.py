"""Economics and carbon of a plan against a business-as-usual baseline on the same days.

Baseline (business as usual): no storage, every EV uncontrolled (charging at full power from plug-in), and at
each station the charger capacity that serves that uncontrolled fleet — the smallest that leaves no energy
undelivered on the planned days, max_{days, t} of the station's uncontrolled charging [MW] — bought at the
case's charger cost. Both are operated by the same day model.

With I the annualised investment and O the operating cost by part [EUR/year]:
    net benefit = (I_ch,base − I_ch,plan) + Σ_parts (O_base − O_plan) + deferred upgrade − I_storage
    benefits    = avoided charger investment, energy, carbon and balance reductions, deferred upgrade
                  (= max(0, peak import_base − peak import_plan) [MW] × `economics.upgrade_cost_eur_per_mw_year`)
    penalty difference = O_base,penalty − O_plan,penalty, shown apart (≈ 0 when both serve every EV)
    net benefit = Σ benefits + penalty difference − I_storage;  return on investment = net benefit / I_storage.
The parts add up to the totals by construction (a test checks it).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..formulations.operation import DayModels, solve_day
from ..instance import Instance, build_instance
from ..result import PARTS, DaySolution, PlanResult, yearly
from ..scenarios import build_days, days_of_year

BASELINE = ("business as usual: no storage, every EV uncontrolled, chargers sized to serve the uncontrolled "
            "fleet on the planned days (their investment counted)")


@dataclass
class Baseline:
    solutions: list[DaySolution]     # the planned days operated as business as usual
    charger_mw: np.ndarray           # (stations,) the capacity that serves the uncontrolled fleet


def baseline_solutions(inst: Instance) -> Baseline:
    """The plan's days re-run with no storage, uncontrolled EVs (same sessions: same seeds) and chargers
    sized for them, one after another (Benders runs them on its ranks: BaselineDays.solve)."""
    days = BaselineDays(inst)
    return Baseline([days.solve(d) for d in range(len(inst.days))], days.charger_mw)


class BaselineDays:
    """The business-as-usual version of each planned day, built on first use (on every rank that needs it:
    the charger sizes need every day's uncontrolled fleet)."""

    def __init__(self, inst: Instance):
        self.inst = inst
        self._base: Instance | None = None
        self._models: DayModels | None = None
        self._charger_mw: np.ndarray | None = None

    @property
    def charger_mw(self) -> np.ndarray:
        """(stations,) the smallest capacity that serves each uncontrolled fleet on every planned day [MW]."""
        self._build()
        return self._charger_mw

    def solve(self, d: int) -> DaySolution:
        """Planned day d operated as business as usual."""
        self._build()
        return solve_day(self._models(d), self._charger_mw)

    def _build(self) -> None:
        if self._base is not None:
            return
        inst, case = self.inst, self.inst.case
        # No storage candidates at all rather than candidates of zero capacity: an inverter cone of radius 0 has
        # no interior, and Clarabel needed ~4 retries a day for it on SimBench MV (25 s for 8 days, now 5 s).
        base_case = replace(case, ev=replace(case.ev, controllable_share=0.0),
                            storage=replace(case.storage, candidates=(), siting="binary", fixed_sites=()))
        if case.scenarios.source == "year":
            by_day = {d.day: d for d in days_of_year(base_case, inst.ref, only={d.day for d in inst.days})}
            days = [replace(by_day[d.day], weight=d.weight) for d in inst.days]
        else:
            days = build_days(base_case, inst.ref)
        self._base = build_instance(base_case, days=days)
        self._models = DayModels(self._base, len(days), keep=False)     # each day is solved once
        n_st = len(inst.ref.station_bus)
        self._charger_mw = np.max([day.ev.fixed_p_mw.max(axis=1) for day in self._base.days], axis=0) \
            if n_st else np.zeros(0)


def economics(inst: Instance, res: PlanResult, baseline: Baseline) -> dict:
    fs = inst.first
    k = fs.n_storage
    plan, base = yearly(inst, res.solutions), yearly(inst, baseline.solutions)
    investment = {"storage_energy": float(fs.cost_x[:k] @ res.x[:k]),
                  "storage_power": float(fs.cost_x[k:2 * k] @ res.x[k:2 * k]),
                  "storage_sites": float(fs.cost_y @ res.y) if k else 0.0,
                  "chargers": float(fs.cost_x[2 * k:] @ res.x[2 * k:])}
    base_chargers = float(fs.cost_x[2 * k:] @ baseline.charger_mw)
    storage = investment["storage_energy"] + investment["storage_power"] + investment["storage_sites"]
    benefits = {"avoided_charger_investment": base_chargers - investment["chargers"]}
    benefits.update({f"{part}_reduction": base["operation_eur"][part] - plan["operation_eur"][part]
                     for part in PARTS if part != "penalty"})
    benefits["deferred_upgrade"] = max(0.0, base["peak_import_mw"] - plan["peak_import_mw"]) \
        * inst.case.economics.upgrade_cost_eur_per_mw_year
    penalty_difference = base["operation_eur"]["penalty"] - plan["operation_eur"]["penalty"]
    total_benefit = sum(benefits.values())
    net = total_benefit + penalty_difference - storage
    carbon_cut = (base["carbon_t_per_year"] - plan["carbon_t_per_year"]) / base["carbon_t_per_year"] \
        if base["carbon_t_per_year"] > 0 else 0.0
    return {"currency": "EUR/year", "investment": investment, "investment_total": sum(investment.values()),
            "storage_investment": storage,
            "baseline_investment": {"chargers": base_chargers},
            "baseline_charger_mw": {str(b): float(c) for b, c in zip(fs.station_buses, baseline.charger_mw)},
            "benefits": benefits, "benefit_total": total_benefit, "penalty_difference": penalty_difference,
            "net_benefit": net, "return_on_investment": net / storage if storage > 0 else None,
            "carbon_reduction_percent": 100.0 * carbon_cut,
            "baseline": base, "plan": plan, "baseline_definition": BASELINE}
