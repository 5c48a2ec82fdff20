"""Case files: TOML → one typed, validated `Case`.

Every key is declared once, as a field of its section's dataclass: its type, its default, its range
(`key(ge=…, gt=…, le=…, choices=…)`) and a comment saying what it means. One generic reader (`_read`) reads a
TOML table into its dataclass from those declarations, so that a user mistake stops before any solve with one
message naming the field (`storage.max_energy_mwh: must be ≥ 0, got -1`); the checks that tie fields
together are in `_check_case`. Units are in the field names, as in pandapower (`_mw`, `_mwh`, `_eur_per_mwh`).
"""
from __future__ import annotations

import math
import re
from dataclasses import MISSING, dataclass, field, fields
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


def key(default=MISSING, *, ge=None, gt=None, le=None, choices=None, toml=None, resolve=None, reader=None):
    """A case-file key: its default, its range (≥ ge, > gt, ≤ le) or `choices`, its name in the file when that
    differs from the field's (`toml`), a path to resolve against the case file's folder (`resolve`), or a
    reader of its own for nested tables (`reader(section, key, folder)`)."""
    meta = {"ge": ge, "gt": gt, "le": le, "choices": choices, "toml": toml, "resolve": resolve, "reader": reader}
    return field(default=default, metadata=meta)


def _relative_path(value: str, folder: Path) -> str:
    """A path given relative to the case file → absolute; empty stays empty."""
    return str((folder / value).resolve()) if value else ""


def _feeder_source(value: str, folder: Path) -> str:
    return value if value.startswith(("pandapower:", "simbench:")) else _relative_path(value, folder)


def _tables_of(cls):
    """Reader of an array of tables ([[...]]), each one `cls`."""
    return lambda s, name, folder: tuple(_read(cls, t, folder) for t in s.tables(name))


def _profile_buses(s, name, folder) -> tuple:
    mapping = s.table(name)
    pairs = tuple((profile, mapping.ints(profile)) for profile in list(mapping.data))
    mapping.done()
    return pairs


def _explicit_days(s, name, folder) -> tuple:
    return tuple(_read(ExplicitDay, t, folder, defaults={"day": i}) for i, t in enumerate(s.tables(name)))


@dataclass(frozen=True)
class NodalLoad:
    bus: int = key(ge=0)
    s_mva: float = key(ge=0)
    power_factor: float = key(gt=0, le=1)


@dataclass(frozen=True)
class NetworkConfig:
    # "pandapower:case33bw|cigre_mv", "simbench:<grid code>" or a path (pandapower JSON, MATPOWER .m/.mat)
    source: str = key(resolve=_feeder_source)
    base_mva: float = key(1.0, gt=0)
    default_max_i_ka: float | None = key(None, gt=0)   # used where the feeder has no rating (≥ 1000 kA)
    # without default_max_i_ka, branches with no rating: "error", or "unlimited" (no limit rows for them)
    unrated_branches: str = key("error", choices=("error", "unlimited"))
    substation_max_mva: float | None = key(None, gt=0)  # apparent-power limit at the root
    max_export_mw: float | None = key(None, ge=0)       # active power the feeder may send upstream; none: no limit
    v_min_pu: float = key(0.9, gt=0)
    v_max_pu: float = key(1.1, gt=0)
    v_substation_pu: float = key(1.0, gt=0)
    load_scale: float = key(1.0, ge=0)        # multiplies the feeder's own loads (peak values)
    # "feeder": the feeder's line charging, transformer magnetising branches and shunt elements are modelled
    # (network/ref.py: _shunts); "none": ignored (as in the DistFlow papers that drop them)
    shunts: str = key("feeder", choices=("feeder", "none"))
    loads: tuple[NodalLoad, ...] = key((), reader=_tables_of(NodalLoad))   # replace the feeder's loads


@dataclass(frozen=True)
class TimeConfig:
    steps_per_day: int = key(24, ge=1)
    horizon_start_h: float = key(0.0, ge=0, le=24)   # clock hour of step 0; 12 lets overnight EV sessions fit


