//! The team's questions: who knows whom, warm paths, who will want it, and adopting a teammate's contact.

pub(super) mod adopt;
pub(super) mod intro_path;
pub(super) mod who_knows;
pub(super) mod who_wants;
