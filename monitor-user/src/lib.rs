//! vigil: the agent library. The `vigil` binary is a thin CLI over it.

pub mod sensor;
