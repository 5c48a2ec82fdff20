"""Write scenarios/simbench_mv.toml from the SimBench grid itself (run once; the TOML is committed).

    python scenarios/make_simbench_mv.py [--grid 1-MV-semiurb--0-sw] [--out scenarios/simbench_mv.toml]

What comes from SimBench: the feeder (110/20 kV substation, 9 MV feeders, radial after its open
load-break switches), every load's own yearly profile (a bus follows the profile of its largest load) and
every generator (aggregated rooftop PV of the LV grids, MV PV, wind, biomass, hydro) with its own profile,
summed per bus and profile into curtailable [[pv]] units. What is chosen here, and why:
- storage candidates: the five buses with the lowest voltage in a power flow at rated load, one per
  feeder where possible (where storage supports voltage and defers line upgrades);
- EV stations: the six buses with the largest rated load (where people live and park), 1.4 EVs per
  6 kVA of rated household load as in the CIGRE study, capped at 400 per station.
"""
from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np

HEADER = """\
# SimBench MV grid {grid} (shipped in the simbench package, ODbL 1.0 / DbCL 1.0): {n_bus} buses after
# fusing the substation's busbar couplers, {n_line} branches, radial after its open load-break switches.
# Its own year of 15-min profiles (2016) for every load and generator; written by
# scenarios/make_simbench_mv.py (candidate and station choices are explained there).
name = "simbench_mv"
pv = [
{pv}
]

[network]
source = "simbench:{grid}"
base_mva = 1.0               # measured: 10 MVA left 10 of 40 test solves optimal_inaccurate, 1 MVA none
substation_max_mva = 80.0     # two 40 MVA 110/20 kV transformers in parallel
v_min_pu = 0.93
v_max_pu = 1.07
v_substation_pu = 1.025       # SimBench's set-point at the 110 kV bus

[time]
steps_per_day = 24
horizon_start_h = 12

[model]
formulation = "socp"
storage_model = "virtual_resistance"
balance_weight_eur = 100.0
load_shed_cost_eur_per_mwh = 3000.0
ev_unmet_cost_eur_per_mwh = 400.0

[prices]
buy_eur_per_mwh = [70, 70, 70, 70, 70, 70, 80, 120, 120, 120, 100, 100,
                   100, 100, 100, 120, 220, 220, 220, 220, 220, 160, 90, 80]
sell_eur_per_mwh = [40]
carbon_t_per_mwh = [0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.40, 0.35, 0.30, 0.28, 0.26,
                    0.26, 0.28, 0.30, 0.35, 0.45, 0.50, 0.50, 0.50, 0.50, 0.48, 0.46, 0.45]
carbon_price_eur_per_t = 80.0

[storage]
candidates = {candidates}
siting = "binary"
max_energy_mwh = 12.0
max_power_mw = 4.0
min_duration_h = 1.0
max_duration_h = 4.0
energy_cost_eur_per_mwh = 200000.0
power_cost_eur_per_mw = 120000.0
site_cost_eur = 60000.0
lifetime_years = 15
soc_min = 0.1
soc_max = 0.9
loss_resistance_pu = 0.03     # 3 % loss at 1 MW, as in the IEEE-33 case

[chargers]
max_capacity_mw = 2.0
cost_eur_per_mw = 150000.0
lifetime_years = 10
{stations}

[ev]
battery_kwh = 40.0
charger_kw = 3.6
efficiency = 0.9
target_soc = 1.0
controllable_share = 0.5
v2g = false

[profiles]
source = "simbench"
simbench_grid = "{grid}"
default_load_profile = "{default_profile}"
[profiles.load_profile_buses]
{load_profiles}

[scenarios]
source = "year"
k = 8
metric = "euclidean"
normalisation = "zscore"
backend = "kmedoids"
seed = 7

[investment]
discount_rate = 0.05
budget_eur = 6000000.0
max_storage_sites = 3

[benders]
tol = 1e-4                    # measured on 2 workers: 51 iterations, 1.6 min with the warm start below
max_iter = 200
time_limit_s = 5400
multicut = true
stabilisation = "interior-level"   # measured (2 ranks, 1e-4): interior-level 99 iterations; level 3.1e-3 and
                                   # in-out 2.1e-2 after 100 and 60 (README, "A larger feeder")
warm_start_days = 2           # iteration 0 prices the exact plan of 2 medoid days and those of the other
warm_start_within = 0.01      # sitings within 1 % of it (nine): 51 iterations, loop 96.6 s, against 109 and
                              # 138.6 s without (2 workers, side by side; README, "A larger feeder")
points_per_round = 1          # 3 reach 1e-4 in 23 rounds (76 plans; 1.16× the time of 1 on 2 workers, 51 rounds),
                              # 6 in 18 (106): worth it where ranks ≥ 2 × days (README, The model)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="1-MV-semiurb--0-sw")
    parser.add_argument("--out", default=str(Path(__file__).with_name("simbench_mv.toml")))
    args = parser.parse_args()
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    import pandapower as pp

    from stochplan.config import NetworkConfig
    from stochplan.network import build_ref, load_net
    from stochplan.network.feeders import simbench_net

    net = load_net(f"simbench:{args.grid}")
    ref = build_ref(net, NetworkConfig(source="", base_mva=1.0), "simbench_mv")
    raw = simbench_net(args.grid, "--grid")
    fused = {int(r.element): int(r.bus) for _, r in raw.switch[raw.switch.et == "b"].iterrows()}
    load_names = {c[: -len("_pload")] for c in raw.profiles["load"].columns if c.endswith("_pload")}

    gens = raw.sgen[raw.sgen.in_service.astype(bool)].assign(bus=lambda t: t.bus.replace(fused))
    gens = gens.assign(profile=[f"{p}_res" if p in load_names else p for p in gens.profile])
    units = gens.groupby(["bus", "profile"]).p_mw.sum().reset_index()
    pv = ",\n".join(f'  {{ bus = {int(u.bus)}, capacity_mw = {u.p_mw:.4f}, profile = "{u.profile}" }}'
                    for u in units.itertuples())

    largest = net.load.sort_values("p_mw").groupby("bus").profile.last()
    default_profile = largest.value_counts().index[0]
    by_profile = {p: sorted(int(b) for b in largest.index[largest == p])
                  for p in sorted(largest.unique()) if p != default_profile}
    load_profiles = "\n".join(f'"{p}" = {buses}' for p, buses in by_profile.items())

    pp.runpp(net)
    vm = net.res_bus.vm_pu.loc[ref.bus_ids].to_numpy()
    feeder = np.zeros(ref.n_bus, dtype=int)       # the branch leaving the MV busbar that feeds each bus
    for i in range(2, ref.n_bus):
        feeder[i] = i if ref.parent[i] == 1 else feeder[ref.parent[i]]
    candidates, seen = [], set()
    for i in np.argsort(vm):
        if i > 1 and feeder[i] not in seen and len(candidates) < 5:
            candidates.append(int(ref.bus_ids[i]))
            seen.add(feeder[i])

    rated = net.load.groupby("bus").p_mw.sum().sort_values(ascending=False)
    stations = "\n".join(f"[[chargers.stations]]\nbus = {int(b)}\nevs = {min(400, round(1.4 * p * 1000 / 6))}"
                         for b, p in rated.head(6).items())
    Path(args.out).write_text(HEADER.format(grid=args.grid, n_bus=ref.n_bus, n_line=ref.n_line, pv=pv,
                                            candidates=sorted(candidates), stations=stations,
                                            default_profile=default_profile, load_profiles=load_profiles))
    print(f"wrote {args.out}: {ref.n_bus} buses, {len(units)} generator units, storage candidates "
          f"{sorted(candidates)}, stations {list(rated.head(6).index)}")


if __name__ == "__main__":
    main()
