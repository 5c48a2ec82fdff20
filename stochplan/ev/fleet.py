"""Individual EV feasible sets over a day, vectorised over a fleet.

EV i, steps t = 1..T of Δt hours, plugged in a fraction f_it of step t, charger power p̄_i (grid side):
    0 ≤ p_ch,it ≤ p̄_i f_it,   0 ≤ p_dis,it ≤ p̄_i f_it · [V2G]                       [MW, grid side]
    E_i(t) = Δt Σ_{τ≤t} (η p_ch,iτ − p_dis,iτ / η)                                   [MWh, battery side]
    L_i(t) ≤ E_i(t) ≤ U_i(t),  E_i(T) ≥ R_i                                           [MWh]
E_i is the battery energy gained since the start of the horizon: it can rise at most to the room left
(target and full are capped at what the session can take), fall at most to the SOC floor (V2G), and must
reach the required energy R_i by departure. L and U are propagated forward and backward through the step
limits a_it = −Δt p̄ f / η · [V2G], b_it = Δt η p̄ f, so every value between them is reachable on a schedule
that stays feasible to the end (the set is a chain of intervals). Then an EV's own least and greatest
energy over any interval (s, t] have closed forms (see `interval_bounds`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sessions import Sessions, plugged_fraction


@dataclass(frozen=True)
class Fleet:
    """n EVs over T steps; energies battery side, relative to each EV's energy at the start of the horizon."""
    p_max_mw: np.ndarray     # (n, T) grid-side power limit while plugged in, p̄ f
    step_lo: np.ndarray      # (n, T) a: least energy change in a step (−Δt p̄ f / η with V2G, else 0)
    step_hi: np.ndarray      # (n, T) b: greatest energy change in a step (Δt η p̄ f)
    e_lo: np.ndarray         # (n, T+1) L, tight; column 0 is the start (0)
    e_hi: np.ndarray         # (n, T+1) U, tight
    required_mwh: np.ndarray  # (n,) R, battery side
    efficiency: float
    v2g: bool
    dt_h: float
    soc0: np.ndarray | None = None   # (n,) SOC at arrival, where known
    battery_mwh: float = 0.0         # battery size, where known

    @property
    def n(self) -> int:
        return self.p_max_mw.shape[0]

    @property
    def steps(self) -> int:
        return self.p_max_mw.shape[1]

    def subset(self, mask: np.ndarray) -> Fleet:
        return Fleet(self.p_max_mw[mask], self.step_lo[mask], self.step_hi[mask], self.e_lo[mask], self.e_hi[mask],
                     self.required_mwh[mask], self.efficiency, self.v2g, self.dt_h,
                     None if self.soc0 is None else self.soc0[mask], self.battery_mwh)

    def uncoordinated(self) -> np.ndarray:
        """(n × T) grid-side charging [MW] at full power from plug-in until the required energy is in."""
        gained = np.minimum(np.cumsum(self.step_hi, axis=1), self.required_mwh[:, None])
        per_step = np.diff(np.concatenate([np.zeros((self.n, 1)), gained], axis=1), axis=1)
        return per_step / (self.efficiency * self.dt_h)


def fleet_of(s: Sessions, steps: int, dt_h: float, efficiency: float, v2g: bool) -> Fleet:
    """The feasible sets of a day's sessions (grid-side energies in `Sessions` become battery side)."""
    eta = efficiency
    p_max = s.p_max_mw[:, None] * plugged_fraction(s, steps, dt_h)
    step_hi = dt_h * eta * p_max
    step_lo = -dt_h * p_max / eta if v2g else np.zeros_like(p_max)
    room = eta * s.e_room_mwh
    floor = -s.e_drain_mwh if v2g else np.zeros(len(s))
    required = eta * s.e_required_mwh
    n = len(s)
    lo = np.empty((n, steps + 1))
    hi = np.empty((n, steps + 1))
    lo[:, 0] = hi[:, 0] = 0.0
    for t in range(steps):                     # forward: what the step limits allow from the start
        hi[:, t + 1] = np.minimum(room, hi[:, t] + step_hi[:, t])
        lo[:, t + 1] = np.maximum(floor, lo[:, t] + step_lo[:, t])
    lo[:, -1] = np.maximum(lo[:, -1], np.minimum(required, hi[:, -1]))
    for t in range(steps - 1, -1, -1):         # backward: what still reaches the end bounds
        lo[:, t] = np.maximum(lo[:, t], lo[:, t + 1] - step_hi[:, t])
        hi[:, t] = np.minimum(hi[:, t], hi[:, t + 1] - step_lo[:, t])
    return Fleet(p_max, step_lo, step_hi, lo, hi, np.minimum(required, hi[:, -1]), eta, v2g, dt_h, s.soc0,
                 s.battery_mwh)


def interval_bounds(fleet: Fleet) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each EV's least and greatest battery energy over every interval (s, t], 0 ≤ s < t ≤ T, summed over
    the fleet → (s, t, lo, hi), one entry per interval:
        hi_i(s, t) = min(U_i(t) − L_i(s), Σ_{s<τ≤t} b_iτ)
        lo_i(s, t) = max(L_i(t) − U_i(s), Σ_{s<τ≤t} a_iτ)
    (start as low as possible and charge flat out, or as high as possible and discharge or idle)."""
    steps = fleet.steps
    s, t = np.triu_indices(steps + 1, k=1)
    cum_hi = np.concatenate([np.zeros((fleet.n, 1)), np.cumsum(fleet.step_hi, axis=1)], axis=1)
    cum_lo = np.concatenate([np.zeros((fleet.n, 1)), np.cumsum(fleet.step_lo, axis=1)], axis=1)
    hi = np.minimum(fleet.e_hi[:, t] - fleet.e_lo[:, s], cum_hi[:, t] - cum_hi[:, s]).sum(0)
    lo = np.maximum(fleet.e_lo[:, t] - fleet.e_hi[:, s], cum_lo[:, t] - cum_lo[:, s]).sum(0)
    return s, t, lo, hi
