"""The generated C on a microcontroller, emulated: `tessera export --c` output built for a Cortex-M4F
(arm-none-eabi-gcc, hard float, newlib-nano with semihosting) with the bare-metal harness in
runtimes/c/embedded/cortex-m4, run under `qemu-system-arm -M mps2-an386`, every output bit compared
with the Python reference.

Firmwares (one build and one QEMU run each):
- each demo model alone, as a user builds it (`main.c NAME.c`, batch 1, called once per row of its
  inputs: each model's batch-257 conformance case); prints its
  flash/RAM beside the `tessera check --c-size` estimate;
- every conformance case of the transcendental ops (Exp, Log, Sigmoid, Tanh, Softplus, Sqrt, Pow,
  Softmax, LogSoftmax) in one firmware, kernels.c compiled once (-DTESSERA_KERNELS_EXTERNAL, so Sqrt
  is the FPU's VSQRT.F32);
- the Sqrt edge case alone, with the generated source's integer square root (the default build).

A missing toolchain fails the tests with what to install: nothing here skips.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tessera.exporter.c_codegen import CReport, generate_c, measure, toolchains
from tessera.exporter.tensors import read_tensors
from tests.support import CASES_DIR, F32, ROOT, equal_bits

HARNESS = ROOT / "runtimes" / "c" / "embedded" / "cortex-m4"
PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
MACHINE = "mps2-an386"
QEMU_TIMEOUT = 60  # seconds; a run takes well under one



def committed(model_file: str, inputs_file: str) -> Callable[[Path], tuple[Path, Path]]:
    """A demo model kept in the repository, with its inputs."""
    return lambda folder: (ROOT / model_file, ROOT / inputs_file)


# The demo models: (C name, where its model and inputs files come from). The inputs' leading (batch)
# dimension is the number of calls of the batch-1 build.
DEMO_MODELS = [
    ("seed_ae", committed("conformance/sources/seed_ae_digits.json",
                          "conformance/cases/model_seed_ae_digits_batch257/inputs.json")),
    ("digits_cnn", committed("conformance/sources/digits_cnn.json",
                             "conformance/cases/model_digits_cnn_batch257/inputs.json")),
]
TRANSCENDENTAL = re.compile(r"^op_(exp|log|logsoftmax|pow|sigmoid|softmax|softplus|sqrt|tanh)_")
TRANSCENDENTAL_CASES = sorted(p.name for p in CASES_DIR.iterdir()
                              if TRANSCENDENTAL.match(p.name) and (p / "expected.json").exists())


# ------------------------------------------------------------------ toolchain


def toolchain_problem() -> str | None:
    """Why the M4F build or its emulation cannot run here, or None."""
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm", "make"):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian: apt-get install {PACKAGES})"
    specs = subprocess.run(["arm-none-eabi-gcc", "-print-file-name=rdimon.specs"], capture_output=True,
                           text=True).stdout.strip()
    if not Path(specs).is_file():
        return f"newlib's semihosting (rdimon.specs) is not installed (Debian: apt-get install {PACKAGES})"
    machines = subprocess.run(["qemu-system-arm", "-M", "help"], capture_output=True, text=True).stdout
    if not re.search(rf"^{MACHINE}\s", machines, re.M):
        return f"this qemu-system-arm has no {MACHINE} machine (the Cortex-M4 board)"
    return None


@pytest.fixture(scope="module")
def toolchain() -> None:
    problem = toolchain_problem()
    assert problem is None, problem


def test_toolchain_is_installed() -> None:
    problem = toolchain_problem()
    assert problem is None, problem


# ------------------------------------------------------------------ models and their reference


@dataclass
class ModelRun:
    """A model to run on the M4F: its C name, document, inputs, the reference's outputs (by declared
    output, in order) and how many batch-1 calls cover the inputs."""

    name: str
    doc: dict
    feed: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    rows: int
    int_values: set[str]  # the int32 inputs and outputs


def reference_outputs(doc: dict, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The Python reference's outputs, in declared order."""
    from tessera import exporter

    model = (exporter.load(doc, runtime="reference") if "runtime" in inspect.signature(exporter.load).parameters
             else exporter.load(doc))
    got = model.run(feed)
    return {name: np.asarray(got[name]) for name, _ in model.outputs}


