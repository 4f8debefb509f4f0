//! The local validator (`canvas_sis::validate`) through its library API: Canvas's rules,
//! zip containers, hostile inputs and generated bundles. One test binary; [`support`] is the
//! fixture the modules share.

mod support;

mod adversarial;
mod audit;
mod audit_f;
mod ims;
mod oneroster;
mod prop;
mod rules;
mod zips;
