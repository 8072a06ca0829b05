//! Result vectors as typed arrays whose memory V8 owns.
//!
//! napi-rs hands a `Vec` to JavaScript as an external buffer, without a copy. But Node frees
//! external buffers only from a callback it runs on a later turn of the event loop, so a
//! synchronous training loop that never yields would hold every result it ever got, hundreds
//! of megabytes after tens of thousands of calls. Results up to `COPY_LIMIT` are therefore
//! copied into an ArrayBuffer that V8 allocates and the garbage collector frees at once (the
//! copy costs far less than computing them); larger ones stay external, where a copy would
//! double the peak memory.
use napi::bindgen_prelude::{
    Float32Array, Float64Array, Int32Array, ToNapiValue, TypeName, ValueType,
};
use napi::sys;

/// Results of at most this many bytes are copied into V8's memory.
pub const COPY_LIMIT: usize = 16 << 20;

/// A result vector on its way to JavaScript as a typed array (declared in TypeScript with
/// `ts_type` as the matching `…Array`).
pub struct Array<T>(pub Vec<T>);

impl<T> From<Vec<T>> for Array<T> {
    fn from(v: Vec<T>) -> Self {
        Array(v)
    }
}

/// The element types results use, with their typed array.
pub trait Element: Copy {
    const KIND: sys::napi_typedarray_type;
    /// napi-rs' own, external, typed array.
    type External: ToNapiValue;
    fn external(v: Vec<Self>) -> Self::External;
}

impl Element for f32 {
    const KIND: sys::napi_typedarray_type = sys::TypedarrayType::float32_array;
    type External = Float32Array;
    fn external(v: Vec<f32>) -> Float32Array {
        Float32Array::new(v)
    }
}

impl Element for f64 {
    const KIND: sys::napi_typedarray_type = sys::TypedarrayType::float64_array;
    type External = Float64Array;
    fn external(v: Vec<f64>) -> Float64Array {
        Float64Array::new(v)
    }
}

impl Element for i32 {
    const KIND: sys::napi_typedarray_type = sys::TypedarrayType::int32_array;
    type External = Int32Array;
    fn external(v: Vec<i32>) -> Int32Array {
        Int32Array::new(v)
    }
}

impl<T: Element> TypeName for Array<T> {
    fn type_name() -> &'static str {
        "TypedArray"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<T: Element> ToNapiValue for Array<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let v = val.0;
        let bytes = std::mem::size_of_val(&v[..]);
        if bytes == 0 || bytes > COPY_LIMIT {
            return T::External::to_napi_value(env, T::external(v));
        }
        let mut data = std::ptr::null_mut();
        let mut buffer = std::ptr::null_mut();
        napi::check_status!(
            sys::napi_create_arraybuffer(env, bytes, &mut data, &mut buffer),
            "could not allocate a result of {} bytes",
            bytes
        )?;
        // SAFETY: `data` is a fresh allocation of `bytes` bytes that nothing else references.
        std::ptr::copy_nonoverlapping(v.as_ptr().cast::<u8>(), data.cast::<u8>(), bytes);
        let mut array = std::ptr::null_mut();
        napi::check_status!(
            sys::napi_create_typedarray(env, T::KIND, v.len(), buffer, 0, &mut array),
            "could not create a typed array of {} elements",
            v.len()
        )?;
        Ok(array)
    }
}
