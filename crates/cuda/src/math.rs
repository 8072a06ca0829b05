//! The arithmetic of the distance tiles' dot products, a setting of each GPU device.
//!
//! - `Fp32` (the default): FP32 fused multiply-adds in the cpu device's order, so every
//!   distance is the cpu's, to the bit.
//! - `Tf32x3`: tensor-core products of TF32 parts, three a product (a_lo·b_hi + a_hi·b_lo +
//!   a_hi·b_hi). FP32-level accuracy at several times FP32's throughput on sm_80 and later,
//!   but not the cpu's bits: distances agree within a few units in FP32's last place of
//!   ‖a‖·‖b‖, and neighbours or negatives that near a tie may come in another order.
//!
//! The distance epilogue's rules hold in both: no negative distance, an exact 0 on a
//! self-distance diagonal, and exact recomputation where cancellation took the digits.
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Math {
    #[default]
    Fp32,
    Tf32x3,
}

impl Math {
    /// Its name, as `setCudaMath` and `TRIPLETKIT_CUDA_MATH` take it.
    pub fn name(self) -> &'static str {
        match self {
            Math::Fp32 => "fp32",
            Math::Tf32x3 => "tf32x3",
        }
    }

    /// The math named `name`, if any.
    pub fn parse(name: &str) -> Option<Math> {
        match name {
            "fp32" => Some(Math::Fp32),
            "tf32x3" => Some(Math::Tf32x3),
            _ => None,
        }
    }

    /// Its code in `kernels/common.cuh` (TK_FP32, TK_TF32X3).
    pub fn code(self) -> i32 {
        match self {
            Math::Fp32 => 0,
            Math::Tf32x3 => 1,
        }
    }
}

/// A device's math, set from any thread; a call reads it once, when it launches.
#[derive(Default)]
pub struct MathCell(AtomicU8);

impl MathCell {
    pub fn get(&self) -> Math {
        if self.0.load(Ordering::Relaxed) == 1 {
            Math::Tf32x3
        } else {
            Math::Fp32
        }
    }

    pub fn set(&self, m: Math) {
        self.0.store(u8::from(m == Math::Tf32x3), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_cell_starts_at_fp32() {
        for m in [Math::Fp32, Math::Tf32x3] {
            assert_eq!(Math::parse(m.name()), Some(m));
        }
        assert_eq!(Math::parse("tf32"), None);
        let c = MathCell::default();
        assert_eq!(c.get(), Math::Fp32);
        c.set(Math::Tf32x3);
        assert_eq!(c.get(), Math::Tf32x3);
    }
}
