// gpu_test.cu: the GPU kernel tests. Every inline-PTX helper against its host model on random
// inputs (bit for bit), and every device kernel against the SIMT simulator (bit for bit: same
// source, same arithmetic) and the scalar reference (normalized error). Prints one line per
// check and a summary; exit 0 = all passed, 1 = a failure, 77 = no usable CUDA device (ctest
// counts it as skipped).
//   qe_gpu_test [--quick]      --quick: small shapes only (ctest, compute-sanitizer)
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/attention_device.h"
#include "common/ptx.cuh"
#include "cpu/a8_spec.h"
#include "gemv/gemv.h"
#include "gemv/gemv_device.h"
#include "gemv/repack.h"
#include "ops/ops.h"
#include "ops/ops_device.h"
#include "ref/ref.h"

namespace {

using namespace qe::cuda;

int g_failures = 0;

#define CUDA_OK(expr)                                                                                               \
  do {                                                                                                              \
    const cudaError_t e_ = (expr);                                                                                  \
    if (e_ != cudaSuccess) {                                                                                        \
      std::fprintf(stderr, "gpu_test: %s failed: %s (%s:%d)\n", #expr, cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                                                 \
    }                                                                                                               \
  } while (0)

void report(bool ok, const std::string& what) {
  std::printf("%s  %s\n", ok ? "PASS" : "FAIL", what.c_str());
  std::fflush(stdout);
  if (!ok) ++g_failures;
}

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) { CUDA_OK(cudaMalloc(&p, count * sizeof(T) + 16)); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(p); }
  void upload(const std::vector<T>& v) {
    CUDA_OK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> v(n);
    CUDA_OK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }
};

// ---- inline PTX helpers: device instruction vs host model -----------------------------------

constexpr int kPtxOps = 8;

__global__ void ptx_ops_kernel(const uint32_t* a, const uint32_t* b, const uint32_t* c, uint32_t* out, int n) {
  const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  uint32_t* o = out + size_t(i) * kPtxOps;
  o[0] = lop3<0xEA>(a[i], b[i], c[i]);
  o[1] = lop3<0x96>(a[i], b[i], c[i]);
  o[2] = prmt(a[i], b[i], c[i] & 0xFFFFu);
  o[3] = uint32_t(dp4a(a[i], b[i], int32_t(c[i])));
  o[4] = hfma2(a[i], b[i], c[i]);
  o[5] = hmul2(a[i], b[i]);
  o[6] = hsub2(a[i], b[i]);
  o[7] =
      uint32_t(float_to_half(__uint_as_float(a[i]))) | (uint32_t(float_to_half(half_lo_to_float(b[i]) * 3.0f)) << 16);
}

uint32_t host_op(int op, uint32_t a, uint32_t b, uint32_t c) {
  switch (op) {
    case 0:
      return lop3<0xEA>(a, b, c);
    case 1:
      return lop3<0x96>(a, b, c);
    case 2:
      return prmt(a, b, c & 0xFFFFu);
    case 3:
      return uint32_t(dp4a(a, b, int32_t(c)));
    case 4:
      return hfma2(a, b, c);
    case 5:
      return hmul2(a, b);
    case 6:
      return hsub2(a, b);
    default: {
      float fa;
      std::memcpy(&fa, &a, 4);
      return uint32_t(float_to_half(fa)) | (uint32_t(float_to_half(half_lo_to_float(b) * 3.0f)) << 16);
    }
  }
}

bool half_is_nan(uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }

// Equal bits, or NaN in the same lanes (NaN payloads are not specified).
bool same_result(int op, uint32_t d, uint32_t h) {
  if (d == h) return true;
  if (op < 4) return false;
  for (int lane = 0; lane < 2; ++lane) {
    const uint16_t x = uint16_t(d >> (16 * lane)), y = uint16_t(h >> (16 * lane));
    if (x != y && !(half_is_nan(x) && half_is_nan(y))) return false;
  }
  return true;
}

