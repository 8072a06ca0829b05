//! The options objects of the binding, declared from one table (`options!` below): each is
//! core's options struct as JavaScript passes it, every field optional unless the op needs it.
//! A given field is parsed by the core's rules into core's struct; an omitted one keeps core's
//! default, so API.md's defaults live in core alone. The fields every op shares (the metric,
//! and the device with its memory budget) are written once, in `fields!`.
use crate::glue::{by_reference, Place, Placed, View};
use napi_derive::napi;
use std::str::FromStr;
use tripletkit_core as core;
use tripletkit_core::Error as CoreError;

/// A field's value, when the caller gave one.
pub trait Given<T> {
    fn given(&self) -> Option<&T>;
}

impl<T> Given<T> for Option<T> {
    fn given(&self) -> Option<&T> {
        self.as_ref()
    }
}

macro_rules! required {
    ($($t:ty),*) => {$(
        impl Given<$t> for $t {
            fn given(&self) -> Option<&$t> {
                Some(self)
            }
        }
    )*};
}
required!(String, Vec<f64>, u32, f64);

/// A JavaScript value as the type of core's field, by core's rules; `name` is the option's
/// public name, for the message.
pub trait Convert<T> {
    fn convert(&self, name: &str) -> Result<T, CoreError>;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Convert<$t> for $t {
            fn convert(&self, _: &str) -> Result<$t, CoreError> {
                Ok(self.clone())
            }
        }
    )*};
}
same!(f64, bool, u32, Vec<f64>);

/// Names parse as core's enums (metric, reduction, strategy, similarity), whose messages name
/// the option.
impl<T: FromStr<Err = CoreError>> Convert<T> for String {
    fn convert(&self, _: &str) -> Result<T, CoreError> {
        self.parse()
    }
}

impl Convert<usize> for u32 {
    fn convert(&self, _: &str) -> Result<usize, CoreError> {
        Ok(*self as usize)
    }
}

/// A JS number as a count: non-negative, +Infinity meaning no limit.
impl Convert<usize> for f64 {
    fn convert(&self, name: &str) -> Result<usize, CoreError> {
        if self.is_nan() || *self < 0.0 {
            return Err(CoreError::invalid(
                name,
                format!("expected a non-negative number, received {self}"),
            ));
        }
        // `as` saturates, so +Infinity means "no limit".
        Ok(*self as usize)
    }
}

/// A sample of a set strategy's triplets, as mineTriplets and tripletLoss take it.
#[napi(object)]
#[derive(Clone, Default)]
pub struct SampleOptions {
    /// Triplets to keep (at most): 0 ≤ count ≤ 2³¹ − 1.
    pub count: f64,
    /// The key's seed: an integer from 0 to 2⁵³ − 1. @default 0
    pub seed: Option<f64>,
    /// Global index of the first anchor (for shards). @default 0
    pub anchor_offset: Option<f64>,
    /// Global index of the first reference row (for shards). @default 0
    pub reference_offset: Option<f64>,
}

/// An integer in [0, 2⁵³ − 1], JavaScript's exact integers, named for the message.
fn exact_integer(v: Option<f64>, name: &str) -> Result<u64, CoreError> {
    const MAX: f64 = 9_007_199_254_740_991.0;
    match v {
        None => Ok(0),
        Some(v) if v.fract() == 0.0 && (0.0..=MAX).contains(&v) => Ok(v as u64),
        Some(v) => Err(CoreError::invalid(
            name,
            format!("expected an integer from 0 to 2^53 − 1, received {v}"),
        )),
    }
}

impl Convert<Option<core::Sample>> for SampleOptions {
    fn convert(&self, name: &str) -> Result<Option<core::Sample>, CoreError> {
        let count = self.count;
        if !(count.fract() == 0.0 && (0.0..=core::MAX_TRIPLETS as f64).contains(&count)) {
            return Err(CoreError::invalid(
                &format!("{name}.count"),
                format!(
                    "expected an integer from 0 to {}, received {count}",
                    core::MAX_TRIPLETS
                ),
            ));
        }
        Ok(Some(core::Sample {
            count: count as usize,
            seed: exact_integer(self.seed, &format!("{name}.seed"))?,
            anchor_offset: exact_integer(self.anchor_offset, &format!("{name}.anchorOffset"))?,
            reference_offset: exact_integer(
                self.reference_offset,
                &format!("{name}.referenceOffset"),
            )?,
        }))
    }
}

