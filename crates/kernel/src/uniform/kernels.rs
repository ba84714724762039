//! Every uniform kernel behind one trait, and their names.
//!
//! | name | family | exact | output |
//! |---|---|---|---|
//! | `guess-linear`, `guess-hash`, `guess-bisect` | guess and check | yes | identical to each other |
//! | `guess-vectorized` | guess and check, batch | may fall short | its own |
//! | `partition-point`, `branch-free`, `complement`, `bucketed`, `auto` | pre-verified | yes | identical to each other |
//!
//! "Identical" means byte for byte: within a family the kernels consume the user's
//! stream the same way and differ only in how a draw is checked or mapped. Across
//! families the *distribution* is the same (tested by chi-square), not the bytes.

use super::guess::{Bisect, GuessAndCheck, Hashed, Linear, Vectorized};
use super::maps::{Auto, Bucketed, Complement, PartitionPoint};
use super::{BranchFree, Drawn, PreVerified, Replacement};
use crate::stream::UserRng;
use crate::KernelError;

/// One user's uniform negatives: the contract every variant implements.
pub trait UniformKernel: std::fmt::Debug + Send + Sync {
    /// Writes into `out` (cleared first) `request` negatives of the user whose sorted
    /// positives are `positives`, in a catalog of `n_items` items, in random order.
    ///
    /// Without replacement a user with fewer than `request` candidates gets all of
    /// them (except from `guess-vectorized`, which may return fewer); the difference
    /// is returned as the shortfall. A user with every item gets none.
    fn sample(
        &mut self,
        rng: &mut UserRng,
        positives: &[u32],
        n_items: u32,
        request: u64,
        replacement: Replacement,
        out: &mut Vec<u32>,
    ) -> Result<Drawn, KernelError>;
}

/// The uniform kernels by name, as `negsamp sample --kernel` and `negsamp bench`
/// accept them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Kernel {
    GuessLinear,
    GuessHash,
    GuessBisect,
    GuessVectorized,
    PartitionPoint,
    BranchFree,
    Complement,
    Bucketed,
    #[default]
    Auto,
}

impl Kernel {
    /// Every kernel, in the article's order, `auto` last.
    pub const ALL: [Kernel; 9] = [
        Kernel::GuessLinear,
        Kernel::GuessHash,
        Kernel::GuessBisect,
        Kernel::GuessVectorized,
        Kernel::PartitionPoint,
        Kernel::BranchFree,
        Kernel::Complement,
        Kernel::Bucketed,
        Kernel::Auto,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kernel::GuessLinear => "guess-linear",
            Kernel::GuessHash => "guess-hash",
            Kernel::GuessBisect => "guess-bisect",
            Kernel::GuessVectorized => "guess-vectorized",
            Kernel::PartitionPoint => "partition-point",
            Kernel::BranchFree => "branch-free",
            Kernel::Complement => "complement",
            Kernel::Bucketed => "bucketed",
            Kernel::Auto => "auto",
        }
    }

    /// Whether the kernel may return fewer negatives than the user has candidates
    /// for (only `guess-vectorized`).
    pub fn may_fall_short(self) -> bool {
        self == Kernel::GuessVectorized
    }

    /// Kernels of one family write identical output for the same stream.
    pub fn family(self) -> &'static str {
        match self {
            Kernel::GuessLinear | Kernel::GuessHash | Kernel::GuessBisect => "guess-and-check",
            Kernel::GuessVectorized => "vectorized",
            _ => "pre-verified",
        }
    }

    /// A fresh sampler (its scratch buffers grow on first use and are then reused).
    pub fn build(self) -> Box<dyn UniformKernel> {
        match self {
            Kernel::GuessLinear => Box::<GuessAndCheck<Linear>>::default(),
            Kernel::GuessHash => Box::<GuessAndCheck<Hashed>>::default(),
            Kernel::GuessBisect => Box::<GuessAndCheck<Bisect>>::default(),
            Kernel::GuessVectorized => Box::<Vectorized>::default(),
            Kernel::PartitionPoint => Box::<PreVerified<PartitionPoint>>::default(),
            Kernel::BranchFree => Box::<PreVerified<BranchFree>>::default(),
            Kernel::Complement => Box::<PreVerified<Complement>>::default(),
            Kernel::Bucketed => Box::<PreVerified<Bucketed>>::default(),
            Kernel::Auto => Box::<PreVerified<Auto>>::default(),
        }
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Kernel {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Kernel::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown kernel {name:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A worker's uniform sampler: the chosen kernel and its reusable scratch.
#[derive(Debug)]
pub struct UniformSampler {
    kernel: Kernel,
    inner: Box<dyn UniformKernel>,
}

impl Default for UniformSampler {
    fn default() -> Self {
        Self::new(Kernel::default())
    }
}

impl UniformSampler {
    pub fn new(kernel: Kernel) -> Self {
        Self {
            kernel,
            inner: kernel.build(),
        }
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }
}

/// The sampler is used as its kernel: `sampler.sample(...)` is
/// [`UniformKernel::sample`], with no second copy of the signature to keep in step.
impl std::ops::Deref for UniformSampler {
    type Target = dyn UniformKernel;
    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}

impl std::ops::DerefMut for UniformSampler {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.inner
    }
}
