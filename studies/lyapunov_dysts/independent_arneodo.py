"""An independent check of Arneodo's largest exponent, where dynlens and dysts disagree.

    python3 studies/lyapunov_dysts/independent_arneodo.py   # about 3 CPU-minutes

dynlens gives 0.208 +- 0.004 for dysts's Arneodo (results.csv); dysts's metadata 0.237 and
0.243. This script shares no code with either: scipy's DOP853 (rtol 1e-9) on the flow and its
variational equations (dysts's parameters a=-5.5, b=4.5, c=1, d=-1; z' = -a x - b y - c z +
d x^3), re-orthonormalised by QR every time unit (Benettin's method), one start after 200
time units of transient, 3000 time units in all. Writes independent_arneodo.json: the running
estimates every 500 time units.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

A, B, C, D = -5.5, 4.5, 1.0, -1.0
HERE = Path(__file__).resolve().parent


def field(_t: float, s: np.ndarray) -> np.ndarray:
    x, y, z = s[:3]
    jac = np.array([[0, 1, 0], [0, 0, 1], [-A + 3 * D * x * x, -B, -C]])
    tangents = s[3:].reshape(3, 3)
    return np.concatenate([[y, z, -A * x - B * y - C * z + D * x ** 3],
                           (jac @ tangents).ravel()])


def main(total: int = 3000, every: int = 500) -> None:
    state = solve_ivp(lambda t, x: field(t, np.concatenate([x, np.eye(3).ravel()]))[:3],
                      (0, 200), [0.2, 0.2, 0.2], rtol=1e-10, atol=1e-12).y[:, -1]
    basis, sums, rows = np.eye(3), np.zeros(3), []
    for k in range(1, total + 1):
        out = solve_ivp(field, (0, 1.0), np.concatenate([state, basis.ravel()]),
                        method="DOP853", rtol=1e-9, atol=1e-11).y[:, -1]
        state = out[:3]
        basis, r = np.linalg.qr(out[3:].reshape(3, 3))
        basis = basis * np.sign(np.diag(r))
        sums += np.log(np.abs(np.diag(r)))
        if k % every == 0:
            rows.append({"time": k, "exponents": (sums / k).round(5).tolist()})
            print(rows[-1], flush=True)
    (HERE / "independent_arneodo.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
