// ptx.cuh: every inline-PTX helper the kernels use, each with its exact host model beside it.
//
// A kernel source compiles twice: with nvcc for the GPU (the asm branch) and with the host
// compiler against the SIMT simulator (cuda/sim/simt.h) for the CPU tests (the host branch).
// The host models reproduce the instruction bit for bit, so a kernel's simulated result equals
// its device result wherever the kernel uses only these helpers and explicit fmaf (the device
// objects are built with --fmad=false so nvcc contracts nothing behind our back).
// Half-precision values travel as raw bits (uint16_t, or two of them in a uint32_t: low half =
// element 0), which keeps cuda_fp16.h out of the kernels and lets the host model them exactly.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "format/qe_format.h"

// Under nvcc the helpers are host-device functions: the device pass takes the asm branch, the
// host pass (host code of a .cu file, e.g. the GPU tests' own models) the host model.
#if defined(__CUDACC__)
#define QE_DEV __host__ __device__ __forceinline__
#else
#define QE_DEV inline
#endif

namespace qe::cuda {

// lop3.b32: any three-input bitwise function, given by its truth table `lut` evaluated on
// a = 0xF0, b = 0xCC, c = 0xAA (PTX ISA, "lop3"). Example: (a & b) | c is 0xEA.
template <uint32_t lut>
QE_DEV uint32_t lop3(uint32_t a, uint32_t b, uint32_t c) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, %4;" : "=r"(r) : "r"(a), "r"(b), "r"(c), "n"(lut));
  return r;
#else
  uint32_t r = 0;
  for (int bit = 0; bit < 32; ++bit) {
    const uint32_t idx = (((a >> bit) & 1u) << 2) | (((b >> bit) & 1u) << 1) | ((c >> bit) & 1u);
    r |= ((lut >> idx) & 1u) << bit;
  }
  return r;
#endif
}

// prmt.b32 (default mode): byte i of the result is byte (sel >> 4i) & 7 of the 8-byte value
// {b, a} (a = bytes 0-3); bit 3 of a selector nibble replicates that byte's sign bit instead.
QE_DEV uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
#else
  const uint64_t v = (uint64_t(b) << 32) | a;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) {
    const uint32_t s = (sel >> (4 * i)) & 0xFu;
    uint32_t byte = uint32_t(v >> (8 * (s & 7u))) & 0xFFu;
    if (s & 8u) byte = (byte & 0x80u) ? 0xFFu : 0x00u;
    r |= byte << (8 * i);
  }
  return r;
#endif
}

// dp4a.s32.s32: c + sum of the four signed byte products of a and b (exact int32, wrapping).
QE_DEV int32_t dp4a(uint32_t a, uint32_t b, int32_t c) {
#if defined(__CUDA_ARCH__)
  int32_t r;
  asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
#else
  uint32_t acc = uint32_t(c);
  for (int i = 0; i < 4; ++i) {
    const int32_t x = int8_t(uint8_t(a >> (8 * i)));
    const int32_t y = int8_t(uint8_t(b >> (8 * i)));
    acc += uint32_t(x * y);
  }
  return int32_t(acc);
#endif
}

#if !defined(__CUDA_ARCH__)
// Rounds v = s + err to the nearest half (ties to even), overflowing to infinity as the
// hardware does. s is a double and err a correction far below s's own ulp (the exact error of
// the addition that made s), so s decides the rounding except when s is exactly a half tie.
inline uint16_t host_round_to_half(double s, double err) {
  if (std::isnan(s)) return 0x7E00u;
  if (std::isinf(s)) return s < 0 ? 0xFC00u : 0x7C00u;
  const double mag = std::fabs(s);
  int e = 0;
  std::frexp(mag, &e);  // mag = f * 2^e, f in [0.5, 1)
  // The half quantum at this magnitude: 2^-24 below the normal range, else 2^(exponent - 10).
  const int quantum_exp = mag < 0x1p-14 ? -24 : (e - 1) - 10;
  const double scaled = std::ldexp(s, -quantum_exp);  // exact
  double m = std::nearbyint(scaled);                  // ties to even
  if (scaled - std::floor(scaled) == 0.5 && err != 0) m = err > 0 ? std::ceil(scaled) : std::floor(scaled);
  const double r = std::ldexp(m, quantum_exp);
  if (std::fabs(r) >= 65536.0) return s < 0 ? 0xFC00u : 0x7C00u;
  return qe_fp32_to_fp16(m == 0 ? std::copysign(0.0f, float(s)) : float(r));  // exact: r is a half
}

