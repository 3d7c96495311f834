//! The other faces and the tour: the web UI, the CardDAV server and the demo.

pub(super) mod carddav;
pub(super) mod demo;
pub(super) mod ui;
