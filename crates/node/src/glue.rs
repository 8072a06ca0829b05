//! The glue every export shares, and `exports!`, which writes an op's two exports from one row
//! of the table in `exports.rs`.
//!
//! A row names the op's JS arguments and types, the options argument that says where it runs,
//! its result, and the call into core as an expression over those arguments. The sync export
//! borrows the arguments (zero copy) and runs on the JS thread; the async twin copies them
//! first ([`Input`]) and runs on a thread of its own. Both hand the expression the same views
//! of the arguments ([`View`]), so it is written once.
use crate::errors::Code;
use crate::task::{run_sync, Op};
use std::marker::PhantomData;
use tripletkit_core::{Call, Device, Error as CoreError, MatRef};

/// Where a call runs: the `device` and `maxMemory` of its options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Place {
    pub device: Option<String>,
    pub max_memory: Option<usize>,
}

/// An options object that names a device (and perhaps a memory budget).
pub trait Placed {
    fn place(&self) -> Place;
}

impl<T: Placed + Default> Placed for Option<T> {
    fn place(&self) -> Place {
        self.as_ref().map(T::place).unwrap_or_default()
    }
}

/// An argument as the op's expression sees it, the same for a borrowed argument (sync) and
/// its owned copy (async): slices for arrays, values for numbers, a reference for options.
pub trait View {
    type Of<'a>
    where
        Self: 'a;
    fn view(&self) -> Self::Of<'_>;
}

/// An argument copied for an async call, whose inputs JS may change while it runs.
pub trait Input {
    type Owned: View + Send + 'static;
    fn owned(self) -> Self::Owned;
}

impl<'s, T: 's> View for &'s [T] {
    type Of<'a>
        = &'a [T]
    where
        Self: 'a;
    fn view(&self) -> &[T] {
        self
    }
}

impl<T> View for Vec<T> {
    type Of<'a>
        = &'a [T]
    where
        Self: 'a;
    fn view(&self) -> &[T] {
        self
    }
}

impl<T: Clone + Send + 'static> Input for &[T] {
    type Owned = Vec<T>;
    fn owned(self) -> Vec<T> {
        self.to_vec()
    }
}

impl<'s, T: 's> View for Option<&'s [T]> {
    type Of<'a>
        = Option<&'a [T]>
    where
        Self: 'a;
    fn view(&self) -> Option<&[T]> {
        *self
    }
}

impl<T> View for Option<Vec<T>> {
    type Of<'a>
        = Option<&'a [T]>
    where
        Self: 'a;
    fn view(&self) -> Option<&[T]> {
        self.as_deref()
    }
}

impl<T: Clone + Send + 'static> Input for Option<&[T]> {
    type Owned = Option<Vec<T>>;
    fn owned(self) -> Option<Vec<T>> {
        self.map(<[T]>::to_vec)
    }
}

/// Numbers are their own view and their own copy.
macro_rules! plain {
    ($($t:ty),*) => {$(
        impl View for $t {
            type Of<'a> = $t;
            fn view(&self) -> $t {
                *self
            }
        }
        impl Input for $t {
            type Owned = $t;
            fn owned(self) -> $t {
                self
            }
        }
    )*};
}
plain!(u32, Option<u32>);

/// Options objects are seen by reference and copied whole.
macro_rules! by_reference {
    ($($t:ty),*) => {$(
        impl $crate::glue::View for $t {
            type Of<'a> = &'a $t;
            fn view(&self) -> &$t {
                self
            }
        }
        impl $crate::glue::Input for $t {
            type Owned = $t;
            fn owned(self) -> $t {
                self
            }
        }
    )*};
}
pub(crate) use by_reference;

/// `rows × cols` values named as the public argument, checked by the core.
pub fn matrix<'a>(
    name: &str,
    data: &'a [f32],
    rows: u32,
    cols: u32,
) -> Result<MatRef<'a>, CoreError> {
    MatRef::named(name, data, rows as usize, cols as usize)
}

