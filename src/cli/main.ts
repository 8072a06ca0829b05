#!/usr/bin/env node
/**
 * The `tripletkit` command: knn, mining and retrieval metrics on NumPy `.npy` files, a
 * benchmark and a demo. Exit codes: 0 done, 1 the work failed (a bad file, bad input),
 * 2 the command line itself is wrong.
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { DEVICES, METRICS, STRATEGIES } from '../validate'
import { benchCommand } from './bench'
import { evalCommand, mineCommand, type Common } from './commands'
import { knnCommand } from './knnCommand'
import { parseBytes } from './memoryFlag'
import { mergeCommand } from './mergeCommand'
import { mineNegativesCommand } from './mineNegativesCommand'
import { parseShard, type ShardSpec } from './shards'
import { demoCommand } from './demo'

function integer(name: string, min: number): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, received '${value}'`)
    return n
  }
}

function number(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a finite number, received '${value}'`)
  return n
}

/** `--max-memory` and `--shard`, on a command that reads a corpus in blocks. */
function corpusFlags(cmd: Command): Command {
  return cmd
    .option('--max-memory <bytes>', 'memory for corpus blocks and results, such as 512M or 2G (default: a quarter of what the process may allocate, at most 96M)', parseBytesFlag)
    .option('--shard <i/n>', 'search only shard i of n (corpus rows ⌊i·m/n⌋ to ⌊(i+1)·m/n⌋) and write a part for `tripletkit merge`', parseShardFlag)
    .option('--batch-size <rows>', 'the most query rows searched together (default: as many as --max-memory allows)', integer('batch-size', 1))
}

function parseBytesFlag(value: string): number {
  try {
    return parseBytes(value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--max-memory: /, ''))
  }
}

function parseShardFlag(value: string): ShardSpec {
  try {
    return parseShard(value)
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--shard: /, ''))
  }
}

/** `--device`, `--metric`, `--normalize` and `--quiet`, on a command that computes. */
function computing(cmd: Command, metric = true): Command {
  cmd.addOption(new Option('--device <device>', 'where to compute').choices(DEVICES).default('auto'))
  if (metric) {
    cmd.addOption(new Option('--metric <metric>', 'distance').choices(METRICS).default('euclidean'))
    cmd.option('--normalize', 'L2-normalise every row first', false)
  }
  return cmd.option('-q, --quiet', 'no progress bar', false)
}

