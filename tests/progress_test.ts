import {
  formatDuration,
  formatMetric,
  formatProgress,
  formatRate,
  progress,
  type ProgressSink,
  type ProgressState,
  trackProgress,
} from "../lib/progress.ts";

function assertEquals<T>(actual: T, expected: T, what = "value"): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** A clock the test moves by hand, and a sink that records every render. */
function fixture(minIntervalMs = 500) {
  let now = 1000;
  const renders: { line: string; state: ProgressState; final: boolean }[] = [];
  const sink: ProgressSink = {
    minIntervalMs,
    render(line, state, final) {
      renders.push({ line, state, final });
    },
  };
  return { clock: () => now, advance: (ms: number) => (now += ms), renders, sink };
}

Deno.test("formatDuration writes m:ss below an hour and h:mm:ss above", () => {
  assertEquals(formatDuration(0), "0:00");
  assertEquals(formatDuration(65_000), "1:05");
  assertEquals(formatDuration(59_600), "1:00");
  assertEquals(formatDuration(3_723_000), "1:02:03");
  assertEquals(formatDuration(null), "?");
  assertEquals(formatDuration(Infinity), "?");
});

Deno.test("formatRate switches to seconds per step below one step per second", () => {
  assertEquals(formatRate(37.5), "37.5 it/s");
  assertEquals(formatRate(2), "2 it/s");
  assertEquals(formatRate(1234.4), "1234 it/s");
  assertEquals(formatRate(0.25), "4.00 s/it");
  assertEquals(formatRate(0), "? it/s");
  assertEquals(formatRate(NaN), "? it/s");
});

Deno.test("formatMetric keeps integers, four significant digits, exponents for extremes", () => {
  assertEquals(formatMetric(42), "42");
  assertEquals(formatMetric(0.012345), "0.01235");
  assertEquals(formatMetric(1.5), "1.5");
  assertEquals(formatMetric(2.5e-5), "2.50e-5");
  assertEquals(formatMetric(-3.25e7), "-3.25e7");
  assertEquals(formatMetric(NaN), "nan");
  assertEquals(formatMetric(-Infinity), "-inf");
});

Deno.test("a bar reports rate, ETA and metrics from the injected clock", () => {
  const f = fixture();
  const bar = progress({ total: 100, label: "train", clock: f.clock, sink: f.sink, barWidth: 10 });
  f.advance(2000);
  bar.tick(50, { loss: 0.125, l0: 12 });
  const s = bar.state;
  assertEquals(s.current, 50, "current");
  assertEquals(s.elapsedMs, 2000, "elapsed");
  assertEquals(s.rate, 25, "rate");
  assertEquals(s.etaMs, 2000, "eta");
  assertEquals(bar.toString(), "train  50% |█████     | 50/100 [0:02<0:02, 25 it/s] loss=0.125 l0=12");
});

Deno.test("a bar without a total shows a count and no ETA", () => {
  const f = fixture();
  const bar = progress({ label: "tokens", clock: f.clock, sink: f.sink });
  f.advance(4000);
  bar.tick(10);
  assertEquals(bar.state.etaMs, null, "eta");
  assertEquals(bar.toString(), "tokens 10 it [0:04, 2.5 it/s]");
});

Deno.test("formatProgress draws partial blocks and drops the ETA when done", () => {
  const state: ProgressState = {
    label: "x",
    total: 8,
    current: 3,
    elapsedMs: 3000,
    rate: 1,
    etaMs: 5000,
    metrics: {},
    done: false,
  };
  assertEquals(formatProgress(state, 4), "x  37% |█▌  | 3/8 [0:03<0:05, 1 it/s]");
  assertEquals(formatProgress({ ...state, current: 8, done: true }, 4), "x 100% |████| 8/8 [0:03, 1 it/s]");
});

Deno.test("a bar renders at most once per sink interval and always renders the final state once", async () => {
  const f = fixture(500);
  const bar = progress({ total: 10, label: "t", clock: f.clock, sink: f.sink });
  bar.tick(1, { loss: 3 }); // t=0: first render
  f.advance(100);
  bar.tick(1, { loss: 2 }); // throttled
  f.advance(100);
  bar.tick(1, { loss: 1 }); // throttled
  f.advance(400);
  bar.tick(1, { loss: 0.5 }); // 600 ms after the first: renders
  await bar.done({ loss: 0.25 });
  await bar.done(); // a second done changes nothing
  bar.tick(1); // ticks after done are ignored by the sink
  await Promise.resolve();
  assertEquals(f.renders.map((r) => r.state.current), [1, 4, 4], "rendered steps");
  assertEquals(f.renders.map((r) => r.final), [false, false, true], "final flags");
  assertEquals(f.renders[2]!.state.metrics, { loss: 0.25 }, "final metrics");
});

Deno.test("trackProgress takes the total from the array and finishes on break", async () => {
  const f = fixture(0);
  const seen: number[] = [];
  for (const x of trackProgress([10, 20, 30, 40], { clock: f.clock, sink: f.sink, label: "it" })) {
    seen.push(x);
    if (x === 30) break;
  }
  await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(seen, [10, 20, 30], "items");
  const last = f.renders[f.renders.length - 1]!;
  assertEquals(last.final, true, "final render");
  assertEquals(last.state.total, 4, "total");
  assertEquals(last.state.current, 2, "steps completed before the break");
});

Deno.test("progress rejects a negative or fractional total and a negative tick", () => {
  const f = fixture();
  for (const total of [-1, 2.5]) {
    let threw = false;
    try {
      progress({ total, sink: f.sink });
    } catch (e) {
      threw = e instanceof RangeError && e.message.includes(String(total));
    }
    if (!threw) throw new Error(`total ${total} was accepted`);
  }
  const bar = progress({ total: 3, sink: f.sink, clock: f.clock });
  let threw = false;
  try {
    bar.tick(-1);
  } catch (e) {
    threw = e instanceof RangeError;
  }
  if (!threw) throw new Error("tick(-1) was accepted");
});
