"""summary.md: the plan and its economics against the baseline, for a person (workflows/economics.py computes
them)."""
from __future__ import annotations


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
    lines += _other_sitings(doc)
    lines += ["", f"## Against the baseline ({econ['baseline_definition']})", "",
              "| EUR/year | value |", "| --- | ---: |"]
    lines += [f"| plan investment: {k.replace('_', ' ')} | {v:,.0f} |" for k, v in econ["investment"].items()]
    base_chargers = econ["baseline_investment"]["chargers"]
    lines += [f"| baseline investment: chargers for the uncontrolled fleet | {base_chargers:,.0f} |"]
    lines += [f"| benefit: {k.replace('_', ' ')} | {v:,.0f} |" for k, v in econ["benefits"].items()]
    roi = econ["return_on_investment"]
    lines += [f"| penalty difference (EV energy not delivered, load shed): not a benefit | "
              f"{econ['penalty_difference']:,.0f} |",
              f"| **net benefit** (benefits + penalty difference − storage investment) | "
              f"**{econ['net_benefit']:,.0f}** |",
              f"| return on the storage investment | {roi:.2f} |" if roi is not None else "| return on investment | – |",
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


def _other_sitings(doc: dict, shown: int = 5) -> list[str]:
    """The best-bounded other storage sitings (results.json → benders.siting_bounds), as a table."""
    others = [row for row in doc.get("benders", {}).get("siting_bounds", []) if not row["chosen"]]
    if not others:
        return []
    lines = ["", "## Other storage sitings", "",
             "No plan with these storage sites costs less than the bound shown (from Benders' cuts); a bound within "
             "the run's tolerance of the plan's cost does not prove the siting worse.", "",
             "| storage at buses | costs at least [EUR/year] | against the plan |", "| --- | ---: | ---: |"]
    lines += [f"| {', '.join(map(str, row['storage_buses'])) or 'none'} | {row['lower_bound']:,.0f} | "
              f"{100 * row['over_plan']:+.3f} % |" for row in others[:shown]]
    if len(others) > shown:
        lines += [f"| {len(others) - shown} more (results.json) | | |"]
    return lines


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"
