"""Load a feeder as a pandapower net: a built-in case, a SimBench grid, a pandapower JSON file or a MATPOWER
case file (pandapower's converter).

Closed bus-bus switches are fused into one bus (pandapower's `fuse_buses`) and transformers that then run in
parallel between the same two buses become one with `parallel = n`, so substations modelled as two busbars
with a coupler (SimBench) come out as the radial tree the formulations need.
"""
from __future__ import annotations

import copy
import logging
import warnings
from functools import lru_cache
from pathlib import Path

from ..errors import InputError

BUILT_IN = {
    "case33bw": "IEEE 33-bus (Baran & Wu), pandapower.networks.case33bw",
    "cigre_mv": "CIGRE MV benchmark without DER, pandapower.networks.create_cigre_network_mv",
}


def load_net(source: str):
    """`pandapower:<name>` built-in, `simbench:<grid code>` (shipped with the simbench package; its static
    generators are dropped: a case models them as [[pv]] units with their own profiles), a pandapower JSON
    path, or a MATPOWER case file (`.m` or `.mat`; bus numbers are its BUS_I)."""
    logging.getLogger("pandapower").setLevel(logging.ERROR)
    path = Path(source)
    stamp = path.stat().st_mtime_ns if path.is_file() else None
    return copy.deepcopy(_loaded_net(source, stamp))


@lru_cache(maxsize=4)
def _loaded_net(source: str, stamp: int | None):
    """Read once per process and file version (`stamp`): a plan needs the feeder for its model, the baseline,
    the AC check and the map, and reading case33bw takes ~0.45 s each time; callers get their own copy."""
    if source.startswith("simbench:"):
        net = copy.deepcopy(simbench_net(source.split(":", 1)[1], "network.source"))
        net.sgen.drop(net.sgen.index, inplace=True)
    else:
        net = _read_net(source)
    return _merge_parallel_trafos(_fuse_closed_bus_switches(net))


def simbench_net(code: str, field: str):
    """A SimBench grid with its profiles (`net.profiles`); shared, callers must not modify it."""
    try:
        return _simbench_net(code)
    except Exception as exc:   # simbench raises plain ValueError/KeyError for unknown codes
        raise InputError(field, f"'{code}' is not a SimBench grid code ({exc})") from None


@lru_cache(maxsize=2)
def _simbench_net(code: str):
    """Reading a SimBench grid takes 6–13 s and a plan needs its net and profiles several times."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simbench

        return simbench.get_simbench_net(code)


def _fuse_closed_bus_switches(net):
    import pandapower.toolbox as tb

    sw = net.switch
    coupled = sw[(sw.et == "b") & sw.closed.astype(bool)] if len(sw) else sw
    for idx, row in coupled.iterrows():
        keep, gone = int(row.bus), int(row.element)
        net.switch.drop(idx, inplace=True)
        if keep != gone:
            tb.fuse_buses(net, keep, {gone})
    return net


def _merge_parallel_trafos(net):
    """Identical in-service transformers between the same buses → one with `parallel` = their count."""
    live = net.trafo[net.trafo.in_service.astype(bool)]
    params = ["hv_bus", "lv_bus", "sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent"]
    for _, group in live.groupby(params[:2]):
        if len(group) > 1 and (group[params].nunique() == 1).all():
            first = group.index[0]
            net.trafo.loc[first, "parallel"] = group.parallel.sum()
            net.trafo.drop(group.index[1:], inplace=True)
            if len(net.switch):
                net.switch.drop(net.switch.index[(net.switch.et == "t") & net.switch.element.isin(group.index[1:])],
                                inplace=True)
    return net


def _read_net(source: str):
    # pandapower warns on import that numba is missing; that only slows its power flow, which is not on our hot path.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower as pp
        import pandapower.networks as pn

    if source.startswith("pandapower:"):
        name = source.split(":", 1)[1]
        if name == "case33bw":
            return pn.case33bw()
        if name == "cigre_mv":
            return pn.create_cigre_network_mv(with_der=False)
        raise InputError("network.source", f"unknown built-in feeder '{name}'; use one of {', '.join(BUILT_IN)}"
                         " or a pandapower JSON path")
    path = Path(source)
    if not path.is_file():
        raise InputError("network.source", f"file '{path}' not found")
    if path.suffix.lower() in (".m", ".mat"):
        return _read_matpower(path)
    try:
        return pp.from_json(str(path))
    except Exception as exc:  # pandapower raises many types for a bad file
        raise InputError("network.source", f"'{path}' is not a pandapower JSON network ({exc})") from None


def _read_matpower(path: Path):
    """A MATPOWER case (version 2) through pandapower's converter; buses renumbered to the file's BUS_I, so
    the case file and every output use MATPOWER's bus numbers (pandapower numbers them 0..N−1 by row)."""
    import pandapower.toolbox as tb
    from pandapower.converter.matpower import from_mpc

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = from_mpc(str(path))
            bus_i = _matpower_bus_numbers(path)
    except Exception as exc:   # the converter and its parsers raise many types for a bad file
        raise InputError("network.source", f"'{path}' is not a MATPOWER case file ({exc})") from None
    if len(bus_i) != len(net.bus) or len(set(bus_i)) != len(bus_i):
        raise InputError("network.source", f"'{path}': its BUS_I column does not number its buses one to one")
    tb.reindex_buses(net, dict(zip(net.bus.index, bus_i)))
    return net


def _matpower_bus_numbers(path: Path) -> list[int]:
    if path.suffix.lower() == ".mat":
        from scipy.io import loadmat

        bus = loadmat(str(path), squeeze_me=True, struct_as_record=False)["mpc"].bus
    else:
        from matpowercaseframes import CaseFrames

        bus = CaseFrames(str(path)).bus.to_numpy()
    return [int(b) for b in bus[:, 0]]