@dataclass(frozen=True)
class ModelConfig:
    formulation: str = key("socp", choices=("socp", "lindistflow"))
    storage_model: str = key("virtual_resistance", choices=("virtual_resistance", "efficiency"))
    balance_weight_eur: float = key(0.0, ge=0)          # EUR per day per unit of balance index
    load_shed_cost_eur_per_mwh: float = key(3000.0, gt=0)
    ev_unmet_cost_eur_per_mwh: float = key(500.0, gt=0)
    # "power_factor": reactive load shed in proportion to the active; "active": active power only
    load_shed: str = key("power_factor", choices=("power_factor", "active"))
    # Capacity every candidate has before any build, as a share of its upper bound: existing equipment, part of
    # the model. 0 (the default) is the model as stated; Benders gets good cuts at zero capacity from its
    # proximal copy (formulations/operation.py: constraint_copy), not from free capacity.
    capacity_floor: float = key(0.0, ge=0, le=0.1)


@dataclass(frozen=True)
class PricesConfig:
    buy_eur_per_mwh: tuple[float, ...] = key()              # per clock hour (24 values) or per step
    sell_eur_per_mwh: tuple[float, ...] = key((0.0,))
    carbon_t_per_mwh: tuple[float, ...] = key((0.0,), ge=0)
    carbon_price_eur_per_t: float = key(0.0, ge=0)


@dataclass(frozen=True)
class PVUnit:
    bus: int = key(ge=0)
    capacity_mw: float = key(ge=0)
    profile: str = key("")                    # PV profile name (year scenarios)


@dataclass(frozen=True)
class ProfilesConfig:
    """Where a year of profiles comes from and which profile each bus follows (scenarios.source = "year")."""
    source: str = key("simbench", choices=("simbench", "csv"))
    simbench_grid: str = key("1-LV-rural1--0-sw")
    csv: str = key("", resolve=_relative_path)          # path, relative to the case file
    default_load_profile: str = key("H0-B")
    load_profile_buses: tuple[tuple[str, tuple[int, ...]], ...] = key((), reader=_profile_buses)   # (profile, buses)


@dataclass(frozen=True)
class StorageConfig:
    candidates: tuple[int, ...] = key(())
    siting: str = key("binary", choices=("binary", "relaxed", "fixed"))
    fixed_sites: tuple[int, ...] = key(())         # with siting = "fixed"
    max_energy_mwh: float = key(0.0, ge=0)
    max_power_mw: float = key(0.0, ge=0)
    min_duration_h: float = key(0.0, ge=0)
    max_duration_h: float = key(1e3, gt=0)
    energy_cost_eur_per_mwh: float = key(0.0, ge=0)   # capital cost
    power_cost_eur_per_mw: float = key(0.0, ge=0)
    site_cost_eur: float = key(0.0, ge=0)
    lifetime_years: float = key(15.0, gt=0)
    soc_min: float = key(0.0, ge=0, le=1)
    soc_max: float = key(1.0, ge=0, le=1)
    loss_resistance_pu: float = key(0.0, ge=0)        # virtual resistance on the system base
    efficiency_charge: float = key(1.0, gt=0, le=1)
    efficiency_discharge: float = key(1.0, gt=0, le=1)
    reactive_power: bool = key(True)                  # four-quadrant inverter ‖(p, q)‖ ≤ P; false: |p| ≤ P, q = 0


@dataclass(frozen=True)
class Station:
    bus: int = key(ge=0)
    evs: int = key(ge=0)


@dataclass(frozen=True)
class ChargerConfig:
    stations: tuple[Station, ...] = key((), reader=_tables_of(Station))
    max_capacity_mw: float = key(0.0, ge=0)
    cost_eur_per_mw: float = key(0.0, ge=0)
    lifetime_years: float = key(10.0, gt=0)


