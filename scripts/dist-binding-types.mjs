// Puts the addon's generated types beside the compiled TypeScript: dist/src/backend.d.ts
// imports them as '../binding', so they must sit at dist/binding.d.ts. Run after tsc.
import { copyFileSync } from 'node:fs'

copyFileSync(new URL('../binding.d.ts', import.meta.url), new URL('../dist/binding.d.ts', import.meta.url))
console.log('dist-binding-types: dist/binding.d.ts')
