import {
  arrow,
  bandTraces,
  canonicalSvgIds,
  checkLegend,
  chromiumAvailable,
  chromiumPath,
  closeExporter,
  DARK2_GREEN,
  encodeFigureData,
  exporterStats,
  exportFigure,
  figure,
  figureBundle,
  figureToJson,
  gridLayout,
  heatmapTrace,
  hline,
  intervalErrorBars,
  layerColor,
  LEGEND_RIGHT,
  LEGEND_TOP,
  legendSeries,
  lineTrace,
  logTicks,
  meanIntervalTraces,
  mergeLayout,
  MIN_PNG_WIDTH,
  normalInterval,
  panelLayout,
  parseFigureData,
  PLOTLY_MIME,
  pngScale,
  readFigureData,
  save,
  scatterTrace,
  sortSvgAttributes,
  validateFigure,
  vline,
  withAlpha,
  Z95,
} from "../lib/plot/mod.ts";
import type { Figure } from "../lib/plot/mod.ts";
import { fileExists } from "../lib/io/weights_files.ts";

function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function assertEquals<T>(actual: T, expected: T, what = "value"): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

function assertThrows(fn: () => unknown, includes: string): void {
  try {
    fn();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!msg.includes(includes)) throw new Error(`expected an error containing "${includes}", got "${msg}"`);
    return;
  }
  throw new Error(`expected an error containing "${includes}", but nothing was thrown`);
}

const NO_CHROMIUM = !chromiumAvailable();
const CHROMIUM_REASON = `${chromiumPath()} is missing (install with: apt-get install chromium)`;
if (NO_CHROMIUM) console.warn(`plot_test: skipping export tests: ${CHROMIUM_REASON}`);

// ---------------------------------------------------------------- builders

Deno.test("lineTrace turns typed arrays into plain arrays and non-finite values into gaps", () => {
  const t = lineTrace(new Float64Array([1, 2, 3]), new Float32Array([0.5, NaN, Infinity]), {
    name: "l",
    color: DARK2_GREEN,
    dash: "dash",
    axes: { xaxis: "x2", yaxis: "y2" },
  });
  assertEquals(t.x, [1, 2, 3], "x");
  assertEquals(t.y, [0.5, null, null], "y");
  assertEquals(t.line, { width: 2, color: DARK2_GREEN, dash: "dash" }, "line");
  assertEquals([t.xaxis, t.yaxis], ["x2", "y2"], "axes");
  assert(Array.isArray(t.x) && Array.isArray(t.y), "plain arrays");
});

Deno.test("lineTrace rejects x and y of different lengths, naming both", () => {
  assertThrows(() => lineTrace([1, 2, 3], [1, 2], { name: "loss" }), 'lineTrace "loss": x has 3 values but y has 2');
});

Deno.test("bandTraces fills between an invisible lower edge and the upper edge", () => {
  const [lo, hi] = bandTraces([0, 1], [0, 1], [1, 2], { color: "rgb(27,158,119)", alpha: 0.3, name: "sd" });
  assertEquals(lo.fill, undefined, "lower fill");
  assertEquals(hi.fill, "tonexty", "upper fill");
  assertEquals(hi.fillcolor, "rgba(27,158,119,0.3)", "fill colour");
  assertEquals([lo.line?.width, hi.line?.width], [0, 0], "edge widths");
  assertEquals([lo.showlegend, hi.showlegend], [false, false], "legend");
  assertThrows(() => bandTraces([0, 1], [0, 3], [1, 2]), "lower[1] = 3 is above upper[1] = 2");
});

Deno.test("heatmapTrace copies rows, titles the colour bar, and rejects ragged rows", () => {
  const t = heatmapTrace([new Float32Array([1, 2]), new Float32Array([3, NaN])], {
    x: ["a", "b"],
    colorbarTitle: "cos",
  });
  assertEquals(t.z, [[1, 2], [3, null]], "z");
  assertEquals(t.colorscale, "Viridis", "default scale");
  assertEquals(t.colorbar?.title?.text, "cos", "colour bar title");
  assertThrows(() => heatmapTrace([[1, 2], [3]]), "row 1 has 1 values, row 0 has 2");
  assertThrows(() => heatmapTrace([[1, 2]], { y: ["r0", "r1"] }), "y has 2 labels but the grid has 1 rows");
});

