#!/usr/bin/env python3
"""Regenerates crates/cuda/ptx/<stem>.ptx from crates/cuda/kernels/<stem>.cu with NVRTC.

The PTX is committed, so the Rust build needs no CUDA toolkit; the driver JITs it
at load time. NVRTC comes from the pinned nvidia-cuda-nvrtc-cu12==12.0.76 wheel
that scripts/cuda-tools.sh installs: it emits PTX ISA 8.0, which every CUDA 12
driver accepts. The target is compute_80, the common base that Ampere, Ada and
Hopper all JIT. Options: -std=c++17, -I<kernels>, -DTK_NVRTC=1, --fmad=false (a
multiply and an add stay two roundings, as on the CPU and in the emulator; the
kernels fuse where they mean to, with fmaf), no fast-math. Output is deterministic
(no paths or dates in it).

  python3 scripts/cuda-ptx.py          write changed .ptx files, drop stale ones
  python3 scripts/cuda-ptx.py --check  compare with the work tree; exit 1 on any
                                       difference, missing or stale .ptx
Exit 1 also on a compile error (the NVRTC log is printed).
"""
import ctypes
import difflib
import re
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "crates", "cuda", "kernels")
PTX_DIR = os.path.join(ROOT, "crates", "cuda", "ptx")
# NVRTC 12.0 now and then numbers a kernel's registers in another order for the same source
# (about one compile of margin.cu in ten): a PTX that differs from the committed one is
# compiled again, up to AGAIN times, before it counts as changed.
AGAIN = 8
OPTIONS = ["--gpu-architecture=compute_80", "--std=c++17", "--fmad=false", "-I" + KERNELS, "-DTK_NVRTC=1"]


def load_nvrtc():
    """Loads libnvrtc.so.12 from the nvidia-cuda-nvrtc-cu12 wheel."""
    try:
        import nvidia.cuda_nvrtc as pkg
    except ImportError:
        # Not run with the tools' python: look in .cache/cuda-tools directly.
        cache = os.path.join(ROOT, ".cache", "cuda-tools")
        sys.path[:0] = glob.glob(os.path.join(cache, "venv", "lib", "python3*", "site-packages"))
        sys.path.insert(0, os.path.join(cache, "site"))
        try:
            import nvidia.cuda_nvrtc as pkg
        except ImportError:
            sys.exit("cuda-ptx: NVRTC wheel not found; run scripts/cuda-tools.sh first")
    lib = os.path.join(list(pkg.__path__)[0], "lib")
    # libnvrtc dlopens its builtins by soname; preloading makes that lookup succeed.
    for builtins in glob.glob(os.path.join(lib, "libnvrtc-builtins.so.*")):
        ctypes.CDLL(builtins, mode=ctypes.RTLD_GLOBAL)
    nvrtc = ctypes.CDLL(os.path.join(lib, "libnvrtc.so.12"))
    nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
    return nvrtc


def compile_ptx(nvrtc, path):
    """Returns (ptx bytes, None) or (None, error text)."""
    name = os.path.basename(path).encode()
    with open(path, "rb") as f:
        src = f.read()
    prog = ctypes.c_void_p()

    def check(rc):
        if rc:
            raise RuntimeError(nvrtc.nvrtcGetErrorString(rc).decode())

    check(nvrtc.nvrtcCreateProgram(ctypes.byref(prog), src, name, 0, None, None))
    try:
        opts = (ctypes.c_char_p * len(OPTIONS))(*(o.encode() for o in OPTIONS))
        rc = nvrtc.nvrtcCompileProgram(prog, len(OPTIONS), opts)
        size = ctypes.c_size_t()
        check(nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size)))
        log = ctypes.create_string_buffer(size.value)
        check(nvrtc.nvrtcGetProgramLog(prog, log))
        if rc:
            return None, "%s\n%s" % (nvrtc.nvrtcGetErrorString(rc).decode(), log.value.decode(errors="replace"))
        check(nvrtc.nvrtcGetPTXSize(prog, ctypes.byref(size)))
        ptx = ctypes.create_string_buffer(size.value)
        check(nvrtc.nvrtcGetPTX(prog, ptx))
        # NVRTC numbers the call sequences of a PTX ("// callseq 12") from a counter that
        # runs on across the programs of one process, so the numbers would depend on what was
        # compiled before: the comments lose them.
        return re.sub(rb"// callseq \d+", b"// callseq", ptx.raw.rstrip(b"\0")), None
    finally:
        nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        sys.exit(__doc__)
    nvrtc = load_nvrtc()
    major, minor = ctypes.c_int(), ctypes.c_int()
    nvrtc.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    sources = sorted(glob.glob(os.path.join(KERNELS, "*.cu")))
    stems = {os.path.basename(s)[:-3] for s in sources}
    stale = sorted(p for p in glob.glob(os.path.join(PTX_DIR, "*.ptx"))
                   if os.path.basename(p)[:-4] not in stems)
    print("cuda-ptx: NVRTC %d.%d, %d kernel file(s), %s" % (
        major.value, minor.value, len(sources), "checking" if check else "writing"))
    failed = differ = False
    for src in sources:
        rel = os.path.relpath(src, ROOT)
        ptx, err = compile_ptx(nvrtc, src)
        if err is not None:
            print("cuda-ptx: %s: compile failed: %s" % (rel, err), file=sys.stderr)
            failed = True
            continue
        out = os.path.join(PTX_DIR, os.path.basename(src)[:-3] + ".ptx")
        old = read(out)
        for _ in range(AGAIN if old is not None and old != ptx else 0):
            if compile_ptx(nvrtc, src)[0] == old:
                ptx = old
                break
        if old == ptx:
            continue
        if check:
            differ = True
            diff = list(difflib.unified_diff(
                (old or b"").decode().splitlines(), ptx.decode().splitlines(),
                os.path.relpath(out, ROOT) + " (committed)",
                os.path.relpath(out, ROOT) + " (from " + rel + ")", lineterm="", n=1))
            body = [l for l in diff[2:] if l[:1] in "+-"]
            print("cuda-ptx: %s: %s (%d lines differ)" % (
                os.path.relpath(out, ROOT), "missing" if old is None else "out of date", len(body)))
            print("\n".join(diff[:30] + (["  ..."] if len(diff) > 30 else [])))
        else:
            os.makedirs(PTX_DIR, exist_ok=True)
            with open(out, "wb") as f:
                f.write(ptx)
            print("cuda-ptx: wrote %s" % os.path.relpath(out, ROOT))
    for p in stale:
        if check:
            differ = True
            print("cuda-ptx: %s: stale (no matching .cu)" % os.path.relpath(p, ROOT))
        else:
            os.remove(p)
            print("cuda-ptx: removed stale %s" % os.path.relpath(p, ROOT))
    if failed or differ:
        if differ:
            print("cuda-ptx: PTX differs from sources; run python3 scripts/cuda-ptx.py")
        return 1
    print("cuda-ptx: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
