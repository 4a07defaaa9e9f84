//! Tests of the Graph-shaped API: service_principals.