Deno.test("gridLayout makes a 5×5 grid of square, non-overlapping, equal-aspect panels", () => {
  const g = gridLayout(5, 5, {
    square: true,
    equalAspect: true,
    width: 900,
    rowLabels: ["a", "b", "c", "d", "e"],
    colLabels: ["1", "2", "3", "4", "5"],
  });
  const m = g.layout.margin as { l: number; r: number; t: number; b: number };
  const plotW = 900 - m.l - m.r;
  const plotH = (g.layout.height as number) - m.t - m.b;
  const boxes: { x: [number, number]; y: [number, number] }[] = [];
  for (let r = 0; r < 5; r++) {
    for (let c = 0; c < 5; c++) {
      const { xaxis, yaxis } = g.axes(r, c);
      assertEquals(xaxis, r * 5 + c === 0 ? "x" : `x${r * 5 + c + 1}`, `x axis of (${r},${c})`);
      const key = r * 5 + c === 0 ? "" : String(r * 5 + c + 1);
      const xa = g.layout[`xaxis${key}` as "xaxis"]!;
      const ya = g.layout[`yaxis${key}` as "yaxis"]!;
      assertEquals(ya.scaleanchor, xaxis, "scaleanchor");
      assertEquals(xa.anchor, yaxis, "x anchor");
      const d = g.domain(r, c);
      assertEquals(xa.domain, d.x, "x domain");
      const wPx = (d.x[1] - d.x[0]) * plotW;
      const hPx = (d.y[1] - d.y[0]) * plotH;
      assert(Math.abs(wPx - hPx) < 1e-6, `panel (${r},${c}) is ${wPx}×${hPx} px, not square`);
      for (const v of [...d.x, ...d.y]) assert(v >= 0 && v <= 1, `domain value ${v} outside [0, 1]`);
      boxes.push(d);
    }
  }
  // row 0 is on top
  assert(g.domain(0, 0).y[0] > g.domain(1, 0).y[1], "row 0 above row 1");
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!, b = boxes[j]!;
      const overlap = a.x[0] < b.x[1] && b.x[0] < a.x[1] && a.y[0] < b.y[1] && b.y[0] < a.y[1];
      assert(!overlap, `panels ${i} and ${j} overlap`);
    }
  }
  assertEquals(g.layout.annotations?.length, 10, "row + column labels");
  assertThrows(() => g.axes(5, 0), "outside the 5×5 grid");
  assertThrows(() => gridLayout(2, 2, { rowLabels: ["a"] }), "1 rowLabels for 2 rows");
});

Deno.test("arrow draws from origin to tip in the panel's data units", () => {
  const a = arrow([0, 0], [0.8, -0.6], { axes: { xaxis: "x7", yaxis: "y7" }, color: DARK2_GREEN });
  assertEquals([a.ax, a.ay, a.x, a.y], [0, 0, 0.8, -0.6], "tail and tip");
  assertEquals([a.xref, a.yref, a.axref, a.ayref], ["x7", "y7", "x7", "y7"], "refs");
  assertEquals([a.showarrow, a.text, a.arrowcolor], [true, "", DARK2_GREEN], "style");
  assertThrows(() => arrow([0, 0], [NaN, 1]), "coordinates must be finite");
});

Deno.test("vline and hline span the panel through domain references", () => {
  const v = vline(128, { axes: { xaxis: "x2", yaxis: "y2" } });
  assertEquals([v.x0, v.x1, v.y0, v.y1, v.xref, v.yref], [128, 128, 0, 1, "x2", "y2 domain"], "vline");
  assertEquals(v.line?.dash, "dash", "dashed by default");
  const h = hline(0.5);
  assertEquals([h.x0, h.x1, h.y0, h.y1, h.xref, h.yref], [0, 1, 0.5, 0.5, "x domain", "y"], "hline");
});

