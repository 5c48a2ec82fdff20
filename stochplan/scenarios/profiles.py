"""A year of profiles: SimBench's (shipped inside the `simbench` package) or a user CSV.

A profile table has a regular DatetimeIndex and one column per profile type:
- load profiles are multipliers of a bus's peak load (SimBench's household H0-*, agricultural L*-A,
  commercial G*-A load profiles have a yearly maximum of 1);
- PV profiles are output per unit of installed capacity.
The table is resampled to the case's step by averaging power over each step (energy-preserving).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError


@lru_cache(maxsize=8)
def simbench_profiles(grid_code: str, wanted: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Load and PV profiles of the SimBench scenario of `grid_code` (15 min, year 2016, local time), columns
    by profile name: every profile of that scenario, of which a grid uses some (the same values: SimBench
    extracts a grid's profiles from these tables), or only those `wanted` — read column by column, 0.24
    instead of 0.5 s for the default case's six — unless one of them is not there (then every profile, for
    the caller to name the missing one among them).

    Generation profiles (PV*, WP* wind, BM* biomass, Hydro*, and the aggregated rooftop generation of LV
    grids, lv_*) are per unit of installed power; one that shares its name with a load profile (lv_*) gets
    the suffix `_res`.

    Only the two profile tables are read, not the grid with them (`get_simbench_net`, 2.7 s in every
    process, on a feeder that is not SimBench's). Cached: a plan reads the year twice (its days and the
    economics baseline), a study once per share. Callers must not modify the returned table."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simbench
    codes = simbench.collect_all_simbench_codes()
    if grid_code not in codes:
        raise InputError("profiles.simbench_grid", f"'{grid_code}' is not a SimBench grid code; give one of the "
                                                   f"{len(codes)} codes, e.g. '1-LV-rural1--0-sw'")
    _, code = simbench.get_simbench_code_and_parameters(grid_code)
    folder = Path(simbench.complete_data_path(code[5]))
    where = _profile_columns(folder)              # profile name → (table, its column)
    if wanted is not None and set(wanted) <= where.keys():
        table = _profile_table(folder, {name: where[name] for name in wanted})
        if set(wanted) <= set(table.columns):
            return table
    return _profile_table(folder, where)


def _profile_columns(folder: Path) -> dict[str, tuple[str, str]]:
    """Every profile's name → (its table, its column), from the two tables' headers."""
    load = pd.read_csv(folder / "LoadProfile.csv", sep=";", nrows=0).columns
    loads = {c[: -len("_pload")]: ("LoadProfile", c) for c in load if c.endswith("_pload")}
    pv = pd.read_csv(folder / "RESProfile.csv", sep=";", nrows=0).columns
    return loads | {f"{c}_res" if c in loads else c: ("RESProfile", c) for c in pv if c != "time"}


def _profile_table(folder: Path, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """The profiles `columns` (name → (table, column)) as one table on a regular 15-minute index."""
    needed = {table: sorted({column for t, column in columns.values() if t == table})
              for table in ("LoadProfile", "RESProfile")}
    read = {table: pd.read_csv(folder / f"{table}.csv", sep=";", index_col=False, usecols=["time"] + cols)
            for table, cols in needed.items() if cols or table == "LoadProfile"}   # (its time stamps)
    load = read["LoadProfile"]
    # The 35 136 quarter-hours of 2016 form a regular local-time series in which the daylight-saving shifts
    # are absorbed; parsing the stamps would open a gap in March and a doubled hour in October.
    first = pd.to_datetime(load["time"].iloc[0], format="%d.%m.%Y %H:%M")
    index = pd.date_range(first, periods=len(load), freq="15min")
    values = {name: read[table][column].to_numpy(dtype=float) for name, (table, column) in columns.items()}
    # hv_mixed* aggregate HV load and generation: negative, not multipliers of a load (wind and heat-pump profiles
    # dip to −1e-5, rounding in SimBench's own data, which its grids use as they are)
    values = {name: v for name, v in values.items() if v.min() >= -1e-4}
    return pd.DataFrame(values, index=pd.DatetimeIndex(index, name="time"))


def csv_profiles(path: Path) -> pd.DataFrame:
    """A user CSV: a `time` column of timestamps, then one column per profile named `<profile> [pu]`.

    Checked: timestamps parse, are strictly increasing and regular, cover whole days; every value is a
    number, not NaN and not negative. Each problem is one error naming the file, column and row."""
    field = f"profiles.csv ({path})"
    if not Path(path).is_file():
        raise InputError("profiles.csv", f"file '{path}' not found")
    try:
        table = pd.read_csv(path)
    except Exception as exc:
        raise InputError(field, f"is not a readable CSV ({exc})") from None
    if "time" not in table.columns:
        raise InputError(field, "needs a 'time' column of timestamps")
    times = pd.to_datetime(table["time"], errors="coerce")
    if times.isna().any():
        row = int(np.flatnonzero(times.isna())[0])
        raise InputError(f"{field}, column time, row {row + 2}", f"'{table['time'].iloc[row]}' is not a timestamp")
    steps = np.diff(times.to_numpy()).astype("timedelta64[s]").astype(float)
    if len(steps) == 0 or steps[0] <= 0 or (steps != steps[0]).any():
        row = int(np.flatnonzero(steps != steps[0])[0]) + 3 if len(steps) and steps[0] > 0 else 3
        raise InputError(f"{field}, column time, row {row}", "timestamps must be increasing at one regular step")
    per_day = 86400.0 / steps[0]
    if per_day != int(per_day) or len(times) % int(per_day) or times.iloc[0] != times.iloc[0].normalize():
        raise InputError(f"{field}, column time", f"must cover whole days from midnight at one step "
                                                  f"({len(times)} rows of {steps[0] / 60:g} min)")
    columns = {}
    for column in table.columns.drop("time"):
        name, _, unit = column.partition(" [")
        if unit.rstrip("]") not in ("pu", "p.u."):
            raise InputError(f"{field}, column {column}", "header must give the unit, e.g. 'H0-A [pu]'")
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if bad.size:
            raise InputError(f"{field}, column {column}, row {bad[0] + 2}",
                             f"value '{table[column].iloc[bad[0]]}' is missing, not a number or negative")
        columns[name.strip()] = values
    return pd.DataFrame(columns, index=pd.DatetimeIndex(times, name="time"))


def resample(table: pd.DataFrame, steps_per_day: int) -> pd.DataFrame:
    """Mean power over each of the case's steps (energy-preserving); finer than the data is an error."""
    step = pd.Timedelta(days=1) / steps_per_day
    data_step = table.index[1] - table.index[0]
    if step < data_step or step % data_step != pd.Timedelta(0):
        raise InputError("time.steps_per_day", f"{steps_per_day} steps a day do not fit the profiles' "
                                               f"{data_step} resolution; use a multiple of it")
    out = table.resample(step).mean()
    if out.isna().any().any():
        column = out.columns[out.isna().any()][0]
        raise InputError(f"profiles, column {column}", f"has no data at {out.index[out[column].isna()][0]}; "
                                                       "give a complete, regular series")
    return out


def daily_windows(table: pd.DataFrame, steps_per_day: int, start_h: float) -> tuple[np.ndarray, list[int]]:
    """(days × steps × profiles) horizons starting at `start_h` each day, and each horizon's day of year."""
    offset = int(round(start_h * steps_per_day / 24))
    values = table.to_numpy()[offset:]
    n_days = len(values) // steps_per_day
    return values[: n_days * steps_per_day].reshape(n_days, steps_per_day, -1), list(range(n_days))