export function program(): Command {
  const p = new Command('tripletkit')
    .description('Triplet mining, exact k-NN and retrieval metrics on NumPy .npy files (float32/float64 embeddings, int32/int64 labels).')
    .exitOverride()
    .showHelpAfterError()
  corpusFlags(computing(p.command('knn')
    .description('the k nearest corpus rows of every query row; writes int32 indices (rows × k). The corpus is read in blocks, so it may be any size')
    .argument('<queries.npy>', 'queries, rows × d')
    .argument('<corpus.npy>', 'corpus, m × d')
    .requiredOption('--k <k>', 'neighbours per query', integer('k', 1))
    .requiredOption('--out <indices.npy>', 'where to write the indices (with --shard: the part, an .npz)')
    .option('--distances <distances.npy>', 'also write the float32 distances (rows × k)')
    .option('--exclude-self', 'query i never returns corpus row i (a set searched against itself)', false)))
    .action(async (queries: string, corpus: string, o: Parameters<typeof knnCommand>[2]) => {
      await knnCommand(queries, corpus, o)
    })
  corpusFlags(computing(p.command('mine-negatives')
    .description('hard negatives for every query (mineHardNegatives); writes int32 corpus indices (rows × num-negatives), −1 where fewer were found')
    .argument('<queries.npy>', 'queries, rows × d')
    .argument('<corpus.npy>', 'corpus, m × d')
    .argument('<positives.npy>', "each query's positive: one int32/int64 corpus row per query")
    .option('--num-negatives <n>', 'negatives per query', integer('num-negatives', 1), 3)
    .option('--range-min <r>', 'the first rank considered', integer('range-min', 0), 0)
    .option('--range-max <r>', 'ranks considered stop before this one', integer('range-max', 1), 100)
    .option('--absolute-margin <m>', 'keep only s ≤ s(positive) − m', number)
    .option('--relative-margin <m>', 'keep only s ≤ s(positive) · (1 − m)', number)
    .option('--max-score <s>', 'keep only s ≤ this', number)
    .option('--min-score <s>', 'keep only s ≥ this', number)
    .addOption(new Option('--sampling <how>', 'the first negatives, or a seeded draw').choices(['top', 'random']).default('top'))
    .option('--seed <n>', 'the seed of random sampling', integer('seed', Number.MIN_SAFE_INTEGER), 0)
    .addOption(new Option('--similarity <s>', 'how candidates are ranked').choices(['cosine', 'dot']).default('cosine'))
    .requiredOption('--out <negatives.npy>', 'where to write the negatives (with --shard: the part, an .npz)')
    .option('--scores <scores.npy>', 'also write the float32 scores (NaN where none)'), false))
    .action(async (queries: string, corpus: string, positives: string, o: Parameters<typeof mineNegativesCommand>[3]) => {
      await mineNegativesCommand(queries, corpus, positives, o)
    })
  p.command('merge')
    .description('merges the parts of knn or mine-negatives shards (--shard i/n) into the files one run writes, byte for byte')
    .argument('<parts...>', 'the parts (.npz), one per shard, in any order')
    .requiredOption('--out <file.npy>', 'where to write the indices (knn) or negatives (mine-negatives)')
    .option('--distances <distances.npy>', 'knn parts: also write the distances')
    .option('--scores <scores.npy>', 'mine-negatives parts: also write the scores')
    .option('-q, --quiet', 'print nothing', false)
    .action((parts: string[], o: Parameters<typeof mergeCommand>[1] & { quiet: boolean }) => {
      const said = mergeCommand(parts, o)
      if (!o.quiet) process.stderr.write(`${said}\n`)
    })
  computing(p.command('mine')
    .description('mines triplets from labelled embeddings; writes int32 (anchor, positive, negative) rows, n × 3')
    .argument('<embeddings.npy>', 'embeddings, rows × d')
    .argument('<labels.npy>', 'one integer label per row')
    .addOption(new Option('--strategy <strategy>', 'mining strategy').choices(STRATEGIES).default('batch-hard'))
    .option('--margin <margin>', 'the margin α', number, 0.2)
    .option('--max-triplets <n>', 'refuse to produce more triplets than this', integer('max-triplets', 0))
    .option('--sample <n>', 'set strategies: keep a uniform sample of n triplets (never refused by --max-triplets)', integer('sample', 0))
    .option('--seed <s>', 'with --sample: the seed of the sample (default 0)', integer('seed', 0))
    .requiredOption('--out <triplets.npy>', 'where to write the triplets'))
    .action(async (embeddings: string, labels: string, o: Parameters<typeof mineCommand>[2]) => {
      const n = await mineCommand(embeddings, labels, o)
      if (!o.quiet) process.stderr.write(`${n} triplets written to ${o.out}\n`)
    })
  computing(p.command('eval')
    .description('retrieval metrics (precision@1, R-precision, MAP@R, MRR, recall@k, precision@k)')
    .argument('<embeddings.npy>', 'query embeddings, rows × d')
    .argument('<labels.npy>', 'one integer label per row')
    .option('--reference <reference.npy>', 'search this set instead of the embeddings themselves')
    .option('--reference-labels <labels.npy>', 'labels of the reference set')
    .option('--k <k>', 'k of recall@k and precision@k (default 10)', integer('k', 1))
    .option('--max-memory <bytes>', 'with --reference: memory for its blocks and the neighbour lists, such as 512M (default: a quarter of what the process may allocate, at most 96M)', parseBytesFlag)
    .option('--batch-size <rows>', 'with --reference: the most query rows searched together', integer('batch-size', 1))
    .option('--json', 'print one JSON object', false))
    .action(async (embeddings: string, labels: string, o: Parameters<typeof evalCommand>[2]) => {
      process.stdout.write(`${await evalCommand(embeddings, labels, o)}\n`)
    })
  p.command('bench')
    .description('times each op on the native cpu device against the js reference, in this run')
    .option('--reps <n>', 'repetitions per op (the median is shown)', integer('reps', 1), 5)
    .option('-q, --quiet', 'no progress bar', false)
    .action((o: { reps: number; quiet: boolean }) => {
      process.stdout.write(`${benchCommand(o)}\n`)
    })
  computing(p.command('demo')
    .description('a short tour on synthetic data: a linear adapter trained with the triplet loss, retrieval before and after'), false)
    .action(async (o: { device: Common['device']; quiet: boolean }) => {
      process.stdout.write(`${await demoCommand(o)}\n`)
    })
  return p
}

/** Runs the command line `argv` (without node and the script) and resolves to its exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string; name?: string }
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // Help and version are successes; commander has already printed what went wrong.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 2
    }
    process.stderr.write(`tripletkit: ${e.message ?? String(err)}\n`)
    return 1
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  })
}
