//! (being written for issue 10; see docs/controllers/design.md)