Deno.test("panelLayout places panels at explicit boxes and rejects boxes outside the paper", () => {
  const p = panelLayout([{ x: [0, 0.4], y: [0.5, 1], bare: true, equalAspect: true, title: "(a)" }, {
    x: [0.5, 1],
    y: [0, 1],
    yaxis: { type: "log" },
  }]);
  assertEquals(p.axes(1), { xaxis: "x2", yaxis: "y2" }, "axes of panel 1");
  assertEquals(p.layout.xaxis?.domain, [0, 0.4], "panel 0 x");
  assertEquals(p.layout.xaxis?.showticklabels, false, "bare panel hides ticks");
  assertEquals(p.layout.yaxis2?.type, "log", "log axis");
  assertEquals(p.layout.yaxis?.scaleanchor, "x", "equal aspect");
  assertThrows(() => panelLayout([{ x: [0.5, 1.2], y: [0, 1] }]), "panel 0 has x = [0.5, 1.2]");
});

Deno.test("mergeLayout concatenates annotations and shapes and merges axes", () => {
  const g = gridLayout(1, 2, { colLabels: ["a", "b"] });
  const merged = mergeLayout(g.layout, {
    annotations: [arrow([0, 0], [1, 1])],
    shapes: [vline(1)],
    xaxis2: { type: "log" },
  });
  assertEquals(merged.annotations?.length, 3, "annotations");
  assertEquals(merged.shapes?.length, 1, "shapes");
  assertEquals(merged.xaxis2?.type, "log", "patched axis");
  assertEquals(merged.xaxis2?.domain, g.layout.xaxis2?.domain, "kept domain");
  assertEquals(g.layout.annotations?.length, 2, "base left unchanged");
});

Deno.test("figure styles every axis and rejects references to missing axes", () => {
  const fig = figure([lineTrace([1, 2], [3, 4])], { yaxis: { type: "log", showgrid: false } });
  assertEquals(fig.layout.yaxis?.type, "log", "explicit setting kept");
  assertEquals(fig.layout.yaxis?.showgrid, false, "explicit setting wins over style");
  assertEquals(fig.layout.xaxis?.ticks, "outside", "style applied");
  assertThrows(
    () => figure([lineTrace([1], [2], { name: "a", axes: { xaxis: "x3", yaxis: "y3" } })]),
    'trace 0 ("a") uses axis x3, but the layout has no xaxis3',
  );
  assertThrows(
    () => validateFigure({ data: [], layout: { shapes: [vline(1, { axes: { xaxis: "x2", yaxis: "y2" } })] } }),
    "shape 0 (line) refers to x2",
  );
});

Deno.test("layerColor runs viridis from dark purple to yellow; withAlpha parses colours", () => {
  assertEquals(layerColor(0, 13), "rgb(68,1,84)", "first layer");
  assertEquals(layerColor(12, 13), "rgb(253,231,37)", "last layer");
  const all = new Set(Array.from({ length: 13 }, (_, i) => layerColor(i, 13)));
  assertEquals(all.size, 13, "13 distinct colours");
  assertThrows(() => layerColor(13, 13), "i must be an integer in [0, 12]");
  assertEquals(withAlpha("#1b9e77", 0.5), "rgba(27,158,119,0.5)", "hex");
  assertThrows(() => withAlpha("green", 0.5), 'cannot parse colour "green"');
});

Deno.test("figure data keeps full precision and refuses NaN unless asked to encode it", () => {
  const data = { x: [0.1 + 0.2, 1 / 3], f32: new Float32Array([0.1]), nested: { n: 2n } };
  const back = parseFigureData<{ x: number[]; f32: number[]; nested: { n: number } }>(encodeFigureData(data));
  assertEquals(back.x, [0.1 + 0.2, 1 / 3], "doubles round-trip exactly");
  assertEquals(back.f32, [Math.fround(0.1)], "float32 value kept exactly");
  assertEquals(back.nested.n, 2, "bigint");
  assertThrows(() => encodeFigureData({ curves: [{ y: [1, NaN] }] }), "data.curves[0].y[1] is NaN");
  const text = encodeFigureData({ y: [NaN, Infinity, -Infinity, 1] }, { allowNonFinite: true });
  const y = parseFigureData<{ y: number[] }>(text).y;
  assert(Number.isNaN(y[0]!) && y[1] === Infinity && y[2] === -Infinity && y[3] === 1, `decoded ${y}`);
  assertThrows(() => encodeFigureData({ t: { dataSync: () => [] } }), "data.t is a tensor");
});

