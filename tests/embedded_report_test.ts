import { CheckError } from "../lib/check.ts";
import {
  checkContextUse,
  checkSaeQuality,
  type ContextUse,
  type EmbeddedSaeQualityRow,
} from "../lib/lm/embedded_report.ts";

function assertThrows(fn: () => void, includes: string): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CheckError)) throw e;
    if (!e.message.includes(includes)) throw new Error(`error "${e.message}" lacks "${includes}"`);
    return;
  }
  throw new Error(`expected a CheckError mentioning "${includes}"`);
}

const use = (early: number, late: number, ci: [number, number]): ContextUse => ({
  label: "rows",
  rows: 10,
  by_position: [],
  early_span: [1, 33],
  early,
  late_span: [512, 1024],
  late,
  diff: late - early,
  diff_ci95: ci,
});

Deno.test("the context-use bar needs a large enough gain and a paired interval below zero", () => {
  checkContextUse(use(5.0, 4.8, [-0.3, -0.1]));
  assertThrows(() => checkContextUse(use(5.0, 4.98, [-0.03, -0.01])), "nats lower");
  assertThrows(() => checkContextUse(use(4.806, 4.740, [-0.134, 0.002])), "is not below 0");
});

const row = (over: Partial<EmbeddedSaeQualityRow> = {}): EmbeddedSaeQualityRow => ({
  hook: "blocks.0.hook_resid_pre",
  d_sae: 2048,
  l0: 40,
  explained_variance: 0.96,
  ce_clean: 4.7,
  ce_spliced: 4.8,
  ce_zero: 7.7,
  ce_loss_recovered: 0.97,
  dead_fraction: 0.05,
  dead_tokens: 1000,
  silent_by_tokens: [],
  tokens: 100,
  ...over,
});

Deno.test("SAE quality bars name the hook and metric that miss, and the dead bar can be left out", () => {
  checkSaeQuality([row()]);
  assertThrows(() => checkSaeQuality([row({ explained_variance: 0.7 })]), "explained variance");
  assertThrows(() => checkSaeQuality([row({ ce_loss_recovered: 0.5 })]), "CE loss recovered");
  assertThrows(() => checkSaeQuality([row({ l0: 120 })]), "L0 120");
  assertThrows(() => checkSaeQuality([row({ dead_fraction: 0.2 })]), "dead fraction");
  checkSaeQuality([row({ dead_fraction: 0.2 })], { checkDead: false });
  assertThrows(() => checkSaeQuality([]), "no SAEs");
});
