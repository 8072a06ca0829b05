/**
 * The devices every test runs on: the pure-TypeScript reference and the native CPU backend,
 * and, with TRIPLETKIT_TEST_CUDA=1 (and TRIPLETKIT_CUDA_EMULATOR=1 without a GPU), the CUDA
 * backend too, for the spec files of the functions it runs (`npm run test:cuda`).
 */
export const DEVICES = (process.env.TRIPLETKIT_TEST_CUDA === '1' ? ['js', 'cpu', 'cuda'] : ['js', 'cpu']) as readonly ('js' | 'cpu' | 'cuda')[]
export type TestDevice = (typeof DEVICES)[number]
