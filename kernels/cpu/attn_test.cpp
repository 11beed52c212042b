// KV-cache codecs and attention kernels: write round trips within each format's bound, the
// integer path against a double-precision reference, and every ISA table against the scalar
// specification (integer path bit for bit, float path within fp32 rounding).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/attn.h"
#include "cpu/dispatch.h"
#include "format/qe_format.h"

namespace qe::cpu {
namespace {

// One KV head of n positions in a layout, written position by position as the engine does.
struct Cache {
  KvLayout lay;
  std::vector<uint8_t> k, v, kc;
  std::vector<uint16_t> win_k, win_v;
  KvHead head;

  Cache(const KvLayout& l, int32_t n_ctx) : lay(l) {
    const int32_t tg = std::max(lay.tgroup, kKvBlock);
    const int32_t cap = (n_ctx + tg - 1) / tg * tg;
    k.assign(static_cast<size_t>(cap / kKvBlock) * lay.k_block_bytes, 0);
    v.assign(static_cast<size_t>(cap / kKvBlock) * lay.v_block_bytes, 0);
    if (lay.k_per_channel) {
      kc.assign(static_cast<size_t>(cap / lay.tgroup) * lay.kc_bytes, 0);
      win_k.assign(static_cast<size_t>(lay.win_rows) * lay.dim, 0);
      win_v.assign(win_k.size(), 0);
    }
    head.lay = &lay;
    head.k = k.data();
    head.v = v.data();
    head.kc = kc.data();
    head.win_k = win_k.data();
    head.win_v = win_v.data();
    head.win_rows = std::max(lay.win_rows, 1);
  }
  // Appends positions [n_kv_before, n) from K, V (n, head_dim).
  void write(const float* K, const float* V, int32_t from, int32_t n) {
    const int32_t hd = lay.head_dim;
    for (int32_t p = from; p < n; ++p) {
      kv_store(head, p, K + static_cast<size_t>(p) * hd, V + static_cast<size_t>(p) * hd);
      if (const int32_t g = kv_group_to_close(lay, p); g >= 0) kv_close_group(head, g);
      head.n_q = lay.k_per_channel ? kv_window_start(lay, p + 1) : 0;
    }
  }
  // Position p's key and value as attention sees them (head_dim each).
  void load(int32_t p, float* kr, float* vr) const {
    std::vector<float> kb(static_cast<size_t>(kKvBlock) * lay.dim), vb(kb.size());
    if (lay.type == KvType::kQ8 || lay.type == KvType::kQ4) {
      kv_load_block(head, p / kKvBlock, kb.data(), vb.data());
    } else {
      const int32_t es = lay.type == KvType::kF32 ? 4 : 2;
      const size_t off = static_cast<size_t>(p / kKvBlock) * lay.k_block_bytes;
      for (int32_t t = 0; t < kKvBlock; ++t)
        for (int32_t i = 0; i < lay.dim; ++i) {
          const size_t at = off + (static_cast<size_t>(t) * lay.dim + i) * es;
          auto cvt = [&](const std::vector<uint8_t>& src) {
            if (es == 4) {
              float f;
              std::memcpy(&f, &src[at], 4);
              return f;
            }
            uint16_t h;
            std::memcpy(&h, &src[at], 2);
            return lay.type == KvType::kF16 ? qe_fp16_to_fp32(h) : qe_bf16_to_fp32(h);
          };
          kb[static_cast<size_t>(t) * lay.dim + i] = cvt(k);
          vb[static_cast<size_t>(t) * lay.dim + i] = cvt(v);
        }
    }
    const size_t row = static_cast<size_t>(p % kKvBlock) * lay.dim;
    std::copy_n(&kb[row], lay.head_dim, kr);
    std::copy_n(&vb[row], lay.head_dim, vr);
  }
};

std::vector<float> randn(size_t n, uint32_t seed, float mean = 0.0f, float sd = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> x(n);
  for (auto& e : x) e = d(rng);
  return x;
}

// softmax(q·Kᵀ · scale) · V in double over positions [0, n) of K, V (n, hd).
std::vector<double> reference(const float* q, const float* K, const float* V, int32_t n, int32_t hd, double scale) {
  std::vector<double> s(static_cast<size_t>(n)), o(static_cast<size_t>(hd), 0.0);
  double mx = -1e300;
  for (int32_t j = 0; j < n; ++j) {
    double a = 0;
    for (int32_t i = 0; i < hd; ++i) a += static_cast<double>(q[i]) * K[static_cast<size_t>(j) * hd + i];
    s[static_cast<size_t>(j)] = a * scale;
    mx = std::max(mx, a * scale);
  }
  double l = 0;
  for (int32_t j = 0; j < n; ++j) {
    const double p = std::exp(s[static_cast<size_t>(j)] - mx);
    l += p;
    for (int32_t i = 0; i < hd; ++i) o[static_cast<size_t>(i)] += p * V[static_cast<size_t>(j) * hd + i];
  }
  for (auto& e : o) e /= l;
  return o;
}

struct KvCase {
  KvType type;
  int32_t group;
  bool per_channel;
  const char* name;
};
constexpr KvCase kQuantCases[] = {
    {KvType::kQ8, 32, false, "q8"},
    {KvType::kQ4, 32, false, "q4g32"},
    {KvType::kQ4, 128, false, "q4g128"},
    {KvType::kQ4, 32, true, "q4kivi32"},
    {KvType::kQ4, 64, true, "q4kivi64"},
};

// Runs `fn` over rows in calls of at most kAttnMaxRows, chunks [k0, k1) of `chunk` positions
// (0: one chunk), merging chunk states as the engine does; returns normalized outputs (rows, hd).
std::vector<float> run(const AttnTable& t, bool integer, const Cache& c, const std::vector<AttnRow>& rows, float scale,
                       int32_t chunk) {
  const int32_t dim = c.lay.dim, hd = c.lay.head_dim;
  int32_t n_max = 0;
  for (const auto& r : rows) n_max = std::max(n_max, r.n_vis);
  const int32_t step = chunk > 0 ? chunk : std::max(n_max, 1);
  std::vector<float> out(rows.size() * static_cast<size_t>(hd));
  for (size_t r0 = 0; r0 < rows.size(); r0 += kAttnMaxRows) {
    const auto nr = static_cast<int32_t>(std::min<size_t>(kAttnMaxRows, rows.size() - r0));
    std::vector<double> m(static_cast<size_t>(nr), -INFINITY), l(static_cast<size_t>(nr), 0.0);
    std::vector<double> o(static_cast<size_t>(nr) * dim, 0.0);
    for (int32_t k0 = 0; k0 < std::max(n_max, 1); k0 += step) {
      std::vector<float> ob(static_cast<size_t>(nr) * dim);
      std::vector<AttnState> st(static_cast<size_t>(nr));
      for (int32_t r = 0; r < nr; ++r) st[static_cast<size_t>(r)].o = &ob[static_cast<size_t>(r) * dim];
      (integer ? t.attend_int : t.attend_float)(c.head, &rows[r0], nr, k0, k0 + step, scale, st.data());
      for (int32_t r = 0; r < nr; ++r) {
        const AttnState& s = st[static_cast<size_t>(r)];
        if (s.l == 0.0f) continue;
        const double mn = std::max(m[static_cast<size_t>(r)], static_cast<double>(s.m));
        const double a = std::exp(m[static_cast<size_t>(r)] - mn), b = std::exp(static_cast<double>(s.m) - mn);
        l[static_cast<size_t>(r)] = l[static_cast<size_t>(r)] * a + s.l * b;
        for (int32_t e = 0; e < dim; ++e) {
          double& oe = o[static_cast<size_t>(r) * dim + e];
          oe = oe * a + s.o[e] * b;
        }
        m[static_cast<size_t>(r)] = mn;
      }
    }
    for (int32_t r = 0; r < nr; ++r)
      for (int32_t e = 0; e < hd; ++e)
        out[(r0 + static_cast<size_t>(r)) * hd + e] =
            static_cast<float>(o[static_cast<size_t>(r) * dim + e] / l[static_cast<size_t>(r)]);
  }
  return out;
}

std::vector<Isa> usable_isas() {
  std::vector<Isa> v;
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    const auto isa = static_cast<Isa>(i);
    if (isa_usable(isa) && attn_table(isa).isa == isa) v.push_back(isa);
  }
  return v;
}

// ---- Codec round trips ----

TEST(KvCodec, RoundTripWithinTheFormatBound) {
  const int32_t n = 100;
  for (int32_t hd : {64, 80, 96, 128, 256}) {
    // Keys with a per-channel offset (as real keys have outlier channels), values plain.
    auto K = randn(static_cast<size_t>(n) * hd, 1), V = randn(static_cast<size_t>(n) * hd, 2);
    for (int32_t p = 0; p < n; ++p)
      for (int32_t i = 0; i < hd; i += 7) K[static_cast<size_t>(p) * hd + i] += 6.0f;
    for (KvType type : {KvType::kF32, KvType::kF16, KvType::kBf16}) {
      Cache c(kv_layout(type, hd, 32, false), n);
      c.write(K.data(), V.data(), 0, n);
      std::vector<float> kr(static_cast<size_t>(hd)), vr(kr.size());
      for (int32_t p = 0; p < n; ++p) {
        c.load(p, kr.data(), vr.data());
        const double rel = type == KvType::kF32 ? 0 : type == KvType::kF16 ? 0x1p-11 : 0x1p-8;
        for (int32_t i = 0; i < hd; ++i) {
          ASSERT_NEAR(kr[i], K[static_cast<size_t>(p) * hd + i], rel * std::fabs(K[static_cast<size_t>(p) * hd + i]) + 0x1p-25);
          ASSERT_NEAR(vr[i], V[static_cast<size_t>(p) * hd + i], rel * std::fabs(V[static_cast<size_t>(p) * hd + i]) + 0x1p-25);
        }
      }
    }
    for (const KvCase& kc : kQuantCases) {
      SCOPED_TRACE(std::string(kc.name) + " hd=" + std::to_string(hd));
      Cache c(kv_layout(kc.type, hd, kc.group, kc.per_channel), n);
      c.write(K.data(), V.data(), 0, n);
      const KvLayout& L = c.lay;
      std::vector<float> kr(static_cast<size_t>(hd)), vr(kr.size());
      // Bound of one group of values x: Q8 max|x|/254 (half a step); Q4 (max−min)/15 · 0.51
      // (half a step plus the fp16 rounding of the scale over 15 steps), per group.
      auto bound = [&](const std::vector<float>& x) {
        float mn = x[0], mx = x[0], amax = 0;
        for (float e : x) {
          mn = std::min(mn, e);
          mx = std::max(mx, e);
          amax = std::max(amax, std::fabs(e));
        }
        return L.type == KvType::kQ8 ? amax / 254.0f * 1.0001f : (mx - mn) / 15.0f * 0.51f + 1e-6f;
      };
      // KIVI: positions before the window start are quantized (after a pass through fp16: add
      // its half ulp); the rest are the windows' fp16 rows.
      const int32_t n_q = L.k_per_channel ? kv_window_start(L, n) : n;
      auto f16 = [](float x) { return std::fabs(x) * 0x1p-11f + 0x1p-25f; };
      for (int32_t p = 0; p < n; ++p) {
        c.load(p, kr.data(), vr.data());
        const int32_t vg = L.type == KvType::kQ8 ? hd : L.group;
        for (int32_t g0 = 0; g0 < hd; g0 += vg) {
          const int32_t g1 = std::min(hd, g0 + vg);
          std::vector<float> vx(V.begin() + p * hd + g0, V.begin() + p * hd + g1);
          if (g1 - g0 < vg) vx.push_back(0.0f);  // padding dimensions join the last group
          const float bv = bound(vx);
          for (int32_t i = g0; i < g1; ++i) {
            const float x = V[static_cast<size_t>(p) * hd + i];
            const float b = p >= n_q ? f16(x) : bv + (L.k_per_channel ? f16(x) : 0.0f);
            ASSERT_NEAR(vr[i], x, b) << "value p=" << p << " i=" << i;
          }
        }
        if (L.k_per_channel) {
          for (int32_t i = 0; i < hd; ++i) {
            const float x = K[static_cast<size_t>(p) * hd + i];
            float b = f16(x);
            if (p < n_q) {
              std::vector<float> ch;  // channel i over the position's token group
              for (int32_t j = p / L.tgroup * L.tgroup; j < (p / L.tgroup + 1) * L.tgroup; ++j)
                ch.push_back(qe_fp16_to_fp32(qe_fp32_to_fp16(K[static_cast<size_t>(j) * hd + i])));
              b += bound(ch);
            }
            ASSERT_NEAR(kr[i], x, b) << "key p=" << p << " i=" << i;
          }
        } else {
          for (int32_t g0 = 0; g0 < hd; g0 += vg) {
            const int32_t g1 = std::min(hd, g0 + vg);
            std::vector<float> kx(K.begin() + p * hd + g0, K.begin() + p * hd + g1);
            if (g1 - g0 < vg) kx.push_back(0.0f);
            const float bk = bound(kx);
            for (int32_t i = g0; i < g1; ++i) ASSERT_NEAR(kr[i], K[static_cast<size_t>(p) * hd + i], bk) << "key p=" << p;
          }
        }
      }
    }
  }
}

// Groups that do not straddle zero (all positive, all negative, constant, zero) keep the bound.
TEST(KvCodec, Q4GroupsAwayFromZero) {
  const int32_t hd = 64;
  std::vector<std::vector<float>> rows;
  auto fill = [&](auto f) {
    std::vector<float> r(hd);
    for (int32_t i = 0; i < hd; ++i) r[static_cast<size_t>(i)] = f(i);
    rows.push_back(r);
  };
  fill([](int32_t i) { return 100.0f + 0.01f * i; });
  fill([](int32_t i) { return -50.0f - 0.02f * i; });
  fill([](int32_t) { return 3.0f; });
  fill([](int32_t) { return -3.0f; });
  fill([](int32_t) { return 0.0f; });
  fill([](int32_t i) { return i % 2 ? 1e-6f : 2e-6f; });
  const auto n = static_cast<int32_t>(rows.size());
  std::vector<float> K, V;
  for (const auto& r : rows) {
    K.insert(K.end(), r.begin(), r.end());
    V.insert(V.end(), r.begin(), r.end());
  }
  Cache c(kv_layout(KvType::kQ4, hd, 32, false), n);
  c.write(K.data(), V.data(), 0, n);
  std::vector<float> kr(hd), vr(hd);
  for (int32_t p = 0; p < n; ++p) {
    c.load(p, kr.data(), vr.data());
    for (int32_t i = 0; i < hd; ++i) {
      const float x = rows[static_cast<size_t>(p)][static_cast<size_t>(i)];
      // Worst case of the fallback grids: step max|x|/127, half of it plus fp16 rounding.
      const float tol = std::fabs(x) / 127.0f * 0.51f + std::fabs(x) * 0x1p-10f + 1e-7f;
      ASSERT_NEAR(kr[static_cast<size_t>(i)], x, tol) << "p=" << p << " i=" << i;
      ASSERT_NEAR(vr[static_cast<size_t>(i)], x, tol) << "p=" << p << " i=" << i;
    }
  }
}

// ---- Attention ----

struct Problem {
  int32_t hd, gqa, n;
};

// The integer path (scalar spec) against double attention on the cache's own dequantized K/V
// (isolates the int8 query and uint8 probability steps) and on the original K/V (adds the cache
// format's own error). Rows: one token's gqa heads plus, for prefill, earlier tokens with
// shorter causal spans, so one call mixes visible lengths.
TEST(Attention, IntegerMatchesReference) {
  const AttnTable& spec = *attn_scalar();
  for (const KvCase& kc : kQuantCases) {
    for (int32_t hd : {64, 80, 96, 128, 256}) {
      for (int32_t gqa : {1, 4, 8}) {
        for (int32_t n : {1, 2, 31, 33, 255, 1000, 4097}) {
          SCOPED_TRACE(std::string(kc.name) + " hd=" + std::to_string(hd) + " gqa=" + std::to_string(gqa) +
                       " n=" + std::to_string(n));
          const uint32_t seed = static_cast<uint32_t>(hd * 7919 + gqa * 31 + n);
          const auto K = randn(static_cast<size_t>(n) * hd, seed), V = randn(static_cast<size_t>(n) * hd, seed + 1);
          const int32_t n_tok = gqa == 1 ? 3 : 1;  // three causal rows of one head, or one token's group
          const auto Q = randn(static_cast<size_t>(gqa * n_tok) * hd, seed + 2, 0.0f, 2.0f);
          Cache c(kv_layout(kc.type, hd, kc.group, kc.per_channel), n);
          c.write(K.data(), V.data(), 0, n);
          std::vector<float> Kd(K.size()), Vd(V.size());
          for (int32_t p = 0; p < n; ++p) c.load(p, &Kd[static_cast<size_t>(p) * hd], &Vd[static_cast<size_t>(p) * hd]);
          std::vector<AttnRow> rows;
          for (int32_t t = 0; t < n_tok; ++t)
            for (int32_t h = 0; h < gqa; ++h)
              rows.push_back({&Q[static_cast<size_t>(t * gqa + h) * hd], std::max(1, n - (n_tok - 1 - t) * 17)});
          const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
          const auto out = run(spec, true, c, rows, scale, 0);
          double err_deq = 0, err_orig = 0, vmax = 0;
          for (float x : V) vmax = std::max(vmax, static_cast<double>(std::fabs(x)));
          for (size_t r = 0; r < rows.size(); ++r) {
            const auto want_deq = reference(rows[r].q, Kd.data(), Vd.data(), rows[r].n_vis, hd, scale);
            const auto want = reference(rows[r].q, K.data(), V.data(), rows[r].n_vis, hd, scale);
            for (int32_t e = 0; e < hd; ++e) {
              err_deq = std::max(err_deq, std::fabs(out[r * hd + e] - want_deq[static_cast<size_t>(e)]));
              err_orig = std::max(err_orig, std::fabs(out[r * hd + e] - want[static_cast<size_t>(e)]));
            }
          }
          // Tolerances from the quantization steps. σq: RMS score error of the int8 query (half-step
          // uniform noise, step max|q|/127, through ‖k‖₂); σk: the same for the cache's key step;
          // a score perturbation of RMS σ moves the output by about σ·max|v|, allowed 2σ; the uint8
          // probabilities add rounding noise of about one step (1/255 of each tile's largest weight); the cache's value step adds at most half a step directly.
          double sq = 0, kmax2 = 0, step_k = 0, step_v = 0;
          for (size_t r = 0; r < rows.size(); ++r) {
            double a = 0;
            for (int32_t i = 0; i < hd; ++i) a = std::max(a, static_cast<double>(std::fabs(rows[r].q[i])));
            sq = std::max(sq, a / 127.0);
          }
          double qn2 = 0;
          for (size_t r = 0; r < rows.size(); ++r) {
            double a = 0;
            for (int32_t i = 0; i < hd; ++i) a += static_cast<double>(rows[r].q[i]) * rows[r].q[i];
            qn2 = std::max(qn2, std::sqrt(a));
          }
          for (int32_t p = 0; p < n; ++p) {
            double a = 0, kmn = 1e30, kmx = -1e30, vmn = 1e30, vmx = -1e30;
            for (int32_t i = 0; i < hd; ++i) {
              const size_t at = static_cast<size_t>(p) * hd + i;
              a += static_cast<double>(Kd[at]) * Kd[at];
              kmn = std::min(kmn, static_cast<double>(K[at]));
              kmx = std::max(kmx, static_cast<double>(K[at]));
              vmn = std::min(vmn, static_cast<double>(V[at]));
              vmx = std::max(vmx, static_cast<double>(V[at]));
            }
            kmax2 = std::max(kmax2, std::sqrt(a));
            // Per-position steps (Q8: 2·max|x|/254 ≈ range/127; Q4: range/15), whole-head range.
            const double levels = kc.type == KvType::kQ8 ? 127.0 : 15.0;
            step_k = std::max(step_k, (kmx - kmn) / levels);
            step_v = std::max(step_v, (vmx - vmn) / levels);
          }
          const double kNoise = 1.0 / std::sqrt(12.0);  // RMS of a uniform half-step rounding error
          const double sig_q = scale * sq * kNoise * kmax2;
          const double sig_k = scale * step_k * kNoise * qn2;
          const double p_noise = 1.0 / 255.0;
          const double tol_deq = vmax * (2.0 * sig_q + p_noise);
          const double tol_orig = vmax * (2.0 * (sig_q + sig_k) + p_noise) + step_v / 2;
          EXPECT_LE(err_deq, tol_deq) << "integer path vs float attention on the dequantized cache";
          EXPECT_LE(err_orig, tol_orig) << "integer path vs float attention on the original K, V";
        }
      }
    }
  }
}

// Every ISA table: the integer path equals the scalar specification bit for bit; the float path
// agrees with the scalar float path within fp32 rounding. Chunked calls (flash-decoding splits)
// and rows of mixed causal spans included.
class AttnIsa : public ::testing::TestWithParam<Isa> {};

TEST_P(AttnIsa, MatchesSpecification) {
  const AttnTable& t = attn_table(GetParam());
  ASSERT_EQ(t.isa, GetParam());
  const AttnTable& spec = *attn_scalar();
  for (const KvCase& kc : kQuantCases) {
    for (int32_t hd : {64, 80, 96, 128, 256}) {
      for (int32_t gqa : {1, 3, 8, 16}) {
        for (int32_t n : {1, 17, 64, 65, 300, 1337}) {
          SCOPED_TRACE(std::string(kc.name) + " hd=" + std::to_string(hd) + " gqa=" + std::to_string(gqa) +
                       " n=" + std::to_string(n));
          const uint32_t seed = static_cast<uint32_t>(hd * 131 + gqa * 7 + n);
          const auto K = randn(static_cast<size_t>(n) * hd, seed, 0.3f), V = randn(static_cast<size_t>(n) * hd, seed + 1);
          const auto Q = randn(static_cast<size_t>(gqa) * hd, seed + 2, 0.0f, 3.0f);
          Cache c(kv_layout(kc.type, hd, kc.group, kc.per_channel), n);
          c.write(K.data(), V.data(), 0, n);
          std::vector<AttnRow> rows;
          for (int32_t h = 0; h < gqa; ++h) rows.push_back({&Q[static_cast<size_t>(h) * hd], std::max(1, n - 5 * h)});
          const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
          for (int32_t chunk : {0, 128}) {
            const auto want = run(spec, true, c, rows, scale, chunk), got = run(t, true, c, rows, scale, chunk);
            ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float))) << "integer path, chunk " << chunk;
            const auto wf = run(spec, false, c, rows, scale, chunk), gf = run(t, false, c, rows, scale, chunk);
            for (size_t i = 0; i < wf.size(); ++i) ASSERT_NEAR(gf[i], wf[i], 1e-5f * (1.0f + std::fabs(wf[i]))) << "float path";
          }
        }
      }
    }
  }
}

