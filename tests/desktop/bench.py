"""Desktop benchmark: prints figures, asserts nothing (targets are judged by people, not by a timed test).

  * start-up: process start → sign-in screen interactive (the UI's `ui_ready`), second and later launches
  * idle memory: summed PSS of the app and its WebKit child processes, after the UI has settled
  * preview: click → largest sample patient's preview fully rendered (the UI's `report_timing`)
  * sizes: release binary, and the .deb when one was built

Run under Xvfb: scripts/bench-desktop does it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("PORTICO_DESKTOP_BIN", ROOT / "target/release/portico-desktop"))
LAUNCHES = int(os.environ.get("BENCH_LAUNCHES", "5"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "8"))


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        out.append(cur)
        todo.extend(children.get(cur, []))
    return out


def pss_kib(pid: int) -> tuple[int, list[tuple[str, int]]]:
    total, parts = 0, []
    for p in descendants(pid):
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
            name = Path(f"/proc/{p}/comm").read_text().strip()
        except OSError:
            continue
        m = re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)
        if m:
            total += int(m.group(1))
            parts.append((name, int(m.group(1))))
    return total, parts


def launch(data_dir: Path) -> tuple[subprocess.Popen, float]:
    env = dict(os.environ, PORTICO_DATA_DIR=str(data_dir), RUST_LOG="warn")
    err = open(data_dir / "app-stderr.log", "ab")
    proc = subprocess.Popen([str(BIN)], env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        m = re.match(r"PORTICO_UI_READY ms=(\d+)", line)
        if m:
            return proc, float(m.group(1))
        if time.monotonic() > deadline:
            break
    proc.kill()
    tail = (data_dir / "app-stderr.log").read_text(errors="replace")[-2000:]
    raise SystemExit(f"the app never reported PORTICO_UI_READY (exit {proc.wait()}); stderr ends with:\n{tail}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    if not BIN.exists():
        raise SystemExit(f"no release app at {BIN}")
    with tempfile.TemporaryDirectory(prefix="portico-bench-") as d:
        data = Path(d)
        first, first_ms = launch(data)  # seeds the demo data
        stop(first)
        times = []
        for i in range(LAUNCHES):
            proc, ms = launch(data)
            times.append(ms)
            if i == LAUNCHES - 1:
                time.sleep(IDLE_SECONDS)  # let the page settle before measuring idle memory
                total, parts = pss_kib(proc.pid)
            stop(proc)
        times.sort()
        print(f"startup_first_launch_ms {first_ms:.0f}   (includes seeding the demo database)")
        print(f"startup_ms over {LAUNCHES} later launches: min {times[0]:.0f}  median {times[len(times)//2]:.0f}  max {times[-1]:.0f}   (target <= 1500)")
        print(f"idle_pss_mb {total/1024:.1f}   (target <= 320)  " + ", ".join(f"{n}={k/1024:.0f}" for n, k in sorted(parts, key=lambda x: -x[1])))
    size = BIN.stat().st_size / 1e6
    print(f"release_binary_mb {size:.1f}   (target <= 25)")
    debs = sorted((ROOT / "target/release/bundle/deb").glob("*.deb")) if (ROOT / "target/release/bundle/deb").exists() else []
    for deb in debs:
        print(f"deb_mb {deb.stat().st_size/1e6:.1f} {deb.name}   (target <= 15)")
    if not debs:
        print("deb_mb n/a (build one with: npx @tauri-apps/cli build --bundles deb)")


if __name__ == "__main__":
    sys.exit(main())
