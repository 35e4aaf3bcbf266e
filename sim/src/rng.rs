//! One root seed, one random stream per concern.
//!
//! Each concern (a load client, the fault generator, the clock models) draws from its own ChaCha stream derived
//! from the seed and the concern's name, so that drawing more from one stream never shifts another: shrinking a
//! fault plan leaves the load exactly as it was.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// splitmix64: a well-mixed 64-bit step, used to derive stream seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream for `concern` (and its `index`, e.g. an environment's position) under `seed`.
pub fn stream(seed: u64, concern: &str, index: u64) -> ChaCha8Rng {
    let mut h = mix(seed);
    for byte in concern.bytes() {
        h = mix(h ^ u64::from(byte));
    }
    ChaCha8Rng::seed_from_u64(mix(h ^ mix(index)))
}

/// The stream for `concern` and a name (an environment), so that removing one environment while shrinking leaves
/// the others' streams as they were.
pub fn stream_named(seed: u64, concern: &str, name: &str) -> ChaCha8Rng {
    let mut h = mix(seed);
    for byte in concern.bytes().chain([0]).chain(name.bytes()) {
        h = mix(h ^ u64::from(byte));
    }
    ChaCha8Rng::seed_from_u64(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: u64 = stream(7, "load", 0).gen();
        assert_eq!(a, stream(7, "load", 0).gen::<u64>());
        assert_ne!(a, stream(7, "load", 1).gen::<u64>());
        assert_ne!(a, stream(7, "faults", 0).gen::<u64>());
        assert_ne!(a, stream(8, "load", 0).gen::<u64>());
    }
}
