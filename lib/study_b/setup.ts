/**
 * What every study-B notebook starts from: the model (centred as TransformerLens's
 * `center_writing_weights`, so the residual stream is the one the SAEs were trained
 * on), its token map, the BOS id in model ids, and the list of SAEs with their
 * layer labels — read from whatever `resolveArtifacts()` returns (the embedded
 * default, or the real gpt2-small + gpt2-small-res-jb files named by `SAE_ARTIFACTS`).
 *
 * SAE weights are not loaded here (a res-jb SAE is ~151 MB); {@link loadStudySae}
 * loads one when needed. Layer labels follow the comment thread: `blocks.{L}.hook_resid_pre`
 * is layer L and the last block's `hook_resid_post` is layer `n_layer` ("layer 12" of
 * gpt2-small).
 *
 * @example
 * ```ts
 * import { initBackend } from "../engine/backend.ts";
 * import { loadStudySetup } from "./setup.ts";
 * await initBackend();
 * const setup = await loadStudySetup();
 * setup.saes.map((s) => `${s.label}: ${s.hook}`); // ["0: blocks.0.hook_resid_pre", …]
 * setup.model.dispose();
 * ```
 *
 * @module
 */

import { type ArtifactPaths, resolveArtifacts } from "../lm/artifacts.ts";
import type { LanguageModel } from "../lm/language_model.ts";
import { hookLayer } from "../lm/gpt2.ts";
import { readJsonFile } from "../io/weights_files.ts";
import { loadGpt2FromHf } from "../lm/hf_loader.ts";
import type { TokenMap } from "../lm/token_map.ts";
import { BOS_TOKEN_ID } from "../tokenizer/tokenizer.ts";
import { join } from "../path.ts";
import type { SaeConfig } from "../sae/config.ts";
import type { Sae } from "../sae/sae.ts";
import { assertSaeFitsModel } from "../splice/sae_fit.ts";
import { loadSaeLens, SAE_CFG_FILE, saeConfigFromSaeLens } from "../sae/saelens.ts";

/** One SAE of the study, not yet loaded. */
export interface StudySae {
  /** Layer label: L for `blocks.{L}.hook_resid_pre`, L + 1 for `blocks.{L}.hook_resid_post`. */
  label: number;
  /** The hook it reads (from its cfg.json). */
  hook: string;
  /** Its SAELens folder. */
  folder: string;
  /** Its configuration (from cfg.json). */
  cfg: SaeConfig;
  /** Bytes of its float32 weights (W_enc, W_dec, b_enc, b_dec). */
  bytes: number;
}

/** The model, token handling and SAEs of a study-B run. */
export interface StudySetup {
  artifacts: ArtifactPaths;
  /** Centred model (TransformerLens `center_writing_weights`), parameters not trainable. */
  model: LanguageModel;
  /** Compact-vocabulary map, or null for the full GPT-2 vocabulary. */
  tokenMap: TokenMap | null;
  /** BOS (= EOS, `<|endoftext|>`) in model ids. */
  bosId: number;
  /** The model's context length n_ctx. */
  modelContext: number;
  /** SAEs sorted by layer label. */
  saes: StudySae[];
  /** The SAEs' training context (SAELens `context_size`), equal for all. */
  saeContext: number;
  /** One line naming the source, model shape and SAEs. */
  description: string;
  /**
   * False for untrained artefacts (`"trained": false` in the `SAE_ARTIFACTS`
   * JSON: random weights in the real layouts). Checks that only hold for a
   * trained model (the bug guard, the claims) are then reported as skipped, never
   * passed: see `guardOrSkip` in `guards.ts`.
   */
  trained: boolean;
}

/**
 * Layer label of a residual hook: L for `blocks.{L}.hook_resid_pre`, L + 1 for
 * `blocks.{L}.hook_resid_post`; throws for any other hook.
 *
 * @example
 * ```ts
 * import { residLabel } from "./setup.ts";
 * residLabel("blocks.11.hook_resid_post", 12); // 12
 * ```
 */
export function residLabel(hook: string, nLayer: number): number {
  const layer = hookLayer(hook, nLayer);
  if (hook.endsWith(".hook_resid_pre")) return layer;
  if (hook.endsWith(".hook_resid_post")) return layer + 1;
  throw new Error(`study B uses residual-stream SAEs; hook "${hook}" is not a hook_resid_pre/hook_resid_post`);
}

/** Bytes of an SAE's float32 weights. */
export function saeBytes(cfg: SaeConfig): number {
  return 4 * (2 * cfg.d_in * cfg.d_sae + cfg.d_sae + cfg.d_in);
}

/** Options of {@link loadStudySetup}. */
export interface StudySetupOptions {
  /** Artefacts to use (default `resolveArtifacts()`). */
  artifacts?: ArtifactPaths;
  /** Require at least this many SAEs (default 1). */
  minSaes?: number;
}

/**
 * Loads the model and reads the SAE configs of the study-B artefacts.
 *
 * @throws {Error} when there are no SAEs, an SAE does not fit the model, two SAEs
 * read the same hook, or the SAEs disagree about their training context
 */