void test_ptx_models(int n) {
  std::mt19937 rng(7);
  std::vector<uint32_t> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), c(static_cast<size_t>(n));
  // Half of the inputs are raw random bits (every class: subnormals, Inf, NaN); the other half
  // are halves of magnitude 2^-8..2^8, where sums round most often at ordinary values.
  auto moderate_half = [&]() -> uint32_t {
    const uint32_t e = 7 + rng() % 17, m = rng() & 0x3FFu, s = rng() & 1u;
    return (s << 15) | (e << 10) | m;
  };
  for (int i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      a[size_t(i)] = rng();
      b[size_t(i)] = rng();
      c[size_t(i)] = rng();
    } else {
      a[size_t(i)] = moderate_half() | (moderate_half() << 16);
      b[size_t(i)] = moderate_half() | (moderate_half() << 16);
      c[size_t(i)] = moderate_half() | (moderate_half() << 16);
    }
  }
  DeviceBuffer<uint32_t> da(a.size()), db(b.size()), dc(c.size()), dout(size_t(n) * kPtxOps);
  da.upload(a);
  db.upload(b);
  dc.upload(c);
  ptx_ops_kernel<<<(n + 255) / 256, 256>>>(da.p, db.p, dc.p, dout.p, n);
  CUDA_OK(cudaGetLastError());
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<uint32_t> out = dout.download();
  const char* names[kPtxOps] = {"lop3 (a&b)|c", "lop3 a^b^c",   "prmt",         "dp4a.s32",
                                "fma.rn.f16x2", "mul.rn.f16x2", "sub.rn.f16x2", "cvt f16<->f32"};
  for (int op = 0; op < kPtxOps; ++op) {
    int bad = 0;
    size_t first = 0;
    for (int i = 0; i < n; ++i) {
      const uint32_t d = out[size_t(i) * kPtxOps + size_t(op)];
      if (!same_result(op, d, host_op(op, a[size_t(i)], b[size_t(i)], c[size_t(i)]))) {
        if (bad++ == 0) first = size_t(i);
      }
    }
    char line[256];
    if (bad == 0) {
      std::snprintf(line, sizeof line, "ptx model %-14s %d random inputs, device == host model", names[op], n);
    } else {
      std::snprintf(line, sizeof line,
                    "ptx model %-14s %d of %d differ; first a=%08x b=%08x c=%08x device=%08x host=%08x", names[op], bad,
                    n, a[first], b[first], c[first], out[first * kPtxOps + size_t(op)],
                    host_op(op, a[first], b[first], c[first]));
    }
    report(bad == 0, line);
  }
}

// ---- GEMV, weight-only quantized x fp16 ----------------------------------------------------

// (rows, K) GGUF blocks of `type` from normal weights whose scale differs by row (as trained
// rows do, and so that a row mix-up shows).
std::vector<uint8_t> random_weights(qe_type type, int rows, int K, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const size_t row_bytes = qe_row_bytes(type, K);
  std::vector<uint8_t> w(size_t(rows) * row_bytes);
  std::vector<float> row(static_cast<size_t>(K));
  for (int r = 0; r < rows; ++r) {
    const float mag = 0.01f * float(1 + r % 7);
    for (float& v : row) v = mag * nd(rng);
    qe::ref::quantize_row(type, row.data(), w.data() + size_t(r) * row_bytes, K);
  }
  return w;
}

