/**
 * A compact vocabulary: a model whose embedding has fewer rows than GPT-2's
 * 50257 maps each GPT-2 token id it knows to its own id and every other id to
 * one unknown token. A checkpoint stores the map as `vocab_map.json` next to
 * `config.json`; the Hugging Face loader reads it and returns it with the model.
 *
 * File format (`vocab_map.json`):
 * ```json
 * { "format": "gpt2-vocab-map/1", "source_vocab": 50257, "unk_id": 1, "model_to_source": [50256, -1, 13, 11, …] }
 * ```
 * `model_to_source[i]` is the GPT-2 id of model token `i`; the entry at
 * `unk_id` is −1.
 *
 * @example
 * ```ts
 * import { TokenMap } from "./token_map.ts";
 * const map = new TokenMap([50256, -1, 13, 11], 1);
 * map.encode(new Int32Array([50256, 11, 995])); // Int32Array [0, 3, 1]
 * map.decode(new Int32Array([0, 3, 1])); // Int32Array [50256, 11, -1]
 * ```
 *
 * @module
 */

/** The `format` value of a `vocab_map.json` file. */
export const TOKEN_MAP_FORMAT = "gpt2-vocab-map/1";

/** A GPT-2 id ↔ model id map with one unknown token; see the module documentation. */
export class TokenMap {
  /** GPT-2 id of each model id (−1 at `unkId`). */
  readonly modelToSource: Int32Array;
  /** Model id every unmapped GPT-2 id becomes. */
  readonly unkId: number;
  /** Size of the source (GPT-2) vocabulary. */
  readonly sourceVocab: number;
  readonly #sourceToModel: Int32Array;

  /**
   * @throws {Error} naming the entry when an id is out of range, repeated, or
   * the unknown token is not marked −1
   */
  constructor(modelToSource: ArrayLike<number>, unkId: number, sourceVocab = 50257, where = "TokenMap") {
    const n = modelToSource.length;
    if (!Number.isInteger(unkId) || unkId < 0 || unkId >= n) {
      throw new Error(`${where}: unk_id must be a model id in [0, ${n}), got ${unkId}`);
    }
    this.modelToSource = Int32Array.from(modelToSource);
    this.unkId = unkId;
    this.sourceVocab = sourceVocab;
    this.#sourceToModel = new Int32Array(sourceVocab).fill(unkId);
    for (let i = 0; i < n; i++) {
      const s = this.modelToSource[i] as number;
      if (i === unkId) {
        if (s !== -1) throw new Error(`${where}: model_to_source[${i}] (the unk_id) must be -1, got ${s}`);
        continue;
      }
      if (!Number.isInteger(modelToSource[i]) || s < 0 || s >= sourceVocab) {
        throw new Error(
          `${where}: model_to_source[${i}] = ${modelToSource[i]} is not a GPT-2 id in [0, ${sourceVocab})`,
        );
      }
      if (this.#sourceToModel[s] !== unkId) {
        throw new Error(`${where}: GPT-2 id ${s} is mapped twice (model ids ${this.#sourceToModel[s]} and ${i})`);
      }
      this.#sourceToModel[s] = i;
    }
  }

  /** Number of model token ids (the model's `d_vocab`). */
  get modelVocab(): number {
    return this.modelToSource.length;
  }

  /** GPT-2 ids → model ids (unknown ids become `unkId`). */
  encode(sourceIds: ArrayLike<number>): Int32Array {
    const out = new Int32Array(sourceIds.length);
    for (let i = 0; i < out.length; i++) {
      const s = sourceIds[i] as number;
      if (!(s >= 0 && s < this.sourceVocab)) {
        throw new Error(`TokenMap.encode: id ${s} at index ${i} is outside [0, ${this.sourceVocab})`);
      }
      out[i] = this.#sourceToModel[s] as number;
    }
    return out;
  }

  /** Model ids → GPT-2 ids (the unknown token becomes −1). */
  decode(modelIds: ArrayLike<number>): Int32Array {
    const out = new Int32Array(modelIds.length);
    for (let i = 0; i < out.length; i++) {
      const m = modelIds[i] as number;
      if (!(m >= 0 && m < this.modelVocab)) {
        throw new Error(`TokenMap.decode: id ${m} at index ${i} is outside [0, ${this.modelVocab})`);
      }
      out[i] = this.modelToSource[m] as number;
    }
    return out;
  }

  /** The `vocab_map.json` content. */
  toJson(): { format: string; source_vocab: number; unk_id: number; model_to_source: number[] } {
    return {
      format: TOKEN_MAP_FORMAT,
      source_vocab: this.sourceVocab,
      unk_id: this.unkId,
      model_to_source: Array.from(this.modelToSource),
    };
  }

  /** Parses `vocab_map.json` content; `source` names the file in errors. */
  static fromJson(json: unknown, source: string): TokenMap {
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new Error(`${source}: expected a JSON object`);
    }
    const o = json as Record<string, unknown>;
    if (o.format !== TOKEN_MAP_FORMAT) {
      throw new Error(`${source}: "format" must be "${TOKEN_MAP_FORMAT}", got ${JSON.stringify(o.format)}`);
    }
    if (!Array.isArray(o.model_to_source)) throw new Error(`${source}: "model_to_source" must be an array`);
    if (typeof o.unk_id !== "number") throw new Error(`${source}: "unk_id" must be a number`);
    const sourceVocab = o.source_vocab ?? 50257;
    if (typeof sourceVocab !== "number") throw new Error(`${source}: "source_vocab" must be a number`);
    return new TokenMap(o.model_to_source as number[], o.unk_id, sourceVocab, source);
  }
}