Deno.test("figureToJson writes gaps for non-finite values in hand-built figures", () => {
  const json = figureToJson({ data: [{ type: "scatter", x: [1, 2], y: [NaN, 2] }], layout: {} });
  assertEquals(JSON.parse(json).data[0].y, [null, 2], "y");
});

Deno.test("the headless notebook bundle has the plotly JSON and a PNG but no plotly.js", async () => {
  const fig = figure([lineTrace([1, 2], [3, 4], { name: "a" })], { title: { text: "t" } });
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
  const headless = await figureBundle(fig, png, { live: false, includePlotly: false });
  assertEquals(
    Object.keys(headless.data).sort(),
    ["application/vnd.plotly.v1+json", "image/png", "text/plain"],
    "keys",
  );
  assertEquals(headless.data["image/png"], "iVBORw==", "base64 PNG");
  assertEquals((headless.data[PLOTLY_MIME] as Figure).data.length, 1, "figure JSON");
  assertEquals(headless.metadata, { "image/png": { width: 760, height: 460 } }, "display size");
  const n = 20_000;
  const big = figure([lineTrace(Array.from({ length: n }, (_, i) => i), Array.from({ length: n }, (_, i) => i / 3))]);
  const bigHeadless = await figureBundle(big, png, { live: false, includePlotly: false });
  assert(!(PLOTLY_MIME in bigHeadless.data), "a large figure keeps only its PNG in a static notebook");
  const bigLive = await figureBundle(big, png, { live: true, includePlotly: false });
  assert(PLOTLY_MIME in bigLive.data, "a live display keeps the plotly JSON");
  const first = await figureBundle(fig, png, { live: true, includePlotly: true });
  const later = await figureBundle(fig, png, { live: true, includePlotly: false });
  const firstHtml = first.data["text/html"] as string;
  const laterHtml = later.data["text/html"] as string;
  assert(firstHtml.length > 1_000_000 && firstHtml.includes("window.Plotly"), "first live figure inlines plotly.js");
  assert(laterHtml.length < 20_000 && laterHtml.includes("window.Plotly"), "later figures reuse window.Plotly");
});

// ---------------------------------------------------------------- legends

Deno.test("layout helpers leave the legend to figure(): shown for two or more named series, placed outside", () => {
  const g = gridLayout(1, 2);
  assertEquals(g.layout.showlegend, undefined, "gridLayout sets no showlegend");
  assertEquals(panelLayout([{ x: [0, 1], y: [0, 1] }]).layout.showlegend, undefined, "panelLayout sets none");
  const two = figure([
    ...bandTraces([1, 2], [0, 1], [1, 2], { color: DARK2_GREEN, axes: g.axes(0, 0) }),
    lineTrace([1, 2], [0.5, 1.5], { name: "a", axes: g.axes(0, 0) }),
    lineTrace([1, 2], [1, 2], { name: "b", axes: g.axes(0, 1) }),
    lineTrace([1, 2], [2, 3], { axes: g.axes(0, 1) }),
  ], g.layout);
  assertEquals(two.layout.showlegend, true, "two named series: legend");
  assertEquals(
    [two.layout.legend?.x, two.layout.legend?.xanchor, two.layout.legend?.y],
    [LEGEND_RIGHT.x, "left", 1],
    "legend right of the panels, outside the data",
  );
  assertEquals(two.data[4]!.showlegend, false, "an unnamed trace is kept out of the legend");
  assertEquals(legendSeries(two), ["a", "b"], "band edges and unnamed traces are not series");
  const one = figure([lineTrace([1, 2], [1, 2], { name: "only" }), lineTrace([1, 2], [2, 1])]);
  assertEquals(one.layout.showlegend, false, "one named series: no legend");
  const grouped = figure([
    lineTrace([1, 2], [1, 2], { name: "a", legendgroup: "a" }),
    lineTrace([1, 2], [1, 2], { name: "a", legendgroup: "a", axes: { xaxis: "x2", yaxis: "y2" } }),
  ], { xaxis2: {}, yaxis2: {} });
  assertEquals(grouped.layout.showlegend, false, "one series drawn in two panels is still one series");
  const heat = figure([
    heatmapTrace([[1, 2], [3, 4]], { name: "z" }),
    lineTrace([0, 1], [0, 1], { name: "a" }),
    lineTrace([0, 1], [1, 0], { name: "b" }),
  ]);
  assertEquals(heat.layout.legend?.orientation, LEGEND_TOP.orientation, "a colour bar moves the legend above");
  assertEquals(heat.layout.margin?.t, 60, "and makes room for it under the title");
  const placed = figure([lineTrace([1], [1], { name: "a" }), lineTrace([1], [2], { name: "b" })], {
    legend: { x: 0.02, y: 0.98 },
  });
  assertEquals([placed.layout.legend?.x, placed.layout.legend?.xanchor], [0.02, undefined], "explicit placement wins");
});

