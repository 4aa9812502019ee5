"""Execute one notebook with a Jupyter kernel through nbclient (called by scripts/run_notebooks.ts).

Usage:
  /usr/bin/python3 scripts/execute_notebook.py --input NB.ipynb --output OUT.ipynb --status STATUS.json \
      --cwd DIR [--kernel deno] [--timeout 3600] [--startup-timeout 120]

The executed notebook -- or, on failure, the partially executed one -- is written to --output. A JSON status is
written to --status: {"ok": true} or {"ok": false, "cell_index": i, "ename": ..., "evalue": ..., "traceback": [...]}
where cell_index is the 0-based index of the failing cell among all cells (null when no cell had started).
Exit code: 0 on success, 1 when a cell failed, 2 on bad usage or an unreadable notebook.

Progress goes to stdout, one line at a time, for the runner to relay while the notebook runs: each code cell as it
starts (`cell K/N: <first source line>`) and, when it took 2 s or more, as it ends (`cell K/N done in S s`); the
notebook's own progress bars (`lib/progress.ts` displays them with a `progress-…` display id), at most one line per
bar every --progress-interval seconds plus the last; and the first lines each cell prints (console.log).
"""

import argparse
import json
import queue
import sys
import time

STREAM_LINES_PER_CELL = 8
LINE_CHARS = 200


def say(line: str) -> None:
    """One progress line on stdout, flushed at once so that the runner can relay it."""
    if len(line) > LINE_CHARS:
        line = line[: LINE_CHARS - 1] + "…"
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="Execute a notebook headlessly with nbclient.")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--status", required=True)
    parser.add_argument("--cwd", required=True, help="working directory of the kernel")
    parser.add_argument("--kernel", default="deno")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    parser.add_argument("--startup-timeout", type=int, default=120, help="seconds allowed for the kernel to start")
    parser.add_argument("--late-output-grace", type=float, default=0.2,
                        help="seconds to keep listening for a cell's output after the kernel reports idle")
    parser.add_argument("--progress-interval", type=float, default=10.0,
                        help="seconds between two relayed lines of one progress bar")
    args = parser.parse_args()

    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionComplete
        from nbclient.util import ensure_async
    except ImportError as e:
        print(f"execute_notebook: missing Python module ({e}); install it with: "
              "apt-get install -y jupyter-nbconvert python3-nbclient", file=sys.stderr)
        return 2

    class LateOutputClient(NotebookClient):
        """nbclient that also keeps output arriving shortly after the kernel reports idle.

        The Deno kernel forwards console output through its own stdout capture, which can deliver a cell's last
        `stream` message just after the `idle` status (more often on a busy machine). Plain nbclient stops listening
        at `idle` and silently drops that output. Here we keep reading the cell's messages until none has arrived for
        `late_output_grace` seconds.
        """

        late_output_grace = args.late_output_grace

        def process_message(self, msg, cell, cell_index):
            relay(msg)
            return super().process_message(msg, cell, cell_index)

        async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
            await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
            while True:
                try:
                    msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=self.late_output_grace))
                except queue.Empty:
                    return
                if msg["parent_header"].get("msg_id") == parent_msg_id:
                    try:
                        self.process_message(msg, cell, cell_index)
                    except CellExecutionComplete:
                        pass

    try:
        nb = nbformat.read(args.input, as_version=4)
    except Exception as e:  # noqa: BLE001 -- report any unreadable notebook the same way
        print(f"execute_notebook: cannot read {args.input}: {e}", file=sys.stderr)
        return 2

    # Start from a clean slate: a run that stops early must not show stale outputs of the cells it never reached.
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None

    state = {"cell_index": None, "code_number": 0, "started": 0.0, "stream_lines": 0}
    code_cells = sum(1 for c in nb.cells if c.get("cell_type") == "code")
    bars = {}  # progress display id -> time of its last relayed line

    def relay(msg):
        """Relays the notebook's progress bars and its first printed lines of each cell."""
        kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        content = msg.get("content", {})
        if kind in ("display_data", "update_display_data"):
            display_id = (content.get("transient") or {}).get("display_id") or ""
            text = (content.get("data") or {}).get("text/plain")
            if not display_id.startswith("progress-") or not isinstance(text, str):
                return
            now = time.monotonic()
            last = bars.get(display_id)
            finished = "%" in text and "<" not in text  # a bar's final line has no "elapsed<eta"
            if last is None or finished or now - last >= args.progress_interval:
                bars[display_id] = now
                say(f"  {text.strip()}")
        elif kind == "stream":
            for line in str(content.get("text", "")).splitlines():
                if not line.strip():
                    continue
                state["stream_lines"] += 1
                if state["stream_lines"] <= STREAM_LINES_PER_CELL:
                    say(f"  | {line}")
                elif state["stream_lines"] == STREAM_LINES_PER_CELL + 1:
                    say("  | … (more output in the notebook)")

    def finish_cell():
        if state["cell_index"] is not None and state["started"]:
            took = time.monotonic() - state["started"]
            if took >= 2:
                say(f"cell {state['code_number']}/{code_cells} done in {took:.1f} s")

    def on_cell_start(cell, cell_index, **_kwargs):
        state["cell_index"] = cell_index
        if cell.get("cell_type") != "code":
            return
        state["code_number"] += 1
        state["started"] = time.monotonic()
        state["stream_lines"] = 0
        first = next((ln.strip() for ln in cell.get("source", "").splitlines() if ln.strip()), "")
        say(f"cell {state['code_number']}/{code_cells}: {first}")

    def on_cell_executed(cell, cell_index, **_kwargs):
        if cell.get("cell_type") == "code":
            finish_cell()

    client = LateOutputClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        startup_timeout=args.startup_timeout,
        allow_errors=False,
        record_timing=False,  # no per-cell timestamps: they would make every re-run a diff
        resources={"metadata": {"path": args.cwd}},
        on_cell_start=on_cell_start,
        on_cell_executed=on_cell_executed,
    )

    status = {"ok": True}
    try:
        client.execute()
    except Exception as e:  # noqa: BLE001 -- cell errors, timeouts and dead kernels all stop the run
        traceback = getattr(e, "traceback", None)
        if isinstance(traceback, str):
            traceback = traceback.splitlines()
        status = {
            "ok": False,
            "cell_index": state["cell_index"],
            "ename": getattr(e, "ename", None) or type(e).__name__,
            "evalue": getattr(e, "evalue", None) or str(e),
            "traceback": traceback or [],
        }
        # Prefer the kernel's own error output, when the failing cell has one.
        idx = state["cell_index"]
        if idx is not None and idx < len(client.nb.cells):
            for out in client.nb.cells[idx].get("outputs", []):
                if out.get("output_type") == "error":
                    status["ename"] = out.get("ename", status["ename"])
                    status["evalue"] = out.get("evalue", status["evalue"])
                    status["traceback"] = list(out.get("traceback", []))

    nbformat.write(client.nb, args.output)
    with open(args.status, "w", encoding="utf-8") as f:
        json.dump(status, f)
    return 0 if status["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