/// An options struct turned into core's, omitted fields taking core's defaults.
pub trait ToCore {
    type Core;
    fn to_core(&self) -> Result<Self::Core, CoreError>;
}

impl<T: ToCore + Default> ToCore for Option<T> {
    type Core = T::Core;
    fn to_core(&self) -> Result<T::Core, CoreError> {
        match self {
            Some(o) => o.to_core(),
            None => T::default().to_core(),
        }
    }
}

/// The camelCase name JavaScript uses for a snake_case field.
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// Expands one options struct: its shared groups (`use metric [path];`, `use placement;`, and
/// `use hinge;` for the triplet hinge's margin, softMargin and swap)
/// into fields, then the struct, its conversion to core's struct, and its field names. A field
/// is `name: Type => [core path]`; an empty path means the field is not core's (the device).
///
/// Required and optional fields are gathered apart, the required first, so that each optional
/// type is written `Option<…>` in the struct itself: napi-rs tells an optional field by its
/// spelling, which a type passed whole through a declarative macro no longer has.
macro_rules! fields {
    ($head:tt $req:tt [$($opt:tt)*] use hinge; $($rest:tt)*) => {
        fields!($head $req [$($opt)*
            #[doc = "α. @default 0.2"]
            margin: f64 => [margin];
            #[doc = "softplus(dap − dan) instead of the hinge. @default false"]
            soft_margin: bool => [soft_margin];
            #[doc = "dan := min(d(a,n), d(p,n)). @default false"]
            swap: bool => [swap];
        ] $($rest)*);
    };
    ($head:tt $req:tt [$($opt:tt)*] use metric [$($p:tt)*]; $($rest:tt)*) => {
        fields!($head $req [$($opt)*
            #[doc = "@default 'euclidean'"]
            #[napi(ts_type = "'euclidean' | 'sqeuclidean' | 'cosine' | 'dot'")]
            metric: String => [$($p)* metric];
            #[doc = "L2-normalize every row first (gradients flow through it). @default false"]
            normalize: bool => [$($p)* normalize];
        ] $($rest)*);
    };
    ([$doc:literal $name:ident => $core:ty] $req:tt [$($opt:tt)*] use placement; $($rest:tt)*) => {
        impl Placed for $name {
            fn place(&self) -> Place {
                Place {
                    device: self.device.clone(),
                    max_memory: self.max_memory.map(|b| b as usize),
                }
            }
        }
        fields!([$doc $name => $core] $req [$($opt)*
            #[doc = "@default 'cpu'"]
            #[napi(ts_type = "'cpu' | 'cuda'")]
            device: String => [];
            #[doc = "The most device memory (bytes) a call on 'cuda' plans its chunks with; default: 80 % of what is free."]
            max_memory: f64 => [];
        ] $($rest)*);
    };
    ($head:tt $req:tt [$($opt:tt)*]
        $(#[$a:meta])* $f:ident: Option<$t:ty> => [$($p:tt)*]; $($rest:tt)*) => {
        fields!($head $req [$($opt)* $(#[$a])* $f: $t => [$($p)*];] $($rest)*);
    };
    ($head:tt [$($req:tt)*] $opt:tt
        $(#[$a:meta])* $f:ident: $t:ty => [$($p:tt)*]; $($rest:tt)*) => {
        fields!($head [$($req)* $(#[$a])* $f: $t => [$($p)*];] $opt $($rest)*);
    };
    (@set $c:ident, $v:expr, $f:ident, []) => {};
    (@set $c:ident, $v:expr, $f:ident, [$($p:tt)+]) => {
        if let Some(v) = Given::given(&$v) {
            $c.$($p)+ = Convert::convert(v, &camel(stringify!($f)))?;
        }
    };
    (
        [$doc:literal $name:ident => $core:ty]
        [$($(#[$ra:meta])* $rf:ident: $rt:ty => [$($rp:tt)*];)*]
        [$($(#[$oa:meta])* $of:ident: $ot:ty => [$($op:tt)*];)*]
    ) => {
        #[doc = $doc]
        #[napi(object)]
        #[derive(Clone, Default)]
        pub struct $name {
            $($(#[$ra])* pub $rf: $rt,)*
            $($(#[$oa])* pub $of: Option<$ot>,)*
        }

        impl ToCore for $name {
            type Core = $core;
            fn to_core(&self) -> Result<$core, CoreError> {
                #[allow(unused_mut)] // a struct with no field of core's
                let mut c = <$core>::default();
                $(fields!(@set c, self.$rf, $rf, [$($rp)*]);)*
                $(fields!(@set c, self.$of, $of, [$($op)*]);)*
                Ok(c)
            }
        }

        #[cfg(test)]
        impl $name {
            /// The option names JavaScript passes, in camelCase.
            pub fn names() -> Vec<String> {
                [$(stringify!($rf),)* $(stringify!($of)),*].map(camel).to_vec()
            }
        }

        by_reference!($name, Option<$name>);
    };
}

/// Declares the options structs of the table, and `TABLE`: each struct's name and field names.
macro_rules! options {
    ($(
        #[doc = $doc:literal]
        $name:ident => $core:ty { $($body:tt)* }
    )*) => {
        $(fields!([$doc $name => $core] [] [] $($body)*);)*

        /// Every options struct of the binding and its field names, for the TypeScript layer's
        /// option keys (`src/native-options.ts`, written from this table).
        #[cfg(test)]
        pub fn table() -> Vec<(&'static str, Vec<String>)> {
            vec![$((stringify!($name), $name::names())),*]
        }
    };
}

options! {
    #[doc = "How distances are measured, and where."]
    MetricOptions => core::MetricOptions {
        use metric [];
        use placement;
    }

    #[doc = "Options of one knn search against a prepared corpus."]
    SearchOptions => core::KnnOptions {
        #[doc = "Neighbours per query: 1 ≤ k ≤ corpus rows (− 1 with excludeSelf)."]
        k: u32 => [k];
        #[doc = "Query i never returns corpus index queryOffset + i. @default false"]
        exclude_self: Option<bool> => [exclude_self];
        #[doc = "Global index of the first query row, so excludeSelf works on a batch. @default 0"]
        query_offset: Option<u32> => [query_offset];
    }

    #[doc = "Options of mineTriplets."]
    MineOptions => core::MineOptions {
        #[napi(ts_type = "'all' | 'violating' | 'hard' | 'semihard' | 'easy' | 'batch-hard' | 'batch-semihard'")]
        strategy: String => [strategy];
        #[doc = "Margin α of the set strategies. @default 0.2"]
        margin: Option<f64> => [margin];
        #[doc = "Fail with ERR_TRIPLETKIT_TOO_MANY_TRIPLETS rather than produce more. @default 2^31 − 1"]
        max_triplets: Option<f64> => [max_triplets];
        #[doc = "Keep a uniform sample of the set strategy's triplets (never refused by maxTriplets)."]
        sample: Option<SampleOptions> => [sample];
        use metric [distance.];
        use placement;
    }

    #[doc = "Options of tripletLoss."]
    LossOptions => core::LossOptions {
        #[doc = "Mine with this strategy (default 'batch-hard'), unless triplets are given."]
        #[napi(ts_type = "'all' | 'violating' | 'hard' | 'semihard' | 'easy' | 'batch-hard' | 'batch-semihard'")]
        strategy: Option<String> => [];
        use hinge;
        #[doc = "@default 'mean'"]
        #[napi(ts_type = "'mean' | 'sum' | 'mean-active'")]
        reduction: Option<String> => [reduction];
        #[doc = "As MineOptions.maxTriplets. @default 2^31 − 1"]
        max_triplets: Option<f64> => [max_triplets];
        #[doc = "As MineOptions.sample."]
        sample: Option<SampleOptions> => [sample];
        use metric [distance.];
        use placement;
    }

    #[doc = "Options of tripletMarginLoss."]
    MarginLossOptions => core::MarginLossOptions {
        use hinge;
        #[doc = "@default 'mean'"]
        #[napi(ts_type = "'mean' | 'sum' | 'none'")]
        reduction: Option<String> => [reduction];
        use metric [distance.];
        use placement;
    }

    #[doc = "Options of contrastiveLoss."]
    ContrastiveOptions => core::ContrastiveOptions {
        #[doc = "Positive pairs cost max(0, d − posMargin). @default 0"]
        pos_margin: Option<f64> => [pos_margin];
        #[doc = "Negative pairs cost max(0, negMargin − d). @default 1"]
        neg_margin: Option<f64> => [neg_margin];
        #[doc = "Applied to each side on its own. @default 'mean'"]
        #[napi(ts_type = "'mean' | 'sum' | 'mean-active'")]
        reduction: Option<String> => [reduction];
        use metric [distance.];
        use placement;
    }

    #[doc = "Options of supConLoss."]
    SupConOptions => core::SupConOptions {
        #[doc = "τ: cosine similarities are divided by it before the softmax. @default 0.1"]
        temperature: Option<f64> => [temperature];
        use placement;
    }

    #[doc = "Options of multipleNegativesRankingLoss."]
    RankingOptions => core::RankingOptions {
        #[doc = "Similarities are multiplied by this before the softmax. @default 20"]
        scale: Option<f64> => [scale];
        #[doc = "@default 'cosine'"]
        #[napi(ts_type = "'cosine' | 'dot'")]
        similarity: Option<String> => [similarity];
        #[doc = "Also rank the anchors for each positive, and average the two. @default false"]
        symmetric: Option<bool> => [symmetric];
        use placement;
    }

    #[doc = "Options of verificationMetrics."]
    VerificationOptions => core::VerificationOptions {
        #[doc = "The false-accept rate of tarAtFar, from 0 to 1. @default 0.001"]
        far: Option<f64> => [far];
        use metric [distance.];
        use placement;
    }

    #[doc = "Options of ladderLoss: the rungs of the ladder."]
    LadderOptions => core::LadderOptions {
        #[doc = "θ₁ > θ₂ > …"]
        thresholds: Vec<f64> => [thresholds];
        #[doc = "α_l, one per threshold."]
        margins: Vec<f64> => [margins];
        #[doc = "β_l, one per threshold. @default 1 each"]
        weights: Option<Vec<f64>> => [weights];
        #[doc = "The hardest pair per query and rung, else the mean over all pairs. @default true"]
        hardest: Option<bool> => [hardest];
        #[doc = "@default 'cosine'"]
        #[napi(ts_type = "'cosine' | 'dot'")]
        similarity: Option<String> => [similarity];
        use placement;
    }

    #[doc = "Options of retrievalMetrics."]
    RetrievalOptions => core::RetrievalOptions {
        #[doc = "Cut-off of recallAtK / precisionAtK (clamped to the candidates a query has). @default 10"]
        k: Option<u32> => [k];
        use metric [distance.];
        use placement;
    }

    #[doc = "Options of oasisSteps."]
    OasisOptions => core::OasisOptions {
        #[doc = "Aggressiveness C, > 0."]
        c: f64 => [c];
        #[doc = "Triplets to sample and learn from."]
        steps: u32 => [steps];
        #[doc = "The sampling stream's state (its seed, at the first call)."]
        state: u32 => [state];
        use placement;
    }
}

/// Parallel index arrays: triplet t is (anchor[t], positive[t], negative[t]).
#[napi(object)]
pub struct Triplets {
    pub anchor: napi::bindgen_prelude::Int32Array,
    pub positive: napi::bindgen_prelude::Int32Array,
    pub negative: napi::bindgen_prelude::Int32Array,
}

/// Given triplets are seen as three index slices.
impl View for Option<Triplets> {
    type Of<'a> = Option<[&'a [i32]; 3]>;
    fn view(&self) -> Option<[&[i32]; 3]> {
        self.as_ref()
            .map(|t| [&t.anchor[..], &t.positive[..], &t.negative[..]])
    }
}

impl View for Option<[Vec<i32>; 3]> {
    type Of<'a> = Option<[&'a [i32]; 3]>;
    fn view(&self) -> Option<[&[i32]; 3]> {
        self.as_ref().map(|t| t.each_ref().map(|v| &v[..]))
    }
}

/// The async copy; the JS-backed originals are dropped here, on the JS thread.
impl crate::glue::Input for Option<Triplets> {
    type Owned = Option<[Vec<i32>; 3]>;
    fn owned(self) -> Self::Owned {
        self.map(|t| [t.anchor, t.positive, t.negative].map(|v| v.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_take_core_defaults() {
        assert_eq!(
            None::<MetricOptions>.to_core().unwrap(),
            core::MetricOptions::default()
        );
        assert_eq!(
            LossOptions::default().to_core().unwrap(),
            core::LossOptions::default()
        );
        assert_eq!(
            MarginLossOptions::default().to_core().unwrap(),
            core::MarginLossOptions::default()
        );
        assert_eq!(
            RetrievalOptions::default().to_core().unwrap(),
            core::RetrievalOptions::default()
        );
        assert_eq!(
            LadderOptions::default().to_core().unwrap(),
            core::LadderOptions::default()
        );
        let mine = MineOptions {
            strategy: "batch-hard".into(),
            ..MineOptions::default()
        };
        assert_eq!(mine.to_core().unwrap(), core::MineOptions::default());
        let s = SearchOptions {
            k: 3,
            ..SearchOptions::default()
        };
        let s = s.to_core().unwrap();
        assert_eq!((s.k, s.exclude_self, s.query_offset), (3, false, 0));
    }

    #[test]
    fn given_fields_are_parsed_by_the_core() {
        let o = LossOptions {
            reduction: Some("mean-active".into()),
            metric: Some("cosine".into()),
            normalize: Some(true),
            margin: Some(0.5),
            max_triplets: Some(f64::INFINITY),
            ..LossOptions::default()
        };
        let l = o.to_core().unwrap();
        assert_eq!(l.reduction, core::Reduction::MeanActive);
        assert_eq!(l.distance.metric, core::Metric::Cosine);
        assert!(l.distance.normalize && l.margin == 0.5 && l.max_triplets == usize::MAX);
        let place = Some(o.clone()).place();
        assert_eq!(place, Place::default());
        let o = LadderOptions {
            thresholds: vec![0.5],
            margins: vec![0.1],
            hardest: Some(false),
            similarity: Some("dot".into()),
            device: Some("cuda".into()),
            max_memory: Some(1e6),
            ..LadderOptions::default()
        };
        let c = o.to_core().unwrap();
        assert_eq!(
            (c.thresholds, c.margins, c.weights),
            (vec![0.5], vec![0.1], vec![])
        );
        assert!(!c.hardest && c.similarity == core::Similarity::Dot);
        let place = o.place();
        assert_eq!(place.device.as_deref(), Some("cuda"));
        assert_eq!(place.max_memory, Some(1_000_000));
    }

    #[test]
    fn bad_strings_and_numbers_are_invalid_arguments() {
        let bad_metric = MetricOptions {
            metric: Some("manhattan".into()),
            ..MetricOptions::default()
        };
        let e = bad_metric.to_core().unwrap_err();
        assert!(e.to_string().starts_with("metric: expected"), "{e}");
        let bad_strategy = MineOptions {
            strategy: "hardest".into(),
            ..MineOptions::default()
        };
        let e = bad_strategy.to_core().unwrap_err();
        assert!(e.to_string().starts_with("strategy: expected"), "{e}");
        for v in [f64::NAN, -1.0] {
            let o = LossOptions {
                max_triplets: Some(v),
                ..LossOptions::default()
            };
            let e = o.to_core().unwrap_err();
            assert_eq!(e.code(), "ERR_TRIPLETKIT_INVALID_ARGUMENT");
            assert!(e.to_string().starts_with("maxTriplets: expected"), "{e}");
        }
    }

    #[test]
    fn shared_fields_are_in_every_placed_struct_once() {
        for (name, fields) in table() {
            let count = |f: &str| fields.iter().filter(|g| *g == f).count();
            if name != "SearchOptions" {
                assert_eq!((count("device"), count("maxMemory")), (1, 1), "{name}");
            }
            assert!(fields.iter().all(|f| count(f) == 1), "{name}: {fields:?}");
        }
        assert_eq!(camel("max_triplets"), "maxTriplets");
        assert_eq!(camel("k"), "k");
    }

    /// src/native-options.ts is written from `table()`; `UPDATE_GENERATED=1 cargo test` writes
    /// it again after a change to the table.
    #[test]
    fn the_typescript_option_names_follow_the_table() {
        let mut ts = String::from(
            "// Written from the options table of crates/node/src/options.rs by its test\n\
             // `the_typescript_option_names_follow_the_table`; run it with UPDATE_GENERATED=1 to\n\
             // write it again. The option names each binding options struct takes.\n\n\
             export const NATIVE_OPTION_KEYS = {\n",
        );
        for (name, fields) in table() {
            let quoted: Vec<String> = fields.iter().map(|f| format!("'{f}'")).collect();
            ts += &format!("  {name}: [{}],\n", quoted.join(", "));
        }
        ts += "} as const\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src/native-options.ts");
        if std::env::var_os("UPDATE_GENERATED").is_some() {
            std::fs::write(path, &ts).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == ts,
            "src/native-options.ts is not the table's; run UPDATE_GENERATED=1 cargo test -p tripletkit-node --features noop"
        );
    }
}