/// A reference set (rows and labels) given as optional JS arguments, which come together or
/// not at all: rows without labels reach the core's label rule as 0 labels.
pub fn reference_set<'a>(
    rows: Option<&'a [f32]>,
    labels: Option<&'a [i32]>,
    count: Option<u32>,
    cols: u32,
) -> Result<Option<(MatRef<'a>, &'a [i32])>, CoreError> {
    rows.map(|r| {
        Ok((
            matrix("reference", r, count.unwrap_or(0), cols)?,
            labels.unwrap_or(&[]),
        ))
    })
    .transpose()
}

/// One call of an op: where it runs and the expression that runs it there.
pub struct Run<F, Out, Js> {
    place: Place,
    run: F,
    types: PhantomData<fn() -> (Out, Js)>,
}

impl<F, Out, Js> Run<F, Out, Js>
where
    F: Fn(&dyn Device, &Call) -> Result<Out, CoreError> + Send,
{
    pub fn new(place: Place, run: F) -> Self {
        Run {
            place,
            run,
            types: PhantomData,
        }
    }
}

impl<F, Out, Js> Op for Run<F, Out, Js>
where
    F: Fn(&dyn Device, &Call) -> Result<Out, CoreError> + Send,
    Out: Send + 'static,
    Js: From<Out>,
{
    type Output = Out;
    type Js = Js;
    fn device(&self) -> Option<&str> {
        self.place.device.as_deref()
    }
    fn max_memory(&self) -> Option<usize> {
        self.place.max_memory
    }
    fn run(&self, device: &dyn Device, call: &Call) -> Result<Out, CoreError> {
        (self.run)(device, call)
    }
    fn to_js(out: Out) -> Js {
        Js::from(out)
    }
}

/// Runs a sync call (the first half of every sync export).
pub fn sync<F, Out, Js>(place: Place, run: F) -> napi::Result<Js, Code>
where
    F: Fn(&dyn Device, &Call) -> Result<Out, CoreError> + Send,
    Out: Send + 'static,
    Js: From<Out>,
{
    run_sync(Run::<F, Out, Js>::new(place, run))
}

/// Writes an op's sync export and its `…Async` twin from a row: the doc, the two names, the
/// arguments (as napi-rs takes them), the options argument that places the call, the result
/// (with its TypeScript type where napi-rs cannot name it), and the core call over the
/// arguments' views.
///
/// Docs are `#[doc = "…"]` string literals: napi-rs reads a doc comment that passed through
/// a declarative macro as a raw string and would print it as `r"…"` in binding.d.ts.
macro_rules! exports {
    ($(
        #[doc = $doc:literal]
        fn $name:ident / $async_name:ident ($($arg:ident: $ty:ty),* $(,)?)
            placed by $opts:ident -> $js:ty $([$ts:literal, $ts_async:literal])?
            = |$device:ident, $call:ident| $body:expr;
    )*) => {$(
        #[doc = $doc]
        #[napi$((ts_return_type = $ts))?]
        #[allow(clippy::too_many_arguments)] // mirrors the JS signature one to one
        pub fn $name($($arg: $ty),*) -> napi::Result<$js, Code> {
            let place = $crate::glue::Placed::place(&$opts);
            $(let $arg = $crate::glue::View::view(&$arg);)*
            $crate::glue::sync(place, move |$device: &dyn Device, $call: &Call| $body)
        }

        #[doc = "Async twin of the op of the same name: its arguments and a CancelToken; the inputs are copied first, and it runs on a thread of its own."]
        #[cfg(not(feature = "noop"))] // napi objects exist only in the real addon
        #[napi$((ts_return_type = $ts_async))?]
        #[allow(clippy::too_many_arguments)]
        pub fn $async_name<'env>(
            env: &'env Env,
            $($arg: $ty,)*
            token: Option<&CancelToken>,
        ) -> napi::Result<PromiseRaw<'env, $js>> {
            let place = $crate::glue::Placed::place(&$opts);
            $(let $arg = $crate::glue::Input::owned($arg);)*
            let run = move |$device: &dyn Device, $call: &Call| {
                $(let $arg = $crate::glue::View::view(&$arg);)*
                $body
            };
            spawn(env, $crate::glue::Run::<_, _, $js>::new(place, run), token)
        }
    )*};
}
pub(crate) use exports;
