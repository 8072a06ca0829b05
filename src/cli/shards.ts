/** `--shard i/n`: which contiguous slice of the corpus a shard searches. */
import { CliError } from './io'

/** `--shard i/n` parsed. */
export interface ShardSpec {
  index: number
  count: number
}

/** Parses `i/n` with 0 ≤ i < n. */
export function parseShard(value: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim())
  const index = m === null ? NaN : Number(m[1]), count = m === null ? NaN : Number(m[2])
  if (!(count >= 1 && index >= 0 && index < count && Number.isSafeInteger(count))) {
    throw new CliError(`--shard: expected i/n with 0 ≤ i < n (for example 0/4), received '${value}'`)
  }
  return { index, count }
}

/** The rows ⌊i·N/n⌋ … ⌊(i+1)·N/n⌋ of shard i of n. */
export function shardSlice(shard: ShardSpec, rows: number): [number, number] {
  const at = (i: number) => Math.floor((i * rows) / shard.count)
  return [at(shard.index), at(shard.index + 1)]
}