void test_gemv(qe_type type, int rows, int K, int batch, bool with_sim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const size_t row_bytes = qe_row_bytes(type, K);
  const std::vector<uint8_t> w = random_weights(type, rows, K, rng);
  std::vector<float> row(static_cast<size_t>(K));
  std::vector<uint16_t> x(size_t(batch) * size_t(K));
  for (uint16_t& h : x) h = qe_fp32_to_fp16(2.0f * nd(rng));
  const TiledHost t = repack_tiled(type, w.data(), rows, K);

  // Reference in double, and sum |w x| per output: the fp16 partial sums round at the size of
  // the terms, so the error is measured against that (y itself may cancel to near zero).
  std::vector<double> yref(size_t(batch) * size_t(rows)), ymag(yref.size());
  for (int r = 0; r < rows; ++r) {
    qe::ref::dequantize_row(type, w.data() + size_t(r) * row_bytes, row.data(), K);
    for (int b = 0; b < batch; ++b) {
      double s = 0, mag = 0;
      for (int k = 0; k < K; ++k) {
        const double t = double(row[size_t(k)]) * double(qe_fp16_to_fp32(x[size_t(b) * size_t(K) + size_t(k)]));
        s += t;
        mag += std::fabs(t);
      }
      yref[size_t(b) * size_t(rows) + size_t(r)] = s;
      ymag[size_t(b) * size_t(rows) + size_t(r)] = mag;
    }
  }

  DeviceBuffer<uint32_t> dcodes(t.codes.size());
  DeviceBuffer<uint16_t> dsc(t.scales.size()), dx(x.size());
  DeviceBuffer<float> dy(yref.size());
  dcodes.upload(t.codes);
  dsc.upload(t.scales);
  dx.upload(x);
  bool first_variant = true;
  for (const GemvVariant& v : kGemvVariants) {
    if (!gemv_variant_compiled(v, batch, type)) continue;
    CUDA_OK(cudaMemset(dy.p, 0xFF, dy.n * sizeof(float)));  // NaN poison: every output must be written
    const GemvArgs a{type, dcodes.p, dsc.p, rows, K, t.chunks, dx.p, dy.p, batch};
    const std::string why = gemv_a16_device(a, v, nullptr);
    CUDA_OK(cudaDeviceSynchronize());
    char name[160];
    std::snprintf(name, sizeof name, "gemv %s a16 rows=%d K=%d batch=%d variant=%s", qe_type_get(type)->name, rows, K,
                  batch, gemv_variant_name(v).c_str());
    if (!why.empty()) {
      report(false, std::string(name) + ": " + why);
      continue;
    }
    const std::vector<float> y = dy.download();
    double err2 = 0, ref2 = 0;
    size_t unwritten = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      if (std::isnan(y[i])) ++unwritten;
      err2 += (double(y[i]) - yref[i]) * (double(y[i]) - yref[i]);
      ref2 += ymag[i] * ymag[i];
    }
    const double rel = std::sqrt(err2 / ref2);  // relative to sum |w x|
    std::string detail;
    bool ok = unwritten == 0 && rel < 2e-3;
    if (unwritten) detail += ", " + std::to_string(unwritten) + " outputs unwritten";
    // The simulator replays big shapes slowly (every thread a real thread): there, one variant.
    const bool small = size_t(rows) * size_t(K) <= (size_t(1) << 22);
    if (with_sim && (small || first_variant)) {
      std::vector<float> ys(y.size(), 0.0f);
      const GemvArgs s{type, t.codes.data(), t.scales.data(), rows, K, t.chunks, x.data(), ys.data(), batch};
      gemv_a16_sim(s, v);
      size_t diff = 0;
      for (size_t i = 0; i < y.size(); ++i) diff += std::memcmp(&y[i], &ys[i], 4) != 0;
      ok = ok && diff == 0;
      detail += diff == 0 ? ", device == simulator bit for bit"
                          : ", " + std::to_string(diff) + " outputs differ from the simulator";
    }
    char line[320];
    std::snprintf(line, sizeof line, "%s: err vs reference %.2e of sum|wx|%s", name, rel, detail.c_str());
    report(ok, line);
    first_variant = false;
  }
}

// ---- W8A8 / W4A8: the activation quantizer and the GEMV -----------------------------------------

// Activations with constant halves, signed zeros, one-sided outliers and a loud channel.
std::vector<float> awkward_activations(int batch, int K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(batch) * size_t(K));
  for (size_t i = 0; i < x.size(); ++i) {
    switch ((i / 16) % 7) {
      case 0:
        x[i] = 0.75f;
        break;
      case 1:
        x[i] = (i % 2) ? 0.0f : -0.0f;
        break;
      case 2:
        x[i] = i % 16 == 3 ? 40.0f : nd(rng);
        break;
      case 3:
        x[i] = 1000.0f * nd(rng);
        break;
      default:
        x[i] = nd(rng);
    }
  }
  return x;
}