Deno.test("a figure with two or more named series cannot hide its legend unless the traces say so", () => {
  const a = lineTrace([1, 2], [1, 2], { name: "clean" });
  const b = lineTrace([1, 2], [2, 3], { name: "spliced" });
  assertThrows(() => figure([a, b], { showlegend: false }), 'draws 2 named series ("clean", "spliced")');
  assertThrows(() => validateFigure({ data: [a, b], layout: { showlegend: false } }), "layout.showlegend: false");
  assertThrows(() => checkLegend({ data: [a, b], layout: { showlegend: false } }), "mark traces keyed another way");
  // keyed another way: the traces say so
  const keyed = [{ ...a, showlegend: false }, { ...b, showlegend: false }];
  checkLegend({ data: keyed, layout: { showlegend: false } });
  assertEquals(figure(keyed).layout.showlegend, false, "keyed traces: no automatic legend");
  // heatmaps with colour bars are not legend series; hidden traces do not count
  checkLegend({
    data: [heatmapTrace([[1]], { name: "h1" }), heatmapTrace([[2]], { name: "h2" })],
    layout: { showlegend: false },
  });
  checkLegend({ data: [a, { ...b, visible: false }], layout: { showlegend: false } });
});

// ---------------------------------------------------------------- log axes

Deno.test("logTicks labels decades as powers of ten, and 1-2-5 mantissas on shorter ranges", () => {
  const wide = logTicks(1.3e-6, 2.7e-2);
  assertEquals(wide.mode, "decades", "five decades");
  const inside = wide.tickvals.filter((v) => v >= 1.3e-6 && v <= 2.7e-2);
  assertEquals(inside.map((v) => Math.round(Math.log10(v))), [-5, -4, -3, -2], "one tick per decade inside the range");
  assert(wide.ticktext.includes("10<sup>−6</sup>") && wide.ticktext.includes("10<sup>−2</sup>"), `${wide.ticktext}`);
  const near = (v: number) => wide.minorvals.some((m) => Math.abs(m / v - 1) < 1e-9);
  assert(near(3e-4) && !near(1e-4), "minor ticks at 2…9 × each decade");
  assertEquals(logTicks(1, 1022).ticktext.slice(1, 5), ["1", "10", "100", "1000"], "positions 1…1022: decimals");
  const many = logTicks(1e-20, 1);
  assert(many.tickvals.length <= 12, `21 decades labelled every k-th: ${many.tickvals.length} labels`);
  const short = logTicks(0.015, 3);
  assertEquals(short.mode, "mantissas", "2.3 decades with two powers of ten inside");
  assertEquals(short.ticktext.slice(1, -1), ["0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"], "1-2-5 labels");
  const tiny = logTicks(2.1e-7, 8.9e-7);
  assertEquals(
    tiny.ticktext.slice(1, 4),
    ["3×10<sup>−7</sup>", "4×10<sup>−7</sup>", "5×10<sup>−7</sup>"],
    "all mantissas",
  );
  assertEquals(logTicks(0.031, 0.034).mode, "linear", "a range inside one mantissa step");
  assertThrows(() => logTicks(0, 1), "need 0 < lo ≤ hi");
});

