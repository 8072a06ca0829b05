// Writes the ESM entry next to tsc's CommonJS output, so `import` and `require` share one
// module instance (and one loaded addon). Run after `tsc -p tsconfig.build.json`.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const dist = new URL('../dist/', import.meta.url)
// Named exports are listed explicitly: ESM cannot re-export a CommonJS module's names with `*`.
const names = Object.keys(createRequire(dist)('./index.js')).filter((n) => n !== 'default' && n !== '__esModule')

writeFileSync(
  new URL('index.mjs', dist),
  `import cjs from './index.js'\nexport const { ${names.join(', ')} } = cjs\nexport default cjs\n`,
)
// Types: the .d.ts of the CommonJS build describes the same exports; the default export is
// the whole CommonJS exports object, which is that module's namespace.
writeFileSync(
  new URL('index.d.mts', dist),
  "export * from './index.js'\nimport * as cjs from './index.js'\nexport default cjs\n",
)
console.log(`esm-entry: dist/index.mjs re-exports ${names.length} names`)