export async function loadStudySetup(opts: StudySetupOptions = {}): Promise<StudySetup> {
  const artifacts = opts.artifacts ?? await resolveArtifacts();
  const { model, tokenMap } = await loadGpt2FromHf(artifacts.model, { centerWritingWeights: true, trainable: false });
  try {
    const nLayer = model.cfg.n_layer;
    const saes: StudySae[] = [];
    for (const folder of Object.values(artifacts.saes)) {
      const path = join(folder, SAE_CFG_FILE);
      const cfg = saeConfigFromSaeLens(await readJsonFile(path), path); // strict JSON, errors name the file
      assertSaeFitsModel(cfg, model.cfg, `the model in ${artifacts.model}`);
      const label = residLabel(cfg.hook_name, nLayer);
      const twin = saes.find((s) => s.hook === cfg.hook_name);
      if (twin) throw new Error(`two SAEs read ${cfg.hook_name}: ${twin.folder} and ${folder}`);
      saes.push({ label, hook: cfg.hook_name, folder, cfg, bytes: saeBytes(cfg) });
    }
    saes.sort((a, b) => a.label - b.label);
    const minSaes = opts.minSaes ?? 1;
    if (saes.length < minSaes) {
      throw new Error(`${artifacts.description}: ${saes.length} SAE folder(s) under saes/, need at least ${minSaes}`);
    }
    const contexts = [...new Set(saes.map((s) => s.cfg.context_size))];
    if (contexts.length !== 1 || !(contexts[0]! > 0)) {
      throw new Error(
        `the SAEs must share one positive training context_size; got ${
          saes.map((s) => `${s.hook}: ${s.cfg.context_size}`).join(", ")
        }`,
      );
    }
    const bosId = tokenMap ? tokenMap.encode([BOS_TOKEN_ID])[0]! : BOS_TOKEN_ID;
    if (tokenMap && bosId === tokenMap.unkId) {
      throw new Error(`${artifacts.model}: the vocabulary map has no entry for <|endoftext|> (GPT-2 id 50256)`);
    }
    if (bosId >= model.cfg.d_vocab) {
      throw new Error(
        `${artifacts.model}: vocabulary of ${model.cfg.d_vocab} tokens has no <|endoftext|> id ${bosId}; ` +
          `a compact-vocabulary model needs vocab_map.json (data/README.md)`,
      );
    }
    const c = model.cfg;
    const trained = artifacts.trained ?? true;
    return {
      artifacts,
      trained,
      model,
      tokenMap,
      bosId,
      modelContext: c.n_ctx,
      saes,
      saeContext: contexts[0]!,
      description: `${artifacts.description}: GPT-2 ${c.n_layer} layers, d_model ${c.d_model}, ${c.n_head} heads, ` +
        `n_ctx ${c.n_ctx}, vocabulary ${c.d_vocab}${tokenMap ? " (compact map of GPT-2 BPE)" : ""}; ` +
        `${saes.length} SAEs (d_sae ${[...new Set(saes.map((s) => s.cfg.d_sae))].join("/")}, ` +
        `trained on ${contexts[0]}-token contexts)` +
        (trained ? "" : "; UNTRAINED (random weights): checks that need a trained model are skipped"),
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * Loads one SAE's weights; the caller disposes it.
 *
 * @example
 * ```ts
 * import { loadStudySae } from "./setup.ts";
 * // const sae = await loadStudySae(setup.saes[0]!);
 * ```
 */
export async function loadStudySae(entry: StudySae): Promise<Sae> {
  const { sae } = await loadSaeLens(entry.folder);
  if (sae.cfg.hook_name !== entry.hook) {
    sae.dispose();
    throw new Error(`${entry.folder}: cfg.json now names hook ${sae.cfg.hook_name}, expected ${entry.hook}`);
  }
  return sae;
}

/**
 * GPT-2 ids → model ids (through the token map when the model has a compact
 * vocabulary); throws naming the first id the model cannot take.
 */
export function toModelIds(setup: Pick<StudySetup, "tokenMap" | "model">, gpt2Ids: ArrayLike<number>): Int32Array {
  const out = setup.tokenMap ? setup.tokenMap.encode(gpt2Ids) : Int32Array.from(gpt2Ids);
  const V = setup.model.cfg.d_vocab;
  for (let i = 0; i < out.length; i++) {
    if (!(out[i]! >= 0 && out[i]! < V)) {
      throw new Error(
        `token id ${out[i]} at index ${i} is outside the model's vocabulary [0, ${V}) (no vocab_map.json?)`,
      );
    }
  }
  return out;
}

/**
 * Groups SAEs (in order) so that each group's weights fit in `budgetBytes`; an SAE
 * larger than the budget gets a group of its own.
 *
 * @example
 * ```ts
 * import { groupByBytes } from "./setup.ts";
 * groupByBytes([{ bytes: 3 }, { bytes: 3 }, { bytes: 3 }], 6).map((g) => g.length); // [2, 1]
 * ```
 */
export function groupByBytes<T extends { bytes: number }>(items: readonly T[], budgetBytes: number): T[][] {
  const groups: T[][] = [];
  let cur: T[] = [];
  let used = 0;
  for (const it of items) {
    if (cur.length > 0 && used + it.bytes > budgetBytes) {
      groups.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(it);
    used += it.bytes;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}
