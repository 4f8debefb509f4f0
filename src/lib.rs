//! canvas-sis: validate, submit and watch Canvas LMS SIS imports.
pub mod validate;
