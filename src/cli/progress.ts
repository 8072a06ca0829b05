/** A progress bar on stderr for long work (only on a terminal, so pipes stay clean). */
import { SingleBar, Presets } from 'cli-progress'

export interface Progress {
  update(done: number, total: number): void
  stop(): void
}

/** A bar titled `title`; a no-op when stderr is not a terminal or `quiet` is set. */
export function progress(title: string, quiet: boolean): Progress {
  if (quiet || !process.stderr.isTTY) return { update: () => {}, stop: () => {} }
  const bar = new SingleBar({ format: `${title} [{bar}] {percentage}% {value}/{total} {eta_formatted}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic)
  let started = false
  return {
    update: (done, total) => {
      if (!started) {
        bar.start(total, done)
        started = true
      } else {
        bar.setTotal(total)
        bar.update(done)
      }
    },
    stop: () => {
      if (started) bar.stop()
    },
  }
}