Deno.test("figure() gives every log axis without its own ticks labels from the data drawn on it", () => {
  const g = gridLayout(1, 3);
  const fig = figure(
    [
      lineTrace([1, 2, 3], [1e-6, 1e-4, 3e-2], { axes: g.axes(0, 0) }),
      lineTrace([1, 2, 3], [0.05, 0.1, 0.3], { axes: g.axes(0, 1) }),
      lineTrace([1, 2, 3], [5, 6, 7], { axes: g.axes(0, 2) }),
    ],
    mergeLayout(g.layout, {
      yaxis: { type: "log" },
      yaxis2: { type: "log" },
      yaxis3: { type: "log", dtick: 1 },
    }),
  );
  assert(fig.layout.yaxis?.ticktext?.includes("10<sup>−4</sup>") === true, `${fig.layout.yaxis?.ticktext}`);
  assertEquals(fig.layout.yaxis?.minor?.ticks, "outside", "minor ticks on a decade axis");
  assert(fig.layout.yaxis2?.ticktext?.includes("0.2") === true, `${fig.layout.yaxis2?.ticktext}`);
  assertEquals(fig.layout.yaxis3?.tickvals, undefined, "an axis with its own dtick is left alone");
  // error bars count towards the range; an explicit range wins
  const e = scatterTrace([1, 2], [0.5, 0.5]);
  e.error_y = intervalErrorBars([0.5, 0.5], [0.001, 0.4], [0.6, 0.6]);
  const withBars = figure([e], { yaxis: { type: "log" } });
  assert(withBars.layout.yaxis?.ticktext?.includes("10<sup>−3</sup>") === true, "error bar end inside the ticks");
  const ranged = figure([e], { yaxis: { type: "log", range: [-8, -2] } });
  assert(ranged.layout.yaxis?.ticktext?.includes("10<sup>−7</sup>") === true, "range in log10 units");
});

// ---------------------------------------------------------------- intervals

Deno.test("normalInterval, intervalErrorBars and meanIntervalTraces draw mean ± 95% intervals", () => {
  const { lo, hi } = normalInterval([1, 2, 3], [0.1, NaN, 0.2]);
  assert(Math.abs(lo[0]! - (1 - Z95 * 0.1)) < 1e-12 && Math.abs(hi[2]! - (3 + Z95 * 0.2)) < 1e-12, `${lo} ${hi}`);
  assert(Number.isNaN(lo[1]!) && Number.isNaN(hi[1]!), "missing se: no interval");
  const e = intervalErrorBars([0.3, 0.5], [0.2, 0.45], [0.42, 0.52]);
  assertEquals(e.symmetric, false, "asymmetric");
  assert(
    Math.abs((e.array![0] as number) - 0.12) < 1e-12 && Math.abs((e.arrayminus![1] as number) - 0.05) < 1e-12,
    "ends",
  );
  assertThrows(() => intervalErrorBars([1], [1.5], [2]), "interval 0 [1.5, 2] does not contain its mean 1");
  const band = meanIntervalTraces([1, 2, 3], [1, 2, 3], lo, hi, { name: "m", color: DARK2_GREEN });
  assertEquals(band.length, 3, "lower edge, upper edge, line");
  assertEquals(band.map((t) => t.legendgroup), ["m", "m", "m"], "one legend group");
  assertEquals(band[1]!.y, [lo[0]! + 2 * Z95 * 0.1, null, hi[2]!], "a gap where the interval is missing");
  assertEquals(legendSeries({ data: band }), ["m"], "one legend entry");
  const bars = meanIntervalTraces([1, 2, 3], [1, 2, 3], lo, hi, { name: "m", color: DARK2_GREEN, style: "bars" });
  assertEquals([bars.length, bars[0]!.mode, bars[0]!.error_y?.symmetric], [1, "markers", false], "error bars");
});

// ---------------------------------------------------------------- deterministic SVG, PNG size

