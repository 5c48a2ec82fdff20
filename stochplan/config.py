"""Case files: TOML → one typed, validated `Case`.

Every field is read and checked here, once, so that a user mistake stops before any solve with
one message naming the field (`storage.max_energy_mwh: must be ≥ 0, got -1`). Units are in the
field names, as in pandapower (`_mw`, `_mwh`, `_eur_per_mwh`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from .errors import InputError

DEFAULT_CASE = "ieee33.toml"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")   # a case name is a directory name under results/


def default_case_path() -> Path:
    """`scenarios/ieee33.toml` in the working directory, else next to the installed sources."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = root / "scenarios" / DEFAULT_CASE
        if candidate.is_file():
            return candidate
    raise InputError("CASE", f"no case given and scenarios/{DEFAULT_CASE} not found; pass a case file")


# --------------------------------------------------------------------------- typed sections


@dataclass(frozen=True)
class NetworkConfig:
    source: str                       # "pandapower:case33bw|cigre_mv", "simbench:<grid code>" or a JSON path
    base_mva: float = 1.0
    default_max_i_ka: float | None = None     # used where the feeder has no rating (≥ 1000 kA)
    unrated_branches: str = "error"           # without default_max_i_ka: "error" | "unlimited" (no limit rows)
    substation_max_mva: float | None = None   # apparent-power limit at the root
    v_min_pu: float = 0.9
    v_max_pu: float = 1.1
    v_substation_pu: float = 1.0
    load_scale: float = 1.0           # multiplies the feeder's own loads (peak values)
    loads: tuple[tuple[int, float, float], ...] = ()   # (bus, S [MVA], power factor): replace the feeder's loads


@dataclass(frozen=True)
class TimeConfig:
    steps_per_day: int = 24
    horizon_start_h: float = 0.0      # clock hour of step 0; 12 lets overnight EV sessions fit one horizon


@dataclass(frozen=True)
class ModelConfig:
    formulation: str = "socp"                 # "socp" | "lindistflow"
    storage_model: str = "virtual_resistance"  # "virtual_resistance" | "efficiency"
    balance_weight_eur: float = 0.0           # EUR per day per unit of balance index
    load_shed_cost_eur_per_mwh: float = 3000.0
    ev_unmet_cost_eur_per_mwh: float = 500.0
    load_shed: str = "power_factor"           # "power_factor": reactive load shed in proportion | "active"
    # Capacity every candidate has before any build, as a share of its upper bound: existing equipment, part of
    # the model. 0 (the default) is the model as stated; Benders gets good cuts at zero capacity from its
    # proximal copy (formulations/operation.py: constraint_copy), not from free capacity.
    capacity_floor: float = 0.0


@dataclass(frozen=True)
class PricesConfig:
    buy_eur_per_mwh: tuple[float, ...]        # per clock hour (24 values) or per step
    sell_eur_per_mwh: tuple[float, ...]
    carbon_t_per_mwh: tuple[float, ...]
    carbon_price_eur_per_t: float = 0.0


@dataclass(frozen=True)
class PVUnit:
    bus: int
    capacity_mw: float
    profile: str = ""                         # PV profile name (year scenarios)


@dataclass(frozen=True)
class ProfilesConfig:
    """Where a year of profiles comes from and which profile each bus follows (scenarios.source = "year")."""
    source: str = "simbench"                  # "simbench" | "csv"
    simbench_grid: str = "1-LV-rural1--0-sw"
    csv: str = ""                             # path, relative to the case file
    default_load_profile: str = "H0-B"
    load_profile_buses: tuple[tuple[str, tuple[int, ...]], ...] = ()   # (profile, buses) pairs


@dataclass(frozen=True)
class StorageConfig:
    candidates: tuple[int, ...] = ()
    siting: str = "binary"                    # "binary" | "relaxed" | "fixed"
    fixed_sites: tuple[int, ...] = ()         # with siting = "fixed"
    max_energy_mwh: float = 0.0
    max_power_mw: float = 0.0
    min_duration_h: float = 0.0
    max_duration_h: float = 1e3
    energy_cost_eur_per_mwh: float = 0.0      # capital cost
    power_cost_eur_per_mw: float = 0.0
    site_cost_eur: float = 0.0
    lifetime_years: float = 15.0
    soc_min: float = 0.0
    soc_max: float = 1.0
    loss_resistance_pu: float = 0.0           # virtual resistance on the system base
    efficiency_charge: float = 1.0
    efficiency_discharge: float = 1.0
    reactive_power: bool = True               # four-quadrant inverter ‖(p, q)‖ ≤ P; false: |p| ≤ P, q = 0


