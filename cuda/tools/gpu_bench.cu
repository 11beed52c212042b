// gpu_bench.cu: GPU micro-benchmark of the decode GEMVs (never a test). Measures the card's
// device-to-device copy bandwidth (the limit decode is compared with), then times every GEMV of
// one decode step of llama2-7b- and llama3-8b-shaped Q4_0 models (7 matrices x 32 layers + the
// output head, random weights resident on the device, one CUDA graph replayed) for each compiled
// variant and batch 1/2/4/8: median step time, weight GB/s (GGUF bytes: what a model file
// holds), share of the copy bandwidth, and the tokens/s that the GEMVs alone would allow.
//   qe_gpu_bench [--json FILE] [--reps N] [--quick] [--profile q4_0|q8_0]
// --profile: only llama2-7b's step in that type with the engine's setting (tile8, 4 launches a
// layer), three times, for ncu (scripts/gpu-check.sh profiles its first 4 GEMVs: one layer).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/attention_device.h"
#include "gemv/a8_layout.h"
#include "gemv/gemv.h"
#include "gemv/gemv_device.h"
#include "gemv/tiled_layout.h"

namespace {

using namespace qe::cuda;

#define CUDA_OK(expr)                                                                                                \
  do {                                                                                                               \
    const cudaError_t e_ = (expr);                                                                                   \
    if (e_ != cudaSuccess) {                                                                                         \
      std::fprintf(stderr, "gpu_bench: %s failed: %s (%s:%d)\n", #expr, cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                                                  \
    }                                                                                                                \
  } while (0)

__global__ void fill_words(uint32_t* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 0x9E3779B9u ^ seed;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    p[i] = h;
  }
}

// fp16 values in [2^-10, 2^-6): finite, varied, like trained Q4_0 scales.
__global__ void fill_scales(uint16_t* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const uint32_t h = (uint32_t(i) * 0x9E3779B9u) ^ seed;
    p[i] = uint16_t(((5u + (h >> 28) % 4u) << 10) | (h & 0x3FFu));
  }
}

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Matrix {
  qe_type type = QE_TYPE_Q4_0;
  int rows = 0, K = 0, chunks = 0;
  uint32_t* qs = nullptr;
  uint16_t* scales = nullptr;
  double gguf_bytes() const {
    return double(rows) * double(K / qe_type_get(type)->block_elems) * double(qe_type_get(type)->block_bytes);
  }
};

int chunk_scales(qe_type type) {
  return type == QE_TYPE_Q8_0   ? Q8_0Tiled::kChunkScales
         : type == QE_TYPE_Q4_K ? Q4_KTiled::kChunkScales
         : type == QE_TYPE_Q6_K ? Q6_KTiled::kChunkScales
                                : Q4_0Tiled::kChunkScales;
}

Matrix make_matrix(qe_type type, int rows, int K, uint32_t seed) {
  Matrix m;
  m.type = type;
  m.rows = rows;
  m.K = K;
  m.chunks = type == QE_TYPE_Q8_0 ? Tiled<Q8_0Tiled>::chunks(K) : Tiled<Q4_0Tiled>::chunks(K);  // Q4_K: as Q4_0
  const size_t words = size_t(rows) * size_t(m.chunks) * size_t(type == QE_TYPE_Q6_K ? Q6_KTiled::kChunkWords : 128);
  const size_t scales = size_t(rows) * size_t(m.chunks) * size_t(chunk_scales(type));
  CUDA_OK(cudaMalloc(&m.qs, words * 4));
  CUDA_OK(cudaMalloc(&m.scales, scales * 2));
  fill_words<<<1024, 256>>>(m.qs, words, seed);
  fill_scales<<<1024, 256>>>(m.scales, scales, seed * 7u + 1u);
  CUDA_OK(cudaGetLastError());
  return m;
}

// A matrix in the a8 tiled layout (W4A8 / W8A8), random codes and sane fp16 scales.
struct A8Matrix {
  qe_type type = QE_TYPE_Q4_0;
  int rows = 0, K = 0, chunks = 0;
  uint32_t* codes = nullptr;
  uint16_t* scales = nullptr;
};

