/**
 * The arithmetic of the CUDA device's distance tiles, a setting of the process (as PyTorch's
 * float32 matmul precision is). `'fp32'`, the default, takes FP32 fused multiply-adds in the
 * CPU's order, so every distance on 'cuda' is the 'cpu' device's to the bit. `'tf32x3'` takes
 * tensor-core products of TF32 parts, three a product: FP32-level accuracy at several times the
 * throughput on Ampere and later GPUs, but not the CPU's bits (see docs/GPU.md).
 */

import { loadNative } from './native'
import type { CudaMath } from './types'
import { checkEnum } from './validate'

const MATHS: readonly CudaMath[] = ['fp32', 'tf32x3']

/**
 * Sets the arithmetic of the CUDA device's distance tiles for the calls that start after it
 * (calls already running keep theirs). Does nothing where no native addon loaded; where the
 * GPU is unavailable it has nothing to change. `TRIPLETKIT_CUDA_MATH` sets the same when the
 * device opens; `backends().cuda.math` reads it.
 *
 * @param math `'fp32'` (default: the CPU's bits) or `'tf32x3'` (3xTF32 tensor cores: FP32-level
 *   accuracy, dot products within about 1e-5 · (‖a‖² + ‖b‖²) of the CPU's as the emulator checks
 *   them, ties may order otherwise). Setting it opens the CUDA device if it is not open yet.
 * @throws {TypeError} `math` is not a string.
 * @throws {RangeError} `math` is another string.
 *
 * @example
 * setCudaMath('tf32x3')
 * const { indices } = await knn(queries, corpus, { k: 10, device: 'cuda' })
 */
export function setCudaMath(math: CudaMath): void {
  const m = checkEnum(math, 'math', MATHS)
  const load = loadNative()
  if (load.ok) load.binding.setCudaMath(m)
}
