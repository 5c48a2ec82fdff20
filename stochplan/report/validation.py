"""The AC check's files: the summary of its table (workflows/validation.py runs it) and `stochplan validate`'s
validation.csv with the metrics merged into results.json."""
from __future__ import annotations

import pandas as pd

from ..result import dumps


def summary(table: pd.DataFrame) -> dict:
    ok = table[table.converged]
    return {"ac_max_voltage_diff_pu": float(ok.max_dv_pu.max()) if len(ok) else None,
            "ac_max_loading_diff": float(ok.max_dloading.max()) if len(ok) else None,
            "ac_max_losses_diff_mw": float((ok.losses_ac_mw - ok.losses_model_mw).abs().max()) if len(ok) else None,
            "ac_violations": int(ok.violations.sum()),
            "ac_nonconverged_steps": int((~table.converged).sum()), "ac_steps": int(len(table))}


def write_validation(out, doc: dict, table: pd.DataFrame) -> dict:
    """DIR/validation.csv and the summary into DIR/results.json's metrics, replaced together or not at all.
    `out` is DIR claimed (outdir.OutputDir), `doc` its results.json. → the summary."""
    found = summary(table)
    doc.setdefault("metrics", {}).update(found)
    with out.publish(replace_all=False) as tmp:
        table.to_csv(tmp / "validation.csv", index=False, float_format="%.6g")
        (tmp / "results.json").write_text(dumps(doc, indent=2) + "\n")
    return found
