//! Tests of the Graph-shaped API: users.

