/**
 * Benchmark row `lm_train_step`: one optimiser step of the project's language-model trainer
 * (`lib/lm/train.ts` `trainStep`: forward, backward over micro-batches, gradient clipping, AdamW) at the
 * embedded default's shape (`lib/lm/embedded.ts`: 4 layers, d_model 128, 4 heads, n_ctx 1024, vocabulary 8192,
 * 8 rows of 1024 tokens), on random weights and random tokens.
 *
 * @module
 */

import { fusedAdam } from "../lib/engine/kernels/adam.ts";
import { Rng } from "../lib/engine/rng.ts";
import { defaultGpt2Config } from "../lib/lm/config.ts";
import { defaultEmbeddedConfig } from "../lib/lm/embedded.ts";
import { Gpt2 } from "../lib/lm/gpt2.ts";
import { trainStep } from "../lib/lm/train.ts";
import type { RowSpec } from "./rows.ts";

/** The `lm_train_step` row (milliseconds per step; no PyTorch twin yet). */
export function lmTrainStepRow(): RowSpec {
  return {
    name: "lm_train_step",
    unit: "ms",
    reps: 3,
    warmup: 1,
    prepare() {
      const emb = defaultEmbeddedConfig();
      const cfg = emb.lm;
      const model = Gpt2.random(defaultGpt2Config({ ...emb.model, d_vocab: emb.vocab.max_vocab }), 0);
      const optimizer = fusedAdam(cfg.lr, cfg.adam_beta1, cfg.adam_beta2, cfg.adam_epsilon);
      const rng = new Rng(0, "bench/lm_train_step");
      const rows = Array.from({ length: cfg.batch_rows }, () => {
        const r = new Int32Array(cfg.n_ctx + 1);
        for (let i = 0; i < r.length; i++) r[i] = rng.int(emb.vocab.max_vocab);
        return r;
      });
      return {
        run() {
          trainStep(model, optimizer, rows, cfg, cfg.lr);
        },
        dispose() {
          optimizer.dispose();
          model.dispose();
        },
        notes:
          `${emb.model.n_layer} layers × d_model ${emb.model.d_model}, n_ctx ${cfg.n_ctx}, vocab ${emb.vocab.max_vocab}, ` +
          `${cfg.batch_rows} rows × ${cfg.n_ctx} tokens per step`,
      };
    },
  };
}