void test_a8(qe_type type, int rows, int K, int batch, bool with_sim, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t row_bytes = qe_row_bytes(type, K);
  const std::vector<uint8_t> w = random_weights(type, rows, K, rng);
  std::vector<float> row(static_cast<size_t>(K));
  const std::vector<float> x = awkward_activations(batch, K, seed * 3u + 1u);
  const size_t halves = size_t(batch) * size_t(K / 16);

  // The quantizer on the device against the specification, field by field.
  DeviceBuffer<float> dx(x.size());
  DeviceBuffer<int8_t> dq(x.size());
  DeviceBuffer<float> dd(halves), dc(halves);
  DeviceBuffer<int16_t> ds(halves);
  dx.upload(x);
  const Act8 act{dq.p, dd.p, dc.p, ds.p};
  QuantizeA8Args qa;
  qa.x = dx.p;
  qa.K = K;
  qa.batch = batch;
  qa.out = act;
  std::string why = quantize_a8_device(qa, nullptr);
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<int8_t> hq = dq.download();
  const std::vector<float> hd = dd.download(), hc = dc.download();
  const std::vector<int16_t> hs = ds.download();
  std::vector<qe::cpu::ActBlock32> spec(size_t(batch) * size_t(K / 32));
  size_t qbad = 0;
  for (int b = 0; b < batch; ++b) {
    qe::cpu::spec::quantize_act32(x.data() + size_t(b) * size_t(K), &spec[size_t(b) * size_t(K / 32)], K);
    for (int blk = 0; blk < K / 32; ++blk) {
      const qe::cpu::ActBlock32& sb = spec[size_t(b) * size_t(K / 32) + size_t(blk)];
      for (int h = 0; h < 2; ++h) {
        const size_t hh = size_t(b) * size_t(K / 16) + size_t(blk) * 2 + size_t(h);
        qbad +=
            std::memcmp(&hd[hh], &sb.d[h], 4) != 0 || std::memcmp(&hc[hh], &sb.c[h], 4) != 0 || hs[hh] != sb.qsum[h];
        for (int i = 0; i < 16; ++i)
          qbad += hq[size_t(b) * size_t(K) + size_t(blk) * 32 + size_t(h) * 16 + size_t(i)] != sb.qs[h * 16 + i];
      }
    }
  }
  char line[320];
  std::snprintf(line, sizeof line, "quantize a8 K=%d batch=%d: %s", K, batch,
                !why.empty() ? why.c_str()
                : qbad == 0  ? "q, d, c, qsum equal the A8 specification bit for bit"
                             : (std::to_string(qbad) + " values differ from the specification").c_str());
  report(why.empty() && qbad == 0, line);

  // The GEMV on the device against the simulator (bit for bit) and the specification.
  const A8TiledHost t = repack_a8(type, w.data(), rows, K);
  DeviceBuffer<uint32_t> dcodes(t.codes.size());
  DeviceBuffer<uint16_t> dsc(t.scales.size());
  DeviceBuffer<float> dy(size_t(batch) * size_t(rows));
  dcodes.upload(t.codes);
  dsc.upload(t.scales);
  CUDA_OK(cudaMemset(dy.p, 0xFF, dy.n * sizeof(float)));
  GemvA8Args g;
  g.type = type;
  g.codes = dcodes.p;
  g.scales = dsc.p;
  g.rows = rows;
  g.K = K;
  g.chunks = t.chunks;
  g.x = act;
  g.y = dy.p;
  g.batch = batch;
  why = gemv_a8_device(g, nullptr);
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<float> y = dy.download();
  double err2 = 0, mag2 = 0;
  size_t unwritten = 0;
  for (int b = 0; b < batch; ++b)
    for (int r = 0; r < rows; ++r) {
      const float* xb = x.data() + size_t(b) * size_t(K);
      qe::ref::dequantize_row(type, w.data() + size_t(r) * row_bytes, row.data(), K);
      double mag = 0;
      for (int k = 0; k < K; ++k) mag += std::fabs(double(row[size_t(k)]) * double(xb[k]));
      const double want =
          qe::cpu::spec::dot_a8(type, w.data() + size_t(r) * row_bytes, &spec[size_t(b) * size_t(K / 32)], K);
      const float got = y[size_t(b) * size_t(rows) + size_t(r)];
      if (std::isnan(got)) ++unwritten;
      err2 += (double(got) - want) * (double(got) - want);
      mag2 += mag * mag;
    }
  const double rel = std::sqrt(err2 / mag2);
  bool ok = why.empty() && unwritten == 0 && rel < 1e-6;
  std::string detail = why.empty() ? "" : ": " + why;
  if (unwritten) detail += ", " + std::to_string(unwritten) + " outputs unwritten";
  if (with_sim && why.empty()) {
    std::vector<int8_t> sq(x.size());
    std::vector<float> sd(halves), sc(halves), ys(y.size());
    std::vector<int16_t> ss(halves);
    QuantizeA8Args sqa = qa;
    sqa.x = x.data();
    sqa.out = {sq.data(), sd.data(), sc.data(), ss.data()};
    quantize_a8_sim(sqa);
    GemvA8Args sg = g;
    sg.codes = t.codes.data();
    sg.scales = t.scales.data();
    sg.x = sqa.out;
    sg.y = ys.data();
    gemv_a8_sim(sg);
    size_t diff = 0;
    for (size_t i = 0; i < y.size(); ++i) diff += std::memcmp(&y[i], &ys[i], 4) != 0;
    ok = ok && diff == 0;
    detail += diff == 0 ? ", device == simulator bit for bit"
                        : ", " + std::to_string(diff) + " outputs differ from the simulator";
  }
  std::snprintf(line, sizeof line, "gemv %s a8 rows=%d K=%d batch=%d: err vs specification %.2e of sum|wx|%s",
                qe_type_get(type)->name, rows, K, batch, rel, detail.c_str());
  report(ok, line);
}

