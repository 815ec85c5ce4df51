/**
 * A seeded pseudo-random generator for reproducible tests and experiments.
 *
 * @module
 */

/**
 * mulberry32 (Tommy Ettinger): a small, fast 32-bit generator; the same seed gives the same
 * sequence of floats in [0, 1) on every run.
 */
export function mulberry32(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
