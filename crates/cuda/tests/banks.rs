//! The tile core's shared-memory bank model: every way its warps touch the shared tiles (the
//! fill's stores, the float4 loads of `'fp32'`, the fragment loads of `'tf32x3'`) meets no
//! bank conflict. A GPU is not needed: the model indexes the tiles with the kernels' own
//! functions (`kernels/common.cuh`) and counts the words each bank serves.
use tripletkit_cuda::emulator::{bank_ways, Emulator, TileAccess};

#[test]
fn every_access_of_the_tile_core_is_free_of_bank_conflicts() {
    if !Emulator::built() {
        eprintln!("skipped: the emulator is not built for this platform");
        return;
    }
    let ways = [
        TileAccess::Fill,
        TileAccess::Fp32,
        TileAccess::Tf32A,
        TileAccess::Tf32B,
    ]
    .map(|access| (access, bank_ways(access)));
    assert!(ways.iter().all(|(_, w)| *w == Some(1)), "{ways:?}");
}