@dataclass(frozen=True)
class Station:
    bus: int
    evs: int


@dataclass(frozen=True)
class ChargerConfig:
    stations: tuple[Station, ...] = ()
    max_capacity_mw: float = 0.0
    cost_eur_per_mw: float = 0.0
    lifetime_years: float = 10.0


@dataclass(frozen=True)
class EVConfig:
    battery_kwh: float = 40.0
    charger_kw: float = 3.6
    efficiency: float = 0.9
    target_soc: float = 1.0
    controllable_share: float = 0.5
    v2g: bool = False
    sessions_csv: str = ""                    # real session records instead of sampling (year scenarios)
    aggregation: str = "envelope"             # station region: "envelope" | "interval" | "individual"
    reactive_support: bool = False            # 4-quadrant chargers: p² + q² ≤ C² per station
    soc_min: float = 0.2                      # V2G floor


@dataclass(frozen=True)
class ExplicitDay:
    """A day given in the case file: scales of the feeder's loads and of PV capacity, per step."""
    day: int
    weight: float
    load_scale: tuple[float, ...]
    pv_scale: tuple[float, ...]


@dataclass(frozen=True)
class ScenarioConfig:
    source: str = "synthetic"                 # "synthetic" | "explicit" | "year"
    days: int = 6                             # `count` in the case file (synthetic days)
    seed: int = 0
    explicit: tuple[ExplicitDay, ...] = ()
    k: int = 10                               # representative days (year)
    metric: str = "euclidean"
    normalisation: str = "zscore"             # "zscore" | "minmax"
    backend: str = "kmedoids"                 # "kmedoids" | "sklearn_extra"


@dataclass(frozen=True)
class InvestmentConfig:
    discount_rate: float = 0.05
    budget_eur: float = math.inf
    max_storage_sites: int = 1_000_000


@dataclass(frozen=True)
class EconomicsConfig:
    upgrade_cost_eur_per_mw_year: float = 0.0   # value of deferring grid reinforcement, per MW of peak import cut


@dataclass(frozen=True)
class BendersConfig:
    tol: float = 1e-4
    max_iter: int = 100
    time_limit_s: float = 3600.0
    multicut: bool = True
    lp_phase: bool = False             # first converge on the LP relaxation of the master, then add integrality
    stabilisation: str = "interior-level"   # decomposition/stabilisation.py: KINDS (default by measurement)
    in_out_alpha: float = 0.5          # weight of the master point in the separation point


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    network: NetworkConfig
    time: TimeConfig
    model: ModelConfig
    prices: PricesConfig
    pv: tuple[PVUnit, ...]
    profiles: ProfilesConfig
    storage: StorageConfig
    chargers: ChargerConfig
    ev: EVConfig
    scenarios: ScenarioConfig
    investment: InvestmentConfig
    benders: BendersConfig = field(default_factory=BendersConfig)
    economics: EconomicsConfig = field(default_factory=EconomicsConfig)


# --------------------------------------------------------------------------- field readers


