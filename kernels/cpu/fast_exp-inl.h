// exp(x) for x ≤ 88: 2^k · p(r) with x = k·ln2 + r, |r| ≤ ln2/2, p a degree-6 Taylor/minimax
// polynomial (Cephes' expf coefficients; relative error below 2e-7); inputs below -87 flush to 0.
// The vector ops and attention kernels vectorize their loops around it and attention's
// specification (attn.h) names it.
//
// No include guard and no namespace on purpose: ops-inl.h and attn-inl.h include it inside
// their per-ISA anonymous namespaces, so every ISA's translation unit keeps its own copy
// compiled with its own flags (one shared inline function could be linked from an AVX-512
// translation unit into the scalar path).
inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  const float k = std::nearbyint(x * kLog2e);
  const float r = (x - k * kLn2Hi) - k * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  float two_k;
  std::memcpy(&two_k, &bits, sizeof two_k);
  return p * two_k;
}