A8Matrix make_a8_matrix(qe_type type, int rows, int K, uint32_t seed) {
  A8Matrix m;
  m.type = type;
  m.rows = rows;
  m.K = K;
  m.chunks = a8_chunks(K);
  const size_t words = size_t(rows) * size_t(m.chunks) * (type == QE_TYPE_Q8_0 ? 256 : 128);
  const size_t scales = size_t(rows) * size_t(m.chunks) * kA8ChunkBlocks;
  CUDA_OK(cudaMalloc(&m.codes, words * 4));
  CUDA_OK(cudaMalloc(&m.scales, scales * 2));
  fill_words<<<1024, 256>>>(m.codes, words, seed);
  fill_scales<<<1024, 256>>>(m.scales, scales, seed * 7u + 1u);
  CUDA_OK(cudaGetLastError());
  return m;
}

struct ModelShape {
  const char* name;
  qe_type type;
  int dim, ffn, kv_dim, vocab, layers;
};

// Device-to-device copy of `bytes`: bytes read + bytes written per second, median of reps.
double copy_probe(size_t bytes, int reps) {
  void *a = nullptr, *b = nullptr;
  CUDA_OK(cudaMalloc(&a, bytes));
  CUDA_OK(cudaMalloc(&b, bytes));
  CUDA_OK(cudaMemset(a, 1, bytes));
  cudaEvent_t t0, t1;
  CUDA_OK(cudaEventCreate(&t0));
  CUDA_OK(cudaEventCreate(&t1));
  std::vector<float> ms;
  for (int i = 0; i < reps + 2; ++i) {
    CUDA_OK(cudaEventRecord(t0));
    CUDA_OK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
    CUDA_OK(cudaEventRecord(t1));
    CUDA_OK(cudaEventSynchronize(t1));
    float m = 0;
    CUDA_OK(cudaEventElapsedTime(&m, t0, t1));
    if (i >= 2) ms.push_back(m);
  }
  cudaFree(a);
  cudaFree(b);
  return 2.0 * double(bytes) / (double(median(ms)) * 1e-3);
}

// Captures what `record` launches on `stream` into a graph, replays it reps + 3 times (3 warm-ups)
// and returns the median replay in seconds.
template <class Record>
double time_graph(cudaStream_t stream, int reps, Record&& record) {
  cudaGraph_t graph;
  CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  record();
  CUDA_OK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec;
  CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t t0, t1;
  CUDA_OK(cudaEventCreate(&t0));
  CUDA_OK(cudaEventCreate(&t1));
  std::vector<float> ms;
  for (int i = 0; i < reps + 3; ++i) {
    CUDA_OK(cudaEventRecord(t0, stream));
    CUDA_OK(cudaGraphLaunch(exec, stream));
    CUDA_OK(cudaEventRecord(t1, stream));
    CUDA_OK(cudaEventSynchronize(t1));
    float t = 0;
    CUDA_OK(cudaEventElapsedTime(&t, t0, t1));
    if (i >= 3) ms.push_back(t);
  }
  CUDA_OK(cudaEventDestroy(t0));
  CUDA_OK(cudaEventDestroy(t1));
  CUDA_OK(cudaGraphExecDestroy(exec));
  CUDA_OK(cudaGraphDestroy(graph));
  return double(median(ms)) * 1e-3;
}

