/** bench/results.md is made of `## ` sections, each written by one bench script. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

/** Replaces the section starting at `heading` (up to the next `## ` heading) in `file`, or appends it. */
export function writeSection(file: string, heading: string, section: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
  const at = text.indexOf(`${heading}\n`)
  if (at < 0) return writeFileSync(file, `${text.trimEnd()}\n\n${section.trimEnd()}\n`)
  const next = text.indexOf('\n## ', at + heading.length)
  const rest = next < 0 ? '' : `\n${text.slice(next + 1).trimStart()}`
  writeFileSync(file, `${text.slice(0, at)}${section.trimEnd()}\n${rest}`)
}