// ---- small decode-step ops: device == simulator, bit for bit ------------------------------------

void test_ops(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int n = 4096, batch = 2, V = 128256;
  std::vector<float> x(size_t(n) * batch), w(static_cast<size_t>(n)), gu(size_t(2 * n) * batch),
      logits(size_t(V) * batch);
  for (float& v : x) v = 3.0f * nd(rng);
  for (float& v : w) v = nd(rng);
  for (float& v : gu) v = 6.0f * nd(rng);
  for (float& v : logits) v = 5.0f * nd(rng);
  logits[size_t(V) + 100] = logits[size_t(V) + 90000] = 99.0f;  // a tie in row 1: id 100 wins

  DeviceBuffer<float> dx(x.size()), dw(w.size()), dgu(gu.size()), dl(logits.size()), dsw(size_t(n) * batch),
      dy(x.size());
  DeviceBuffer<uint16_t> dn(x.size());
  DeviceBuffer<int32_t> dids(static_cast<size_t>(batch));
  dx.upload(x);
  dw.upload(w);
  dgu.upload(gu);
  dl.upload(logits);
  dy.upload(x);
  std::string why = rmsnorm_device({dx.p, dw.p, n, batch, 1e-5f, dn.p}, nullptr);
  if (why.empty()) why = swiglu_device({dgu.p, n, batch, false, dsw.p}, nullptr);
  if (why.empty()) why = add_device(dy.p, dsw.p, n * batch, nullptr);
  if (why.empty()) why = argmax_device({dl.p, V, batch, dids.p}, nullptr);
  CUDA_OK(cudaDeviceSynchronize());
  if (!why.empty()) return report(false, "ops: " + why);

  std::vector<uint16_t> sn(x.size());
  std::vector<float> ssw(size_t(n) * batch), sy = x;
  int32_t sids[2] = {-1, -1};
  rmsnorm_sim({x.data(), w.data(), n, batch, 1e-5f, sn.data()});
  swiglu_sim({gu.data(), n, batch, false, ssw.data()});
  add_sim(sy.data(), ssw.data(), n * batch);
  argmax_sim({logits.data(), V, batch, sids});
  const std::vector<uint16_t> hn = dn.download();
  const std::vector<float> hsw = dsw.download(), hy = dy.download();
  const std::vector<int32_t> hids = dids.download();
  report(hn == sn, "rmsnorm n=4096 batch=2: device == simulator bit for bit");
  report(std::memcmp(hsw.data(), ssw.data(), hsw.size() * 4) == 0,
         "swiglu n=4096 batch=2: device == simulator bit for bit");
  report(std::memcmp(hy.data(), sy.data(), hy.size() * 4) == 0, "add n=8192: device == simulator bit for bit");
  report(hids[0] == sids[0] && hids[1] == sids[1] && hids[1] == 100, "argmax V=128256 batch=2: device == simulator (" +
                                                                         std::to_string(hids[0]) + ", " +
                                                                         std::to_string(hids[1]) + ")");
}

// ---- decode attention over an fp16 cache: device == simulator, bit for bit ---------------------

