//! Stand-ins for the few Node-API functions that napi's error types reference, so that this
//! crate's unit tests (`--features noop`) link into a plain executable outside Node. No test
//! calls them; if one ever did, it would get `napi_generic_failure` back.
#![allow(non_snake_case)]

/// `napi_generic_failure`.
const GENERIC_FAILURE: i32 = 9;

macro_rules! stubs {
    ($($name:ident),* $(,)?) => {
        $(
            #[no_mangle]
            extern "C" fn $name() -> i32 {
                GENERIC_FAILURE
            }
        )*
    };
}

stubs!(
    napi_create_error,
    napi_create_string_utf8,
    napi_delete_reference,
    napi_get_and_clear_last_exception,
    napi_get_named_property,
    napi_get_reference_value,
    napi_is_error,
    napi_is_exception_pending,
    napi_reference_unref,
    napi_set_named_property,
    napi_throw,
);
