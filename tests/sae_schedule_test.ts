import { l1WarmUpMultiplier, lrMultiplier, scheduleLengths } from "../lib/sae/schedule.ts";

// Reference values printed by torch 1.13 (Debian python3-torch) with the study's scheduler:
//   opt = Adam([p], lr=1.0); W, C = int(0.1*T), int(0.2*T)
//   s1 = LambdaLR(opt, lambda step: min(1.0, (step + 1) / W))
//   s2 = LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=C)
//   s = SequentialLR(opt, [s1, s2], milestones=[T - C])
//   for step in range(T): record(opt.param_groups[0]["lr"]); opt.step(); s.step()
const TORCH_T37 = [
  0.3333333333333333,
  0.6666666666666666,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  1.0,
  0.8571428571428572,
  0.7142857142857144,
  0.5714285714285715,
  0.4285714285714286,
  0.28571428571428575,
  0.14285714285714288,
];

Deno.test("lr schedule reproduces torch's SequentialLR values step by step (T = 37)", () => {
  const len = scheduleLengths(37, 0.1, 0.2);
  if (len.warmUp !== 3 || len.coolDown !== 7) throw new Error(`lengths ${JSON.stringify(len)}`);
  TORCH_T37.forEach((want, s) => {
    const got = lrMultiplier(s, 37, len);
    if (Math.abs(got - want) > 1e-12) throw new Error(`step ${s}: got ${got}, torch ${want}`);
  });
});

Deno.test("lr schedule boundary steps for the study's 31,250 steps match torch", () => {
  const T = 31_250;
  const len = scheduleLengths(T, 0.1, 0.2);
  // torch values at these steps (same script)
  const torch: [number, number][] = [
    [0, 0.00032],
    [1, 0.00064],
    [3123, 0.99968],
    [3124, 1.0],
    [3125, 1.0],
    [24_999, 1.0],
    [25_000, 1.0],
    [25_001, 0.99984],
    [31_248, 0.00032],
    [31_249, 0.00016],
  ];
  for (const [s, want] of torch) {
    const got = lrMultiplier(s, T, len);
    if (Math.abs(got - want) > 1e-9) throw new Error(`step ${s}: got ${got}, torch ${want}`);
  }
});

Deno.test("lr schedule with T = 20 (W = 2, C = 4) matches torch, and short runs have no warm-up", () => {
  const len = scheduleLengths(20, 0.1, 0.2);
  const want = [0.5, 1, ...new Array(14).fill(1), 1, 0.75, 0.5, 0.25];
  want.forEach((w, s) => {
    if (lrMultiplier(s, 20, len) !== w) throw new Error(`step ${s}: got ${lrMultiplier(s, 20, len)}, want ${w}`);
  });
  const short = scheduleLengths(5, 0.1, 0.2); // W = 0, C = 1
  if (lrMultiplier(0, 5, short) !== 1 || lrMultiplier(4, 5, short) !== 1) throw new Error("W = 0 must mean no warm-up");
});

Deno.test("lr schedule rejects bad arguments with a message naming them", () => {
  let msg = "";
  try {
    scheduleLengths(0, 0.1, 0.2);
  } catch (e) {
    msg = (e as Error).message;
  }
  if (!msg.includes("total steps")) throw new Error(`unexpected message: ${msg}`);
});

Deno.test("ℓ1 warm-up ramps from 0 at step 0 to 1 at the warm-up length", () => {
  if (l1WarmUpMultiplier(0, 100) !== 0 || l1WarmUpMultiplier(50, 100) !== 0.5 || l1WarmUpMultiplier(200, 100) !== 1) {
    throw new Error("ℓ1 warm-up values");
  }
  if (l1WarmUpMultiplier(0, 0) !== 1) throw new Error("0 disables the warm-up");
});
