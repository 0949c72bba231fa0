// The arithmetic of eˣ in range and of the two GELUs, written once for every vector width:
// kernels.c includes this file once for eight lanes (AVX2 and FMA) and once for sixteen
// (AVX-512), after defining
//
//   VEC, VECI       the float and integer vector types
//   TARGET          the functions' target attribute
//   LANES(name)     a function's name for this width (erf8, erf16, ...)
//   SPLAT_F, SPLAT_I, MIN, MAX, ADD, SUB, MUL, DIV, FMADD, FNMADD, ADD_I, SHIFT_LEFT_I,
//   AS_INT, AS_FLOAT  the width's intrinsics
//
// and undefines them all at its end, ready for the next width.
// One copy of the operations, in one order, is what makes the two widths give every element
// the same bits (`sixteenLanesGiveTheEightLaneBits` checks it).

/// eˣ as 2^k · e^r with k = round(x / ln 2), |r| ≤ ln 2 / 2, and Cephes' polynomial for e^r
/// (about 1 ulp), for |x| ≤ 88.37 (beyond, 2^k leaves the normal floats).
static inline TARGET VEC LANES(exp_in_range)(VEC x) {
  const VEC shifter = SPLAT_F(12582912.0f);  // 1.5 · 2²³: adding it rounds to an integer
  VEC shifted = FMADD(x, SPLAT_F(1.44269504f), shifter);
  VEC k = SUB(shifted, shifter);
  // Cody–Waite: ln 2 split into an exactly representable head and a small tail.
  VEC r = FNMADD(k, SPLAT_F(0.693359375f), x);
  r = FMADD(k, SPLAT_F(2.1219444e-4f), r);
  VEC p = SPLAT_F(1.98756915e-4f);
  p = FMADD(p, r, SPLAT_F(1.3981999507e-3f));
  p = FMADD(p, r, SPLAT_F(8.3334519073e-3f));
  p = FMADD(p, r, SPLAT_F(4.1665795894e-2f));
  p = FMADD(p, r, SPLAT_F(1.6666665459e-1f));
  p = FMADD(p, r, SPLAT_F(5.0000001201e-1f));
  p = ADD(FMADD(MUL(p, r), r, r), SPLAT_F(1.0f));
  // The low bits of `shifted` hold k; k + 127 in the exponent field makes 2^k.
  VECI exponent = SHIFT_LEFT_I(ADD_I(AS_INT(shifted), SPLAT_I(127 - 0x4B400000)), 23);
  return MUL(p, AS_FLOAT(exponent));
}

/// erf(z) as z·P(z²)/Q(z²), the rational fit XLA and Eigen use for float32: within 3.3e-7 of
/// erf everywhere (1–2 ulp through the middle, a few ulp of 1 where it saturates). Beyond
/// |z| = 4, erf is ±1 in float32. NaN passes through the clamps (`max` and `min` return
/// their second operand when either is NaN).
static inline TARGET VEC LANES(erf)(VEC z) {
  z = MIN(SPLAT_F(4.0f), MAX(SPLAT_F(-4.0f), z));
  VEC z2 = MUL(z, z);
  VEC p = FMADD(z2, SPLAT_F(-2.72614225801306e-10f), SPLAT_F(2.77068142495902e-08f));
  p = FMADD(z2, p, SPLAT_F(-2.10102402082508e-06f));
  p = FMADD(z2, p, SPLAT_F(-5.69250639462346e-05f));
  p = FMADD(z2, p, SPLAT_F(-7.34990630326855e-04f));
  p = FMADD(z2, p, SPLAT_F(-2.95459980854025e-03f));
  p = FMADD(z2, p, SPLAT_F(-1.60960333262415e-02f));
  VEC q = FMADD(z2, SPLAT_F(-1.45660718464996e-05f), SPLAT_F(-2.13374055278905e-04f));
  q = FMADD(z2, q, SPLAT_F(-1.68282697438203e-03f));
  q = FMADD(z2, q, SPLAT_F(-7.37332916720468e-03f));
  q = FMADD(z2, q, SPLAT_F(-1.42647390514189e-02f));
  return DIV(MUL(z, p), q);
}

