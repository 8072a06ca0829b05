/** `tripletkit knn`: every query's k nearest corpus rows, the corpus read in blocks; with `--shard`, one part. */
import { emptyLists, placeLists } from '../neighbours'
import { checkShardOutputs, openCorpus, partMeta, planStream, writeResults, type CorpusOptions } from './corpusRun'
import { CliError, readMatrix, writeFiles } from './io'
import { partBytes } from './parts'

export async function knnCommand(queries: string, corpusPath: string,
  o: CorpusOptions & { k: number; excludeSelf: boolean; out: string; distances?: string }): Promise<void> {
  checkShardOutputs(o, 'distances', o.distances)
  const q = readMatrix(queries)
  const c = openCorpus(corpusPath, q, o)
  try {
    const excluded = o.excludeSelf ? 1 : 0
    const most = c.rows - excluded
    if (o.k > most) throw new CliError(`--k: expected an integer from 1 to ${most} (the corpus rows${o.excludeSelf ? ' − 1, with --exclude-self' : ''}), received ${o.k}`)
    // A shard lists at most its own rows.
    const k = o.shard === undefined ? o.k : Math.min(o.k, c.end - c.start)
    const { run, bar, device } = planStream(q, c, o, 'knn', k, {
      metric: o.metric, normalize: o.normalize, excludeSelf: o.excludeSelf,
      tooMany: (limit, on) => `--k: expected at most ${limit - excluded} on device '${on}', received ${o.k}`,
    })
    try {
      const lists = emptyLists(q.rows, k)
      await run((start, part) => placeLists(lists, start, part))
      if (o.shard !== undefined) {
        const meta = partMeta('knn', o.shard, c, q, { k: o.k, metric: o.metric, normalize: o.normalize, excludeSelf: o.excludeSelf, device })
        return writeFiles([{ path: o.out, bytes: partBytes(meta, lists) }])
      }
      writeResults(o.out, lists.indices, o.distances, lists.distances, [lists.rows, lists.k])
    } finally {
      bar.stop()
    }
  } finally {
    c.corpus.close()
  }
}
