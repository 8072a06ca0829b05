/**
 * Device choice: what `backends()` reports, and turning a `Device` option into the backend that
 * runs the call. What the native devices can do is the addon's to say (`binding.backends()`);
 * naming a device that cannot run is an error, never a silent fallback.
 */

import type { Backend, BackendsReport, NativeBinding } from './backend'
import { codedError, ERROR_CODES } from './errors'
import { loadNative } from './native'
import { reference } from './reference'
import type { BackendsInfo, CudaMath, Device } from './types'

/** A resolved device: the backend that runs the call, and for a native device the addon with its `…Async` ops. */
export type Target =
  | { readonly device: 'cpu' | 'cuda'; readonly backend: Backend; readonly native: NativeBinding }
  | { readonly device: 'js'; readonly backend: Backend; readonly native?: undefined }

type NativeReport = { binding: NativeBinding; report: BackendsReport } | { error: Error }
let cached: NativeReport | undefined

/**
 * The native devices' report, or the load error when the addon is missing. Read once: the
 * addon creates its devices once per process, so what they can do does not change.
 */
function nativeReport(): NativeReport {
  if (cached !== undefined) return cached
  const load = loadNative()
  if (!load.ok) return (cached = { error: load.error })
  try {
    return (cached = { binding: load.binding, report: load.binding.backends() })
  } catch (err) {
    return (cached = { error: err instanceof Error ? err : new Error(String(err)) })
  }
}

/**
 * Reports which devices can run on this machine, and why not where one cannot.
 *
 * @example
 * backends()
 * // { cuda: { available: false, reason: '…' }, cpu: { available: true, threads: 16 }, js: { available: true } }
 */
export function backends(): BackendsInfo {
  const n = nativeReport()
  if ('error' in n) {
    const reason = `the native addon failed to load: ${firstLine(n.error)}`
    return { cuda: { available: false, reason }, cpu: { available: false, reason }, js: { available: true } }
  }
  const { cpu } = n.report
  const cuda = cudaReport(n)
  return {
    cuda: cuda.available
      ? {
          available: true,
          ...(cuda.device === undefined ? {} : { device: cuda.device }),
          emulated: cuda.emulated === true,
          ...(cuda.ops === undefined ? {} : { ops: [...cuda.ops] }),
          ...(cuda.maxK == null ? {} : { maxK: cuda.maxK }),
          ...mathOf(n.binding),
        }
      : { available: false, reason: cuda.reason ?? 'unknown' },
    cpu: cpu.available ? { available: true, ...(cpu.threads === undefined ? {} : { threads: cpu.threads }) }
      : { available: false, reason: cpu.reason ?? 'unknown' },
    js: { available: true },
  }
}

/** The CUDA tiles' arithmetic as the addon reports it now (`setCudaMath` may change it). */
function mathOf(binding: NativeBinding): { math?: CudaMath } {
  const math = binding.cudaMath()
  return math === 'fp32' || math === 'tf32x3' ? { math } : {}
}

/**
 * The work of a call, for 'auto': the op (as `backends().cuda.ops` names it), its multiply-adds
 * (rows · columns · dimensions of its distances) and the bytes a GPU run would copy over the
 * bus (inputs up, results down).
 */
export interface Work {
  readonly op: string
  readonly macs: number
  readonly bytes: number
}

/**
 * The costs 'auto' weighs (provisional: set from the hardware's figures and this machine's
 * cpu rate, to be confirmed by timing on a GPU). A GPU run costs its fixed launch and
 * synchronisation time, its copies over PCIe (staged through pinned memory) and its
 * multiply-adds at the rate the current kernels reach; a cpu run, its multiply-adds at a
 * thread's rate times the threads. So O(n·d) work, whose copies cost more than the cpu's
 * whole run, stays on the cpu.
 */
export const CUDA_COST = {
  fixedSeconds: 50e-6,
  busBytesPerSecond: 12e9,
  gpuMacsPerSecond: 5e12,
  cpuMacsPerSecondPerThread: 20e9,
} as const

/** Whether a GPU run of `work` is predicted faster than a cpu run on `threads` threads. */
export function gpuFaster(work: Work, threads: number): boolean {
  const c = CUDA_COST
  const gpu = c.fixedSeconds + work.bytes / c.busBytesPerSecond + work.macs / c.gpuMacsPerSecond
  const cpu = work.macs / (Math.max(1, threads) * c.cpuMacsPerSecondPerThread)
  return gpu < cpu
}

/**
 * Multiply-adds from which 'auto' sends an op to a GPU: below it, uploading the inputs and
 * launching costs more than the CPU's whole run. Provisional (2^30, about 64 ms on 2 AVX-512
 * cores): set from the transfer and launch costs, to be confirmed on a GPU.
 */
export const CUDA_AUTO_MIN_MACS = 2 ** 30

/**
 * Whether 'auto' runs `work` on CUDA: a real GPU (never the emulator) with kernels for the op,
 * at least `CUDA_AUTO_MIN_MACS` of work, and a predicted time below the cpu's ({@link gpuFaster}).
 */
function cudaWins(report: BackendsReport['cuda'], work: Work | undefined, threads = cpuThreads()): boolean {
  return report.available && report.emulated !== true && work !== undefined &&
    (report.ops === undefined || report.ops.includes(work.op)) && work.macs >= CUDA_AUTO_MIN_MACS &&
    gpuFaster(work, threads)
}

/** The native cpu device's threads, as the addon reports them (1 without it). */
function cpuThreads(): number {
  const n = nativeReport()
  return 'error' in n ? 1 : n.report.cpu.threads ?? 1
}

