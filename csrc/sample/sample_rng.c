// sample_rng.c — the sampler's random stream: xoshiro256** seeded through splitmix64. Our own
// generator, not libc rand(), so a seed gives the same tokens on every platform and build.
#include "sample/sample.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void xt_rng_seed(uint64_t state[4], uint64_t seed) {
    // splitmix64 never yields four zero words, the one state xoshiro must avoid.
    for (int i = 0; i < 4; i++) state[i] = splitmix64(&seed);
}

uint64_t xt_rng_next(uint64_t s[4]) {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double xt_rng_uniform(uint64_t s[4]) { return (double)(xt_rng_next(s) >> 11) * 0x1.0p-53; }
