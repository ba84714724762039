//! `negsamp._negsamp`: the engine for Python. Keyword arguments are parsed by the CLI's
//! own definitions (`negsamp::config::parse_options`), so `sample(..., ratio=4)` takes
//! exactly what `negsamp sample --ratio 4` takes, with the same defaults and messages.
//! Long calls release the GIL. The `negsamp` Python package (python/negsamp) wraps
//! this module with loading, the in-memory results and the pandas drop-in.

use negsamp::cli::{IngestArgs, SampleArgs};
use negsamp::config::{parse_options, Reserved};
use negsamp::errors::Kind;
use negsamp::request::{ingest_options, sample_config};
use negsamp_engine::{sample_split, sample_to_dir, RunSummary};
use negsamp_store::csr::{write_csr_store, Csr};
use negsamp_store::write::PublishOptions;
use numpy::ndarray::ArrayView1;
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The extension's own Rust allocations (ingest's columns, the CSR) on transparent huge
/// pages where they pay, as in the `negsamp` command (see `HugePageAlloc`; decided when
/// the module is imported).
#[global_allocator]
static ALLOCATOR: negsamp_store::resources::HugePageAlloc = negsamp_store::resources::HugePageAlloc;

create_exception!(_negsamp, Error, PyException, "Any negsamp failure.");
create_exception!(
    _negsamp,
    ConfigError,
    Error,
    "Bad parameters: an unknown name, a wrong value, an option that does not apply."
);
create_exception!(
    _negsamp,
    BusyError,
    Error,
    "The output is being written by another process; retry later."
);

/// A library error as the matching Python exception, with the library's message.
fn to_py(err: impl std::error::Error + Send + Sync + 'static) -> PyErr {
    let err = anyhow::Error::new(err);
    let message = format!("{err:#}");
    match err.chain().find_map(negsamp::errors::kind) {
        Some(Kind::Config) => ConfigError::new_err(message),
        Some(Kind::Busy) => BusyError::new_err(message),
        None => Error::new_err(message),
    }
}

/// Keyword arguments as the options table of a command (`with_replacement` is
/// `--with-replacement`; `None` leaves an option at its default).
fn options(params: Option<&Bound<'_, PyDict>>) -> PyResult<Table> {
    let mut table = Table::new();
    let Some(params) = params else {
        return Ok(table);
    };
    for (key, value) in params.iter() {
        let key: String = key.extract()?;
        if value.is_none() {
            continue;
        }
        let value = if let Ok(items) = value.cast::<PyList>() {
            Value::Array(
                items
                    .iter()
                    .map(|v| scalar(&key, &v))
                    .collect::<PyResult<_>>()?,
            )
        } else if let Ok(items) = value.cast::<PyTuple>() {
            Value::Array(
                items
                    .iter()
                    .map(|v| scalar(&key, &v))
                    .collect::<PyResult<_>>()?,
            )
        } else {
            scalar(&key, &value)?
        };
        table.insert(key.replace('_', "-"), value);
    }
    Ok(table)
}

fn scalar(key: &str, value: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Ok(b) = value.extract::<bool>() {
        return Ok(Value::Boolean(b));
    }
    if let Ok(n) = value.extract::<i64>() {
        return Ok(Value::Integer(n));
    }
    if let Ok(x) = value.extract::<f64>() {
        return Ok(Value::Float(x));
    }
    if let Ok(p) = value.extract::<PathBuf>() {
        return Ok(Value::String(p.to_string_lossy().into_owned()));
    }
    Err(PyTypeError::new_err(format!(
        "{key}: a number, a string, a path or a bool, not {}",
        value.get_type().name()?
    )))
}

/// What the call sets itself: not a keyword argument.
const CALL_SETS: Reserved<'static> = Reserved {
    keys: &["csv", "store", "out", "json", "help"],
    why: "is an argument of the call itself",
};

fn parse<T: clap::Args + clap::FromArgMatches>(
    name: &'static str,
    params: Option<&Bound<'_, PyDict>>,
    leading: &[&str],
) -> PyResult<T> {
    let table = options(params)?;
    parse_options::<T>(name, &table, Path::new(""), leading, CALL_SETS)
        .map(|(args, _)| args)
        .map_err(ConfigError::new_err)
}

/// Runs `work` without the GIL on a helper thread while this thread checks for
/// signals every 50 ms: Ctrl-C asks the engine to stop at its next safe point
/// (`negsamp_store::interrupt`), waits for it, and raises `KeyboardInterrupt` — the
/// output left as a killed run leaves it (nothing published, finished parts kept).
fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> PyResult<T> + Send,
) -> PyResult<T> {
    use std::sync::mpsc::{channel, RecvTimeoutError};
    negsamp_store::interrupt::clear();
    std::thread::scope(|scope| {
        let (done, mut finished) = channel();
        scope.spawn(move || {
            let _ = done.send(work());
        });
        loop {
            // The receiver moves through the GIL-free closure and back (it is not Sync).
            let waited;
            (waited, finished) = py.detach(move || {
                let waited = finished.recv_timeout(std::time::Duration::from_millis(50));
                (waited, finished)
            });
            match waited {
                Ok(result) => return result,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::new_err("the engine panicked; please report it"))
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if let Err(interrupt) = py.check_signals() {
                negsamp_store::interrupt::request();
                let _ = py.detach(move || finished.recv());
                negsamp_store::interrupt::clear();
                return Err(interrupt);
            }
        }
    })
}

