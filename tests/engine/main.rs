//! End-to-end tests that need the engine and the component only (and, for
//! the hosts in other languages, Node.js or Python): the rules R1–R12,
//! requests, policy sets and guardrails, the sandbox, the reference model,
//! fuzzing, the conformance suite and the policy diff. One binary, so the
//! component is compiled once for all of them.

#[path = "../common/mod.rs"]
mod common;

mod conformance;
mod fuzz;
mod guardrails;
mod limits;
mod node_host;
mod policy_author;
mod policy_diff;
mod policy_sets;
mod python_host;
mod reference_model;
mod requests;
mod rules;
mod sandbox;
