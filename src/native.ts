/**
 * Loads the native addon once, at first use, and never throws: a missing or broken addon is a
 * reason string for `backends().cpu.reason`, and 'auto' then runs the 'js' reference.
 *
 * The addon sits at the package root (`binding.js` beside `tripletkit.<platform>.node`, as
 * `napi build` writes it), while this file runs from `src/` under tsx and from `dist/src/` once
 * built, so the root is found by walking up to the folder that holds package.json.
 */

import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { NativeBinding } from './backend'

/** Outcome of loading the addon: the binding, or why there is none. */
export type NativeLoad =
  | { readonly ok: true; readonly binding: NativeBinding }
  | { readonly ok: false; readonly error: Error }

// Every function the TS layer calls; an older or partial build that lacks one is treated as
// not loaded, rather than failing later with "x is not a function". The type below fails the
// build when binding.d.ts gains an export this list does not name.
const REQUIRED = [
  'backends', 'allFinite', 'cudaFailure', 'cudaMath', 'setCudaMath', 'memoryBudget', 'CancelToken', 'KnnIndex',
  'pairwiseDistances', 'pairwiseDistancesAsync',
  'knn', 'knnAsync',
  'mineTriplets', 'mineTripletsAsync',
  'tripletLoss', 'tripletLossAsync',
  'tripletMarginLoss', 'tripletMarginLossAsync',
  'retrievalMetrics', 'retrievalMetricsAsync',
  'contrastiveLoss', 'contrastiveLossAsync',
  'multipleNegativesRankingLoss', 'multipleNegativesRankingLossAsync',
  'verificationMetrics', 'verificationMetricsAsync',
  'ladderLoss', 'ladderLossAsync',
  'supConLoss', 'supConLossAsync',
  'oasisSteps', 'oasisStepsAsync',
] as const satisfies readonly (keyof NativeBinding)[]
type Unlisted = Exclude<keyof NativeBinding, (typeof REQUIRED)[number] | '__napiBindingTarget'>
const everyExportListed: [Unlisted] extends [never] ? true : Unlisted = true
void everyExportListed

let cached: NativeLoad | undefined

/** The package root: the nearest folder at or above `from` that holds package.json. */
export function packageRoot(from: string = __dirname): string | undefined {
  let dir = from
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const up = dirname(dir)
    if (up === dir) return undefined
    dir = up
  }
}

/** The addon, loaded on first call; later calls return the same outcome. */
export function loadNative(): NativeLoad {
  if (cached === undefined) cached = tryLoad()
  return cached
}

function tryLoad(): NativeLoad {
  try {
    const root = packageRoot()
    if (root === undefined) return { ok: false, error: new Error(`no package.json found above ${__dirname}`) }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const binding = require(join(root, 'binding.js')) as Record<string, unknown>
    const missing = REQUIRED.filter((name) => typeof binding[name] !== 'function')
    if (missing.length > 0) {
      return { ok: false, error: new Error(`${join(root, 'binding.js')} lacks ${missing.join(', ')} (rebuild with npm run build:native)`) }
    }
    return { ok: true, binding: binding as unknown as NativeBinding }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err : new Error(String(err)) }
  }
}