fn pool(threads: Option<usize>) -> PyResult<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| Error::new_err(format!("starting the thread pool: {e}")))
}

/// Ingests `input` (anything `negsamp ingest` reads) into the store `out`; returns the
/// summary as JSON.
#[pyfunction]
#[pyo3(signature = (input, out, params=None, threads=None))]
fn ingest(
    py: Python<'_>,
    input: PathBuf,
    out: PathBuf,
    params: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
) -> PyResult<String> {
    let (input_arg, out_arg) = (input.to_string_lossy(), out.to_string_lossy());
    let args: IngestArgs = parse("ingest", params, &[&input_arg, "--out", &out_arg])?;
    let options = ingest_options(&args);
    let pool = pool(threads)?;
    let summary = interruptible(py, || {
        pool.install(|| negsamp_store::ingest::ingest(&input, &out, &options, &|_| {}))
            .map_err(to_py)
    })?;
    Ok(negsamp::report::ingest(&input, &out, &summary).to_string())
}

/// Samples the store at `store` into the dataset `out`, as `negsamp sample` would (the
/// same bytes); returns one summary per dataset written, as JSON.
#[pyfunction]
#[pyo3(signature = (store, out, params=None, threads=None))]
fn sample(
    py: Python<'_>,
    store: PathBuf,
    out: PathBuf,
    params: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
) -> PyResult<String> {
    let (store_arg, out_arg) = (store.to_string_lossy(), out.to_string_lossy());
    let args: SampleArgs = parse("sample", params, &[&store_arg, "--out", &out_arg])?;
    let pool = pool(threads)?;
    interruptible(py, || pool.install(|| run_sample(&store, &args)))
}

fn run_sample(store_path: &Path, args: &SampleArgs) -> PyResult<String> {
    let config = sample_config(args).map_err(to_py)?;
    let store = negsamp_store::Store::open(store_path).map_err(to_py)?;
    let out = &args.out;
    let runs: Vec<(PathBuf, RunSummary)> = match args.split_at {
        None => vec![(
            out.clone(),
            sample_to_dir(&store, out, &config, &|_| {}).map_err(to_py)?,
        )],
        Some(at) => {
            let [train, test] = sample_split(&store, out, &config, at, &|_| {}).map_err(to_py)?;
            vec![(out.join("train"), train), (out.join("test"), test)]
        }
    };
    let summaries: Vec<serde_json::Value> = runs
        .iter()
        .map(|(dir, summary)| negsamp::report::sample(store_path, dir, summary))
        .collect();
    Ok(serde_json::Value::from(summaries).to_string())
}

/// Samples a CSR matrix (rows users, columns items, stored entries positives) into the
/// dataset `out`: its store is written to `store_dir` (kept) or a temporary directory.
/// With `user_ids` (and `item_ids`), the draws equal those of a store ingested with
/// those ids.
#[pyfunction]
#[pyo3(signature = (indptr, indices, n_items, out, user_ids=None, item_ids=None, store_dir=None, params=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn sample_csr(
    py: Python<'_>,
    indptr: PyReadonlyArray1<'_, u64>,
    indices: PyReadonlyArray1<'_, u32>,
    n_items: u32,
    out: PathBuf,
    user_ids: Option<Vec<String>>,
    item_ids: Option<Vec<String>>,
    store_dir: Option<PathBuf>,
    params: Option<&Bound<'_, PyDict>>,
    threads: Option<usize>,
) -> PyResult<String> {
    let out_arg = out.to_string_lossy();
    let args: SampleArgs = parse("sample", params, &["-", "--out", &out_arg])?;
    let (indptr, indices) = (indptr.as_slice()?, indices.as_slice()?);
    let temp = match &store_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().map_err(|e| Error::new_err(e.to_string()))?),
    };
    let store =
        store_dir.unwrap_or_else(|| temp.as_ref().expect("made above").path().join("csr.store"));
    let csr = Csr {
        indptr,
        indices,
        n_items,
        user_ids: user_ids.as_deref(),
        item_ids: item_ids.as_deref(),
        rows: None,
    };
    let pool = pool(threads)?;
    interruptible(py, || {
        pool.install(|| {
            write_csr_store(&store, &csr, PublishOptions::default(), &|_, _| {}).map_err(to_py)?;
            run_sample(&store, &args)
        })
    })
}

