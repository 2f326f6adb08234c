/**
 * mulberry32: a small seeded generator of numbers in [0, 1). The one copy, for everything that must
 * repeat from run to run: the SAML mutation corpus (test/corpus/saml-mutations.ts), the benchmarks'
 * case order (bench/lib.ts) and the SCIM benchmark's directory (bench/scim.ts).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