@dataclass(frozen=True)
class EVConfig:
    battery_kwh: float = key(40.0, gt=0)
    charger_kw: float = key(3.6, gt=0)
    efficiency: float = key(0.9, gt=0, le=1)
    target_soc: float = key(1.0, ge=0, le=1)
    controllable_share: float = key(0.5, ge=0, le=1)
    v2g: bool = key(False)
    aggregation: str = key("envelope", choices=("envelope", "interval", "individual"))   # station region
    reactive_support: bool = key(False)               # 4-quadrant chargers: p² + q² ≤ C² per station
    soc_min: float = key(0.2, ge=0, le=1)             # V2G floor
    sessions_csv: str = key("", resolve=_relative_path)   # real session records instead of sampling (year scenarios)


@dataclass(frozen=True)
class ExplicitDay:
    """A day given in the case file: scales of the feeder's loads and of PV capacity, per step."""
    day: int = key(ge=0)                      # default: its position among the [[scenarios.day]] tables
    weight: float = key(ge=0)
    load_scale: tuple[float, ...] = key(ge=0)
    pv_scale: tuple[float, ...] = key((0.0,), ge=0)


@dataclass(frozen=True)
class ScenarioConfig:
    source: str = key("synthetic", choices=("synthetic", "explicit", "year"))
    days: int = key(6, ge=1, toml="count")            # synthetic days
    seed: int = key(0, ge=0)
    explicit: tuple[ExplicitDay, ...] = key((), toml="day", reader=_explicit_days)
    k: int = key(10, ge=1)                            # representative days (year)
    metric: str = key("euclidean", choices=("euclidean", "cityblock", "chebyshev"))
    normalisation: str = key("zscore", choices=("zscore", "minmax"))
    backend: str = key("kmedoids", choices=("kmedoids", "sklearn_extra"))


@dataclass(frozen=True)
class InvestmentConfig:
    discount_rate: float = key(0.05, ge=0)
    budget_eur: float = key(math.inf, ge=0)
    max_storage_sites: int = key(1_000_000, ge=0)


@dataclass(frozen=True)
class EconomicsConfig:
    # value of deferring grid reinforcement, per MW of peak import cut
    upgrade_cost_eur_per_mw_year: float = key(0.0, ge=0)


@dataclass(frozen=True)
class BendersConfig:
    tol: float = key(1e-4, gt=0)
    max_iter: int = key(100, ge=1)
    time_limit_s: float = key(3600.0, gt=0)
    multicut: bool = key(True)
    lp_phase: bool = key(False)        # first converge on the LP relaxation of the master, then add integrality
    # decomposition/stabilisation.py: KINDS (the default chosen by measurement)
    stabilisation: str = key("interior-level", choices=("level", "interior-level", "trust-region", "in-out", "none"))
    in_out_alpha: float = key(0.5, gt=0, le=1)   # weight of the master point in the separation point
    # iteration 0 prices the exact plan of the planned days reduced to this many by K-Medoids
    # (decomposition/warmstart.py) instead of "build nothing"; 0: off, and so where it is ≥ the days planned
    warm_start_days: int = key(0, ge=0)
    # with a warm start, iteration 0 also prices the reduced problem's optimal plan of every other siting whose
    # optimum lies within this relative margin of the best (its branch-and-bound proves them); 0: the best only
    warm_start_within: float = key(0.0, ge=0, le=0.1)
    # plans priced in each round: the stabilised point, then (binary siting) those of the sitings not yet proven
    # worse, the master's own point, a deeper level point (stabilisation.py); side by side where the ranks are
    # at least twice the days. The rounds fall, the plans priced mostly rise (README, The model)
    points_per_round: int = key(1, ge=1)


@dataclass(frozen=True)
class PlanConfig:
    # how `stochplan plan` solves the case where --method is not given: Benders decomposition, or the exact
    # extensive form (branch-and-bound over the sites), the faster where there is little to decompose (one day)
    method: str = key("benders", choices=("benders", "ef"))


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
    plan: PlanConfig = field(default_factory=PlanConfig)


