import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/engine/backend.ts";
import { createSae, defaultSaeConfig, SaeConfigError, saeFromArrays } from "../lib/sae/mod.ts";

await initBackend();

function throwsWith(f: () => unknown, needle: string) {
  try {
    f();
  } catch (e) {
    if (!(e as Error).message.includes(needle)) throw new Error(`expected "${needle}" in "${(e as Error).message}"`);
    return;
  }
  throw new Error(`expected an error mentioning "${needle}"`);
}

Deno.test("study-A init: weights within ±√(6/(d_in·d_sae)), unit decoder rows, zero biases, seed-reproducible", () => {
  const cfg = defaultSaeConfig({ d_in: 2, d_sae: 4, n_inst: 125 });
  const a = createSae(cfg, 7).toArrays();
  const b = createSae(cfg, 7).toArrays();
  const c = createSae(cfg, 8).toArrays();
  const bound = Math.sqrt(6 / 8);
  const enc = a.W_enc!.data;
  if (enc.some((v) => Math.abs(v) > bound)) throw new Error("W_enc outside the kaiming bound");
  if (!(Math.max(...enc.map(Math.abs)) > 0.8 * bound)) throw new Error("W_enc does not fill the kaiming range");
  const dec = a.W_dec!.data;
  for (let r = 0; r < 125 * 4; r++) {
    const n = Math.hypot(dec[2 * r]!, dec[2 * r + 1]!);
    if (Math.abs(n - 1) > 1e-6) throw new Error(`decoder row ${r} has norm ${n}`);
  }
  if (a.b_enc!.data.some((v) => v !== 0) || a.b_dec!.data.some((v) => v !== 0)) {
    throw new Error("biases must start at 0");
  }
  if (a.W_enc!.data.some((v, i) => v !== b.W_enc!.data[i])) throw new Error("same seed must give the same weights");
  if (a.W_enc!.data.every((v, i) => v === c.W_enc!.data[i])) throw new Error("different seeds must differ");
});

Deno.test("SAELens init: W_enc = W_decᵀ and decoder rows of norm decoder_init_norm", () => {
  const sae = createSae(defaultSaeConfig({ d_in: 3, d_sae: 5 }), 1, { scheme: "saelens", decoder_init_norm: 0.1 });
  const { W_enc, W_dec } = sae.toArrays();
  for (let j = 0; j < 5; j++) {
    let ss = 0;
    for (let k = 0; k < 3; k++) {
      ss += W_dec!.data[j * 3 + k]! ** 2;
      if (W_enc!.data[k * 5 + j] !== W_dec!.data[j * 3 + k]) throw new Error("W_enc must be W_dec transposed");
    }
    if (Math.abs(Math.sqrt(ss) - 0.1) > 1e-6) throw new Error(`row ${j} norm ${Math.sqrt(ss)}`);
  }
  sae.dispose();
});

Deno.test("forward shapes: per-instance, shared and 2-D input; reconstruct matches decode(encode(x))", () => {
  const sae = createSae(defaultSaeConfig({ d_in: 3, d_sae: 6, n_inst: 4 }), 0);
  const f = sae.forward(tf.randomUniform([1, 5, 3]) as tf.Tensor3D);
  if (`${f.acts.shape}` !== "4,5,6" || `${f.recon.shape}` !== "4,5,3" || `${f.preActs.shape}` !== "4,5,6") {
    throw new Error(`shapes ${f.acts.shape} ${f.recon.shape}`);
  }
  if (tf.min(f.acts).dataSync()[0]! < 0) throw new Error("ReLU activations must be ≥ 0");
  throwsWith(() => sae.encode(tf.zeros([5, 3]) as tf.Tensor2D), "n_inst = 1");
  throwsWith(() => sae.encode(tf.zeros([2, 5, 3]) as tf.Tensor3D), "expected input [4 or 1, batch, 3]");
  const one = createSae(defaultSaeConfig({ d_in: 3, d_sae: 6 }), 0);
  const x = tf.randomUniform([5, 3]) as tf.Tensor2D;
  const r = one.reconstruct(x);
  const r2 = one.decode(one.encode(x));
  if (`${r.shape}` !== "5,3") throw new Error(`reconstruct shape ${r.shape}`);
  if (tf.max(tf.abs(tf.sub(r, r2))).dataSync()[0]! > 1e-6) throw new Error("reconstruct ≠ decode(encode(x))");
  sae.dispose();
  one.dispose();
});

