//! Tests of environment building.