def model_run(name: str, doc: dict, feed: dict[str, np.ndarray]) -> ModelRun:
    """Symbolic dimensions may only be the leading one; the inputs' size there is the row count."""
    graph = doc["graph"]
    rows = {1}
    for value in graph["inputs"] + graph["outputs"]:
        assert all(isinstance(d, int) for d in value["shape"][1:]), f"{name}: only a leading symbolic dimension"
        if value["shape"] and not isinstance(value["shape"][0], int) and value["name"] in feed:
            rows.add(int(np.asarray(feed[value["name"]]).shape[0]))
    assert len(rows - {1}) <= 1, f"{name}: inputs disagree on the batch size"
    ints = {v["name"] for v in graph["inputs"] + graph["outputs"] if v["dtype"] == "int32"}
    return ModelRun(name, doc, feed, reference_outputs(doc, feed), max(rows), ints)


def conformance_run(case: str) -> ModelRun:
    doc = json.loads((CASES_DIR / case / "model.json").read_text())
    dtypes = {v["name"]: v["dtype"] for v in doc["graph"]["inputs"]}
    return model_run(case, doc, read_tensors(CASES_DIR / case / "inputs.json", "inputs", dtypes))


# ------------------------------------------------------------------ models.c: the harness's table


def _words(bits: np.ndarray) -> str:
    hexes = [f"0x{int(b):08x}u" for b in bits.ravel()]
    return ",\n".join("    " + ", ".join(hexes[i:i + 8]) for i in range(0, len(hexes), 8))


def _model_entry(run: ModelRun) -> list[str]:
    """Inputs as exact bit patterns (a union with the float view: NaN payloads and -0 survive),
    output buffers, and the function that calls NAME_run once per row."""
    n, lines, in_args, out_args = run.name, [f'#include "{run.name}.h"', ""], [], []
    for i, (value, arr) in enumerate(run.feed.items()):
        is_int = value in run.int_values
        bits = np.ascontiguousarray(arr, dtype=np.int32 if is_int else F32).view(np.uint32)
        lines += [f"static const union {{ uint32_t bits[{bits.size}]; {'int32_t' if is_int else 'float'}"
                  f" values[{bits.size}]; }} {n}_in{i} = {{{{", _words(bits), "}};"]
        in_args.append(f"{n}_in{i}.values + r * {bits.size // run.rows}")
    table = []
    for i, (value, arr) in enumerate(run.expected.items()):
        lines.append(f"static {'int32_t' if value in run.int_values else 'float'} {n}_out{i}[{arr.size}];")
        out_args.append(f"{n}_out{i} + r * {arr.size // run.rows}")
        table.append(f"    {{{json.dumps(value)}, {n}_out{i}, {arr.size}}},")
    lines += [
        f"static const struct harness_output {n}_outputs[] = {{", *table, "};",
        f"static int {n}_all_rows(void)",
        "{",
        "    uint32_t r;",
        f"    for (r = 0; r < {run.rows}; r++)",
        f"        if ({n}_run({', '.join(in_args + out_args)}) != 0)",
        "            return 1;",
        "    return 0;",
        "}",
        "",
    ]
    return lines


def models_c(runs: list[ModelRun]) -> str:
    rows = [f'    {{"{r.name}", {r.name}_all_rows, {r.name}_outputs, {len(r.expected)}}},' for r in runs]
    body = [line for r in runs for line in _model_entry(r)]
    if not runs:  # the harness alone, to measure what a model adds
        return ('#include "harness.h"\nconst struct harness_model harness_models[1] = {{0, 0, 0, 0}};\n'
                "const uint32_t harness_model_count = 0;\n")
    return "\n".join(["/* models.c: generated by tests/embedded/test_cortex_m4.py */", '#include "harness.h"', "",
                      *body, "const struct harness_model harness_models[] = {", *rows, "};",
                      f"const uint32_t harness_model_count = {len(runs)};", ""])