// The float caches through every table against double attention.
TEST_P(AttnIsa, FloatCachesMatchReference) {
  const AttnTable& t = attn_table(GetParam());
  for (KvType type : {KvType::kF32, KvType::kF16, KvType::kBf16}) {
    for (int32_t hd : {64, 80, 128}) {
      for (int32_t n : {1, 33, 1000}) {
        const auto K = randn(static_cast<size_t>(n) * hd, 5), V = randn(static_cast<size_t>(n) * hd, 6);
        const auto Q = randn(static_cast<size_t>(4) * hd, 7, 0.0f, 2.0f);
        Cache c(kv_layout(type, hd, 32, false), n);
        c.write(K.data(), V.data(), 0, n);
        std::vector<AttnRow> rows;
        for (int32_t h = 0; h < 4; ++h) rows.push_back({&Q[static_cast<size_t>(h) * hd], n});
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        const auto got = run(t, false, c, rows, scale, 256);
        // fp16 / bf16 storage: half an ulp relative per element, through scores and values.
        const double tol = type == KvType::kF32 ? 2e-5 : type == KvType::kF16 ? 2e-3 : 2e-2;
        for (size_t r = 0; r < rows.size(); ++r) {
          const auto want = reference(rows[r].q, K.data(), V.data(), n, hd, scale);
          for (int32_t e = 0; e < hd; ++e) ASSERT_NEAR(got[r * hd + e], want[static_cast<size_t>(e)], tol) << kv_type_name(type);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllUsable, AttnIsa, ::testing::ValuesIn(usable_isas()),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           std::string s = isa_name(p.param);
                           for (auto& ch : s) ch = ch == '-' ? '_' : ch;
                           return s;
                         });

}  // namespace
}  // namespace qe::cpu
