"""Reference x_hat bits for the demo's seed-shaped auto-encoder, computed
independently of the JS runtime: exporter/strict_math.py for the sigmoid and
a numpy float32 loop for MatMul (SPEC.md section 7.1).
usage: expected_ae.py MODEL.json PIXELS(comma separated) -> hex bits, comma separated"""

import importlib.util
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[4]
spec = importlib.util.spec_from_file_location("strict_math", ROOT / "exporter" / "strict_math.py")
sm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sm)
F = np.float32


def matmul(a, b):
    c = np.zeros((a.shape[0], b.shape[1]), dtype=F)
    for i in range(a.shape[0]):
        acc = np.zeros(b.shape[1], dtype=F)
        for k in range(a.shape[1]):
            if a[i, k] != 0:
                acc = (acc + (a[i, k] * b[k]).astype(F)).astype(F)
        c[i] = acc
    return c


doc = json.loads(pathlib.Path(sys.argv[1]).read_text())
init = {t["name"]: np.array(t["data"], dtype=np.float64).astype(F).reshape(t["shape"])
        for t in doc["graph"]["initializers"]}
vals = {"x": np.array([float(v) for v in sys.argv[2].split(",")], dtype=F).reshape(1, -1), **init}
for node in doc["graph"]["nodes"]:
    a = [vals[n] for n in node["inputs"]]
    at = node.get("attrs", {})
    if node["op"] == "MatMul":
        x, w = a
        r = matmul(x.T if at.get("transpose_a") else x, np.ascontiguousarray(w.T) if at.get("transpose_b") else w)
    elif node["op"] == "Add":
        r = (a[0] + a[1]).astype(F)
    elif node["op"] == "Sigmoid":
        r = sm.sigmoid(a[0])
    else:
        raise SystemExit(f"unsupported op {node['op']}")
    vals[node["outputs"][0]] = r
out = vals[doc["graph"]["outputs"][0]["name"]].astype(F).ravel().view(np.uint32)
print(",".join(f"{b:08x}" for b in out))
