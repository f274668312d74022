//! Test scaffolding shared by the lantrust tests (skeleton).
