//! The process's memory budget, as the TypeScript layer sizes its defaults and checks by it.
use napi_derive::napi;
use tripletkit_core::runtime::budget;

/// What this process may still allocate (`available`: the host's available memory, the
/// container's limit less its usage, `ulimit -v` less what is mapped, the smallest; absent
/// where the platform does not say) and what calls in flight have reserved of it.
#[napi(object, object_from_js = false)]
pub struct MemoryBudget {
    pub available: Option<f64>,
    pub reserved: f64,
}

/// Whether every value is finite: the TypeScript layer's check of a large input, on the
/// widest vector unit (it looks for the first offender itself only when this says no).
#[napi]
pub fn all_finite(data: &[f32]) -> bool {
    tripletkit_core::all_finite(data)
}

/// The memory budget shared by every call in this process (all threads and workers).
#[napi]
pub fn memory_budget() -> MemoryBudget {
    MemoryBudget {
        available: budget::available().map(|b| b as f64),
        reserved: budget::reserved() as f64,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_the_core_budget() {
        let b = super::memory_budget();
        assert!(b.reserved >= 0.0);
        if cfg!(target_os = "linux") {
            assert!(b.available.unwrap() > 0.0);
        }
    }
}
