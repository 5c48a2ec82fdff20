"""Pictures of a plan, each readable without the code: title with case and day, units, legend.

feeder_map.png, voltage_bands.png, line_loading.png, line_flows.png, storage_energy.png,
ev_stations.png, and convergence.png for Benders.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from ..instance import Instance
from ..network import load_net
from ..result import BUILT, DaySolution, Iteration, PlanResult


def pyplot():
    """matplotlib's pyplot on the Agg backend (files only, no display), imported on first use."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _grid(n: int, width: float = 3.4, height: float = 2.6):
    plt = pyplot()
    cols = min(n, 5)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), sharex=True, sharey=True,
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return plt, fig, axes.flat


def _hours(day):
    return np.arange(day.steps) * day.dt_h


def _ticks(ax, day):
    x = _hours(day)
    idx = np.arange(0, day.steps, max(1, day.steps // 4))
    ax.set_xticks(x[idx], [f"{day.clock_h[i]:02.0f}h" for i in idx], fontsize=7)


def _save(plt, fig, path, dpi: int = 100) -> None:
    """Into `path`: a file name or a binary buffer (a figure drawn on another rank)."""
    fig.tight_layout()
    # tight_layout leaves a placeholder layout engine, for which savefig draws the whole figure once more
    # before drawing it into the PNG (~20 % of a figure's time); without it the bytes are the same
    fig.set_layout_engine(None)
    fig.savefig(path, dpi=dpi, format="png")
    plt.close(fig)


def bus_positions(inst: Instance) -> np.ndarray:
    """(N × 2) drawing coordinates: the feeder's geodata when every bus has it, else a tree layout."""
    net = load_net(inst.case.network.source)
    ref = inst.ref
    if "geo" in net.bus and net.bus.geo.loc[ref.bus_ids].notna().all():
        return np.array([json.loads(g)["coordinates"][:2] for g in net.bus.geo.loc[ref.bus_ids]])
    depth = np.zeros(ref.n_bus)
    for i in range(1, ref.n_bus):
        depth[i] = depth[ref.parent[i]] + 1
    order = np.zeros(ref.n_bus)
    for d in np.unique(depth):
        members = np.flatnonzero(depth == d)
        order[members] = np.arange(len(members))
    return np.column_stack([depth, -order])


def feeder_map(inst: Instance, plan: np.ndarray, solutions: list[DaySolution], path) -> None:
    plt = pyplot()
    ref, fs = inst.ref, inst.first
    xy = bus_positions(inst)
    e, p, c = fs.split(plan)
    fig, ax = plt.subplots(figsize=(9, 6.5))
    for j in range(1, ref.n_bus):
        i = ref.parent[j]
        ax.plot(xy[[i, j], 0], xy[[i, j], 1], color="0.6", lw=1.2, zorder=1)
    ax.scatter(xy[:, 0], xy[:, 1], s=12, color="0.3", zorder=2, label="bus")
    ax.scatter(*xy[0], s=120, marker="s", color="black", zorder=3, label="substation")
    for i, bus in enumerate(ref.bus_ids):
        ax.annotate(str(bus), xy[i], fontsize=6, xytext=(2, 2), textcoords="offset points", color="0.35")
    if len(inst.ref.pv_bus):
        ax.scatter(xy[inst.ref.pv_bus, 0], xy[inst.ref.pv_bus, 1], s=90, marker="^", color="gold", edgecolor="k",
                   zorder=4, label="PV")
    built = (e > BUILT) | (p > BUILT)
    if built.any():
        where = inst.ref.storage_bus[built]
        ax.scatter(xy[where, 0], xy[where, 1], s=80 + 250 * e[built], color="tab:green", edgecolor="k", zorder=5,
                   label="storage (area ∝ MWh)")
        for k in np.flatnonzero(built):
            ax.annotate(f"{e[k]:.2f} MWh / {p[k]:.2f} MW", xy[inst.ref.storage_bus[k]], fontsize=8, color="tab:green",
                        xytext=(6, -12), textcoords="offset points")
    if len(c) and (c > BUILT).any():
        ax.scatter(xy[inst.ref.station_bus, 0], xy[inst.ref.station_bus, 1], s=80 + 600 * c, marker="D", color="tab:blue",
                   edgecolor="k", zorder=5, label="EV chargers (area ∝ MW)")
        for n, bus in enumerate(inst.ref.station_bus):
            ax.annotate(f"{c[n]:.2f} MW", xy[bus], fontsize=8, color="tab:blue", xytext=(6, 6),
                        textcoords="offset points")
    ax.set_title(f"{inst.case.name}: planned storage and charger capacity on the feeder")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.margins(0.12)
    ax.legend(loc="best", fontsize=8, markerscale=0.5)
    _save(plt, fig, path)


def weighted_quantiles(samples: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    """(len(qs), rows): for each row of `samples` (rows × n), the least value whose share of the total
    `weights` (n,) at or below it reaches q (the inverted CDF; numpy's own weighted quantile needs numpy ≥ 2,
    and we support 1.26)."""
    order = np.argsort(samples, axis=1)
    ordered = np.take_along_axis(samples, order, axis=1)
    share = np.cumsum(weights[order], axis=1)
    share /= share[:, -1:]
    rows = np.arange(samples.shape[0])
    return np.array([ordered[rows, np.argmax(share >= q - 1e-12, axis=1)] for q in qs])


def _days_as_lines(ax, inst: Instance, x: np.ndarray, curves: np.ndarray, label: str, lw: float = 0.8):
    """One line per day (rows of `curves`), coloured by day of the year, drawn as one collection (365 days
    draw as fast as 10); → the collection, for a colour bar."""
    from matplotlib.collections import LineCollection

    days = np.array([d.day for d in inst.days])
    alpha = 0.9 if len(days) <= 20 else 0.35
    lines = LineCollection([np.column_stack([x, c]) for c in curves], cmap="viridis", lw=lw, alpha=alpha,
                           label=label)
    lines.set_array(days)
    lines.set_clim(0, 365)
    ax.add_collection(lines)
    ax.set_xlim(x[0], x[-1])
    return lines


def _planned_days(inst: Instance) -> str:
    n = len(inst.days)
    return f"the {n} planned days" if n > 1 else f"its one planned day (day {inst.days[0].day})"


def voltage_bands(inst: Instance, plan: np.ndarray, solutions: list[DaySolution], path) -> None:
    """Per step of the day, over every bus but the substation and every day, weighted by the days' shares of
    the year: the min–max band, the 5–95 % band and the median; each day's lowest bus voltage as a line."""
    plt = pyplot()
    ref, day0 = inst.ref, inst.days[0]
    v = np.stack([sol.dispatch["v_pu"][1:] for sol in solutions])               # (days, buses, T)
    samples = v.transpose(2, 0, 1).reshape(v.shape[2], -1)                      # (T, days · buses)
    weights = np.repeat([d.weight for d in inst.days], v.shape[1])
    q = weighted_quantiles(samples, weights, [0.05, 0.5, 0.95])
    x = _hours(day0)
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.fill_between(x, samples.min(1), samples.max(1), color="tab:blue", alpha=0.12, label="min–max")
    ax.fill_between(x, q[0], q[2], color="tab:blue", alpha=0.3, label="5–95 % (day-weighted)")
    ax.plot(x, q[1], color="tab:blue", lw=1.8, label="median")
    lines = _days_as_lines(ax, inst, x, v.min(axis=1), "each day's lowest bus")
    ax.axhline(ref.v_min_pu, color="tab:red", ls="--", lw=0.8, label="limits")
    ax.axhline(ref.v_max_pu, color="tab:red", ls="--", lw=0.8)
    _ticks(ax, day0)
    ax.set_xlabel("time of day")
    ax.set_ylabel("voltage [pu]")
    ax.legend(fontsize=7, loc="lower left")
    if len(inst.days) > 1:
        fig.colorbar(lines, ax=ax, label="day of the year")
    ax.set_title(f"{inst.case.name}: voltage across buses over {_planned_days(inst)}", fontsize=10)
    _save(plt, fig, path)


def _peak_day(solutions: list[DaySolution]) -> int:
    key = "loading" if "loading" in solutions[0].dispatch else "p_line_mw"
    return int(np.argmax([np.abs(s.dispatch[key]).max() for s in solutions]))


def line_loading(inst: Instance, plan: np.ndarray, solutions: list[DaySolution], path) -> None:
    plt = pyplot()
    k = _peak_day(solutions)
    day, d = inst.days[k], solutions[k].dispatch
    ref = inst.ref
    loading = d["loading"] if "loading" in d else np.hypot(d["p_line_mw"], d["q_line_mvar"]) / ref.base_mva \
        / ref.i_max_pu[:, None]
    fig, ax = plt.subplots(figsize=(9, 0.18 * ref.n_line + 2))
    im = ax.imshow(100 * loading, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(ref.n_line), [f"{ref.bus_ids[ref.parent[j + 1]]}→{ref.bus_ids[j + 1]}"
                                      for j in range(ref.n_line)], fontsize=6)
    idx = np.arange(0, day.steps, max(1, day.steps // 8))
    ax.set_xticks(idx, [f"{day.clock_h[i]:02.0f}h" for i in idx], fontsize=7)
    ax.set_xlabel("time of day")
    ax.set_ylabel("branch (from bus → to bus)")
    fig.colorbar(im, ax=ax, label="loading [% of rating]")
    ax.set_title(f"{inst.case.name}: branch loading on day {day.day} (the day of peak loading)")
    _save(plt, fig, path)


def line_flows(inst: Instance, plan: np.ndarray, solutions: list[DaySolution], path) -> None:
    plt = pyplot()
    k = _peak_day(solutions)
    day, d = inst.days[k], solutions[k].dispatch
    ref = inst.ref
    fig, ax = plt.subplots(figsize=(9, 5))
    colours = plt.cm.viridis(np.linspace(0, 1, ref.n_line))
    for j in range(ref.n_line):
        label = f"{ref.bus_ids[ref.parent[j + 1]]}→{ref.bus_ids[j + 1]}" if j < 6 else None
        ax.plot(_hours(day), d["p_line_mw"][j], color=colours[j], lw=1, label=label)
    _ticks(ax, day)
    ax.set_xlabel("time of day")
    ax.set_ylabel("active power flow [MW] (sending end)")
    ax.set_title(f"{inst.case.name}: active power flow per branch on day {day.day}")
    ax.legend(fontsize=7, title="branches (first 6 of colour scale)", title_fontsize=7)
    _save(plt, fig, path)


def storage_energy(inst: Instance, plan: np.ndarray, solutions: list[DaySolution], path) -> None:
    """One panel per built unit: its state of energy on every planned day (coloured by day of the year) and
    the day-weighted mean."""
    e_cap, _, _ = inst.first.split(plan)
    built = np.flatnonzero(e_cap > BUILT)
    panels = max(1, len(built))
    plt, fig, axes = _grid(panels, width=max(4.5, 9.0 / panels), height=3.2)     # at least 9 in: the title fits
    day0, ref = inst.days[0], inst.ref
    x = np.arange(day0.steps + 1) * day0.dt_h
    weights = np.array([d.weight for d in inst.days])
    lines = None
    for ax, k in zip(axes, built):
        e = np.array([sol.dispatch["storage_e_mwh"][k] for sol in solutions])          # (days, T + 1)
        lines = _days_as_lines(ax, inst, x, e, "each day")
        ax.plot(x, weights @ e / weights.sum(), color="black", lw=1.8, label="day-weighted mean")
        ax.axhline(e_cap[k], color="tab:red", ls="--", lw=0.8, label="energy rating")
        ax.set_title(f"bus {ref.bus_ids[inst.ref.storage_bus[k]]} ({e_cap[k]:.2f} MWh)", fontsize=8)
        _ticks(ax, day0)
    axes[0].set_ylabel("state of energy [MWh]")
    if len(built):
        axes[0].legend(fontsize=6)
    else:
        axes[0].text(0.5, 0.5, "no storage built", ha="center", va="center", transform=axes[0].transAxes)
    if lines is not None and len(inst.days) > 1:   # beside the last panel (spanning several defeats tight_layout)
        fig.colorbar(lines, ax=ax, use_gridspec=True, label="day of the year")
    fig.suptitle(f"{inst.case.name}: storage state of energy over {_planned_days(inst)}")
    _save(plt, fig, path)


def ev_stations(inst: Instance, plan: np.ndarray, solutions: list[DaySolution], path) -> None:
    plt, fig, axes = _grid(len(inst.ref.station_bus))
    k = _peak_day(solutions)
    day, d = inst.days[k], solutions[k].dispatch
    _, _, cap = inst.first.split(plan)
    floor = inst.case.model.capacity_floor * inst.first.x_max[2 * inst.first.n_storage:]
    for n, ax in enumerate(list(axes)[: len(inst.ref.station_bus)]):
        x = _hours(day)
        upper = day.ev.flex_p_max_mw[n] + day.ev.fixed_p_mw[n]
        ax.fill_between(x, 0, upper, step="post", color="tab:blue", alpha=0.15, label="envelope power bound")
        ax.step(x, day.ev.fixed_p_mw[n], where="post", color="tab:orange", lw=1, label="uncontrolled share")
        ax.step(x, d["ev_p_mw"][n], where="post", color="tab:blue", lw=1.8, label="station power")
        ax.axhline(cap[n] + floor[n], color="tab:red", ls="--", lw=0.8, label="charger capacity")
        ax.set_title(f"bus {inst.ref.bus_ids[inst.ref.station_bus[n]]}, day {day.day}", fontsize=8)
        _ticks(ax, day)
    axes[0].set_ylabel("power [MW]")
    axes[0].legend(fontsize=6)
    fig.suptitle(f"{inst.case.name}: EV station power against its aggregate region")
    _save(plt, fig, path)


def convergence(inst: Instance, history: list[Iteration], path) -> None:
    """Benders' bounds and relative gap by iteration (from the first finite lower bound)."""
    plt = pyplot()
    from matplotlib.ticker import LogFormatter
    rows = [h for h in history if np.isfinite(h.lower_bound)]
    it = [h.iteration for h in rows]
    fig, (ax, ax_gap) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    ax.plot(it, [h.lower_bound / 1e3 for h in rows], label="lower bound")
    ax.plot(it, [h.upper_bound / 1e3 for h in rows], label="upper bound")
    ax.set_ylabel("expected cost [kEUR/year]")
    ax.set_title(f"Benders convergence — {inst.case.name}")
    ax.legend()
    ax_gap.semilogy(it, [max(h.gap, 1e-12) for h in rows], color="tab:red", label="relative gap")
    # plain-text tick labels (1e−04): matplotlib's default typesets each with mathtext, a third of this figure
    ax_gap.yaxis.set_major_formatter(LogFormatter())
    ax_gap.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))     # labels only when decades are few
    ax_gap.set_xlabel("iteration")
    ax_gap.set_ylabel("relative gap [-]")
    ax_gap.legend()
    _save(plt, fig, path, dpi=110)


PLOTS = {"feeder_map.png": feeder_map, "voltage_bands.png": voltage_bands, "line_loading.png": line_loading,
         "line_flows.png": line_flows, "storage_energy.png": storage_energy, "ev_stations.png": ev_stations}
CONVERGENCE = "convergence.png"


def plot_names(inst: Instance, method: str = "benders") -> list[str]:
    """The figures a plan gets: no storage figure without candidates, no station figure without stations, the
    convergence figure for Benders only."""
    skip = {"storage_energy.png"} if not inst.first.n_storage else set()
    skip |= {"ev_stations.png"} if not len(inst.ref.station_bus) else set()
    return [name for name in PLOTS if name not in skip] + ([CONVERGENCE] if method == "benders" else [])


def plot_all(inst: Instance, res: PlanResult, directory: Path, names: list[str] | None = None) -> None:
    """The figures `names` (default: plot_names) into `directory`."""
    for name in plot_names(inst, res.method) if names is None else names:
        _draw(inst, name, res.x, res.solutions, res.history, Path(directory) / name)


def rank_share(inst: Instance, rank: int, size: int, first: int = 1) -> list[str]:
    """The figures of a Benders plan that rank `rank` of `size` draws when the run ends on several ranks,
    dealt from rank `first` on, convergence.png first (once the costliest, 0.22 s on the default case; since its
    tick labels are plain text 0.15 s, the others 0.11–0.17 s). From rank 1 by default: rank 0, which writes every
    file after them, gets the fewest; from rank 0 where the others have the baseline's days left to solve
    (workflows/final.py)."""
    names = [CONVERGENCE] + [name for name in plot_names(inst) if name != CONVERGENCE]
    return [name for i, name in enumerate(names) if (i + first) % size == rank]


def drawing_ranks(inst: Instance, size: int) -> int:
    """How many of `size` ranks `rank_share` gives figures to: ranks 0 … one per figure, no more."""
    return min(size, len(plot_names(inst)) + 1)


def render(inst: Instance, plan: np.ndarray, solutions: list[DaySolution], history: list[Iteration],
           names: list[str]) -> dict[str, bytes]:
    """The figures `names` as PNG bytes, the same bytes `plot_all` writes (for rank 0 to write)."""
    drawn = {}
    for name in names:
        buffer = io.BytesIO()
        _draw(inst, name, plan, solutions, history, buffer)
        drawn[name] = buffer.getvalue()
    return drawn


def _draw(inst: Instance, name: str, plan: np.ndarray, solutions: list[DaySolution], history: list[Iteration],
          path) -> None:
    if name == CONVERGENCE:
        convergence(inst, history, path)
    else:
        PLOTS[name](inst, plan, solutions, path)