/// The popularity law's item weights from per-item interaction counts (`count^alpha`,
/// 0 for an untouched item): the engine's own definition, so weights computed from
/// counts aggregated elsewhere (a Spark job) give the draws a store gives.
#[pyfunction]
fn popularity_weights<'py>(
    py: Python<'py>,
    counts: PyReadonlyArray1<'py, u64>,
    alpha: f64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let weights =
        negsamp_engine::context::weights_from_counts(counts.as_slice()?, alpha).map_err(to_py)?;
    Ok(PyArray1::from_vec(py, weights))
}

/// A store, memory-mapped: counts, and its CSR arrays as read-only NumPy views of the
/// map (no copy).
#[pyclass(frozen, module = "negsamp._negsamp")]
struct Store {
    inner: negsamp_store::Store,
    path: PathBuf,
}

#[pymethods]
impl Store {
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let inner = negsamp_store::Store::open(&path).map_err(to_py)?;
        Ok(Self { inner, path })
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    #[getter]
    fn n_users(&self) -> u32 {
        self.inner.n_users()
    }

    #[getter]
    fn n_items(&self) -> u32 {
        self.inner.n_items()
    }

    #[getter]
    fn n_interactions(&self) -> u64 {
        self.inner.n_interactions()
    }

    #[getter]
    fn has_timestamps(&self) -> bool {
        self.inner.has_timestamps()
    }

    /// The unit of the timestamps (`"s"`, `"ms"`, `"us"` or `"ns"`: NumPy's
    /// `datetime64` unit names), `None` without timestamps.
    #[getter]
    fn time_unit(&self) -> Option<&'static str> {
        self.inner.time_unit().map(|u| u.name())
    }

    /// Row offsets, `uint64[n_users + 1]`, a read-only view of the store's map.
    #[getter]
    fn indptr<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyArray1<u64>>> {
        read_only_view(slf, slf.get().inner.indptr())
    }

    /// Item indices of every user's positives (ascending per user), `uint32`, a
    /// read-only view of the store's map.
    #[getter]
    fn indices<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyArray1<u32>>> {
        read_only_view(slf, slf.get().inner.indices())
    }

    /// The input's data row of each positive (aligned with `indices`; the output's
    /// `anchor` numbering), `uint64`, a read-only view of the store's map.
    #[getter]
    fn rows<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyArray1<u64>>> {
        read_only_view(slf, slf.get().inner.rows())
    }

    /// Each positive's timestamp (aligned with `indices`), `int64` in `time_unit`, a
    /// read-only view of the store's map — `store.timestamps.view(f"datetime64[{store.time_unit}]")`
    /// gives NumPy datetimes; `None` without timestamps.
    #[getter]
    fn timestamps<'py>(slf: &Bound<'py, Self>) -> PyResult<Option<Bound<'py, PyArray1<i64>>>> {
        slf.get()
            .inner
            .timestamps()
            .map(|t| read_only_view(slf, t))
            .transpose()
    }

    /// Original user ids, by user index.
    fn user_ids(&self) -> PyResult<Vec<String>> {
        self.inner.user_ids().map_err(to_py)
    }

    /// Original item ids, by item index.
    fn item_ids(&self) -> PyResult<Vec<String>> {
        self.inner.item_ids().map_err(to_py)
    }

    /// The full integrity check (checksums, CSR invariants).
    fn verify(&self, py: Python<'_>) -> PyResult<()> {
        interruptible(py, || self.inner.verify().map_err(to_py))
    }

    fn __repr__(&self) -> String {
        format!(
            "negsamp.Store({:?}: {} users, {} items, {} interactions)",
            self.path,
            self.inner.n_users(),
            self.inner.n_items(),
            self.inner.n_interactions()
        )
    }
}

/// A NumPy array over `data`, which lives in `owner`'s map: the array holds a
/// reference to `owner`, so the map outlives it, and is marked read-only (the map is).
fn read_only_view<'py, T: numpy::Element>(
    owner: &Bound<'py, Store>,
    data: &[T],
) -> PyResult<Bound<'py, PyArray1<T>>> {
    let view = ArrayView1::from(data);
    // SAFETY: `data` borrows from the store owned by `owner`, which is frozen (never
    // mutated or replaced) and kept alive by the array's base reference; the map is
    // never written, and the array is made read-only before it is returned.
    let array = unsafe { PyArray1::borrow_from_array(&view, owner.clone().into_any()) };
    let kwargs = PyDict::new(owner.py());
    kwargs.set_item("write", false)?;
    array.call_method("setflags", (), Some(&kwargs))?;
    Ok(array)
}

#[pymodule]
fn _negsamp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    negsamp_store::resources::advise_huge_pages_where_they_pay();
    m.add("Error", m.py().get_type::<Error>())?;
    m.add("ConfigError", m.py().get_type::<ConfigError>())?;
    m.add("BusyError", m.py().get_type::<BusyError>())?;
    m.add_class::<Store>()?;
    m.add_function(wrap_pyfunction!(ingest, m)?)?;
    m.add_function(wrap_pyfunction!(sample, m)?)?;
    m.add_function(wrap_pyfunction!(sample_csr, m)?)?;
    m.add_function(wrap_pyfunction!(popularity_weights, m)?)?;
    Ok(())
}