# ------------------------------------------------------------------ build, run, compare


def build(gen: Path, runs: list[ModelRun], extra_cflags: str = "") -> Path:
    (gen / "models.c").write_text(models_c(runs))
    names = " ".join(r.name for r in runs)
    proc = subprocess.run(["make", "-s", "-j2", "-C", str(HARNESS), f"GEN={gen}", f"MODELS={names}",
                           f"EXTRA_CFLAGS={extra_cflags}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the Cortex-M4F build failed:\n{proc.stdout}\n{proc.stderr}"
    return gen / "firmware.elf"


def run_qemu(elf: Path) -> tuple[int, str]:
    """`make run`'s command line, with a timeout."""
    cmd = ["qemu-system-arm", "-M", MACHINE, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=QEMU_TIMEOUT)
    return proc.returncode, proc.stdout + proc.stderr


def parse_output(text: str) -> dict[str, tuple[int, dict[str, np.ndarray]]]:
    """main.c's lines: model NAME status S / output NAME COUNT / hex words / ... / end."""
    lines = text.splitlines()
    assert lines and lines[-1] == "end", f"the firmware did not finish:\n{text[-2000:]}"
    models: dict[str, tuple[int, dict[str, np.ndarray]]] = {}
    i, current = 0, None
    while lines[i] != "end":
        words = lines[i].split()
        if words[0] == "model":
            current = models.setdefault(words[1], (int(words[3]), {}))
            i += 1
        else:
            assert words[0] == "output" and current is not None, f"unexpected line {lines[i]!r}"
            count, values = int(words[2]), []
            i += 1
            while len(values) < count:
                values += [int(w, 16) for w in lines[i].split()]
                i += 1
            current[1][words[1]] = np.array(values, dtype=np.uint32)
    return models


def compare(runs: list[ModelRun], text: str) -> None:
    got = parse_output(text)
    assert list(got) == [r.name for r in runs], f"models run: {list(got)}"
    for r in runs:
        status, outputs = got[r.name]
        assert status == 0, f"{r.name}: NAME_run returned {status}"
        assert list(outputs) == list(r.expected), f"{r.name}: outputs {list(outputs)}"
        for value, want in r.expected.items():
            if value in r.int_values:
                have = outputs[value].view(np.int32)
                same = have == np.asarray(want, np.int32).ravel()
            else:
                have = outputs[value].view(F32)
                same = equal_bits(have, np.asarray(want, F32).ravel())
            bad = np.flatnonzero(~same)
            assert bad.size == 0, (
                f"{r.name}: output {value!r} differs from the reference at {bad.size} of {same.size} elements, "
                f"first at flat index {bad[0]}: M4F 0x{int(outputs[value][bad[0]]):08x}, reference "
                f"0x{int(np.asarray(want).ravel().view(np.uint32)[bad[0]]):08x}")


def run_firmware(gen: Path, runs: list[ModelRun], extra_cflags: str = "") -> Path:
    elf = build(gen, runs, extra_cflags)
    status, text = run_qemu(elf)
    assert status == 0, f"QEMU exit status {status} (3: a fault):\n{text[-2000:]}"
    compare(runs, text)
    return elf


def export_cli(name: str, model: Path, out: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tessera", "export", "--c", name, str(model), "-o", str(out),
                           "--batch", "1", "--no-measure"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# ------------------------------------------------------------------ sizes


def map_sizes(map_file: Path) -> dict[str, dict[str, int]]:
    """text/data/bss by input object (archive members as `lib.a(member.o)`), from the linker map:
    what each object put into the firmware after --gc-sections."""
    text = map_file.read_text()
    text = text[text.index("Linker script and memory map"):]
    sizes: dict[str, dict[str, int]] = {}
    pending = None
    for line in text.splitlines():
        m = re.match(r"^ (\.\S+|COMMON)\s*$", line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(r"^ (\.\S+|COMMON)?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        section, pending = (m.group(1) or pending, None) if m else (None, None)
        if not m or section is None:
            continue
        kind = ("text" if section.startswith((".text", ".rodata", ".vectors", ".ARM.exidx", ".ARM.extab"))
                else "data" if section.startswith(".data") else "bss" if section.startswith((".bss", "COMMON"))
                else None)
        if kind:
            obj = Path(m.group(3).strip()).name
            entry = sizes.setdefault(obj, {"text": 0, "data": 0, "bss": 0})
            entry[kind] += int(m.group(2), 16)
    return sizes


def elf_size(elf: Path) -> tuple[int, int, int]:
    out = subprocess.run(["arm-none-eabi-size", str(elf)], check=True, capture_output=True, text=True).stdout
    text, data, bss = out.splitlines()[1].split()[:3]
    return int(text), int(data), int(bss)


def size_report(name: str, elf: Path, baseline_map: Path, report: CReport) -> tuple[str, dict[str, int]]:
    """The model's share of the firmware: its object (weights, kernels, NAME_run, arena) plus the
    library routines it alone pulls in (those absent from the harness-only build)."""
    with_model, harness_only = map_sizes(elf.with_name("firmware.map")), map_sizes(baseline_map)
    obj = with_model[f"{name}.o"]
    libs = {k: v for k, v in with_model.items() if k not in harness_only and k.endswith(")")}
    share = {kind: obj[kind] + sum(v[kind] for v in libs.values()) for kind in ("text", "data", "bss")}
    (estimate,) = measure(report, [t for t in toolchains() if t.prefix == "arm-none-eabi-"])
    version = subprocess.run(["arm-none-eabi-gcc", "-dumpversion"], capture_output=True, text=True).stdout.strip()
    t, d, b = elf_size(elf)
    w = report.weight_bytes
    lines = [
        f"{name} on a Cortex-M4F (arm-none-eabi-gcc {version}, -O2, batch 1; "
        f"{HARNESS.relative_to(ROOT)}):",
        f"  firmware.elf (arm-none-eabi-size): text {t}, data {d}, bss {b} "
        "(with the harness, newlib-nano printf and semihosting, the compiled-in inputs and output buffers)",
        f"  the model's share: flash {share['text'] + share['data']} (weights {w} + code {share['text'] - w}; "
        f"{name}.o {obj['text']}, library routines {sum(v['text'] for v in libs.values())}: "
        f"{', '.join(sorted(libs)) or 'none'}), static RAM {share['data'] + share['bss']} "
        f"(activation arena {obj['bss']})",
        f"  tessera check --c-size estimate (-Os, {name}_run alone): flash {estimate.flash} (weights {w} + code "
        f"{estimate.text - w}; data {estimate.data}), static RAM {estimate.ram}, stack <= {estimate.stack}",
        f"  real / estimate: flash {(share['text'] + share['data']) / estimate.flash:.2f}, code "
        f"{(share['text'] - w) / max(1, estimate.text - w):.2f}",
    ]
    return "\n".join(lines), {**share, "obj_text": obj["text"], "obj_data": obj["data"], "obj_bss": obj["bss"],
                              "estimate_flash": estimate.flash, "estimate_ram": estimate.ram}


# ------------------------------------------------------------------ the tests


@pytest.fixture(scope="module")
def harness_only(toolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    """The harness with no model: its linker map tells which library routines a model adds."""
    gen = tmp_path_factory.mktemp("m4-empty")
    elf = run_firmware(gen, [])
    return elf.with_name("firmware.map")


@pytest.mark.parametrize("name,files", DEMO_MODELS, ids=[m[0] for m in DEMO_MODELS])
def test_demo_model_on_cortex_m4(toolchain, harness_only: Path, tmp_path: Path, capsys: pytest.CaptureFixture,  # noqa: ANN001
                                 name: str, files: Callable[[Path], tuple[Path, Path]]) -> None:
    """`tessera export --c` at batch 1, called once per row, every output bit as the reference's at
    the full batch; the flash/RAM of that build beside the --c-size estimate."""
    model_file, inputs_file = files(tmp_path)
    doc = json.loads(model_file.read_text())
    dtypes = {v["name"]: v["dtype"] for v in doc["graph"]["inputs"]}
    run = model_run(name, doc, read_tensors(inputs_file, "inputs", dtypes))
    assert run.rows > 1, "more than one sample, so that the per-row calls are tested"
    export_cli(name, model_file, tmp_path)
    elf = run_firmware(tmp_path, [run])

    report = generate_c(doc, name, 1, tmp_path / "estimate")
    text, share = size_report(name, elf, harness_only, report)
    with capsys.disabled():
        print("\n" + text)
    # What the plan promises, in the real firmware: the weights are in flash once, the only RAM the
    # model's object takes is its planned arena.
    assert share["obj_text"] >= report.weight_bytes and share["obj_data"] == 0
    assert share["obj_bss"] == report.arena_bytes
    # The estimate is a guide to the real figure: the same RAM, the flash apart from -O2 against -Os.
    assert share["data"] + share["bss"] == share["estimate_ram"]
    assert share["text"] + share["data"] <= 1.5 * share["estimate_flash"], text


@pytest.fixture(scope="module")
def transcendental_runs() -> list[ModelRun]:
    return [conformance_run(c) for c in TRANSCENDENTAL_CASES]


def test_transcendental_cases_on_cortex_m4(toolchain, transcendental_runs: list[ModelRun], tmp_path: Path) -> None:  # noqa: ANN001
    """Where a soft-float library or an FPU could round differently: every case of these ops, one
    firmware, kernels.c compiled once (its Sqrt is the FPU's VSQRT.F32)."""
    ops = {n["op"] for r in transcendental_runs for n in r.doc["graph"]["nodes"]}
    assert {"Exp", "Log", "Sigmoid", "Tanh", "Softplus", "Sqrt", "Pow", "Softmax", "LogSoftmax"} <= ops
    for r in transcendental_runs:
        generate_c(r.doc, r.name, 1, tmp_path)
    elf = run_firmware(tmp_path, transcendental_runs)
    disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True,
                                 check=True).stdout
    # The point of this firmware: single-precision arithmetic on the FPU, not in a soft-float library.
    assert "vsqrt.f32" in disassembly and "vmul.f32" in disassembly and "vadd.f32" in disassembly
    assert "<__aeabi_fmul>:" not in disassembly and "<__aeabi_fadd>:" not in disassembly


def test_integer_sqrt_on_cortex_m4(toolchain, tmp_path: Path) -> None:  # noqa: ANN001
    """The default build of one model (`main.c NAME.c`): Sqrt is the generated integer square root."""
    run = conformance_run("op_sqrt_edge")
    generate_c(run.doc, run.name, 1, tmp_path)
    elf = run_firmware(tmp_path, [run])
    disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True,
                                 check=True).stdout
    assert "vsqrt.f32" not in disassembly


def test_comparison_sees_a_wrong_bit() -> None:
    """The comparison itself: one flipped bit, a missing end line and a nonzero status all fail it."""
    run = ModelRun("m", {}, {}, {"y": np.array([1.0, -0.0], F32)}, 1, set())
    good = "model m status 0\noutput y 2\n3f800000 80000000\nend"
    compare([run], good)
    for bad in (good.replace("80000000", "00000000"), good.replace("3f800000", "3f800001"),
                good.removesuffix("end"), good.replace("status 0", "status 1")):
        with pytest.raises(AssertionError):
            compare([run], bad)
