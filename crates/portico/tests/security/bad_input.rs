//! bad_input tests.