// Fails the benchmark with the launcher's message.
void require(const std::string& why) {
  if (!why.empty()) {
    std::fprintf(stderr, "gpu_bench: %s\n", why.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* json_path = nullptr;
  int reps = 20;
  bool quick = false;
  const char* profile = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
      json_path = argv[++i];
    } else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::max(3, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--profile") == 0 && i + 1 < argc &&
               (std::strcmp(argv[i + 1], "q4_0") == 0 || std::strcmp(argv[i + 1], "q8_0") == 0)) {
      profile = argv[++i];
    } else {
      std::fprintf(stderr, "usage: qe_gpu_bench [--json FILE] [--reps N] [--quick] [--profile q4_0|q8_0]\n");
      return 2;
    }
  }
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("no usable CUDA device\n");
    return 77;
  }
  cudaDeviceProp p{};
  CUDA_OK(cudaGetDeviceProperties(&p, 0));
  int driver = 0;
  cudaDriverGetVersion(&driver);
  const double probe = copy_probe(size_t(1) << 30, reps);
  std::printf("device: %s, %d SMs, L2 %.0f MB, driver API %d\n", p.name, p.multiProcessorCount, p.l2CacheSize / 1e6,
              driver);
  std::printf("copy probe (1 GiB device-to-device, read + write): %.0f GB/s\n\n", probe / 1e9);

  std::string json = "{\"device\": \"" + std::string(p.name) +
                     "\", \"copy_probe_gbs\": " + std::to_string(probe / 1e9) + ", \"results\": [";
  bool first_json = true;
  std::vector<ModelShape> models = {{"llama2-7b", QE_TYPE_Q4_0, 4096, 11008, 4096, 32000, 32},
                                    {"llama3-8b", QE_TYPE_Q4_0, 4096, 14336, 1024, 128256, 32},
                                    {"llama2-7b", QE_TYPE_Q8_0, 4096, 11008, 4096, 32000, 32},
                                    {"llama3-8b", QE_TYPE_Q8_0, 4096, 14336, 1024, 128256, 32},
                                    {"llama2-7b", QE_TYPE_Q4_K, 4096, 11008, 4096, 32000, 32},
                                    {"llama3-8b", QE_TYPE_Q4_K, 4096, 14336, 1024, 128256, 32},
                                    {"llama3-8b", QE_TYPE_Q6_K, 4096, 14336, 1024, 128256, 32}};
  if (quick) models.resize(1);
  if (profile != nullptr) {
    models = {models[std::strcmp(profile, "q8_0") == 0 ? 2 : 0]};
    reps = 3;
  }
  uint16_t* x = nullptr;
  float* y = nullptr;
  CUDA_OK(cudaMalloc(&x, size_t(8) * 14336 * 2));
  CUDA_OK(cudaMalloc(&y, size_t(8) * 128256 * 4));
  fill_scales<<<64, 256>>>(x, size_t(8) * 14336, 99u);  // activations: any finite halves do
  // A8 activations: fp32 input for the quantizer and its act8 output (batch up to 2).
  float* xf = nullptr;
  Act8 act;
  CUDA_OK(cudaMalloc(&xf, size_t(2) * 14336 * 4));
  CUDA_OK(cudaMalloc(&act.q, size_t(2) * 14336));
  CUDA_OK(cudaMalloc(&act.d, size_t(2) * 14336 / 16 * 4));
  CUDA_OK(cudaMalloc(&act.c, size_t(2) * 14336 / 16 * 4));
  CUDA_OK(cudaMalloc(&act.qsum, size_t(2) * 14336 / 16 * 2));
  CUDA_OK(cudaMemset(xf, 0, size_t(2) * 14336 * 4));
  fill_scales<<<64, 256>>>(reinterpret_cast<uint16_t*>(xf), size_t(2) * 14336 * 2, 5u);  // finite floats
  {
    QuantizeA8Args qa;
    qa.x = xf;
    qa.K = 14336;
    qa.batch = 2;
    qa.out = act;
    require(quantize_a8_device(qa, nullptr, false));
    CUDA_OK(cudaDeviceSynchronize());
  }
  cudaStream_t stream;
  CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  // One decode step's GEMVs. Weights are stored as the engine will store them: q|k|v as one
  // matrix and gate|up as one, so a layer is 4 launches ("fused"); "separate" launches the 7
  // row slices of the same memory one by one, as an engine without fusion would.
  struct Layer {
    Matrix qkv, o, gate_up, down;
  };
  auto run_step = [&](const std::vector<Layer>& layers, const Matrix& head, const GemvVariant& v, int batch, bool fused,
                      bool overlap) {
    const double graph_sec = time_graph(stream, reps, [&] {
      auto launch = [&](const Matrix& mat, int row0, int rows) {
        const size_t words =
            size_t(row0) * size_t(mat.chunks) * size_t(mat.type == QE_TYPE_Q6_K ? Q6_KTiled::kChunkWords : 128);
        const size_t sc = size_t(row0) * size_t(mat.chunks) * size_t(chunk_scales(mat.type));
        const GemvArgs a{mat.type, mat.qs + words, mat.scales + sc, rows, mat.K, mat.chunks, x, y, batch};
        require(gemv_a16_device(a, v, stream, overlap));
      };
      for (const Layer& l : layers) {
        const int dim = l.o.rows, kv = (l.qkv.rows - dim) / 2, ffn = l.gate_up.rows / 2;
        if (fused) {
          launch(l.qkv, 0, l.qkv.rows);
        } else {
          launch(l.qkv, 0, dim);
          launch(l.qkv, dim, kv);
          launch(l.qkv, dim + kv, kv);
        }
        launch(l.o, 0, dim);
        if (fused) {
          launch(l.gate_up, 0, 2 * ffn);
        } else {
          launch(l.gate_up, 0, ffn);
          launch(l.gate_up, ffn, ffn);
        }
        launch(l.down, 0, dim);
      }
      launch(head, 0, head.rows);
    });
    return graph_sec;
  };

  std::printf("%-10s %-5s %-8s %-8s %5s %10s %9s %7s %10s\n", "model", "type", "launches", "variant", "batch",
              "step us", "GB/s", "% copy", "GEMV tok/s");
  auto record = [&](const ModelShape& m, const char* mode, const GemvVariant& v, int batch, double sec, double bytes) {
    const double gbs = bytes / sec / 1e9;
    const std::string var = gemv_variant_name(v);
    std::printf("%-10s %-5s %-8s %-8s %5d %10.1f %9.0f %6.1f%% %10.0f\n", m.name, qe_type_get(m.type)->name, mode,
                var.c_str(), batch, sec * 1e6, gbs, 100.0 * bytes / sec / probe, batch / sec);
    std::fflush(stdout);
    char entry[512];
    std::snprintf(entry, sizeof entry,
                  "%s{\"model\": \"%s\", \"type\": \"%s\", \"launches\": \"%s\", \"variant\": \"%s\", "
                  "\"batch\": %d, \"step_us\": %.2f, \"weight_bytes\": %.0f, \"gbs\": %.1f, "
                  "\"pct_copy\": %.2f, \"gemv_tok_s\": %.1f}",
                  first_json ? "" : ", ", m.name, qe_type_get(m.type)->name, mode, var.c_str(), batch, sec * 1e6, bytes,
                  gbs, 100.0 * bytes / sec / probe, batch / sec);
    json += entry;
    first_json = false;
  };

  for (const ModelShape& m : models) {
    std::vector<Layer> layers;
    uint32_t seed = 1;
    for (int l = 0; l < m.layers; ++l) {
      layers.push_back({make_matrix(m.type, m.dim + 2 * m.kv_dim, m.dim, seed),
                        make_matrix(m.type, m.dim, m.dim, seed + 1), make_matrix(m.type, 2 * m.ffn, m.dim, seed + 2),
                        make_matrix(m.type, m.dim, m.ffn, seed + 3)});
      seed += 4;
    }
    const Matrix head = make_matrix(m.type, m.vocab, m.dim, seed);
    double bytes = head.gguf_bytes();
    for (const Layer& l : layers)
      bytes += l.qkv.gguf_bytes() + l.o.gguf_bytes() + l.gate_up.gguf_bytes() + l.down.gguf_bytes();
    CUDA_OK(cudaDeviceSynchronize());

    if (profile != nullptr) {
      const GemvVariant tile8{0, 0, 8};  // profile types are Q4_0 and Q8_0
      record(m, "4/layer+", tile8, 1, run_step(layers, head, tile8, 1, true, true), bytes);
      continue;  // weights stay allocated: the process ends next
    }
    // 1. Every variant at batch 1, fused launches with overlap (the engine's setting).
    GemvVariant best = kGemvVariants[0];
    double best_sec = 1e30;
    for (const GemvVariant& v : kGemvVariants) {
      if (!gemv_variant_compiled(v, 1, m.type)) continue;
      const double sec = run_step(layers, head, v, 1, true, true);
      record(m, "4/layer+", v, 1, sec, bytes);
      if (sec < best_sec) {
        best_sec = sec;
        best = v;
      }
    }
    // 2. What fusion and overlap buy, at batch 1 with the best variant.
    record(m, "7/layer", best, 1, run_step(layers, head, best, 1, false, false), bytes);
    record(m, "7/layer+", best, 1, run_step(layers, head, best, 1, false, true), bytes);
    record(m, "4/layer", best, 1, run_step(layers, head, best, 1, true, false), bytes);
    // 3. Batches 2-8 with every variant (the best at batch 1 need not be the best at 8).
    for (int batch : {2, 4, 8})
      for (const GemvVariant& v : kGemvVariants)
        if (gemv_variant_compiled(v, batch, m.type))
          record(m, "4/layer+", v, batch, run_step(layers, head, v, batch, true, true), bytes);
    // 4. Per-launch cost of each matrix shape alone: 32 launches (one per layer) in a graph.
    if (!quick) {
      const char* names[4] = {"qkv", "o", "gate_up", "down"};
      for (int which = 0; which < 4; ++which) {
        double shape_bytes = 0;
        const double graph_sec = time_graph(stream, reps, [&] {
          for (const Layer& l : layers) {
            const Matrix& mat = which == 0 ? l.qkv : which == 1 ? l.o : which == 2 ? l.gate_up : l.down;
            const GemvArgs a{mat.type, mat.qs, mat.scales, mat.rows, mat.K, mat.chunks, x, y, 1};
            require(gemv_a16_device(a, best, stream, true));
            shape_bytes += mat.gguf_bytes();
          }
        });
        const double sec = graph_sec / double(m.layers);
        const Matrix& m0 = which == 0   ? layers[0].qkv
                           : which == 1 ? layers[0].o
                           : which == 2 ? layers[0].gate_up
                                        : layers[0].down;
        std::printf("  shape %-8s %6d x %-6d one launch %7.2f us  %6.0f GB/s (%4.1f%% of copy), ideal %5.2f us\n",
                    names[which], m0.rows, m0.K, sec * 1e6, shape_bytes / m.layers / sec / 1e9,
                    100.0 * shape_bytes / m.layers / sec / probe, shape_bytes / m.layers / probe * 1e6);
      }
    }
    for (Layer& l : layers)
      for (Matrix* mat : {&l.qkv, &l.o, &l.gate_up, &l.down}) {
        cudaFree(mat->qs);
        cudaFree(mat->scales);
      }
    cudaFree(head.qs);
    cudaFree(head.scales);

    // 5. W4A8 / W8A8: the same step with int8 activations (gemv_a8.cuh, row-tiled), the
    // activations quantized once ("a8") or before each of the 4 launches of a layer and the head
    // ("a8+q", what an engine without a fused norm/swiglu + quantize would pay).
    if (!quick && (m.type == QE_TYPE_Q4_0 || m.type == QE_TYPE_Q8_0)) {
      std::vector<A8Matrix> a8;
      for (int l = 0; l < m.layers; ++l) {
        a8.push_back(make_a8_matrix(m.type, m.dim + 2 * m.kv_dim, m.dim, 1000u + 4u * uint32_t(l)));
        a8.push_back(make_a8_matrix(m.type, m.dim, m.dim, 1001u + 4u * uint32_t(l)));
        a8.push_back(make_a8_matrix(m.type, 2 * m.ffn, m.dim, 1002u + 4u * uint32_t(l)));
        a8.push_back(make_a8_matrix(m.type, m.dim, m.ffn, 1003u + 4u * uint32_t(l)));
      }
      a8.push_back(make_a8_matrix(m.type, m.vocab, m.dim, 999u));
      CUDA_OK(cudaDeviceSynchronize());
      for (int batch : {1, 2})
        for (bool with_quant : {false, true}) {
          const double graph_sec = time_graph(stream, reps, [&] {
            for (const A8Matrix& mat : a8) {
              if (with_quant) {
                QuantizeA8Args qa;
                qa.x = xf;
                qa.K = mat.K;
                qa.batch = batch;
                qa.out = act;
                require(quantize_a8_device(qa, stream, true));
              }
              GemvA8Args g;
              g.type = mat.type;
              g.codes = mat.codes;
              g.scales = mat.scales;
              g.rows = mat.rows;
              g.K = mat.K;
              g.chunks = mat.chunks;
              g.x = act;
              g.y = y;
              g.batch = batch;
              require(gemv_a8_device(g, stream, true));
            }
          });
          record(m, with_quant ? "a8+q" : "a8", GemvVariant{0, 0, batch == 1 ? 8 : 4}, batch, graph_sec, bytes);
        }
      for (A8Matrix& mat : a8) {
        cudaFree(mat.codes);
        cudaFree(mat.scales);
      }
    }
  }
  // Decode attention over an fp16 cache, llama3-8b's shape (32 heads, 8 KV heads, dim 128), one
  // layer at depths 512-16384: 32 launch pairs (one per layer's cache) in a graph, median.
  if (profile == nullptr) {
    const int n_heads = 32, n_kv_heads = 8, D = 128, layers = 32;
    for (int depth : {512, 4096, 16384}) {
      const size_t per_layer = size_t(n_kv_heads) * size_t(depth) * D;
      uint16_t* kv = nullptr;
      float *q = nullptr, *out = nullptr, *scratch = nullptr;
      CUDA_OK(cudaMalloc(&kv, per_layer * 2 * 2 * layers));
      CUDA_OK(cudaMalloc(&q, size_t(n_heads) * D * 4));
      CUDA_OK(cudaMalloc(&out, size_t(n_heads) * D * 4));
      CUDA_OK(cudaMalloc(&scratch, attn_decode_scratch_floats(n_heads, D, depth) * 4));
      fill_scales<<<1024, 256>>>(kv, per_layer * 2 * layers, 3u);  // finite halves
      fill_scales<<<64, 256>>>(reinterpret_cast<uint16_t*>(q), size_t(n_heads) * D * 2, 4u);
      CUDA_OK(cudaDeviceSynchronize());
      const double graph_sec = time_graph(stream, reps, [&] {
        for (int l = 0; l < layers; ++l) {
          AttnDecodeArgs a;
          a.q = q;
          a.k = kv + per_layer * 2 * size_t(l);
          a.v = a.k + per_layer;
          a.n_heads = n_heads;
          a.n_kv_heads = n_kv_heads;
          a.head_dim = D;
          a.n_ctx = depth;
          a.n_kv = depth;
          a.scale = 0.088f;
          a.out = out;
          a.scratch = scratch;
          require(attn_decode_device(a, stream, true));
        }
      });
      const double sec = graph_sec / layers, bytes = double(per_layer) * 2 * 2;
      std::printf("attention f16 llama3-8b depth %5d: %7.2f us a layer, %5.0f GB/s (%4.1f%% of copy), ideal %6.2f us\n",
                  depth, sec * 1e6, bytes / sec / 1e9, 100.0 * bytes / sec / probe, bytes / probe * 1e6);
      char entry[256];
      std::snprintf(
          entry, sizeof entry,
          "%s{\"attention\": \"f16\", \"model\": \"llama3-8b\", \"depth\": %d, \"layer_us\": %.2f, \"gbs\": %.1f}",
          first_json ? "" : ", ", depth, sec * 1e6, bytes / sec / 1e9);
      json += entry;
      first_json = false;
      cudaFree(kv);
      cudaFree(q);
      cudaFree(out);
      cudaFree(scratch);
    }
  }
  json += "]}\n";
  if (json_path != nullptr) {
    FILE* f = std::fopen(json_path, "w");
    if (f == nullptr) {
      std::fprintf(stderr, "gpu_bench: cannot write %s\n", json_path);
      return 1;
    }
    std::fputs(json.c_str(), f);
    std::fclose(f);
  }
  return 0;
}