// Host model of one lane of fma.rn.f16, rounded once as the hardware does: the product of two
// halves is exact in double (22 significant bits), the sum's rounding error is recovered
// exactly (Knuth's TwoSum) and only decides the case where the double sum is a half tie.
inline uint16_t host_hfma(uint16_t a, uint16_t b, uint16_t c) {
  const double p = double(qe_fp16_to_fp32(a)) * double(qe_fp16_to_fp32(b));
  const double q = double(qe_fp16_to_fp32(c));
  const double s = p + q;
  if (std::isinf(s) || std::isnan(s)) return host_round_to_half(s, 0);
  const double bp = s - p;
  const double err = (p - (s - bp)) + (q - bp);
  return host_round_to_half(s, err);
}
#endif

// fma.rn.f16x2: per lane a * b + c, one rounding.
QE_DEV uint32_t hfma2(uint32_t a, uint32_t b, uint32_t c) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
#else
  const uint16_t lo = host_hfma(uint16_t(a), uint16_t(b), uint16_t(c));
  const uint16_t hi = host_hfma(uint16_t(a >> 16), uint16_t(b >> 16), uint16_t(c >> 16));
  return uint32_t(lo) | (uint32_t(hi) << 16);
#endif
}

// mul.rn.f16x2 and sub.rn.f16x2, written as fma (x * 1 and x * 1 - y round identically).
QE_DEV uint32_t hmul2(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  return hfma2(a, b, 0x80008000u);  // + (-0): keeps the sign of a zero product as mul does
#endif
}

QE_DEV uint32_t hsub2(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b));
  return r;
#else
  return hfma2(a, 0x3C003C00u, b ^ 0x80008000u);
#endif
}

// cvt.f32.f16 of one lane (exact).
QE_DEV float half_lo_to_float(uint32_t h2) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("{ .reg .b16 l, h; mov.b32 {l, h}, %1; cvt.f32.f16 %0, l; }" : "=f"(f) : "r"(h2));
  return f;
#else
  return qe_fp16_to_fp32(uint16_t(h2));
#endif
}

QE_DEV float half_hi_to_float(uint32_t h2) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("{ .reg .b16 l, h; mov.b32 {l, h}, %1; cvt.f32.f16 %0, h; }" : "=f"(f) : "r"(h2));
  return f;
#else
  return qe_fp16_to_fp32(uint16_t(h2 >> 16));
#endif
}

QE_DEV float half_to_float(uint16_t h) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#else
  return qe_fp16_to_fp32(h);
#endif
}

// cvt.rn.f16.f32 (round to nearest even).
QE_DEV uint16_t float_to_half(float f) {
#if defined(__CUDA_ARCH__)
  uint16_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#else
  return qe_fp32_to_fp16(f);
#endif
}

// A 16-byte global load that bypasses L1 allocation for streamed weights (ld.global.nc.L1::no_allocate).
struct U32x4 {
  uint32_t x, y, z, w;
};

QE_DEV U32x4 load_stream_128(const void* p) {
#if defined(__CUDA_ARCH__)
  U32x4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
#else
  U32x4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

// An 8-byte streamed load (Q6_K's high bits: read once, like the codes).
QE_DEV void load_stream_64(const void* p, uint32_t& lo, uint32_t& hi) {
#if defined(__CUDA_ARCH__)
  asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0, %1}, [%2];" : "=r"(lo), "=r"(hi) : "l"(p));
#else
  uint32_t v[2];
  std::memcpy(v, p, sizeof(v));
  lo = v[0];
  hi = v[1];
#endif
}

// A 16-byte read-only load through L1 (activations: every warp of a block reads them).
QE_DEV U32x4 load_cached_128(const void* p) {
#if defined(__CUDA_ARCH__)
  const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
  return U32x4{u.x, u.y, u.z, u.w};
#else
  U32x4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

// A 4-byte read-only load through L1 (the repacked scales of two-group layouts).
QE_DEV uint32_t load_cached_32(const void* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(reinterpret_cast<const unsigned int*>(p));
#else
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
#endif
}

// An 8-byte read-only load through L1 (the repacked scales).
QE_DEV void load_cached_64(const void* p, uint32_t& lo, uint32_t& hi) {
#if defined(__CUDA_ARCH__)
  const uint2 u = __ldg(reinterpret_cast<const uint2*>(p));
  lo = u.x;
  hi = u.y;
#else
  uint32_t v[2];
  std::memcpy(v, p, sizeof(v));
  lo = v[0];
  hi = v[1];
#endif
}

// Programmatic dependent launch (sm_90+; griddepcontrol). A kernel launched with the
// programmatic-serialization attribute may start while the previous kernel in its stream is
// still running: it calls grid_dependency_wait() before touching anything that kernel wrote,
// so it can stream its own weights in the meantime, and allow_dependent_launch() lets the next
// kernel start early in turn. Without the attribute, or before sm_90, both are no-ops; on the
// simulator launches run one after another, so they are no-ops there too.
QE_DEV void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

QE_DEV void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

}  // namespace qe::cuda