Deno.test("canonicalSvgIds renames random plotly ids and their references in order of appearance", () => {
  const svg = (uid: string, fill: string) =>
    `<svg><defs id="defs-${uid}"><clipPath id="clip${uid}xy"><rect/></clipPath>` +
    `<clipPath id="clip${uid}x"><rect/></clipPath><linearGradient id="g${uid}-cb${uid}"/></defs>` +
    `<g clip-path="url(#clip${uid}x)"><path style="fill: url('#g${uid}-cb${uid}'); stroke: ${fill}"/>` +
    `<use xlink:href="#clip${uid}xy"/><g clip-path="url(#elsewhere)"/></g></svg>`;
  const a = canonicalSvgIds(svg("9bb935", "red"));
  assertEquals(a, canonicalSvgIds(svg("41c0d2", "red")), "same figure, different random ids: same text");
  assert(!a.includes("9bb935"), "no random id left");
  const prefix = /id="(f[0-9a-f]{8})-0"/.exec(a)?.[1];
  assert(prefix !== undefined, `canonical ids: ${a}`);
  assert(a.includes(`url(#${prefix}-2)`) && a.includes(`url('#${prefix}-3')`), "url references rewritten");
  assert(a.includes(`xlink:href="#${prefix}-1"`), "href references rewritten");
  assert(a.includes("url(#elsewhere)"), "a reference to an id the SVG lacks is kept");
  assert(!canonicalSvgIds(svg("9bb935", "blue")).includes(prefix), "another figure gets another prefix");
  assertEquals(sortSvgAttributes('<rect y="2" x="1" class="bg"/><g>'), '<rect class="bg" x="1" y="2"/><g>', "sorted");
});

Deno.test("saved PNGs are at least 2x and at least 1,600 px wide", () => {
  assertEquals(pngScale(1000), 2, "1000 px at 2x");
  assertEquals(pngScale(760), 1600 / 760, "760 px raised to 1,600");
  assertEquals(pngScale(1000, 3), 3, "a larger ratio is kept");
  assertThrows(() => pngScale(1000, 1), "the PNG scale must be at least 2");
});

// ---------------------------------------------------------------- export (needs Chromium)

function smallFigure(k: number): Figure {
  return figure([lineTrace([1, 2, 3], [k, k * 2, k * 4], { name: `k=${k}` })], {
    title: { text: `figure ${k}` },
    width: 400,
    height: 300,
  });
}

Deno.test({
  name: "the exporter renders several figures with one browser and stops it on close",
  ignore: NO_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const before = exporterStats();
    const pngs: Uint8Array[] = [];
    for (let k = 1; k <= 3; k++) pngs.push(await exportFigure(smallFigure(k), { format: "png", scale: 1 }));
    const svg = new TextDecoder().decode(await exportFigure(smallFigure(4), { format: "svg" }));
    const after = exporterStats();
    assert(after.launches - before.launches <= 1, `started ${after.launches - before.launches} browsers for 4 figures`);
    assertEquals(after.exported - before.exported, 4, "images exported");
    assert(after.running && after.pid !== null, "browser running");
    for (const png of pngs) assertEquals([...png.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47], "PNG magic");
    // PNG width/height live in the IHDR chunk (big-endian at bytes 16 and 20)
    const view = new DataView(pngs[0]!.buffer, pngs[0]!.byteOffset);
    assertEquals([view.getUint32(16), view.getUint32(20)], [400, 300], "PNG size at scale 1");
    assert(svg.startsWith("<svg") && svg.includes("figure 4"), "SVG root element and title");
    // the same figure rendered again, after other figures, gives the same SVG bytes
    const again = new TextDecoder().decode(await exportFigure(smallFigure(4), { format: "svg" }));
    assert(again === svg, "the same figure gives the same SVG bytes");
    const two = figure([lineTrace([1, 2], [1, 10], { name: "a" }), lineTrace([1, 2], [2, 3], { name: "b" })], {
      yaxis: { type: "log" },
      width: 400,
      height: 300,
    });
    const first = await exportFigure(two, { format: "svg" });
    assert(equalBytes(first, await exportFigure(two, { format: "svg" })), "first and second render of a legend figure");
    const pid = after.pid;
    await closeExporter();
    assertEquals(exporterStats().running, false, "stopped");
    let alive = true;
    for (let i = 0; i < 40 && alive; i++) {
      try {
        await Deno.stat(`/proc/${pid}`);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        alive = false;
      }
    }
    assert(!alive, `browser watchdog ${pid} still running after closeExporter()`);
  },
});

