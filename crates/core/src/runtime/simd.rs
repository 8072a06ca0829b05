//! Runtime choice of the vector unit for hot loops. The crate is built for the x86-64
//! baseline (SSE2) so that one binary runs everywhere; a function defined with `widest!` is
//! compiled three times (AVX-512, AVX2 with FMA, baseline) and picks the widest the CPU has
//! on each call. Rust never contracts `a * b + c` into an FMA, so the three give the same
//! bits.

/// `widest! { fn name(args) -> Ret { body } }` defines `name` as above; the body must only
/// call functions that are `#[inline(always)]` (or cold) for them to be compiled wide too.
macro_rules! widest {
    ($(#[$doc:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$doc])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn any($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) -> $ret {
                    any($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) -> $ret {
                    any($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features `avx512` was compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            any($($arg),*)
        }
    };
}
pub(crate) use widest;
