//! The generated bindings of the WIT contract; nothing else lives here.

wasmtime::component::bindgen!({
    world: "mfa-engine",
    path: "../wit",
});

pub use exports::mfa_reset::engine::engine::Guest;
pub use mfa_reset::engine::types;