SECTIONS = {"network": NetworkConfig, "time": TimeConfig, "model": ModelConfig, "prices": PricesConfig,
            "profiles": ProfilesConfig, "storage": StorageConfig, "chargers": ChargerConfig, "ev": EVConfig,
            "scenarios": ScenarioConfig, "investment": InvestmentConfig, "economics": EconomicsConfig,
            "benders": BendersConfig, "plan": PlanConfig}


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
    """A case from its parsed TOML; paths in it are relative to `path`'s folder."""
    root = _Section(data, "")
    name = root.text("name", path.stem)
    if not SAFE_NAME.fullmatch(name):
        raise InputError("name", f"'{name}' is not a safe file name: use 1–64 letters, digits, '.', '_' or '-', "
                                 "starting with a letter or digit (it names the output directory)")
    folder = path.parent
    sections = {section: _read(cls, root.table(section), folder) for section, cls in SECTIONS.items()}
    pv = _tables_of(PVUnit)(root, "pv", folder)
    root.done()
    case = Case(name=name, path=path, pv=pv, **sections)
    _check_case(case)
    return case


def _read(cls, s: _Section, folder: Path, defaults: dict | None = None):
    """One TOML table → `cls`, each field read by its declared type and checked against its `key(...)`;
    unknown keys are an error."""
    values = {}
    for f in fields(cls):
        m, name = f.metadata, f.metadata.get("toml") or f.name
        default = (defaults or {}).get(f.name, None if f.default is MISSING else f.default)
        low = m.get("gt") if m.get("gt") is not None else m.get("ge")
        bounds = {"lo": low, "lo_open": m.get("gt") is not None, "hi": m.get("le")}
        if m.get("reader"):
            s.used.add(name)
            value = m["reader"](s, name, folder)
        elif f.type == "bool":
            value = s.flag(name, default)
        elif f.type == "str":
            value = s.text(name, default, m.get("choices"))
        elif f.type in ("float", "int"):
            value = s.number(name, default, integer=f.type == "int", **bounds)
        elif f.type == "float | None":
            value = s.optional_number(name, **bounds)
        elif f.type == "tuple[float, ...]":
            value = s.series(name, None if default is None else list(default), lo=low)
        elif f.type == "tuple[int, ...]":
            value = s.ints(name, None if default is None else list(default))
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no reader for the type {f.type}")
        values[f.name] = m["resolve"](value, folder) if m.get("resolve") else value
    s.done()
    return cls(**values)


def _check_case(case: Case) -> None:
    """The checks that tie fields together (each field's own range is checked as it is read)."""
    net, st, sc = case.network, case.storage, case.scenarios
    if net.v_min_pu >= net.v_max_pu:
        raise InputError("network.v_min_pu", f"must be below network.v_max_pu ({net.v_max_pu})")
    if not net.v_min_pu <= net.v_substation_pu <= net.v_max_pu:
        raise InputError("network.v_substation_pu", "must lie between v_min_pu and v_max_pu")
    if case.profiles.source == "csv" and not case.profiles.csv:
        raise InputError("profiles.csv", "source = 'csv' needs the path of the profile CSV")
    if st.soc_min >= st.soc_max:
        raise InputError("storage.soc_min", f"must be below storage.soc_max ({st.soc_max})")
    if st.min_duration_h > st.max_duration_h:
        raise InputError("storage.min_duration_h", "must not exceed storage.max_duration_h")
    if len(set(st.candidates)) != len(st.candidates):
        raise InputError("storage.candidates", "lists a bus twice")
    for bus in st.fixed_sites:
        if bus not in st.candidates:
            raise InputError("storage.fixed_sites", f"bus {bus} is not one of storage.candidates")
    stations = case.chargers.stations
    if len({s.bus for s in stations}) != len(stations):
        raise InputError("chargers.stations", "lists a bus twice; merge the fleets")
    if case.ev.sessions_csv and sc.source != "year":
        raise InputError("ev.sessions_csv", "real sessions need dated days: use scenarios.source = 'year'")
    if case.benders.warm_start_within > 0 and case.benders.warm_start_days == 0:
        raise InputError("benders.warm_start_within", "prices other sitings of the warm start's reduced problem: "
                         "set benders.warm_start_days too (2 on the shipped cases), or remove the key")
    if sc.source == "explicit" and not sc.explicit:
        raise InputError("scenarios.day", "source = 'explicit' needs at least one [[scenarios.day]] table")
