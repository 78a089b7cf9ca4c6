"""The C library as others consume it (runtimes/c/README.md, "Install, amalgamation, CMake").

A small C program (MAIN_C: load a model file, run it on a binary feed, write the outputs' bits) is
built with `-std=c99 -pedantic -Wall -Wextra -Werror` under gcc and clang-16 against each of:
- the installed library, `make -C runtimes/c install PREFIX=<tmp>`, through pkg-config, linked
  shared (the program must need libtessera.so.0) and static (it must not);
- the two-file amalgamation of `make -C runtimes/c amalgamation`, itself compiled with the exact
  command of the README (`cc -std=c99 -pedantic -Wall -Wextra -Werror -ffp-contract=off -c tessera.c`);
- runtimes/c/CMakeLists.txt through add_subdirectory and through FetchContent;
and its outputs must be the Python reference's bits on conformance models (the seed auto-encoder,
Sqrt's edge cases, an int32 model). Also: DESTDIR and uninstall.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tessera.exporter.tensors import read_tensors
from tests.support import same_bits

REPO = Path(__file__).resolve().parents[1]
CDIR = REPO / "runtimes" / "c"
CASES = REPO / "conformance" / "cases"
MODELS = ["model_seed_ae_digits_batch1", "op_sqrt_edge", "model_int32_data_movement"]
COMPILERS = ["gcc", "clang-16"]
WARN = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror"]

MAIN_C = r"""
/* Load MODEL.json, read FEED (per input, in declaration order: int32 rank, int32 dims[rank], the
 * elements as 4-byte words), run, write OUT (per output: rank, dims, elements). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tessera.h>

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (*len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) return NULL;
    buf = malloc((size_t)*len + 1);
    if (!buf || fread(buf, 1, (size_t)*len, f) != (size_t)*len) return NULL;
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    long len, flen, pos = 0;
    char *json, *feed;
    tsr_model *m;
    tsr_error err;
    tsr_tensor in[8], out[8];
    int32_t i, k, nin, nout;
    size_t ws_len;
    void *ws;
    FILE *o;
    if (argc != 4) return 2;
    json = slurp(argv[1], &len);
    feed = slurp(argv[2], &flen);
    if (!json || !feed) return 3;
    if (tsr_model_load_alloc(json, (size_t)len, &m, &err) != TSR_OK) {
        fprintf(stderr, "%s: %s\n", err.name, err.message);
        return 4;
    }
    nin = tsr_model_num_inputs(m);
    nout = tsr_model_num_outputs(m);
    if (nin > 8 || nout > 8) return 5;
    memset(in, 0, sizeof in);
    for (i = 0; i < nin; i++) {
        long count = 1;
        in[i].name = tsr_model_input_name(m, i);
        memcpy(&in[i].rank, feed + pos, 4);
        pos += 4;
        for (k = 0; k < in[i].rank; k++) {
            memcpy(&in[i].shape[k], feed + pos, 4);
            pos += 4;
            count *= in[i].shape[k];
        }
        in[i].dtype = tsr_model_input_dtype(m, i);
        if (in[i].dtype == TSR_INT32)
            in[i].idata = (const int32_t *)(const void *)(feed + pos);
        else
            in[i].data = (const float *)(const void *)(feed + pos);
        pos += 4 * count;
    }
    if (tsr_bind(m, in, nin, &ws_len, &err) != TSR_OK || !(ws = malloc(ws_len ? ws_len : 1)) ||
        tsr_run(m, in, nin, out, ws, ws_len, &err) != TSR_OK) {
        fprintf(stderr, "%s: %s\n", err.name, err.message);
        return 6;
    }
    o = fopen(argv[3], "wb");
    if (!o) return 7;
    for (i = 0; i < nout; i++) {
        long count = 1;
        fwrite(&out[i].rank, 4, 1, o);
        for (k = 0; k < out[i].rank; k++) {
            fwrite(&out[i].shape[k], 4, 1, o);
            count *= out[i].shape[k];
        }
        fwrite(out[i].dtype == TSR_INT32 ? (const void *)out[i].idata : (const void *)out[i].data, 4,
               (size_t)count, o);
    }
    fclose(o);
    tsr_model_free(m);
    free(ws);
    free(json);
    free(feed);
    printf("ok %d outputs\n", (int)nout);
    return 0;
}
"""


def sh(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 300) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    shown = " ".join(map(str, cmd))
    assert proc.returncode == 0, f"`{shown}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Path, list[np.ndarray]]]:
    """(model.json, feed file, reference outputs) per model."""
    from tessera import exporter

    d = tmp_path_factory.mktemp("feeds")
    out = []
    for name in MODELS:
        model = exporter.load(CASES / name / "model.json")
        feed = read_tensors(CASES / name / "inputs.json", "inputs", model.input_dtypes)
        blob = b""
        for n, _ in model.inputs:
            a = np.asarray(feed[n])
            a = np.ascontiguousarray(a, "<i4" if a.dtype.kind in "iu" else "<f4")
            blob += np.array([a.ndim, *a.shape], "<i4").tobytes() + a.tobytes()
        (d / f"{name}.bin").write_bytes(blob)
        out.append((CASES / name / "model.json", d / f"{name}.bin", list(model.run(feed).values())))
    return out


def check_program(exe: Path, cases: list, env: dict | None = None) -> None:  # noqa: ANN001
    for model, feed, expected in cases:
        out = exe.parent / f"{exe.name}.{model.parent.name}.out"
        sh([str(exe), str(model), str(feed), str(out)], env=env)
        raw, pos = out.read_bytes(), 0
        for want in expected:
            want = np.asarray(want)
            rank = int(np.frombuffer(raw, "<i4", 1, pos)[0])
            shape = tuple(int(v) for v in np.frombuffer(raw, "<i4", rank, pos + 4))
            pos += 4 + 4 * rank
            n = int(np.prod(shape, dtype=np.int64))
            have = np.frombuffer(raw, "<i4" if want.dtype.kind in "iu" else "<f4", n, pos).reshape(shape)
            pos += 4 * n
            assert shape == want.shape, (exe.name, model.parent.name, shape, want.shape)
            if want.dtype.kind in "iu":
                assert np.array_equal(have, want), f"{exe.name}: {model.parent.name} int32 output differs"
            else:
                assert same_bits(want, have), f"{exe.name}: {model.parent.name} differs from the reference bits"
        assert pos == len(raw)


def test_tools_are_installed() -> None:
    for tool in [*COMPILERS, "pkg-config", "cmake", "make"]:
        assert shutil.which(tool), f"{tool} is not installed"


# ------------------------------------------------------------------ make install + pkg-config


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("install") / "prefix"
    sh(["make", "-C", str(CDIR), "install", f"PREFIX={p}", "DESTDIR="])
    return p


def test_install_layout(prefix: Path) -> None:
    lib = prefix / "lib"
    assert (lib / "libtessera.a").is_file() and (prefix / "include" / "tessera.h").is_file()
    assert os.readlink(lib / "libtessera.so") == "libtessera.so.0"
    assert os.readlink(lib / "libtessera.so.0") == "libtessera.so.0.1.0" and (lib / "libtessera.so.0.1.0").is_file()
    dyn = sh(["readelf", "-d", str(lib / "libtessera.so.0.1.0")])
    assert "Library soname: [libtessera.so.0]" in dyn
    exported = sh(["nm", "-D", "--defined-only", str(lib / "libtessera.so.0.1.0")]).split()
    assert "tsr_run" in exported and "tsr_model_load_alloc" in exported
    assert not [s for s in exported if s.startswith(("ld_", "tj_"))]  # the internals stay local
    pc = (lib / "pkgconfig" / "tessera.pc").read_text()
    assert f"prefix={prefix}\n" in pc and "Libs: -L${libdir} -ltessera" in pc and "Cflags: -I${includedir}" in pc


def pkg(prefix: Path, *args: str) -> list[str]:
    env = {**os.environ, "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    return sh(["pkg-config", *args, "tessera"], env=env).split()


@pytest.mark.parametrize("link", ["shared", "static"])
@pytest.mark.parametrize("cc", COMPILERS)
def test_pkg_config_program(prefix: Path, cases, tmp_path: Path, cc: str, link: str) -> None:  # noqa: ANN001
    assert pkg(prefix, "--cflags") == [f"-I{prefix}/include"]
    assert pkg(prefix, "--libs") == [f"-L{prefix}/lib", "-ltessera"]
    (tmp_path / "main.c").write_text(MAIN_C)
    exe = tmp_path / f"app-{cc}-{link}"
    if link == "shared":
        libs = [*pkg(prefix, "--libs"), f"-Wl,-rpath,{pkg(prefix, '--variable=libdir')[0]}"]
    else:
        libs = [*pkg(prefix, "--libs-only-L"), "-Wl,-Bstatic", *pkg(prefix, "--libs-only-l"), "-Wl,-Bdynamic"]
    sh([cc, *WARN, *pkg(prefix, "--cflags"), str(tmp_path / "main.c"), *libs, "-o", str(exe)])
    needed = "libtessera.so.0" in sh(["readelf", "-d", str(exe)])
    assert needed == (link == "shared")
    check_program(exe, cases)


def test_destdir_and_uninstall(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    sh(["make", "-C", str(CDIR), "install", "PREFIX=/opt/tessera", f"DESTDIR={stage}"])
    root = stage / "opt" / "tessera"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
    assert files == ["include/tessera.h", "lib/libtessera.a", "lib/libtessera.so", "lib/libtessera.so.0",
                     "lib/libtessera.so.0.1.0", "lib/pkgconfig/tessera.pc"]
    assert "prefix=/opt/tessera\n" in (root / "lib" / "pkgconfig" / "tessera.pc").read_text()  # not DESTDIR
    sh(["make", "-C", str(CDIR), "uninstall", "PREFIX=/opt/tessera", f"DESTDIR={stage}"])
    assert [p for p in root.rglob("*") if not p.is_dir()] == []


# ------------------------------------------------------------------ the amalgamation


@pytest.fixture(scope="module")
def amalgamation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sh(["make", "-C", str(CDIR), "amalgamation"])
    d = tmp_path_factory.mktemp("amalgamation")
    for f in ("tessera.c", "tessera.h"):
        shutil.copyfile(CDIR / "build" / "amalgamation" / f, d / f)
    return d


def test_amalgamation_is_two_self_contained_files(amalgamation: Path) -> None:
    src = (amalgamation / "tessera.c").read_text()
    local = [line for line in src.splitlines() if line.lstrip().startswith("#") and '"' in line
             and "include" in line and "tessera.h" not in line]
    assert local == [], local  # every private header is pasted in
    assert (amalgamation / "tessera.h").read_text() == (CDIR / "include" / "tessera.h").read_text()
    for f in ("kernels", "json", "model", "check", "attrs", "data", "build", "ops", "run"):
        assert f"begin src/{f}.c" in src
    assert "begin src/cli.c" not in src and "int main(" not in src


@pytest.mark.parametrize("cc", COMPILERS)
def test_amalgamation_program(amalgamation: Path, cases, tmp_path: Path, cc: str) -> None:  # noqa: ANN001
    obj = tmp_path / "tessera.o"
    # the README's command, exactly, in the amalgamation's directory
    sh([cc, *WARN, "-ffp-contract=off", "-c", "tessera.c", "-o", str(obj)], cwd=amalgamation)
    (tmp_path / "main.c").write_text(MAIN_C)
    exe = tmp_path / f"app-{cc}"
    sh([cc, *WARN, "-I", str(amalgamation), str(tmp_path / "main.c"), str(obj), "-lm", "-o", str(exe)])
    check_program(exe, cases)


def test_amalgamation_dispatch_o2_no_libm(amalgamation: Path, cases, tmp_path: Path) -> None:  # noqa: ANN001
    """The library's own configuration: -O2, TSR_K_DISPATCH, -fno-math-errno (then no libm)."""
    (tmp_path / "main.c").write_text(MAIN_C)
    exe = tmp_path / "app-dispatch"
    sh(["gcc", *WARN, "-O2", "-ffp-contract=off", "-fno-math-errno", "-DTSR_K_DISPATCH", "-I", str(amalgamation),
        str(tmp_path / "main.c"), str(amalgamation / "tessera.c"), "-o", str(exe)])
    check_program(exe, cases)


# ------------------------------------------------------------------ CMake

CONSUMER = """cmake_minimum_required(VERSION 3.16)
project(consumer C)
{how}
add_executable(app main.c)
target_link_libraries(app PRIVATE tessera::tessera)
set_target_properties(app PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(app PRIVATE -pedantic -Wall -Wextra -Werror)
"""
HOW = {
    "add_subdirectory": f'add_subdirectory("{CDIR}" tessera)',
    "FetchContent": ("include(FetchContent)\n"
                     f'FetchContent_Declare(tessera SOURCE_DIR "{REPO}" SOURCE_SUBDIR runtimes/c)\n'
                     "FetchContent_MakeAvailable(tessera)"),
}


@pytest.mark.parametrize(("how", "cc", "shared"), [("add_subdirectory", "gcc", False),
                                                   ("add_subdirectory", "clang-16", False),
                                                   ("add_subdirectory", "clang-16", True),
                                                   ("FetchContent", "gcc", False)])
def test_cmake_consumer(cases, tmp_path: Path, how: str, cc: str, shared: bool) -> None:  # noqa: ANN001
    src, build = tmp_path / "src", tmp_path / "build"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(CONSUMER.format(how=HOW[how]))
    (src / "main.c").write_text(MAIN_C)
    sh(["cmake", "-S", str(src), "-B", str(build), f"-DCMAKE_C_COMPILER={cc}", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
        f"-DBUILD_SHARED_LIBS={'ON' if shared else 'OFF'}"])
    sh(["cmake", "--build", str(build), "-j", "4"])
    assert ("libtessera.so.0" in sh(["readelf", "-d", str(build / "app")])) == shared
    commands = json.loads((build / "compile_commands.json").read_text())
    lib = [c["command"] for c in commands if c["file"].endswith("kernels.c")]
    app = [c["command"] for c in commands if c["file"].endswith("main.c")]
    assert len(lib) == 1 and len(app) == 1
    for flag in ("-ffp-contract=off", "-Werror", "-std=c99", "-DTSR_K_DISPATCH"):
        assert flag in lib[0].split(), (flag, lib[0])
    assert f"-I{CDIR}/include" in app[0].split() and "-ffp-contract=off" not in app[0]  # the usage requirement only
    assert "-DTSR_K_DISPATCH" not in app[0] and f"{CDIR}/src" not in app[0]
    check_program(build / "app", cases)


def test_cmake_install_and_find_package(cases, tmp_path: Path) -> None:  # noqa: ANN001
    """runtimes/c built on its own and installed: the make-install layout plus lib/cmake/tessera,
    used by a consumer through find_package."""
    prefix, build = tmp_path / "prefix", tmp_path / "build"
    sh(["cmake", "-S", str(CDIR), "-B", str(build), "-DCMAKE_C_COMPILER=gcc", "-DCMAKE_BUILD_TYPE=Debug",
        f"-DCMAKE_INSTALL_PREFIX={prefix}", "-DCMAKE_INSTALL_LIBDIR=lib"])
    sh(["cmake", "--build", str(build), "-j", "4"])
    sh(["cmake", "--install", str(build)])
    for f in ("lib/libtessera.a", "include/tessera.h", "lib/pkgconfig/tessera.pc",
              "lib/cmake/tessera/tesseraConfig.cmake", "bin/tessera-run"):
        assert (prefix / f).is_file(), f
    assert f"prefix={prefix}\n" in (prefix / "lib" / "pkgconfig" / "tessera.pc").read_text()
    src, cbuild = tmp_path / "src", tmp_path / "cbuild"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(CONSUMER.format(how="find_package(tessera 0.1 REQUIRED CONFIG)"))
    (src / "main.c").write_text(MAIN_C)
    sh(["cmake", "-S", str(src), "-B", str(cbuild), "-DCMAKE_C_COMPILER=gcc", f"-DCMAKE_PREFIX_PATH={prefix}"])
    sh(["cmake", "--build", str(cbuild)])
    check_program(cbuild / "app", cases)
