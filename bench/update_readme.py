"""Put the tables of the last `make -C bench` run (out/results.md) into README.md, between the
results markers, with the date, the command, the CPU class and the commit. Run by `make -C bench readme`
on the machine and tree that ran the benchmark (the CPU class and the commit are read when copying).
"""

from __future__ import annotations

import datetime
import os
import subprocess

import common

# ISA=avx2 (`make -C bench readme ISA=avx2`): the tables of the last ISA=avx2 run, into their own block
SUFFIX = f"-{common.ISA}" if common.ISA else ""
BEGIN, END = f"<!-- results{SUFFIX}:begin -->", f"<!-- results{SUFFIX}:end -->"


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main() -> None:
    with open(os.path.join(common.OUT, f"command{SUFFIX}.txt")) as f:
        command = f.read().strip()
    results_path = os.path.join(common.OUT, f"results{SUFFIX}.md")
    with open(results_path) as f:
        results = f.read().strip()
    path = os.path.join(common.HERE, "README.md")
    with open(path) as f:
        text = f.read()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    stamp = datetime.datetime.fromtimestamp(os.path.getmtime(results_path)).strftime("%Y-%m-%d %H:%M")
    body = (f"Run of {stamp}, command `{command}`, CPU class {common.cpu_class()}, commit `{commit()}`; "
            f"the output, verbatim:\n\n{results}\n")
    with open(path, "w") as f:
        f.write(f"{head}{BEGIN}\n{body}{END}{tail}")
    print("README.md updated")


if __name__ == "__main__":
    main()
