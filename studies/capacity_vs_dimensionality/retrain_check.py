"""Retrain one cell of the capacity study (Arneodo, NODE-3, seed 1) and hash its weights.

Run on two versions of the code and compare the two ``row.json`` files: a refactor that does
not change what is computed leaves every number and the weights' sha256 equal.

    python3 retrain_check.py OUT_FOLDER
"""

import hashlib
import json
import sys
from pathlib import Path

import torch

import dynlens as dl

out = Path(sys.argv[1])
sweep = dl.Sweep(name="repro", systems=["arneodo"], models=["node"], latent_dims=[3], seeds=[1],
                 data={"n_neurons": 10, "n_trials": 2000, "n_bins": 70, "seed": 0}, fit={},
                 analysis={"fixed_points": True, "n_inits": 1024, "split": "test"})
table = sweep.run(out, workers=1, threads=1, progress=False)
row = table.iloc[0].to_dict()
digest = hashlib.sha256()
for path in sorted(out.rglob("*.pt")):
    state = torch.load(path, weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    for key in sorted(state):
        if torch.is_tensor(state[key]):
            digest.update(key.encode())
            digest.update(state[key].detach().cpu().numpy().tobytes())
row["weights_sha256"] = digest.hexdigest()
(out / "row.json").write_text(json.dumps(row, indent=1, default=str))
print(json.dumps(row, indent=1, default=str))
