//! What happened and what comes next: facts, notes, relationships, interactions, follow-ups, keeping in touch and the day's agenda.

pub(super) mod done;
pub(super) mod fact;
pub(super) mod follow_up;
pub(super) mod keep_in_touch;
pub(super) mod link;
pub(super) mod log;
pub(super) mod note;
pub(super) mod today;
