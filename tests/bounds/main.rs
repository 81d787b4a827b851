//! Every parameter is bounded: values outside the ranges the IDL documents
//! are `io.podmon.Pod.InvalidValue` naming the parameter, and an id no
//! container could have is `InvalidValue` "id" in every method that takes
//! one (not `NoSuchContainer`). Nothing is created by refused calls.

#[path = "../common/mod.rs"]
mod common;

mod ids;
mod values;
