//! oauth tests.

