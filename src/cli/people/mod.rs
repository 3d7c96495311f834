//! People and companies: adding, showing, listing, finding, changing, removing and merging them.

pub(super) mod about;
pub(super) mod add;
pub(super) mod add_company;
pub(super) mod dupes;
pub(super) mod find;
pub(super) mod history;
pub(super) mod id;
pub(super) mod list;
pub(super) mod rm;
pub(super) mod set;
pub(super) mod show;
