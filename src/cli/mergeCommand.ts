/** `tripletkit merge`: parts of knn or mine-negatives shards into the files one run writes. */
import { writeResults } from './corpusRun'
import { CliError } from './io'
import { mergeParts } from './parts'

export function mergeCommand(parts: string[], o: { out: string; distances?: string; scores?: string }): string {
  const merged = mergeParts(parts)
  const [wanted, other] = merged.kind === 'knn' ? ['distances', 'scores'] as const : ['scores', 'distances'] as const
  if (o[other] !== undefined) throw new CliError(`--${other}: these are ${merged.kind === 'knn' ? 'knn' : 'mine-negatives'} parts; use --${wanted}`)
  writeResults(o.out, merged.a, o[wanted], merged.b, [merged.rows, merged.k])
  return `${parts.length} parts merged into ${o.out}`
}
