"""EV sessions and the envelope aggregate, checked by hand."""
import numpy as np
import pytest

from stochplan.ev import Sessions, sample_sessions, station_profiles
from stochplan.ev.envelope import envelope_bounds, uncontrolled_profile


def two_evs(controllable=(True, True)):
    # EV a: plugged 1.0–3.0 h, needs 4 kWh, room 6 kWh; EV b: 0.5–2.0 h, needs 2 kWh, room 2 kWh; 3.6 kW chargers.
    return Sessions(arrival_h=np.array([1.0, 0.5]), departure_h=np.array([3.0, 2.0]),
                    p_max_mw=np.array([3.6e-3, 3.6e-3]), e_required_mwh=np.array([4e-3, 2e-3]),
                    e_room_mwh=np.array([6e-3, 2e-3]), controllable=np.array(controllable))


def test_envelope_of_two_evs_by_hand():
    p_max, e_min, e_max = envelope_bounds(two_evs(), steps=3, dt_h=1.0)
    # plugged fractions per hour: a (0, 1, 1), b (0.5, 1, 0)
    assert p_max * 1e3 == pytest.approx(np.array([[0, 3.6, 3.6], [1.8, 3.6, 0]]))
    # a: can take 0, 3.6, 7.2 kWh by the end of hours 1–3, capped at 6; must have ≥ 4 − 7.2, 4 − 3.6, 4 − 0
    assert e_max[0] * 1e3 == pytest.approx([0, 3.6, 6.0])
    assert e_min[0] * 1e3 == pytest.approx([0, 0.4, 4.0])
    # b: 1.8, 5.4 → capped at 2; must have ≥ 2 − 3.6 (0), 2, 2
    assert e_max[1] * 1e3 == pytest.approx([1.8, 2.0, 2.0])
    assert e_min[1] * 1e3 == pytest.approx([0, 2.0, 2.0])
    station = station_profiles([two_evs()], steps=3, dt_h=1.0)
    assert station.flex_p_max_mw[0] * 1e3 == pytest.approx([1.8, 7.2, 3.6])
    assert station.flex_e_min_mwh[0] * 1e3 == pytest.approx([0, 2.4, 6.0])
    assert station.flex_e_max_mwh[0] * 1e3 == pytest.approx([1.8, 5.6, 8.0])


def test_uncontrolled_evs_charge_at_full_power_on_arrival():
    profile = uncontrolled_profile(two_evs(), steps=3, dt_h=1.0) * 1e3
    assert profile == pytest.approx(np.array([[0, 3.6, 0.4], [1.8, 0.2, 0]]))
    station = station_profiles([two_evs(controllable=(False, True))], steps=3, dt_h=1.0)
    assert station.fixed_p_mw[0] * 1e3 == pytest.approx([0, 3.6, 0.4])
    assert station.energy_required_mwh[0] == pytest.approx(6e-3)


def test_sampled_sessions_follow_the_study_distributions():
    rng = np.random.default_rng(0)
    s = sample_sessions(10_000, rng, horizon_start_h=12.0, horizon_h=24.0, battery_kwh=40.0, charger_kw=3.6,
                        efficiency=0.9, target_soc=1.0, controllable_share=0.3)
    arrival = s.arrival_h + 12.0
    departure = s.departure_h + 12.0 - 24.0
    q = np.array([0.1, 0.5, 0.9])
    # the published distributions, written out here (not taken from the code under test)
    xi, sigma, mu = -0.06, 0.85, 17.3                                  # GEV quantile: μ + σ((−ln q)^(−ξ) − 1)/ξ
    assert np.quantile(arrival, q) == pytest.approx(mu + sigma * ((-np.log(q)) ** (-xi) - 1) / xi, abs=0.05)
    assert np.quantile(departure, q) == pytest.approx(7.67 * (-np.log(1 - q)) ** (1 / 21.83), abs=0.02)
    required = s.e_required_mwh * 1e3 * 0.9 / 40.0        # back to the SOC gap
    assert np.mean(required) == pytest.approx(1 - 0.49, abs=0.01)
    assert s.controllable.mean() == pytest.approx(0.3)
