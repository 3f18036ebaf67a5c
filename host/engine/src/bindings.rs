//! The generated bindings of the WIT contract; nothing else lives here.

wasmtime::component::bindgen!({
    world: "mfa-engine",
    path: "../../wit",
});

pub use self::exports::mfa_reset::engine::engine::Guest;
pub use self::mfa_reset::engine::types;
