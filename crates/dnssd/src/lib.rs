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

#[cfg(feature = "alloc")]
extern crate alloc;

/// The RNG traits [`select_targets`] and [`resolve`] take, re-exported so callers use the same
/// version.
pub use rand_core;

#[cfg(feature = "alloc")]
mod dnssd;
mod error;
mod message;
mod name;
mod query;
mod srv;
mod txt;
mod wire;

#[cfg(feature = "alloc")]
pub use crate::dnssd::{
    DEFAULT_DIRECTORY_PATH, DirectoryUrl, MAX_CNAME_CHAIN, MAX_TARGETS, Resolution, resolve,
};
pub use crate::error::{Error, Result};
pub use crate::message::{
    CLASS_IN, HEADER_LEN, Header, Message, Opt, Question, Questions, RData, Rcode, Record,
    RecordType, Records, Section, Srv,
};
pub use crate::name::{Labels, MAX_LABEL_LEN, MAX_NAME_LEN, MAX_POINTERS, Name};
pub use crate::query::{
    ACME_SERVICE, EDNS_UDP_PAYLOAD_SIZE, Frame, MDNS_PORT, Query, Response, read_tcp_frame,
};
pub use crate::srv::select_targets;
pub use crate::txt::{CharacterStrings, Txt, TxtValue};
