"""Execute one notebook with a Jupyter kernel through nbclient (called by scripts/run_notebooks.ts).

Usage:
  /usr/bin/python3 scripts/execute_notebook.py --input NB.ipynb --output OUT.ipynb --status STATUS.json \
      --cwd DIR [--kernel deno] [--timeout 3600] [--startup-timeout 120]

The executed notebook -- or, on failure, the partially executed one -- is written to --output. A JSON status is
written to --status: {"ok": true} or {"ok": false, "cell_index": i, "ename": ..., "evalue": ..., "traceback": [...]}
where cell_index is the 0-based index of the failing cell among all cells (null when no cell had started).
Exit code: 0 on success, 1 when a cell failed, 2 on bad usage or an unreadable notebook.
"""

import argparse
import json
import queue
import sys


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

    state = {"cell_index": None}

    def on_cell_start(cell, cell_index, **_kwargs):
        state["cell_index"] = cell_index

    client = LateOutputClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        startup_timeout=args.startup_timeout,
        allow_errors=False,
        record_timing=False,  # no per-cell timestamps: they would make every re-run a diff
        resources={"metadata": {"path": args.cwd}},
        on_cell_start=on_cell_start,
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
