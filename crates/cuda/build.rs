//! Compiles the kernels for the host, with the emulator's scheduler, into a static library:
//! the emulator runs the same `.cu` sources as the GPU.
fn main() {
    let dir = std::path::Path::new("kernels");
    println!("cargo:rerun-if-changed=kernels");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .file(dir.join("kernels.cpp"))
        .file(dir.join("emulator.cpp"))
        .include(dir)
        // glibc's fortified longjmp refuses the jumps between fiber stacks.
        .flag("-U_FORTIFY_SOURCE")
        .define("_FORTIFY_SOURCE", "0")
        // Device code's float maths: no contraction the GPU would not also do, no fast-math.
        .flag("-ffp-contract=off")
        .flag_if_supported("-Wno-unused-parameter")
        .warnings(true)
        .compile("tripletkit_emulator");
}
