//! Tests of the Graph-shaped API: applications.