/// Φ(x) = ½(1 + erf(x/√2)), as PyTorch computes GELU's: within about 2e-7 of Φ, so on the
/// far left tail, where Φ is tiny, it carries PyTorch's relative error too (x·Φ(x) is off by
/// under 3e-7·|x|, far below anything training notices).
static inline TARGET VEC LANES(normal_cdf)(VEC x) {
  return FMADD(SPLAT_F(0.5f), LANES(erf)(MUL(x, SPLAT_F(0.70710678f))), SPLAT_F(0.5f));
}

static inline TARGET VEC LANES(gelu)(VEC x) { return MUL(x, LANES(normal_cdf)(x)); }

/// 2ᵗ for |t| ≤ 126, as 2^k · 2^f with k = round(t) and f = t − k, which is exact, so no
/// Cody–Waite split is needed; 2^f on [−½, ½] by a degree-5 fit to relative error (9e-8,
/// under 1 ulp). For a caller whose argument is a product anyway, so that log₂ e folds into
/// its constants and the step from eˣ's argument to 2ᵗ's costs nothing.
static inline TARGET VEC LANES(exp2_in_range)(VEC t) {
  const VEC shifter = SPLAT_F(12582912.0f);  // 1.5 · 2²³: adding it rounds to an integer
  VEC shifted = ADD(t, shifter);
  VEC f = SUB(t, SUB(shifted, shifter));
  VEC p = SPLAT_F(1.3264727e-3f);
  p = FMADD(p, f, SPLAT_F(9.671513e-3f));
  p = FMADD(p, f, SPLAT_F(5.5507336e-2f));
  p = FMADD(p, f, SPLAT_F(0.24022242f));
  p = FMADD(p, f, SPLAT_F(0.693147f));
  p = FMADD(p, f, SPLAT_F(1.0f));
  VECI exponent = SHIFT_LEFT_I(ADD_I(AS_INT(shifted), SPLAT_I(127 - 0x4B400000)), 23);
  return MUL(p, AS_FLOAT(exponent));
}

/// GELU's tanh form as x·σ(2u), u = √(2/π)(x + 0.044715x³): ½(1 + tanh u) = 1/(1 + e) with
/// e = e^(−2u), which has no cancellation on the left tail (where 1 + tanh u, rounded, keeps
/// only a few bits). e is taken as 2ᵗ, t = −2u·log₂ e = x·(a + b·x²) with the constants
/// folded: three operations to the exponent and no range reduction, half the arithmetic of
/// eˣ's path. t is clamped to ±125, where e and 1/(1 + e) stay normal floats; past it GELU
/// is x or under 1e-37.
static inline TARGET VEC LANES(gelu_tanh_exponential)(VEC x) {
  // −2·√(2/π)·log₂ e, and that times 0.044715.
  const VEC linear = SPLAT_F(-2.3022082f), cubic = SPLAT_F(-0.10294324f);
  VEC t = MUL(x, FMADD(MUL(x, x), cubic, linear));
  return LANES(exp2_in_range)(MIN(SPLAT_F(125.0f), MAX(SPLAT_F(-125.0f), t)));
}

/// A true division, not a reciprocal estimate and a Newton step: on Zen 4 `vrcpps` and its
/// step cost more than `vdivps`.
static inline TARGET VEC LANES(gelu_tanh)(VEC x) {
  return DIV(x, ADD(SPLAT_F(1.0f), LANES(gelu_tanh_exponential)(x)));
}

#undef VEC
#undef VECI
#undef TARGET
#undef LANES
#undef SPLAT_F
#undef SPLAT_I
#undef MIN
#undef MAX
#undef ADD
#undef SUB
#undef MUL
#undef DIV
#undef FMADD
#undef FNMADD
#undef ADD_I
#undef SHIFT_LEFT_I
#undef AS_INT
#undef AS_FLOAT
