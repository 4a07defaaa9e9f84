//! directory tests.

