/** What each command of the `tripletkit` CLI does, on files in and files out. */
import { mineTriplets } from '../mining'
import { retrievalMetrics } from '../retrieval'
import type { Device, Metric, Strategy } from '../types'
import { evalAgainstFile } from './evalReference'
import { CliError, readLabels, readMatrix, writeArray } from './io'

/** Options every compute command takes. */
export interface Common {
  device: Device
  metric: Metric
  normalize: boolean
  quiet: boolean
}

/** `tripletkit mine`: triplets of a labelled batch, as an int32 n × 3 array (anchor, positive, negative). */
export async function mineCommand(embeddings: string, labelsPath: string,
  o: Common & { strategy: Strategy; margin: number; out: string; maxTriplets?: number; sample?: number; seed?: number }): Promise<number> {
  if (o.seed !== undefined && o.sample === undefined) throw new CliError('--seed: expected it with --sample')
  const x = readMatrix(embeddings)
  const labels = readLabels(labelsPath)
  const t = await mineTriplets(x, labels, {
    strategy: o.strategy, margin: o.margin, metric: o.metric, normalize: o.normalize, device: o.device, maxTriplets: o.maxTriplets,
    ...(o.sample === undefined ? {} : { sample: { count: o.sample, seed: o.seed ?? 0 } }),
  })
  const out = new Int32Array(t.length * 3)
  for (let i = 0; i < t.length; i++) {
    out[3 * i] = t.anchor[i]
    out[3 * i + 1] = t.positive[i]
    out[3 * i + 2] = t.negative[i]
  }
  writeArray(o.out, out, [t.length, 3])
  return t.length
}

/** `tripletkit eval`: retrieval metrics of labelled embeddings, against themselves or a reference set. */
export async function evalCommand(embeddings: string, labelsPath: string,
  o: Common & { k?: number; reference?: string; referenceLabels?: string; json: boolean; maxMemory?: number; batchSize?: number }): Promise<string> {
  if ((o.reference === undefined) !== (o.referenceLabels === undefined)) {
    throw new CliError('--reference and --reference-labels: expected both or neither')
  }
  const x = readMatrix(embeddings)
  const labels = readLabels(labelsPath)
  // Against a reference file, the reference is read in blocks, so it may be any size.
  const m = o.reference === undefined
    ? await retrievalMetrics(x, labels, { k: o.k, metric: o.metric, normalize: o.normalize, device: o.device })
    : await evalAgainstFile(x, labels, labelsPath, o.reference, readLabels(o.referenceLabels!), o)
  if (o.json) return JSON.stringify(m)
  const rows = Object.entries(m).map(([name, value]) => `${name.padEnd(14)} ${Number.isInteger(value) ? value : value.toFixed(4)}`)
  return rows.join('\n')
}
