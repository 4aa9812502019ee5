import {
  arrow,
  bandTraces,
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
  layerColor,
  lineTrace,
  mergeLayout,
  panelLayout,
  parseFigureData,
  PLOTLY_MIME,
  readFigureData,
  save,
  validateFigure,
  vline,
  withAlpha,
} from "../lib/plot/mod.ts";
import type { Figure } from "../lib/plot/mod.ts";

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
      assertEquals([view.getUint32(16), view.getUint32(20)], [1400, 640], "PNG at scale 2");
      const svg = await Deno.readTextFile(`${dir}/unit_fig.svg`);
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
      assert(!(await exists(`${dir}/bad_fig.png`)), "no files for a rejected figure");
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

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