void test_attention(int n_heads, int n_kv_heads, int D, int n_kv, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int n_ctx = n_kv + 5;
  std::vector<float> q(size_t(n_heads) * size_t(D));
  for (float& x : q) x = nd(rng);
  std::vector<uint16_t> k(size_t(n_kv_heads) * size_t(n_ctx) * size_t(D)), v(k.size());
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = qe_fp32_to_fp16(nd(rng));
    v[i] = qe_fp32_to_fp16(nd(rng));
  }
  const size_t nscratch = attn_decode_scratch_floats(n_heads, D, n_kv);
  DeviceBuffer<float> dq(q.size()), dout(q.size()), dscr(nscratch);
  DeviceBuffer<uint16_t> dk(k.size()), dv(v.size());
  dq.upload(q);
  dk.upload(k);
  dv.upload(v);
  AttnDecodeArgs a;
  a.q = dq.p;
  a.k = dk.p;
  a.v = dv.p;
  a.n_heads = n_heads;
  a.n_kv_heads = n_kv_heads;
  a.head_dim = D;
  a.n_ctx = n_ctx;
  a.n_kv = n_kv;
  a.scale = 1.0f / std::sqrt(float(D));
  a.out = dout.p;
  a.scratch = dscr.p;
  const std::string why = attn_decode_device(a, nullptr);
  CUDA_OK(cudaDeviceSynchronize());
  char name[160];
  std::snprintf(name, sizeof name, "attention f16 heads=%d/%d D=%d n_kv=%d", n_heads, n_kv_heads, D, n_kv);
  if (!why.empty()) return report(false, std::string(name) + ": " + why);
  const std::vector<float> got = dout.download();
  std::vector<float> want(q.size()), scr(nscratch);
  AttnDecodeArgs s = a;
  s.q = q.data();
  s.k = k.data();
  s.v = v.data();
  s.out = want.data();
  s.scratch = scr.data();
  attn_decode_sim(s);
  report(std::memcmp(got.data(), want.data(), got.size() * 4) == 0,
         std::string(name) + ": device == simulator bit for bit");
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: qe_gpu_test [--quick]\n");
      return 2;
    }
  }
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("SKIP  no usable CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    return 77;
  }
  cudaDeviceProp p{};
  CUDA_OK(cudaGetDeviceProperties(&p, 0));
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::printf("device 0: %s, sm_%d%d, %d SMs, %.1f GiB, driver API %d, runtime %d\n", p.name, p.major, p.minor,
              p.multiProcessorCount, double(p.totalGlobalMem) / double(1u << 30), driver, runtime);

  test_ptx_models(quick ? 1 << 14 : 1 << 22);
  struct Shape {
    int rows, K, batch;
    bool sim;
  };
  std::vector<Shape> shapes = {
      {1, 32, 1, true}, {7, 96, 3, true}, {33, 1024, 1, true}, {9, 1056, 8, true}, {70, 2080, 2, true}};
  if (!quick) {
    const Shape big[] = {{4096, 4096, 1, true},  {1024, 4096, 8, true},   {11008, 4096, 1, false},
                         {4096, 11008, 1, true}, {14336, 4096, 4, false}, {4096, 14336, 1, false},
                         {32000, 4096, 1, false}};
    shapes.insert(shapes.end(), std::begin(big), std::end(big));
  }
  uint32_t seed = 1;
  for (qe_type type : {QE_TYPE_Q4_0, QE_TYPE_Q8_0, QE_TYPE_Q4_K, QE_TYPE_Q6_K})
    for (const Shape& s : shapes) {
      const int be = qe_type_get(type)->block_elems;  // Q4_K: K rounded up to 256
      test_gemv(type, s.rows, (s.K + be - 1) / be * be, std::min(s.batch, gemv_max_batch(type)), s.sim, seed++);
    }
  std::vector<Shape> a8_shapes = {{300, 32, 1, true}, {9, 1056, 2, true}, {70, 2080, 2, true}, {5, 4128, 1, true}};
  if (!quick) {
    const Shape big[] = {{4096, 4096, 1, true}, {4096, 14336, 2, false}, {32000, 4096, 1, false}};
    a8_shapes.insert(a8_shapes.end(), std::begin(big), std::end(big));
  }
  for (qe_type type : {QE_TYPE_Q4_0, QE_TYPE_Q8_0})
    for (const Shape& s : a8_shapes) test_a8(type, s.rows, s.K, std::min(s.batch, 2), s.sim, seed++);

  test_ops(seed++);
  test_attention(9, 3, 64, 31, seed++);
  test_attention(32, 8, 128, quick ? 300 : 4097, seed++);
  test_attention(8, 1, 256, 129, seed++);

  std::printf("%s: %d failure(s)\n", g_failures ? "FAILED" : "ALL PASSED", g_failures);
  return g_failures ? 1 : 0;
}
