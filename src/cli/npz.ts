/**
 * NumPy's `.npz`: a zip of `.npy` files, stored uncompressed as `np.savez` writes it, so that
 * `np.load('part-0.npz')` opens what the CLI writes. Entries that are not `.npy` (the CLI's
 * `meta.json`) come back from NumPy as bytes.
 */
import { unzipSync, zipSync } from 'fflate'
import { readNpy, writeNpy, type NpyArray } from '../npy'

/** What goes into an `.npz`: arrays by name (without `.npy`), and text files by their full name. */
export interface NpzContent {
  arrays: Record<string, { data: NpyArray['data']; shape?: readonly number[] }>
  texts?: Record<string, string>
}

/** The bytes of an `.npz` holding `content`; fixed timestamps, so the same content gives the same bytes. */
export function writeNpz(content: NpzContent): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0; mtime: Date }]> = {}
  const mtime = new Date('1980-01-01T00:00:00Z')
  for (const [name, array] of Object.entries(content.arrays)) files[`${name}.npy`] = [writeNpy(array), { level: 0, mtime }]
  for (const [name, text] of Object.entries(content.texts ?? {})) files[name] = [new TextEncoder().encode(text), { level: 0, mtime }]
  return zipSync(files)
}

/** The arrays and text files of an `.npz` (only the entry named `only`, when given); `name` is how errors call the file. */
export function readNpz(bytes: Uint8Array, name: string, only?: string): { arrays: Record<string, NpyArray>; texts: Record<string, string> } {
  let files: Record<string, Uint8Array>
  try {
    files = unzipSync(bytes, only === undefined ? undefined : { filter: (file) => file.name === only })
  } catch (err) {
    throw new RangeError(`${name}: expected an .npz (zip) file, received one that cannot be opened (${(err as Error).message})`)
  }
  const arrays: Record<string, NpyArray> = {}
  const texts: Record<string, string> = {}
  for (const [entry, data] of Object.entries(files)) {
    if (entry.endsWith('.npy')) arrays[entry.slice(0, -4)] = readNpy(data, `${name}: ${entry}`)
    else texts[entry] = new TextDecoder().decode(data)
  }
  return { arrays, texts }
}
