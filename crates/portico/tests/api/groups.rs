//! Tests of the Graph-shaped API: groups.

