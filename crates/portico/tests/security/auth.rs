//! auth tests.

