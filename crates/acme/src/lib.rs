#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;

pub mod ari;
pub mod b64;
pub mod client;
pub mod error;
pub mod http;
pub mod jose;
pub mod objects;
// The server core runs on a host, never a device: it stays std-only so that it is free to use
// std (storage errors, locks) while the device side (client core, objects, JWS) is `no_std`.
// It verifies every JWS algorithm, so the `server` feature turns all of them on.
#[cfg(feature = "server")]
pub mod server;
pub mod time;

pub use rand_core;

pub use client::{Client, ClientConfig, Event, Operation};
pub use error::{Error, Result};
pub use http::{Method, Request, Response};
pub use jose::{AccountKey, Algorithm, Jwk, Jws, PublicKey};
pub use objects::*;
#[cfg(feature = "server")]
pub use server::{Server, ServerConfig, Store};
