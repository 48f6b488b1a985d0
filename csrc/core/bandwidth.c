// bandwidth.c — the read-bandwidth probe: wide independent loads summed into several
// accumulators, AVX2 when the CPU has it (so the probe is not slower than the kernels).
#include "core/bandwidth.h"

#include "core/cpu_features.h"
#include "core/status.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n) {
    // 8 independent accumulators over 256 bytes a step, prefetching 2 KiB ahead as the
    // kernels do: the probe must not be slower than the code it judges.
    __m256i a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        _mm_prefetch((const char *)p + i + 2048, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + 2048 + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + 2048 + 128, _MM_HINT_T0);
        _mm_prefetch((const char *)p + i + 2048 + 192, _MM_HINT_T0);
        for (int k = 0; k < 8; k++) {
            a[k] = _mm256_add_epi64(a[k], _mm256_load_si256((const __m256i *)(p + i + 32 * k)));
        }
    }
    for (; i < n; i += 32) a[0] = _mm256_add_epi64(a[0], _mm256_load_si256((const __m256i *)(p + i)));
    __m256i s = a[0];
    for (int k = 1; k < 8; k++) s = _mm256_add_epi64(s, a[k]);
    return (uint64_t)_mm256_extract_epi64(s, 0) + (uint64_t)_mm256_extract_epi64(s, 1) +
           (uint64_t)_mm256_extract_epi64(s, 2) + (uint64_t)_mm256_extract_epi64(s, 3);
}
#endif

static uint64_t read_scalar(const uint8_t *p, size_t n) {
    const uint64_t *q = (const uint64_t *)(const void *)p;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i < n / 8; i += 4) {
        a0 += q[i];
        a1 += q[i + 1];
        a2 += q[i + 2];
        a3 += q[i + 3];
    }
    return a0 + a1 + a2 + a3;
}

typedef struct {
    const uint8_t *buf;
    size_t part;       // bytes per task (multiple of 128)
    size_t nbytes;
    uint64_t sums[256];
} probe_ctx;

static void probe_task(int64_t t, int64_t n_tasks, void *p) {
    (void)n_tasks;
    probe_ctx *c = p;
    size_t begin = (size_t)t * c->part;
    size_t end = begin + c->part < c->nbytes ? begin + c->part : c->nbytes;
    if (begin >= end) return;
#if defined(__x86_64__) && defined(__GNUC__)
    if (xt_cpu_features_get()->avx2) {
        c->sums[t] = read_avx2(c->buf + begin, end - begin);
        return;
    }
#endif
    c->sums[t] = read_scalar(c->buf + begin, end - begin);
}

xt_status xt_read_probe(xt_threadpool *pool, const void *buf, size_t nbytes, uint64_t *checksum) {
    XT_RETURN_IF(((uintptr_t)buf & 63) != 0 || nbytes % 256 != 0, XT_ERR_INVALID_ARG,
                 "read probe: buffer must be 64-byte aligned and a multiple of 256 bytes");
    // Several parts per thread, handed out dynamically: a thread that starts late must not
    // leave the others idle at the end (that would understate the bandwidth).
    int64_t n_tasks = pool ? 8 * (int64_t)xt_threadpool_size(pool) : 1;
    if (n_tasks > 256) n_tasks = 256;
    probe_ctx c = {.buf = buf, .nbytes = nbytes};
    c.part = (nbytes / (size_t)n_tasks + 255) / 256 * 256;
    if (pool) {
        XT_TRY(xt_threadpool_run(pool, probe_task, &c, n_tasks));
    } else {
        probe_task(0, 1, &c);
    }
    uint64_t s = 0;
    for (int64_t t = 0; t < n_tasks; t++) s += c.sums[t];
    *checksum = s;
    return XT_OK;
}
