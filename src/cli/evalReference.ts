/** `tripletkit eval --reference`: retrieval metrics against a reference file read in blocks. */
import type { Matrix, RetrievalMetrics } from '../types'
import type { Common } from './commands'
import { openCorpus, planStream } from './corpusRun'
import { CliError } from './io'
import { RetrievalSums, windows } from './retrievalLists'

export async function evalAgainstFile(x: Matrix, labels: Int32Array, labelsPath: string, referencePath: string, referenceLabels: Int32Array,
  o: Common & { k?: number; maxMemory?: number; batchSize?: number }): Promise<RetrievalMetrics> {
  if (labels.length !== x.rows) throw new CliError(`${labelsPath}: expected ${x.rows} labels (one per embedding row), received ${labels.length}`)
  const c = openCorpus(referencePath, x, o)
  try {
    if (referenceLabels.length !== c.rows) throw new CliError(`--reference-labels: expected ${c.rows} labels (one per reference row), received ${referenceLabels.length}`)
    const w = windows(labels, referenceLabels, o.k ?? 10)
    const sums = new RetrievalSums()
    if (w.window > 0 && x.rows > 0) {
      const { run, bar } = planStream(x, c, o, 'eval', w.window, {
        metric: o.metric, normalize: o.normalize, excludeSelf: false,
        tooMany: (limit, on) => `--reference: its largest class needs ${w.window} neighbours a query (for R-precision and MAP@R), ` +
          `more than device '${on}' searches (${limit}); use --device cpu`,
      })
      try {
        await run((start, lists) => {
          for (let r = 0; r < lists.rows; r++) sums.add(labels[start + r], referenceLabels, w, lists.indices, r * lists.k)
        })
      } finally {
        bar.stop()
      }
    }
    return sums.mean()
  } finally {
    c.corpus.close()
  }
}