class _Section:
    """Reads one TOML table, naming `section.key` in every error and rejecting unknown keys."""

    def __init__(self, data: dict, name: str):
        if not isinstance(data, dict):
            raise InputError(name, "must be a table")
        self.data, self.name, self.used = data, name, set()

    def _get(self, key, default):
        self.used.add(key)
        return self.data.get(key, default)

    def field(self, key):
        return f"{self.name}.{key}" if self.name else key

    def number(self, key, default=None, *, lo=None, hi=None, lo_open=False, integer=False):
        value = self._get(key, default)
        if value is None:
            raise InputError(self.field(key), "is required")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(self.field(key), f"must be a number, got {value!r}")
        value = float(value)
        if math.isnan(value):
            raise InputError(self.field(key), "is NaN; give a number")
        if math.isinf(value) and key in self.data:
            raise InputError(self.field(key), f"must be a finite number, got {value}; leave the key out where its "
                                              "default means no limit")
        if integer and value != int(value):
            raise InputError(self.field(key), f"must be a whole number, got {value}")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise InputError(self.field(key), f"must be {'>' if lo_open else '≥'} {lo:g}, got {value:g}")
        if hi is not None and value > hi:
            raise InputError(self.field(key), f"must be ≤ {hi:g}, got {value:g}")
        return int(value) if integer else value

    def optional_number(self, key, **kw):
        return None if self.data.get(key) is None else self.number(key, **kw)

    def text(self, key, default=None, choices=None):
        value = self._get(key, default)
        if value is None:
            raise InputError(self.field(key), "is required")
        if not isinstance(value, str):
            raise InputError(self.field(key), f"must be a string, got {value!r}")
        if choices and value not in choices:
            raise InputError(self.field(key), f"must be one of {', '.join(choices)}; got '{value}'")
        return value

    def flag(self, key, default=False):
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise InputError(self.field(key), f"must be true or false, got {value!r}")
        return value

    def series(self, key, default=None, *, lo=None):
        value = self._get(key, default)
        if value is None:
            raise InputError(self.field(key), "is required")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not value:
            raise InputError(self.field(key), "must be a non-empty list of numbers")
        out = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise InputError(f"{self.field(key)}[{i}]", f"must be a number, got {item!r}")
            if not math.isfinite(item):
                raise InputError(f"{self.field(key)}[{i}]", f"is {item}; every value of a profile must be a finite "
                                                            "number")
            if lo is not None and item < lo:
                raise InputError(f"{self.field(key)}[{i}]", f"must be ≥ {lo:g}, got {item:g}")
            out.append(float(item))
        return tuple(out)

    def ints(self, key, default=None):
        value = self._get(key, [] if default is None else default)
        if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise InputError(self.field(key), f"must be a list of bus indices (integers), got {value!r}")
        return tuple(value)

    def table(self, key):
        return _Section(self._get(key, {}), self.field(key))

    def tables(self, key):
        value = self._get(key, [])
        if not isinstance(value, list):
            raise InputError(self.field(key), "must be an array of tables ([[...]])")
        return [_Section(v, f"{self.field(key)}[{i}]") for i, v in enumerate(value)]

    def done(self):
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise InputError(self.field(unknown[0]), "unknown key; check its spelling against the README")


# --------------------------------------------------------------------------- loading


def load_case(path: str | Path) -> Case:
    """Read and validate a case file. Raises InputError naming the field on any mistake."""
    path = Path(path)
    if not path.is_file():
        raise InputError("CASE", f"file '{path}' not found")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError("CASE", f"'{path}' is not valid TOML ({exc})") from None
    return case_from_dict(data, path)


