//! Loading the kernels into a context: the cubin built for the GPU's architecture when this
//! build has one (no JIT at first use), else the PTX, JIT-compiled for whatever GPU is there.
//! Loads go through `cuModuleLoadDataEx` with the JIT's logs, so a failure says why, and
//! `TRIPLETKIT_CUDA_JIT_LOG=1` prints what the JIT reports (registers, spills) to stderr.
use crate::kernels::Module;
use cudarc::driver::sys;
use std::ffi::{c_uint, c_void, CStr, CString};

/// Bytes of each JIT log buffer.
const LOG_BYTES: usize = 16 * 1024;

/// The oldest driver the kernels load on: the PTX is ISA 8.0 and the cubins come from ptxas
/// 12.0, both CUDA 12.0.
pub const MIN_DRIVER: i32 = 12_000;

/// The driver's CUDA version (12000 for 12.0), or why it cannot tell.
pub fn driver_version() -> Result<i32, String> {
    let mut v = 0;
    // SAFETY: writes one int.
    let r = unsafe { sys::cuDriverGetVersion(&mut v) };
    if r != sys::cudaError_enum::CUDA_SUCCESS {
        return Err(format!(
            "the NVIDIA driver did not say its CUDA version: {r:?}"
        ));
    }
    Ok(v)
}

/// Refuses a driver older than the kernels need, by name, rather than failing at the first
/// module load.
pub fn check_driver(version: i32) -> Result<(), String> {
    if version < MIN_DRIVER {
        return Err(format!(
            "the NVIDIA driver supports CUDA {}.{}; tripletkit's kernels need CUDA {}.{} or newer (update the driver)",
            version / 1000,
            version % 1000 / 10,
            MIN_DRIVER / 1000,
            MIN_DRIVER % 1000 / 10
        ));
    }
    Ok(())
}

/// The image for compute capability `major`.`minor`: the sm_80 cubin on 8.x (Ampere and Ada
/// run Ampere's machine code), the sm_90 cubin on 9.0, the PTX elsewhere.
pub fn image_for(m: &Module, major: i32, minor: i32) -> (&'static [u8], &'static str) {
    match (major, minor) {
        (8, _) => (m.sm_80, "sm_80 cubin"),
        (9, 0) => (m.sm_90, "sm_90 cubin"),
        _ => (m.ptx.as_bytes(), "PTX"),
    }
}

/// Loads module `m` for a GPU of capability `major`.`minor` into the current context: its
/// cubin, or the PTX when there is none for this GPU or the cubin does not load.
pub fn load(m: &Module, major: i32, minor: i32) -> Result<sys::CUmodule, String> {
    let (image, what) = image_for(m, major, minor);
    if what != "PTX" {
        match load_image(image, what, m.name) {
            Ok(module) => return Ok(module),
            Err(e) if std::env::var_os("TRIPLETKIT_CUDA_JIT_LOG").is_some() => {
                eprintln!("tripletkit: {e}; loading the PTX instead")
            }
            Err(_) => {}
        }
    }
    let ptx = CString::new(m.ptx).map_err(|e| format!("{}.ptx: {e}", m.name))?;
    load_image(ptx.as_bytes_with_nul(), "PTX", m.name)
}

/// One `cuModuleLoadDataEx`, with the JIT's error and info logs.
fn load_image(image: &[u8], what: &str, name: &str) -> Result<sys::CUmodule, String> {
    let mut info = vec![0u8; LOG_BYTES];
    let mut error = vec![0u8; LOG_BYTES];
    let mut options = [
        sys::CUjit_option::CU_JIT_INFO_LOG_BUFFER,
        sys::CUjit_option::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
        sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER,
        sys::CUjit_option::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        sys::CUjit_option::CU_JIT_LOG_VERBOSE,
    ];
    // Option values are passed in pointer-sized slots: buffers as pointers, sizes and flags as
    // integers cast to pointers, as the driver API defines.
    let mut values: [*mut c_void; 5] = [
        info.as_mut_ptr().cast(),
        std::ptr::without_provenance_mut(LOG_BYTES),
        error.as_mut_ptr().cast(),
        std::ptr::without_provenance_mut(LOG_BYTES),
        std::ptr::without_provenance_mut(1),
    ];
    let mut module: sys::CUmodule = std::ptr::null_mut();
    // SAFETY: `image` is a cubin or a NUL-terminated PTX text; the option arrays have
    // matching lengths; the log buffers live until the call returns. The module lives as long
    // as the process (it is never unloaded).
    let r = unsafe {
        sys::cuModuleLoadDataEx(
            &mut module,
            image.as_ptr().cast(),
            options.len() as c_uint,
            options.as_mut_ptr(),
            values.as_mut_ptr(),
        )
    };
    let text = |b: &[u8]| {
        CStr::from_bytes_until_nul(b)
            .map(|c| c.to_string_lossy().trim().to_owned())
            .unwrap_or_default()
    };
    if std::env::var_os("TRIPLETKIT_CUDA_JIT_LOG").is_some() {
        eprintln!("tripletkit: {name} ({what}): {}", text(&info));
    }
    if r != sys::cudaError_enum::CUDA_SUCCESS {
        let log = text(&error);
        return Err(format!(
            "the driver could not load the kernels of {name} ({what}): {r:?}{}",
            if log.is_empty() {
                String::new()
            } else {
                format!(": {log}")
            }
        ));
    }
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::MODULES;

    #[test]
    fn each_gpu_gets_its_image_and_old_drivers_are_named() {
        let m = &MODULES[0];
        assert_eq!(image_for(m, 8, 0).1, "sm_80 cubin");
        assert_eq!(image_for(m, 8, 9).1, "sm_80 cubin");
        assert_eq!(image_for(m, 9, 0).1, "sm_90 cubin");
        assert_eq!(image_for(m, 10, 0).1, "PTX");
        assert_eq!(image_for(m, 12, 0).1, "PTX");
        assert!(check_driver(12_000).is_ok() && check_driver(12_080).is_ok());
        let e = check_driver(11_080).unwrap_err();
        assert!(
            e.contains("supports CUDA 11.8") && e.contains("need CUDA 12.0"),
            "{e}"
        );
    }

    /// Every module has both cubins, and each is an ELF image (what ptxas writes).
    #[test]
    fn every_module_ships_its_cubins() {
        for m in MODULES {
            for (cubin, arch) in [(m.sm_80, "sm_80"), (m.sm_90, "sm_90")] {
                assert!(cubin.starts_with(b"\x7fELF"), "{}.{arch}.cubin", m.name);
            }
        }
    }
}
