"""Bundle size of each JS contender and size of our C library, as a page or firmware pays it.

    python bench/sizes.py
JS: the files a page needs to run the seed AE with that contender (ours unminified, with the
wasm embedded; the peers' minified dist files). C: `size` of libtessera.a and of the CLI.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
import subprocess

import common

NM = os.path.join(common.HERE, "node_modules")
JS_SRC = os.path.join(common.ROOT, "runtimes", "js", "src")
C_BUILD = os.path.join(common.ROOT, "runtimes", "c", "build")



def module_closure(entry: str) -> list[str]:
    """entry and every file it imports, transitively (static relative imports)."""
    seen, todo = set(), [os.path.abspath(entry)]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for spec in re.findall(r"""(?:import|export)[^'"]*?from\s*['"](\.[^'"]+)['"]""", open(f).read()):
            todo.append(os.path.normpath(os.path.join(os.path.dirname(f), spec)))
    return sorted(seen)


BUNDLES = {
    "ours: index.js and what it imports (unminified, wasm embedded)": module_closure(os.path.join(JS_SRC, "index.js")),
    "ours: all of runtimes/js/src (adds the CLI protocol helpers)": [os.path.join(JS_SRC, "*.js")],
    "onnxruntime-web, wasm backend (ort.wasm.min.mjs + ort-wasm-simd-threaded.mjs/.wasm)": [
        "onnxruntime-web/dist/ort.wasm.min.mjs", "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
        "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm"],
    "TensorFlow.js core + cpu backend (minified)": [
        "@tensorflow/tfjs-core/dist/tf-core.min.js", "@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js"],
    "TensorFlow.js core + wasm backend (minified + simd wasm)": [
        "@tensorflow/tfjs-core/dist/tf-core.min.js", "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
        "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm"],
    "TensorFlow.js union package (tf.min.js)": ["@tensorflow/tfjs/dist/tf.min.js"],
}


def files(patterns: list[str]) -> list[str]:
    out = []
    for p in patterns:
        out += sorted(glob.glob(p if os.path.isabs(p) else os.path.join(NM, p)))
    return out


def js_rows() -> tuple[list[list[object]], int | None]:
    rows, ours = [], None
    for label, patterns in BUNDLES.items():
        fs = files(patterns)
        if not fs:
            rows.append([label, "not installed", "-", "-"])
            continue
        raw = sum(os.path.getsize(f) for f in fs)
        gz = sum(len(gzip.compress(open(f, "rb").read(), 9)) for f in fs)
        ours = raw if ours is None else ours
        rows.append([label, f"{raw:,}", f"{gz:,}", f"{raw / ours:.1f}x"])
    return rows, ours


def c_rows() -> list[list[object]]:
    rows = []
    for name in ("libtessera.a", "tessera-run"):
        path = os.path.join(C_BUILD, name)
        if not os.path.exists(path):
            rows.append([name, "not built", "-", "-", "-"])
            continue
        lines = subprocess.run(["size", path], capture_output=True, text=True, check=True).stdout.splitlines()[1:]
        text = sum(int(ln.split()[0]) for ln in lines)
        data = sum(int(ln.split()[1]) for ln in lines)
        bss = sum(int(ln.split()[2]) for ln in lines)
        rows.append([name, f"{text:,}", f"{data:,}", f"{bss:,}", f"{os.path.getsize(path):,}"])
    return rows


def main() -> None:
    rows, ours = js_rows()
    print("\n## Sizes\n\n### JS bundle size (bytes)\n")
    print(common.table(["contender", "bytes", "gzip -9", "size / ours"], rows))
    if ours is not None:
        # "64 KB" read both ways: 64,000 bytes (decimal) and 64 KiB
        print(f"\nJS runtime target, bundle under 64 KB unminified: {ours:,} bytes; "
              f"against 64,000 bytes {common.verdict(ours < 64000)}, against 64 KiB (65,536) "
              f"{common.verdict(ours < 65536)}")
    print("\n### C runtime size (`size`, x86-64, -O2)\n")
    print(common.table(["file", "text", "data", "bss", "file bytes"], c_rows()))


if __name__ == "__main__":
    main()