Deno.test("apply_b_dec_to_input subtracts b_dec before encoding", () => {
  const arrays = {
    W_enc: { data: new Float32Array([1]), shape: [1, 1] },
    b_enc: { data: new Float32Array([0]), shape: [1] },
    W_dec: { data: new Float32Array([1]), shape: [1, 1] },
    b_dec: { data: new Float32Array([2]), shape: [1] },
  };
  const plain = saeFromArrays(defaultSaeConfig({ d_in: 1, d_sae: 1 }), arrays);
  const centred = saeFromArrays(defaultSaeConfig({ d_in: 1, d_sae: 1, apply_b_dec_to_input: true }), arrays);
  const x = tf.tensor2d([[5]]);
  const a = plain.encode(x).dataSync()[0];
  const b = centred.encode(x).dataSync()[0];
  if (a !== 5 || b !== 3) throw new Error(`encodings ${a}, ${b}`);
});

Deno.test("saeFromArrays round-trips toArrays, accepts SAELens 2-D names and log_threshold, and names bad arrays", () => {
  const cfg = defaultSaeConfig({ d_in: 2, d_sae: 3, n_inst: 1, architecture: "jumprelu" });
  const sae = createSae(cfg, 2);
  const arrays = sae.toArrays();
  const back = saeFromArrays(cfg, arrays).toArrays();
  for (const k of Object.keys(arrays)) {
    if (arrays[k]!.data.some((v, i) => v !== back[k]!.data[i])) throw new Error(`${k} changed in the round trip`);
  }
  const flat = {
    W_enc: { data: arrays.W_enc!.data, shape: [2, 3] },
    b_enc: { data: arrays.b_enc!.data, shape: [3] },
    W_dec: { data: arrays.W_dec!.data, shape: [3, 2] },
    b_dec: { data: arrays.b_dec!.data, shape: [2] },
    log_threshold: { data: new Float32Array(3).fill(Math.log(0.5)), shape: [3] },
  };
  const fromFlat = saeFromArrays(cfg, flat);
  if (Math.abs(fromFlat.params.threshold!.dataSync()[0]! - 0.5) > 1e-6) {
    throw new Error("log_threshold not exponentiated");
  }
  throwsWith(
    () => saeFromArrays(cfg, { ...flat, W_enc: { data: new Float32Array(6), shape: [3, 2] } }),
    '"W_enc" has shape [3,2]',
  );
  throwsWith(() => saeFromArrays(defaultSaeConfig({ d_in: 2, d_sae: 3 }), { W_enc: flat.W_enc }), '"b_enc" is missing');
  throwsWith(
    () => saeFromArrays(defaultSaeConfig({ d_in: 1, d_sae: 1 }), { ...flat, W_enc: { data: [NaN], shape: [1, 1] } }),
    "expected a finite number",
  );
});

Deno.test("bad configurations fail with the field named", () => {
  throwsWith(() => createSae(defaultSaeConfig({ d_sae: 0 }), 0), "SaeConfig.d_sae");
  throwsWith(() => createSae(defaultSaeConfig({ architecture: "topk", k: 9, d_sae: 4 }), 0), "SaeConfig.k");
  let ok = false;
  try {
    createSae(defaultSaeConfig({ architecture: "jumprelu", jumprelu_bandwidth: 0 }), 0);
  } catch (e) {
    ok = e instanceof SaeConfigError && e.message.includes("jumprelu_bandwidth");
  }
  if (!ok) throw new Error("expected SaeConfigError for jumprelu_bandwidth");
});