def case_from_dict(data: dict[str, Any], path: Path) -> Case:
    root = _Section(data, "")
    name = root.text("name", path.stem)
    if not SAFE_NAME.fullmatch(name):
        raise InputError("name", f"'{name}' is not a safe file name: use 1–64 letters, digits, '.', '_' or '-', "
                                 "starting with a letter or digit (it names the output directory)")

    s = root.table("network")
    source = s.text("source")
    if not source.startswith(("pandapower:", "simbench:")):
        source = str((path.parent / source).resolve())
    network = NetworkConfig(
        source=source,
        base_mva=s.number("base_mva", 1.0, lo=0, lo_open=True),
        default_max_i_ka=s.optional_number("default_max_i_ka", lo=0, lo_open=True),
        unrated_branches=s.text("unrated_branches", "error", ("error", "unlimited")),
        substation_max_mva=s.optional_number("substation_max_mva", lo=0, lo_open=True),
        v_min_pu=s.number("v_min_pu", 0.9, lo=0, lo_open=True),
        v_max_pu=s.number("v_max_pu", 1.1, lo=0, lo_open=True),
        v_substation_pu=s.number("v_substation_pu", 1.0, lo=0, lo_open=True),
        load_scale=s.number("load_scale", 1.0, lo=0),
        loads=tuple((t.number("bus", integer=True, lo=0), t.number("s_mva", lo=0),
                     t.number("power_factor", lo=0, lo_open=True, hi=1)) for t in s.tables("loads")),
    )
    s.done()
    if network.v_min_pu >= network.v_max_pu:
        raise InputError("network.v_min_pu", f"must be below network.v_max_pu ({network.v_max_pu})")
    if not network.v_min_pu <= network.v_substation_pu <= network.v_max_pu:
        raise InputError("network.v_substation_pu", "must lie between v_min_pu and v_max_pu")

    s = root.table("time")
    time = TimeConfig(steps_per_day=s.number("steps_per_day", 24, lo=1, integer=True),
                      horizon_start_h=s.number("horizon_start_h", 0.0, lo=0, hi=24))
    s.done()

    s = root.table("model")
    model = ModelConfig(
        formulation=s.text("formulation", "socp", ("socp", "lindistflow")),
        storage_model=s.text("storage_model", "virtual_resistance", ("virtual_resistance", "efficiency")),
        balance_weight_eur=s.number("balance_weight_eur", 0.0, lo=0),
        load_shed_cost_eur_per_mwh=s.number("load_shed_cost_eur_per_mwh", 3000.0, lo=0, lo_open=True),
        ev_unmet_cost_eur_per_mwh=s.number("ev_unmet_cost_eur_per_mwh", 500.0, lo=0, lo_open=True),
        load_shed=s.text("load_shed", "power_factor", ("power_factor", "active")),
        capacity_floor=s.number("capacity_floor", 0.0, lo=0, hi=0.1),
    )
    s.done()

    s = root.table("prices")
    prices = PricesConfig(
        buy_eur_per_mwh=s.series("buy_eur_per_mwh"),
        sell_eur_per_mwh=s.series("sell_eur_per_mwh", [0.0]),
        carbon_t_per_mwh=s.series("carbon_t_per_mwh", [0.0], lo=0),
        carbon_price_eur_per_t=s.number("carbon_price_eur_per_t", 0.0, lo=0),
    )
    s.done()

    pv = []
    for t in root.tables("pv"):
        pv.append(PVUnit(bus=int(t.number("bus", integer=True, lo=0)), capacity_mw=t.number("capacity_mw", lo=0),
                         profile=t.text("profile", "")))
        t.done()

    s = root.table("profiles")
    mapping = s.table("load_profile_buses")
    pairs = tuple((name, mapping.ints(name)) for name in list(mapping.data))
    mapping.done()
    csv = s.text("csv", "")
    profiles = ProfilesConfig(source=s.text("source", "simbench", ("simbench", "csv")),
                              simbench_grid=s.text("simbench_grid", "1-LV-rural1--0-sw"),
                              csv=str((path.parent / csv).resolve()) if csv else "",
                              default_load_profile=s.text("default_load_profile", "H0-B"),
                              load_profile_buses=pairs)
    s.done()
    if profiles.source == "csv" and not profiles.csv:
        raise InputError("profiles.csv", "source = 'csv' needs the path of the profile CSV")

    s = root.table("storage")
    storage = StorageConfig(
        candidates=s.ints("candidates"),
        siting=s.text("siting", "binary", ("binary", "relaxed", "fixed")),
        fixed_sites=s.ints("fixed_sites"),
        max_energy_mwh=s.number("max_energy_mwh", 0.0, lo=0),
        max_power_mw=s.number("max_power_mw", 0.0, lo=0),
        min_duration_h=s.number("min_duration_h", 0.0, lo=0),
        max_duration_h=s.number("max_duration_h", 1e3, lo=0, lo_open=True),
        energy_cost_eur_per_mwh=s.number("energy_cost_eur_per_mwh", 0.0, lo=0),
        power_cost_eur_per_mw=s.number("power_cost_eur_per_mw", 0.0, lo=0),
        site_cost_eur=s.number("site_cost_eur", 0.0, lo=0),
        lifetime_years=s.number("lifetime_years", 15.0, lo=0, lo_open=True),
        soc_min=s.number("soc_min", 0.0, lo=0, hi=1),
        soc_max=s.number("soc_max", 1.0, lo=0, hi=1),
        loss_resistance_pu=s.number("loss_resistance_pu", 0.0, lo=0),
        efficiency_charge=s.number("efficiency_charge", 1.0, lo=0, lo_open=True, hi=1),
        efficiency_discharge=s.number("efficiency_discharge", 1.0, lo=0, lo_open=True, hi=1),
        reactive_power=s.flag("reactive_power", True),
    )
    s.done()
    if storage.soc_min >= storage.soc_max:
        raise InputError("storage.soc_min", f"must be below storage.soc_max ({storage.soc_max})")
    if storage.min_duration_h > storage.max_duration_h:
        raise InputError("storage.min_duration_h", "must not exceed storage.max_duration_h")
    if len(set(storage.candidates)) != len(storage.candidates):
        raise InputError("storage.candidates", "lists a bus twice")
    for bus in storage.fixed_sites:
        if bus not in storage.candidates:
            raise InputError("storage.fixed_sites", f"bus {bus} is not one of storage.candidates")

    s = root.table("chargers")
    stations = []
    for t in s.tables("stations"):
        stations.append(Station(bus=t.number("bus", integer=True, lo=0), evs=t.number("evs", integer=True, lo=0)))
        t.done()
    chargers = ChargerConfig(
        stations=tuple(stations),
        max_capacity_mw=s.number("max_capacity_mw", 0.0, lo=0),
        cost_eur_per_mw=s.number("cost_eur_per_mw", 0.0, lo=0),
        lifetime_years=s.number("lifetime_years", 10.0, lo=0, lo_open=True),
    )
    s.done()
    if len({st.bus for st in stations}) != len(stations):
        raise InputError("chargers.stations", "lists a bus twice; merge the fleets")

    s = root.table("ev")
    ev = EVConfig(
        battery_kwh=s.number("battery_kwh", 40.0, lo=0, lo_open=True),
        charger_kw=s.number("charger_kw", 3.6, lo=0, lo_open=True),
        efficiency=s.number("efficiency", 0.9, lo=0, lo_open=True, hi=1),
        target_soc=s.number("target_soc", 1.0, lo=0, hi=1),
        controllable_share=s.number("controllable_share", 0.5, lo=0, hi=1),
        v2g=s.flag("v2g", False),
        aggregation=s.text("aggregation", "envelope", ("envelope", "interval", "individual")),
        reactive_support=s.flag("reactive_support", False),
        soc_min=s.number("soc_min", 0.2, lo=0, hi=1),
        sessions_csv=str((path.parent / s.text("sessions_csv", "")).resolve()) if s.data.get("sessions_csv") else "",
    )
    s.used.add("sessions_csv")
    s.done()

    s = root.table("scenarios")
    source_kind = s.text("source", "synthetic", ("synthetic", "explicit", "year"))
    explicit = []
    for i, t in enumerate(s.tables("day")):
        explicit.append(ExplicitDay(day=t.number("day", i, integer=True, lo=0), weight=t.number("weight", lo=0),
                                    load_scale=t.series("load_scale", lo=0), pv_scale=t.series("pv_scale", [0.0], lo=0)))
        t.done()
    scenarios = ScenarioConfig(source=source_kind, days=s.number("count", 6, lo=1, integer=True),
                               seed=s.number("seed", 0, lo=0, integer=True), explicit=tuple(explicit),
                               k=s.number("k", 10, lo=1, integer=True),
                               metric=s.text("metric", "euclidean", ("euclidean", "cityblock", "chebyshev")),
                               normalisation=s.text("normalisation", "zscore", ("zscore", "minmax")),
                               backend=s.text("backend", "kmedoids", ("kmedoids", "sklearn_extra")))
    s.done()
    if ev.sessions_csv and source_kind != "year":
        raise InputError("ev.sessions_csv", "real sessions need dated days: use scenarios.source = 'year'")
    if source_kind == "explicit" and not explicit:
        raise InputError("scenarios.day", "source = 'explicit' needs at least one [[scenarios.day]] table")

    s = root.table("investment")
    investment = InvestmentConfig(
        discount_rate=s.number("discount_rate", 0.05, lo=0),
        budget_eur=s.number("budget_eur", math.inf, lo=0),
        max_storage_sites=s.number("max_storage_sites", 1_000_000, lo=0, integer=True),
    )
    s.done()

    s = root.table("economics")
    economics = EconomicsConfig(upgrade_cost_eur_per_mw_year=s.number("upgrade_cost_eur_per_mw_year", 0.0, lo=0))
    s.done()

    s = root.table("benders")
    benders = BendersConfig(tol=s.number("tol", 1e-4, lo=0, lo_open=True),
                            max_iter=s.number("max_iter", 100, lo=1, integer=True),
                            time_limit_s=s.number("time_limit_s", 3600.0, lo=0, lo_open=True),
                            multicut=s.flag("multicut", True), lp_phase=s.flag("lp_phase", False),
                            stabilisation=s.text("stabilisation", "interior-level", ("level", "interior-level",
                                                                             "trust-region", "in-out", "none")),
                            in_out_alpha=s.number("in_out_alpha", 0.5, lo=0, lo_open=True, hi=1))
    s.done()
    root.done()

    return Case(name=name, path=path, network=network, time=time, model=model, prices=prices, pv=tuple(pv),
                profiles=profiles, storage=storage, chargers=chargers, ev=ev, scenarios=scenarios, investment=investment,
                benders=benders, economics=economics)