/**
 * The CUDA device's report as it stands now: the addon's, read once, unless a sticky error
 * has since ended the GPU's use in this process (then unavailable, with the failure).
 */
function cudaReport(n: { binding: NativeBinding; report: BackendsReport }): BackendsReport['cuda'] {
  if (!n.report.cuda.available) return n.report.cuda
  const failure = n.binding.cudaFailure()
  return failure === null ? n.report.cuda : { available: false, reason: `the GPU failed earlier in this process and cannot run again (${failure})` }
}

/**
 * What 'auto' picks for `work`: CUDA when it wins (see {@link cudaWins}), else the CPU; when the
 * GPU would have won but has failed in this process, the CPU and the warning to give.
 */
export function autoDevice(cuda: BackendsReport['cuda'], work: Work | undefined, failure: string | null, threads = cpuThreads()): { device: 'cpu' | 'cuda'; warning?: string } {
  if (!cudaWins(cuda, work, threads)) return { device: 'cpu' }
  if (failure === null) return { device: 'cuda' }
  return { device: 'cpu', warning: `the GPU failed earlier in this process and cannot run again (${failure}), so 'auto' runs on the cpu from now on` }
}

/**
 * Resolves a (checked) `Device` to the backend that runs it: 'auto' → CUDA when the addon
 * reports a sound GPU that runs this op and the cost model predicts it faster ({@link gpuFaster}), else
 * the native CPU backend when the addon loaded, else 'js'; 'cuda' or 'cpu' that cannot run →
 * an Error with code ERR_TRIPLETKIT_DEVICE_UNAVAILABLE and the reason.
 */
export function resolveDevice(device: Device, work?: Work): Target {
  if (device === 'js') return { device: 'js', backend: reference }
  const n = nativeReport()
  if ('error' in n) {
    if (device === 'auto') {
      warnFallback(n.error)
      return { device: 'js', backend: reference }
    }
    throw codedError(Error, ERROR_CODES.deviceUnavailable,
      `device '${device}' is not available: the native addon failed to load: ${firstLine(n.error)}`, n.error)
  }
  let pick: 'cpu' | 'cuda'
  if (device === 'auto') {
    const auto = autoDevice(n.report.cuda, work, cudaWins(n.report.cuda, work) ? n.binding.cudaFailure() : null)
    if (auto.warning !== undefined) warnOnce('TRIPLETKIT_CUDA_FAILED', auto.warning)
    pick = auto.device
  } else {
    pick = device
  }
  // 'auto' picked cuda only after autoDevice found it sound; a device named outright is checked here.
  if (device === 'cuda' && n.report.cuda.available) {
    const failure = n.binding.cudaFailure()
    if (failure !== null) {
      throw codedError(Error, ERROR_CODES.deviceFailed, `device 'cuda' failed earlier in this process and cannot run again ` +
        `(${failure}); use device 'cpu' or 'auto', or start a new process`)
    }
  }
  const info = n.report[pick]
  if (!info.available) {
    throw codedError(Error, ERROR_CODES.deviceUnavailable, `device '${pick}' is not available: ${info.reason ?? 'unknown'}`)
  }
  // Refused here, before any work, the same way whatever the work's size (a zero-step fit too).
  if (work !== undefined && info.ops !== undefined && !info.ops.includes(work.op)) {
    throw codedError(Error, ERROR_CODES.deviceUnavailable,
      `device '${pick}' is not available: ${work.op} does not run on it yet; use device 'cpu'`)
  }
  return { device: pick, backend: n.binding, native: n.binding }
}

const WARNED = new Set<string>()

/** Says `message` once per process, as a Node warning of `code`. */
function warnOnce(code: string, message: string): void {
  if (WARNED.has(code)) return
  WARNED.add(code)
  process.emitWarning(message, { code })
}

/**
 * Says once per process, as a Node warning, that 'auto' runs the slower 'js' reference because
 * no native addon loaded: no prebuilt package for this platform and no local build.
 */
function warnFallback(error: Error): void {
  warnOnce('TRIPLETKIT_NO_NATIVE_ADDON', `no native addon for ${process.platform}-${process.arch} loaded, so 'auto' runs the pure-TypeScript ` +
    `reference ('js'), which is much slower. Install the package for this platform (tripletkit-${process.platform}-${process.arch}-…) ` +
    `or build from source with Rust (npm run build:native). Reason: ${firstLine(error)}`)
}

/** The most neighbours one knn search takes on `target`, or undefined when it takes any. */
export function maxNeighbours(target: Target): number | undefined {
  if (target.device === 'js') return undefined
  const n = nativeReport()
  return 'error' in n ? undefined : (n.report[target.device].maxK ?? undefined)
}

/** The addon's device options: the native device's name ('js' passes none) and `maxMemory`. */
export function nativeOptions(target: Target, maxMemory: number | undefined): { device?: 'cpu' | 'cuda'; maxMemory?: number } {
  const device = nativeDevice(target)
  return { ...(device === undefined ? {} : { device }), ...(maxMemory === undefined ? {} : { maxMemory }) }
}

/** The `device` option for the addon: the native device's name ('js' passes none). */
export function nativeDevice(target: Target): 'cpu' | 'cuda' | undefined {
  return target.device === 'js' ? undefined : target.device
}

// Node's "Cannot find module" messages go on with a require stack: the first line is the reason,
// and the whole error stays available as `cause`.
function firstLine(err: Error): string {
  return err.message.split('\n', 1)[0]
}
