"""Load a feeder as a pandapower net: a built-in case or any pandapower JSON file."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

from ..errors import InputError

BUILT_IN = {
    "case33bw": "IEEE 33-bus (Baran & Wu), pandapower.networks.case33bw",
    "cigre_mv": "CIGRE MV benchmark without DER, pandapower.networks.create_cigre_network_mv",
}


def load_net(source: str):
    """`pandapower:<name>` for a built-in feeder, otherwise a path to a pandapower JSON file."""
    # pandapower warns on import that numba is missing; that only slows its power flow, which is not on our hot path.
    logging.getLogger("pandapower").setLevel(logging.ERROR)
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
    try:
        return pp.from_json(str(path))
    except Exception as exc:  # pandapower raises many types for a bad file
        raise InputError("network.source", f"'{path}' is not a pandapower JSON network ({exc})") from None
