//! Compiles the kernels for the host, with the emulator's scheduler, into a static library:
//! the emulator runs the same `.cu` sources as the GPU. Built where its fibers work: Linux on
//! x86-64 (its own context switch) or with glibc (swapcontext); elsewhere `cfg(tk_emulator)`
//! is off and the emulator reports itself unavailable.
fn main() {
    println!("cargo:rustc-check-cfg=cfg(tk_emulator)");
    println!("cargo:rerun-if-changed=kernels");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let (os, arch, env) = (
        var("CARGO_CFG_TARGET_OS"),
        var("CARGO_CFG_TARGET_ARCH"),
        var("CARGO_CFG_TARGET_ENV"),
    );
    if os != "linux" || (arch != "x86_64" && env != "gnu") {
        return;
    }
    let dir = std::path::Path::new("kernels");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .file(dir.join("kernels.cpp"))
        .file(dir.join("emulator.cpp"))
        .file(dir.join("fiber.cpp"))
        .include(dir)
        // Device code's float maths: no contraction the GPU would not also do, no fast-math.
        .flag("-ffp-contract=off")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-unknown-pragmas")
        .warnings(true)
        .compile("tripletkit_emulator");
    println!("cargo:rustc-cfg=tk_emulator");
}
