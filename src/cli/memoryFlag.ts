/** `--max-memory`: how it is parsed, and its default. */
import { memoryHeadroom } from '../memory'
import { CliError } from './io'

/**
 * The default of `--max-memory`: a quarter of what this process may still allocate, at most
 * 96 MiB: blocks of that size already keep the device's fixed cost per block small, and larger
 * ones search no faster.
 */
export function defaultMaxMemory(): number {
  return Math.max(16 * 2 ** 20, Math.min(96 * 2 ** 20, Math.floor(memoryHeadroom() / 4)))
}

/** Parses a byte count: an integer, optionally with K, M or G (powers of 1024). */
export function parseBytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(value.trim())
  const scale = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[(m?.[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g']
  const n = m === null ? NaN : Math.floor(Number(m[1]) * scale)
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`--max-memory: expected bytes, such as 1073741824, 512M or 2G, received '${value}'`)
  return n
}
