/* qe_cuda.h: the device backend's host interface (C-compatible; no CUDA headers). */
#ifndef QE_CUDA_H
#define QE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One CUDA device as the backend sees it. */
typedef struct qe_cuda_device_info {
  char name[256];
  int32_t compute_major, compute_minor;
  uint64_t total_memory; /* bytes */
} qe_cuda_device_info;

/* 1 when the backend was compiled in (QE_CUDA=ON), else 0. */
int qe_cuda_compiled(void);
/* Number of usable devices (0 without a driver or a device). On failure, writes a reason to
 * `why` (capacity bytes, NUL-terminated) when it is not NULL. */
int qe_cuda_device_count(char* why, size_t capacity);
/* Fills *info for device `index`; returns 0 on success, -1 otherwise. */
int qe_cuda_device_info_get(int index, qe_cuda_device_info* info);

#ifdef __cplusplus
}
#endif

#endif /* QE_CUDA_H */
