//! negsamp's command-line vocabulary, shared by the `negsamp` binary, `negsamp build`'s
//! config and the Python package, so every option has one name, one default and one
//! validation: the clap definitions ([`cli`]), options given as key/value pairs
//! parsed through them ([`config`]), their mapping onto the library crates' types
//! ([`request`]), and the output mode ([`output`]).

pub mod cli;
pub mod config;
pub mod errors;
pub mod output;
pub mod report;
pub mod request;
