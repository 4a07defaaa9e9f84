//! isolation tests.