Deno.test({
  name: "save writes svg, png, html and data JSON atomically into SAE_OUT_DIR/figures",
  ignore: NO_CHROMIUM,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "plot_test_" });
    const previous = Deno.env.get("SAE_OUT_DIR");
    Deno.env.set("SAE_OUT_DIR", out);
    try {
      const x = [1, 2, 4, 8];
      const y = [0.1 + 0.2, 1 / 3, 2 / 3, 1];
      const g = gridLayout(1, 2, { width: 700, height: 320 });
      const fig = figure(
        [lineTrace(x, y, { axes: g.axes(0, 0) }), lineTrace(x, y, { axes: g.axes(0, 1) })],
        mergeLayout(g.layout, { xaxis2: { type: "log" }, shapes: [vline(2, { axes: g.axes(0, 1) })] }),
      );
      const saved = await save(fig, "unit_fig", { x, y, note: "test" });
      const dir = `${out}/figures`;
      assertEquals(saved.dir, dir, "figures folder");
      const png = await Deno.readFile(`${dir}/unit_fig.png`);
      assertEquals([...png.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature");
      const view = new DataView(png.buffer, png.byteOffset);
      // 700 px × 2 = 1400 px is under the 1,600 px floor: the scale rises to 1600 / 700
      assertEquals(view.getUint32(16), MIN_PNG_WIDTH, "PNG width");
      assert(Math.abs(view.getUint32(20) - 320 * 1600 / 700) <= 1, `PNG height ${view.getUint32(20)}`);
      const svg = await Deno.readTextFile(`${dir}/unit_fig.svg`);
      // saving the same figure again gives the same SVG and PNG bytes
      await save(fig, "unit_fig_again", { x, y, note: "test" });
      assertEquals(await Deno.readTextFile(`${dir}/unit_fig_again.svg`), svg, "SVG bytes of a second save");
      assert(equalBytes(await Deno.readFile(`${dir}/unit_fig_again.png`), png), "PNG bytes of a second save");
      assert(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/.test(svg), "SVG root element");
      const html = await Deno.readTextFile(`${dir}/unit_fig.html`);
      assert(html.includes('<script src="./plotly.min.js"></script>'), "HTML loads the shared plotly.js");
      assert(html.length < 100_000, `HTML is ${html.length} bytes: plotly.js must not be inlined`);
      const copy = await Deno.stat(`${dir}/plotly.min.js`);
      assert(copy.size > 1_000_000, "plotly.min.js copied next to the figures");
      const data = await readFigureData<{ x: number[]; y: number[]; note: string }>(saved.data);
      assertEquals(data, { x, y, note: "test" }, "data JSON round-trip");
      const leftovers = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp"));
      assertEquals(leftovers.length, 0, "no temporary files left");
      // bad data fails before anything is written
      let message = "";
      try {
        await save(fig, "bad_fig", { y: [NaN] });
      } catch (e) {
        message = e instanceof Error ? e.message : String(e);
      }
      assert(message.includes("data.y[0] is NaN"), `bad data error: ${message}`);
      assert(!(await fileExists(`${dir}/bad_fig.png`)), "no files for a rejected figure");
      let nameError = "";
      try {
        await save(fig, "../escape", {});
      } catch (e) {
        nameError = e instanceof Error ? e.message : String(e);
      }
      assert(nameError.includes('figure name "../escape"'), `bad name error: ${nameError}`);
    } finally {
      if (previous === undefined) Deno.env.delete("SAE_OUT_DIR");
      else Deno.env.set("SAE_OUT_DIR", previous);
      await closeExporter();
      await Deno.remove(out, { recursive: true });
    }
  },
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
